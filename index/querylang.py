"""The search query language: tokenizer, parser -> AST, and safe pattern compilation.

    payments retry                    both words in a file (AND is implied between terms)
    "def retry("                      an exact phrase (\\" and \\\\ escape inside quotes)
    /retr(y|ies)\\b/                   a regular expression (Python syntax, run with a time budget)
    foo OR (bar AND NOT baz)          boolean operators (upper case), parentheses
    case:yes                          case-sensitive (default: smart case, insensitive unless a capital)
    repo:REGEX  -repo:REGEX           repository name
    file:GLOB|REGEX  path:  -file:    repository-relative path (`*.py`, `tests/**`, `_test\\.py$`)
    lang:python  -lang:               language (go, ts, js, java, rust, csharp/c#, python/py, ...)
    owner:@org/team                   owners from CODEOWNERS / OWNERS / catalog-info.yaml
    type:symbol  kind:function        definitions instead of content (kind: implies type:symbol)
    count:N | count:all               how many results (default: the caller's limit)

Filters are predicates on a file (or a definition) like patterns, so `(repo:a foo) OR (repo:b bar)`
works. Every error is a QueryError with a 1-based column pointing into the query.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import regex

from . import lang as _lang

# ---------------------------------------------------------------------------- errors


class QueryError(ValueError):
    """A query the user must fix: `message` says what, `column` (1-based) says where."""

    def __init__(self, message: str, column: int = 1):
        super().__init__(message, column)
        self.message = message
        self.column = max(1, column)

    def __str__(self) -> str:
        return f"{self.message} (column {self.column})"

    def show(self, query: str) -> str:
        """The query with a caret under the offending column, then the message."""
        line = query.replace("\n", " ").replace("\t", " ")
        return f"{line}\n{' ' * (self.column - 1)}^ {self.message}"


# ---------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Pattern:
    """Text to find: a literal (term or quoted phrase) or a regular expression."""
    value: str
    regex: bool = False
    quoted: bool = False
    column: int = 1


@dataclass(frozen=True)
class Filter:
    """`name:value`; `negated` for `-name:value`. Names are canonical (path -> file, language -> lang)."""
    name: str
    value: str
    negated: bool = False
    column: int = 1


@dataclass(frozen=True)
class And:
    children: tuple


@dataclass(frozen=True)
class Or:
    children: tuple


@dataclass(frozen=True)
class Not:
    child: object


@dataclass
class Query:
    """A parsed query: the boolean expression plus the global settings pulled out of it."""
    expr: object                      # Pattern | Filter | And | Or | Not | None (filters only, no pattern)
    text: str = ""
    case: str = "smart"               # smart | yes | no
    symbols: bool = False             # type:symbol (or any kind:)
    count: int | None = None          # count:N; 0 means all
    patterns: list = field(default_factory=list)

    @property
    def has_pattern(self) -> bool:
        return bool(self.patterns)


FILTERS = {"repo": "repo", "r": "repo", "file": "file", "f": "file", "path": "file", "lang": "lang",
           "language": "lang", "l": "lang", "owner": "owner", "type": "type", "kind": "kind", "count": "count",
           "case": "case", "select": "type", "patterntype": "patterntype"}
NEGATABLE = {"repo", "file", "lang", "owner", "kind"}
GLOBAL = {"type", "count", "case", "patterntype"}

LANGS = {
    "python": "python", "py": "python", "go": "go", "golang": "go", "typescript": "typescript", "ts": "typescript",
    "tsx": "typescript", "javascript": "javascript", "js": "javascript", "jsx": "javascript", "java": "java",
    "kotlin": "kotlin", "kt": "kotlin", "rust": "rust", "rs": "rust", "csharp": "csharp", "c#": "csharp",
    "cs": "csharp", "c": "c", "cpp": "cpp", "c++": "cpp", "cxx": "cpp", "ruby": "ruby", "rb": "ruby",
    "php": "php", "scala": "scala", "swift": "swift", "shell": "shell", "sh": "shell", "bash": "shell",
    "sql": "sql", "yaml": "yaml", "yml": "yaml", "json": "json", "markdown": "markdown", "md": "markdown",
}
KINDS = tuple(sorted(set(_lang.KINDS) | {"attribute"}))   # every language's definition kinds (index/lang)
KIND_ALIASES = {"func": "function", "def": "function", "fn": "function", "const": "constant", "var": "variable",
                "attr": "attribute", "param": "parameter", "ns": "namespace", "ctor": "constructor"}


# ---------------------------------------------------------------------------- tokenizer

_FILTER_RE = re.compile(r"(-?)([A-Za-z]+):")


@dataclass(frozen=True)
class Tok:
    kind: str        # "(" ")" AND OR NOT pattern filter
    value: object
    column: int


def _read_quoted(q: str, i: int) -> tuple[str, int]:
    """q[i] is '"'; returns (unescaped text, index after the closing quote)."""
    out = []
    j = i + 1
    while j < len(q):
        ch = q[j]
        if ch == "\\" and j + 1 < len(q) and q[j + 1] in '"\\':
            out.append(q[j + 1])
            j += 2
            continue
        if ch == '"':
            return "".join(out), j + 1
        out.append(ch)
        j += 1
    raise QueryError('unterminated quoted phrase: add the closing "', i + 1)


def _regex_end(q: str, i: int) -> int | None:
    """q[i] is '/': index of the closing '/' (unescaped, followed by space, ')' or the end), or None."""
    j = i + 1
    while j < len(q):
        ch = q[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "/" and j > i + 1 and (j + 1 == len(q) or q[j + 1].isspace() or q[j + 1] == ")"):
            return j
        j += 1
    return None


def _read_term(q: str, i: int, depth: int) -> tuple[str, int]:
    """A bare term up to whitespace; a ')' ends it only when it would close an open group."""
    j = i
    local = 0
    while j < len(q) and not q[j].isspace():
        ch = q[j]
        if ch == "(":
            local += 1
        elif ch == ")":
            if local > 0:
                local -= 1
            elif depth > 0:
                break
        j += 1
    return q[i:j], j


def tokenize(q: str) -> list[Tok]:
    toks: list[Tok] = []
    depth = 0
    i = 0
    n = len(q)
    while i < n:
        ch = q[i]
        if ch.isspace():
            i += 1
            continue
        col = i + 1
        if ch == "(":
            # "(" opens a group when it stands alone or starts a term whose ")" is not inside it
            toks.append(Tok("(", None, col))
            depth += 1
            i += 1
            continue
        if ch == ")":
            if depth == 0:
                raise QueryError("unbalanced parenthesis: this ')' has no matching '(' (quote it to search for it)", col)
            toks.append(Tok(")", None, col))
            depth -= 1
            i += 1
            continue
        if ch == '"':
            text, i = _read_quoted(q, i)
            toks.append(Tok("pattern", Pattern(text, quoted=True, column=col), col))
            continue
        if ch == "/":
            end = _regex_end(q, i)
            if end is not None:
                toks.append(Tok("pattern", Pattern(q[i + 1:end], regex=True, column=col), col))
                i = end + 1
                continue
        m = _FILTER_RE.match(q, i)
        if m:
            name = m.group(2).lower()
            vstart = m.end()
            if name in FILTERS:
                canon = FILTERS[name]
                if vstart < n and q[vstart] == '"':
                    value, i = _read_quoted(q, vstart)
                else:
                    value, i = _read_term(q, vstart, depth)
                if not value:
                    raise QueryError(f"{m.group(2)}: needs a value, e.g. {_example(canon)}", col)
                neg = m.group(1) == "-"
                if neg and canon not in NEGATABLE:
                    raise QueryError(f"-{m.group(2)}: cannot be negated", col)
                toks.append(Tok("filter", Filter(canon, value, neg, col), col))
                continue
            value_start = q[vstart:vstart + 1]
            if value_start and not value_start.isspace() and value_start not in "/\\:":
                raise QueryError(
                    f"unknown filter {m.group(2)}: (known: repo, file/path, lang, owner, type, kind, count, case); "
                    f'to search for the text itself, quote it: "{_read_term(q, i, depth)[0]}"', col + len(m.group(1)))
        text, j = _read_term(q, i, depth)
        i = j
        if text in ("AND", "OR", "NOT"):
            toks.append(Tok(text, None, col))
        else:
            toks.append(Tok("pattern", Pattern(text, column=col), col))
    return toks


def _example(name: str) -> str:
    return {"repo": "repo:payments", "file": "file:*.py", "lang": "lang:python", "owner": "owner:@org/team",
            "type": "type:symbol", "kind": "kind:function", "count": "count:50", "case": "case:yes",
            "patterntype": "patterntype:regexp"}.get(name, f"{name}:VALUE")


# ---------------------------------------------------------------------------- parser
#
#   or   := and ("OR" and)*
#   and  := unary (["AND"] unary)*
#   unary:= "NOT" unary | atom
#   atom := "(" or ")" | pattern | filter


class _Parser:
    MAX_DEPTH = 64

    def __init__(self, toks: list[Tok], qlen: int):
        self.toks = toks
        self.i = 0
        self.end_col = qlen + 1
        self.depth = 0

    def nest(self, t: Tok):
        self.depth += 1
        if self.depth > self.MAX_DEPTH:
            raise QueryError(f"the query nests deeper than {self.MAX_DEPTH} levels", t.column)

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def parse(self):
        node = self.or_()
        t = self.peek()
        if t is not None:  # a ")" too many is caught by the tokenizer; anything else is a bug
            raise QueryError(f"unexpected {t.kind}", t.column)
        return node

    def or_(self):
        items = [self.and_()]
        while (t := self.peek()) is not None and t.kind == "OR":
            self.take()
            if self.peek() is None or self.peek().kind in (")", "OR"):
                raise QueryError("OR needs something on its right", t.column)
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self):
        items = [self.unary()]
        while (t := self.peek()) is not None and t.kind not in ("OR", ")"):
            if t.kind == "AND":
                self.take()
                nxt = self.peek()
                if nxt is None or nxt.kind in (")", "OR", "AND"):
                    raise QueryError("AND needs something on its right", t.column)
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self):
        t = self.peek()
        if t is None:
            raise QueryError("the query ends where a term was expected", self.end_col)
        if t.kind == "NOT":
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind in (")", "OR", "AND"):
                raise QueryError("NOT needs something on its right", t.column)
            self.nest(t)
            node = Not(self.unary())
            self.depth -= 1
            return node
        return self.atom()

    def atom(self):
        t = self.take()
        if t.kind == "(":
            nxt = self.peek()
            if nxt is None:
                raise QueryError("unbalanced parenthesis: this '(' is never closed", t.column)
            if nxt.kind == ")":
                raise QueryError("empty parentheses", t.column)
            self.nest(t)
            node = self.or_()
            self.depth -= 1
            close = self.peek()
            if close is None or close.kind != ")":
                raise QueryError("unbalanced parenthesis: this '(' is never closed", t.column)
            self.take()
            return node
        if t.kind in ("pattern", "filter"):
            return t.value
        if t.kind in ("AND", "OR"):
            raise QueryError(f"{t.kind} needs something on its left", t.column)
        raise QueryError(f"unexpected {t.kind}", t.column)


def parse(text: str, *, regex_mode: bool = False) -> Query:
    """Parse a query; `regex_mode` (the CLI's --regex) makes bare terms regular expressions."""
    if not isinstance(text, str):
        raise QueryError("the query must be a string", 1)
    if not text.strip():
        raise QueryError("empty query: type some text to find, e.g. `retry lang:python`", 1)
    if len(text) > 4096:
        raise QueryError("the query is longer than 4096 characters", 4097)
    toks = tokenize(text)
    q = Query(expr=None, text=text)
    # global settings are pulled out of the token stream (they are not predicates)
    kept = []
    for t in toks:
        if t.kind == "filter" and t.value.name in GLOBAL:
            _apply_global(q, t.value)
            continue
        if t.kind == "pattern" and regex_mode and not t.value.quoted and not t.value.regex:
            t = Tok("pattern", Pattern(t.value.value, regex=True, column=t.column), t.column)
        kept.append(t)
    if q.__dict__.get("_regex_all"):
        kept = [Tok("pattern", Pattern(t.value.value, regex=True, column=t.column), t.column)
                if t.kind == "pattern" and not t.value.quoted else t for t in kept]
    if len(kept) < len(toks):
        kept = _drop_empty_groups(kept)
    if kept:
        q.expr = _Parser(kept, len(text)).parse()
    q.patterns = [p for p in walk(q.expr) if isinstance(p, Pattern)]
    for f in walk(q.expr):
        if isinstance(f, Filter):
            _check_filter(f)
            if f.name == "kind":
                q.symbols = True
    if q.expr is not None:
        q.expr = _merge_same_filters(q.expr)
    for p in q.patterns:
        if not p.regex and "\n" in p.value:
            raise QueryError("a pattern cannot span lines (it contains a line break)", p.column)
        if p.regex:
            compile_pattern(p, q.case)   # raises QueryError at the pattern's column
        elif p.value == "":
            raise QueryError("empty phrase", p.column)
    if q.expr is None and not q.symbols:
        # only global settings (count:, case:...) and nothing to match
        raise QueryError("nothing to search for: add a term, a \"phrase\", a /regex/ or a filter", 1)
    return q


def _merge_same_filters(node):
    """`repo:a repo:b` means either repo (as on GitHub): positive filters of one name directly under
    the same AND are combined with OR; negated ones (`-repo:a -repo:b`) all apply."""
    if isinstance(node, Not):
        return Not(_merge_same_filters(node.child))
    if isinstance(node, Or):
        return Or(tuple(_merge_same_filters(c) for c in node.children))
    if not isinstance(node, And):
        return node
    kids = [_merge_same_filters(c) for c in node.children]
    groups: dict[str, list] = {}
    for c in kids:
        if isinstance(c, Filter) and not c.negated:
            groups.setdefault(c.name, []).append(c)
    out, done = [], set()
    for c in kids:
        if isinstance(c, Filter) and not c.negated and len(groups[c.name]) > 1:
            if c.name not in done:
                done.add(c.name)
                out.append(Or(tuple(groups[c.name])))
            continue
        out.append(c)
    return out[0] if len(out) == 1 else And(tuple(out))


def _drop_empty_groups(toks: list[Tok]) -> list[Tok]:
    """`( count:5 )` leaves `( )` behind once globals are pulled out: drop such groups."""
    changed = True
    while changed:
        changed = False
        for k in range(len(toks) - 1):
            if toks[k].kind == "(" and toks[k + 1].kind == ")":
                del toks[k:k + 2]
                changed = True
                break
    return toks


def _apply_global(q: Query, f: Filter) -> None:
    v = f.value.lower()
    if f.name == "case":
        if v not in ("yes", "no", "true", "false", "smart"):
            raise QueryError("case: takes yes, no or smart", f.column)
        q.case = {"true": "yes", "false": "no"}.get(v, v)
    elif f.name == "type":
        if v in ("symbol", "symbols", "def", "definition", "definitions"):
            q.symbols = True
        elif v in ("file", "content", "code"):
            q.symbols = False
        else:
            raise QueryError(f"type:{f.value} is not a type; use type:symbol (definitions) or type:file (content)", f.column)
    elif f.name == "count":
        if v == "all":
            q.count = 0
        elif v.isdigit() and 0 < int(v) <= 1_000_000:
            q.count = int(v)
        else:
            raise QueryError("count: takes a number from 1 to 1000000, or all", f.column)
    elif f.name == "patterntype":
        if v in ("regexp", "regex"):
            q.__dict__["_regex_all"] = True
        elif v not in ("literal", "standard", "keyword"):
            raise QueryError("patterntype: takes literal or regexp", f.column)


def _check_filter(f: Filter) -> None:
    if f.name == "lang":
        if f.value.lower() not in _langs():
            raise QueryError(f"unknown language {f.value!r} (known: {', '.join(sorted(set(_langs())))})", f.column)
    elif f.name == "kind":
        k = f.value.lower()
        if k not in KINDS and k not in KIND_ALIASES:
            raise QueryError(f"unknown kind {f.value!r} (known: {', '.join(KINDS)})", f.column)
    elif f.name == "repo":
        _compile_filter_regex(f.value, f.column + len(f.name) + 1 + f.negated)
    elif f.name == "file":
        path_matcher(f.value, f.column + len(f.name) + 1 + f.negated)


def walk(node):
    if node is None:
        return
    yield node
    if isinstance(node, (And, Or)):
        for c in node.children:
            yield from walk(c)
    elif isinstance(node, Not):
        yield from walk(node.child)


def _langs() -> dict:
    """What people type after `lang:` -> files.language: the table above plus every registered language's names."""
    return {**LANGS, **_lang.search_names()}


def lang_of(value: str) -> str:
    return _langs()[value.lower()]


def kind_of(value: str) -> str:
    k = value.lower()
    return KIND_ALIASES.get(k, k)


# ---------------------------------------------------------------------------- patterns

REGEX_TIMEOUT = 1.0   # seconds one regex may spend on one file before the search gives up


def _has_upper(p: Pattern) -> bool:
    s = re.sub(r"\\.", "", p.value) if p.regex else p.value   # \W \S \D... are not capitals
    s = re.sub(r"\\[pPN]\{[^}]*\}", "", s) if p.regex else s
    return any(c.isupper() for c in s)


def case_sensitive(p: Pattern, case: str) -> bool:
    return case == "yes" or (case == "smart" and _has_upper(p))


def compile_pattern(p: Pattern, case: str = "smart"):
    """A compiled `regex` pattern for a Pattern (literals escaped), case per the query's setting."""
    flags = regex.VERSION0 | (0 if case_sensitive(p, case) else regex.IGNORECASE)
    src = p.value if p.regex else regex.escape(p.value)
    if p.regex and p.value == "":
        raise QueryError("empty regular expression", p.column)
    try:
        return regex.compile(src, flags)
    except regex.error as e:
        pos = e.pos if isinstance(e.pos, int) else 0
        msg = e.msg if hasattr(e, "msg") else str(e)
        raise QueryError(f"invalid regular expression: {msg}", p.column + 1 + pos) from None
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as e:
        raise QueryError(f"invalid regular expression: {e}", p.column + 1) from None


def _compile_filter_regex(value: str, column: int):
    try:
        return regex.compile(value, regex.IGNORECASE | regex.VERSION0)
    except regex.error as e:
        pos = e.pos if isinstance(e.pos, int) else 0
        raise QueryError(f"invalid regular expression: {getattr(e, 'msg', e)}", column + pos) from None
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as e:
        raise QueryError(f"invalid regular expression: {e}", column) from None


def repo_matcher(value: str):
    rx = _compile_filter_regex(value, 1)
    return lambda name: rx.search(name, timeout=REGEX_TIMEOUT) is not None


def _is_glob(value: str) -> bool:
    if any(c in value for c in "*?{") and not any(s in value for s in (".*", ".+", "\\", "^", "$", "|", "(", "+")):
        return True
    return False


def glob_to_regex(glob: str) -> str:
    """`**` any directories, `*` within a name, `?` one character, `{a,b}` alternatives, `[...]` a class.
    A glob without '/' matches the file name; one with '/' matches the path or any trailing part of it."""
    out = []
    i = 0
    brace = 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            if glob.startswith("**", i):
                i += 2
                if i < len(glob) and glob[i] == "/":
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "{":
            brace += 1
            out.append("(?:")
        elif c == "}" and brace:
            brace -= 1
            out.append(")")
        elif c == "," and brace:
            out.append("|")
        elif c == "[":
            j = glob.find("]", i + 2)
            if j < 0:
                out.append(regex.escape(c))
            else:
                body = glob[i + 1:j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(regex.escape(c))
        i += 1
    out.append(")" * brace)
    body = "".join(out)
    if "/" not in glob.rstrip("/"):
        return f"(?:^|/){body}$"
    anchor = "^" if glob.startswith("/") else "(?:^|/)"
    if glob.startswith("/"):
        body = body[2:] if body.startswith("\\/") else body[1:]
    return f"{anchor}{body}(?:/|$)" if glob.endswith("/") else f"{anchor}{body}$"


def path_matcher(value: str, column: int = 1):
    """file:/path: — a glob when it looks like one (`*.py`, `tests/**`), else a regex searched in the path."""
    if _is_glob(value):
        src = glob_to_regex(value)
        try:
            rx = regex.compile(src, regex.IGNORECASE)
        except regex.error:
            rx = None
        if rx is not None:
            return lambda path: rx.search(path, timeout=REGEX_TIMEOUT) is not None
    rx = _compile_filter_regex(value, column)
    return lambda path: rx.search(path, timeout=REGEX_TIMEOUT) is not None


# ---------------------------------------------------------------------------- trigram requirements

def literal_runs(p: Pattern) -> object:
    """What a file must contain for the pattern to match, for the trigram index:
    ("and", [str...]) / ("or", [req...]) / None (no constraint). Literal strings only; the index is
    case-insensitive, so case does not matter here."""
    if not p.regex:
        return ("and", [p.value])
    try:
        import re._parser as sre  # the stdlib parser: regex's V0 syntax is Python's
    except ImportError:  # pragma: no cover - Python < 3.11
        import sre_parse as sre  # type: ignore
    try:
        tree = sre.parse(p.value)
    except Exception:
        return None
    try:
        return _req_seq(tree, sre)
    except RecursionError:
        return None


def _req_seq(items, sre) -> object:
    from re._constants import ASSERT, ASSERT_NOT, AT, BRANCH, LITERAL, MAX_REPEAT, MIN_REPEAT, SUBPATTERN
    try:
        from re._constants import POSSESSIVE_REPEAT, ATOMIC_GROUP
    except ImportError:  # pragma: no cover
        POSSESSIVE_REPEAT = ATOMIC_GROUP = None
    parts: list = []
    run: list[str] = []

    def flush():
        if run:
            parts.append("".join(run))
            run.clear()

    for op, av in items:
        if op == LITERAL:
            run.append(chr(av))
            continue
        if op in (AT, ASSERT, ASSERT_NOT):
            # zero-width: does not consume, a run continues across ^ $ \b (but not lookarounds)
            if op != AT:
                flush()
            continue
        flush()
        if op == SUBPATTERN:
            sub = av[-1]
            r = _req_seq(sub, sre)
            if r is not None:
                parts.append(r)
        elif op == ATOMIC_GROUP:
            r = _req_seq(av, sre)
            if r is not None:
                parts.append(r)
        elif op in (MAX_REPEAT, MIN_REPEAT, POSSESSIVE_REPEAT):
            lo, _hi, sub = av
            if lo >= 1:
                r = _req_seq(sub, sre)
                if r is not None:
                    parts.append(r)
        elif op == BRANCH:
            alts = []
            for b in av[1]:
                r = _req_seq(b, sre)
                if r is None:
                    alts = None
                    break
                alts.append(r)
            if alts:
                parts.append(("or", alts))
        # IN, ANY, NOT_LITERAL, CATEGORY, GROUPREF...: consume something unknown
    flush()
    parts = [x for x in parts if not (isinstance(x, str) and len(x) < 3)]
    if not parts:
        return None
    return ("and", parts)
