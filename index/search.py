"""Run a parsed query (query.py) against the index: content search and symbol search.

Content: the trigram index (content.py) narrows files to those holding every trigram a match needs
(for literals, and for the literal fragments a regex requires); each candidate is decompressed and
matched line by line, so results are exact: ripgrep's semantics (smart case, a match never crosses a
line end, non-overlapping matches left to right). Files stream out grouped by repo (repo, then path).

Symbols: the same boolean expression over `defs` (a pattern matches the name, filters the file,
`kind:` the kind), candidates from the `defs_fts` trigram index, ranked: exact name, prefix,
substring; then most used (`usage`), then classes/functions before variables.

    for r in search(conn, "retry lang:python", limit=50): ...
    page = run(conn, "type:symbol Backoff", limit=20)   # .results, .more
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from typing import Iterator

import regex

from . import ownership
from .querylang import (REGEX_TIMEOUT, And, Filter, Not, Or, Pattern, Query, QueryError, case_sensitive,
                    compile_pattern, kind_of, lang_of, literal_runs, parse, path_matcher, repo_matcher, walk)

DEFAULT_LIMIT = 100
MAX_TRIGRAMS = 16          # per literal: evenly spread, enough to be selective
KIND_ORDER = {"class": 0, "function": 1, "method": 2, "property": 3, "constant": 4, "attribute": 5,
              "variable": 6, "module": 7, "parameter": 8}


class SearchError(Exception):
    """A search that cannot run or finish (no content in the index, a regex over its time budget)."""


@dataclass
class Result:
    """One matching line (content) or definition (symbol). `line`/`col`/`end_col` are 0-based, columns in
    code points; `ranges` are all matches on the line; `owners` from CODEOWNERS & co."""
    repo: str
    path: str
    line: int
    col: int
    end_col: int
    text: str
    owners: list = field(default_factory=list)
    ranges: list = field(default_factory=list)
    root: str = ""
    ascii: bool = True
    kind: str | None = None          # symbols: definition kind; content: None; filters only: "file"
    name: str | None = None
    qualname: str | None = None
    uses: int | None = None

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("root", None)
        d.pop("ascii", None)
        return {k: v for k, v in d.items() if v is not None}


@dataclass
class Page:
    results: list
    more: bool
    query: Query
    seconds: float = 0.0


# ---------------------------------------------------------------------------- helpers


@dataclass
class _Repo:
    id: int
    name: str
    root: str
    ownership: dict


class _File:
    __slots__ = ("id", "repo", "path", "language", "ascii", "blob", "_data", "_text", "_lower", "_owners", "_hits", "conn")

    def __init__(self, conn, fid, repo, path, language, ascii_, blob):
        self.conn = conn
        self.id = fid
        self.repo = repo
        self.path = path
        self.language = language
        self.ascii = bool(ascii_)
        self.blob = blob
        self._data = None
        self._text = None
        self._lower = None
        self._owners = None
        self._hits = {}

    @property
    def data(self) -> bytes:
        if self._data is None:
            row = self.conn.execute("SELECT text FROM content WHERE blob = ?", (self.blob,)).fetchone()
            self._data = bytes(row[0]) if row else b""
        return self._data

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.data.decode("utf-8", "surrogateescape")
        return self._text

    @property
    def lower(self) -> str:
        if self._lower is None:
            self._lower = self.text.lower()
        return self._lower

    @property
    def owners(self) -> list:
        if self._owners is None:
            hit = ownership.owners_for(self.repo.ownership, self.path) if self.repo.ownership else None
            self._owners = list(hit.get("owners") or []) if hit else []
        return self._owners


def _norm_owner(s: str) -> str:
    return s.strip().lower().lstrip("@")


def owner_matches(value: str, owners: list) -> bool:
    """`owner:@org/team`, `owner:org/team`, `owner:team` (any org), `owner:alice@example.com`."""
    v = _norm_owner(value)
    for o in owners:
        n = _norm_owner(o)
        if n == v or ("/" not in v and "@" not in v and n.rsplit("/", 1)[-1] == v):
            return True
    return False


class _Matcher:
    """Finds a Pattern's matches in a file: {line: [(col, end_col), ...]} (0-based, code points)."""

    def __init__(self, p: Pattern, case: str):
        self.p = p
        self.sensitive = case_sensitive(p, case)
        self.literal = None if p.regex else p.value
        self.lit_lower = self.literal.lower() if self.literal is not None else None
        self.lower_ok = self.literal is not None and self.literal.isascii()
        # quick rejection on the stored UTF-8 bytes before decoding (most trigram candidates fail)
        self.needle = self.literal.encode("utf-8") if self.literal is not None else None
        self.needle_rx = (regex.compile(regex.escape(self.needle), regex.IGNORECASE)
                          if self.literal is not None and self.lower_ok and not self.sensitive else None)
        flags = regex.MULTILINE | regex.VERSION0 | (0 if self.sensitive else regex.IGNORECASE)
        src = p.value if p.regex else regex.escape(p.value)
        try:
            self.rx = regex.compile(src, flags)
        except regex.error:
            self.rx = compile_pattern(p, case)  # raises the QueryError with its column
        self.deadline = None

    def _timeout(self) -> float:
        left = REGEX_TIMEOUT if self.deadline is None else min(REGEX_TIMEOUT, self.deadline - time.monotonic())
        if left <= 0:
            raise SearchError("the search ran out of time; narrow it with repo:, file: or a longer literal")
        return left

    def absent(self, f: _File) -> bool:
        """Certainly no match (checked on the UTF-8 bytes, before any decoding)."""
        if self.needle is None:
            return False
        if self.sensitive:
            return self.needle not in f.data
        if self.needle_rx is not None:
            data = f.data
            if self.needle_rx.search(data) is not None:
                return False
            # ASCII folding on bytes is Unicode folding except for the Kelvin sign and the long s
            # (they fold to k and s): a non-ASCII file holding one is decoded and matched fully
            return f.ascii or (b"\xe2\x84\xaa" not in data and b"\xc5\xbf" not in data)
        return False

    def hits(self, f: _File) -> dict:
        if self.absent(f):
            return {}
        text = f.text
        out: dict[int, list] = {}
        if self.literal is not None and (self.sensitive or (f.ascii and self.lower_ok)):
            hay, needle = (text, self.literal) if self.sensitive else (f.lower, self.lit_lower)
            n = len(needle)
            pos = hay.find(needle)
            line, last = 0, 0
            while pos >= 0:
                line += text.count("\n", last, pos)
                last = pos
                start = text.rfind("\n", 0, pos) + 1
                out.setdefault(line, []).append((pos - start, pos - start + n))
                pos = hay.find(needle, pos + n)
            return out
        # regex (or a literal needing Unicode case folding): find the lines over the whole text,
        # then match each such line on its own, as a line-oriented grep does
        lines: set[int] = set()
        line, last = 0, 0
        try:
            for m in self.rx.finditer(text, timeout=self._timeout()):
                s, e = m.span()
                line += text.count("\n", last, s)
                last = s
                span = text.count("\n", s, e)
                lines.update(range(line, line + span + 1))
        except TimeoutError:
            raise SearchError(f"/{self.p.value}/ took longer than {REGEX_TIMEOUT:g}s on "
                              f"{f.repo.name}/{f.path}; simplify the pattern") from None
        if not lines:
            return out
        starts = _line_starts(text)
        real = len(starts) - 1 if text.endswith("\n") or not text else len(starts)   # no line after the last \n
        for ln in sorted(lines):
            if ln >= real:
                continue
            a = starts[ln]
            b = starts[ln + 1] - 1 if ln + 1 < len(starts) else len(text)
            seg = text[a:b]
            try:
                spans = [m.span() for m in self.rx.finditer(seg, timeout=self._timeout())]
            except TimeoutError:
                raise SearchError(f"/{self.p.value}/ took longer than {REGEX_TIMEOUT:g}s on "
                                  f"{f.repo.name}/{f.path}; simplify the pattern") from None
            if spans:
                out[ln] = spans
        return out


def _line_starts(text: str) -> list[int]:
    starts = [0]
    find = text.find
    i = find("\n")
    while i >= 0:
        starts.append(i + 1)
        i = find("\n", i + 1)
    return starts


# ---------------------------------------------------------------------------- trigram candidates

def _fts_string(s: str, phrases: bool) -> str | None:
    """One literal -> an FTS5 expression every file containing it satisfies (None: no constraint).
    Only ASCII pieces are used: the index folds case, and ASCII folding agrees with Python's."""
    pieces, cur = [], []
    for ch in s:
        if ch.isascii():
            cur.append(ch)
        else:
            pieces.append("".join(cur))
            cur = []
    pieces.append("".join(cur))
    terms: list[str] = []
    for piece in pieces:
        if len(piece) < 3:
            continue
        if phrases:
            terms.append('"' + piece.replace('"', '""') + '"')
            continue
        grams = list(dict.fromkeys(piece[i:i + 3].lower() for i in range(len(piece) - 2)))
        if len(grams) > MAX_TRIGRAMS:
            step = (len(grams) - 1) / (MAX_TRIGRAMS - 1)
            grams = list(dict.fromkeys(grams[round(k * step)] for k in range(MAX_TRIGRAMS)))
        terms.extend('"' + g.replace('"', '""') + '"' for g in grams)
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else "(" + " AND ".join(terms) + ")"


def _fts_req(req, phrases: bool) -> str | None:
    if req is None:
        return None
    if isinstance(req, str):
        return _fts_string(req, phrases)
    op, parts = req
    subs = [_fts_req(x, phrases) for x in parts]
    if op == "and":
        subs = [s for s in subs if s is not None]
        if not subs:
            return None
        return subs[0] if len(subs) == 1 else "(" + " AND ".join(subs) + ")"
    if any(s is None for s in subs):
        return None
    return subs[0] if len(subs) == 1 else "(" + " OR ".join(subs) + ")"


def fts_query(node, phrases: bool = False) -> str | None:
    """The FTS5 MATCH expression a file (or name) must satisfy for the expression to hold, or None."""
    if node is None or isinstance(node, (Filter, Not)):
        return None
    if isinstance(node, Pattern):
        return _fts_req(literal_runs(node), phrases)
    subs = [fts_query(c, phrases) for c in node.children]
    if isinstance(node, And):
        subs = [s for s in subs if s is not None]
        if not subs:
            return None
        return subs[0] if len(subs) == 1 else "(" + " AND ".join(subs) + ")"
    if any(s is None for s in subs):
        return None
    return "(" + " OR ".join(subs) + ")"


# ---------------------------------------------------------------------------- evaluation


class _Eval:
    def __init__(self, q: Query, repos: dict[int, _Repo], deadline: float | None):
        self.q = q
        self.repos = repos
        self.matchers = {}
        for p in q.patterns:
            m = _Matcher(p, q.case)
            m.deadline = deadline
            self.matchers[id(p)] = m
        self.filters = {}
        for f in walk(q.expr):
            if isinstance(f, Filter):
                self.filters[id(f)] = self._filter_fn(f)

    def _filter_fn(self, f: Filter):
        if f.name == "repo":
            ok = repo_matcher(f.value)
            ids = {r.id for r in self.repos.values() if ok(r.name)}
            return lambda x: x.repo.id in ids
        if f.name == "file":
            return lambda x, m=path_matcher(f.value): m(x.path)
        if f.name == "lang":
            lang = lang_of(f.value)
            return lambda x: x.language == lang
        if f.name == "owner":
            return lambda x: owner_matches(f.value, x.owners)
        if f.name == "kind":
            kind = kind_of(f.value)
            return lambda x: getattr(x, "kind", None) == kind
        return lambda x: True

    def filter(self, f: Filter, x) -> bool:
        r = self.filters[id(f)](x)
        return not r if f.negated else r

    def meta(self, node, x):
        """Three-valued: True/False when filters alone decide, None when patterns are needed."""
        if node is None:
            return True
        if isinstance(node, Filter):
            return self.filter(node, x)
        if isinstance(node, Pattern):
            return None
        if isinstance(node, Not):
            r = self.meta(node.child, x)
            return None if r is None else not r
        vals = [self.meta(c, x) for c in node.children]
        if isinstance(node, And):
            if any(v is False for v in vals):
                return False
            return True if all(v is True for v in vals) else None
        if any(v is True for v in vals):
            return True
        return False if all(v is False for v in vals) else None

    # content: a pattern holds when the file has a match
    def file_hits(self, p: Pattern, f: _File) -> dict:
        h = f._hits.get(id(p))
        if h is None:
            h = f._hits[id(p)] = self.matchers[id(p)].hits(f)
        return h

    def holds(self, node, f: _File) -> bool:
        if node is None:
            return True
        if isinstance(node, Filter):
            return self.filter(node, f)
        if isinstance(node, Pattern):
            return bool(self.file_hits(node, f))
        if isinstance(node, Not):
            return not self.holds(node.child, f)
        if isinstance(node, And):
            return all(self.holds(c, f) for c in node.children)
        return any(self.holds(c, f) for c in node.children)

    def positive(self, node, out: list) -> list:
        """Patterns not under a NOT: their matches are what a result shows."""
        if isinstance(node, Pattern):
            out.append(node)
        elif isinstance(node, (And, Or)):
            for c in node.children:
                self.positive(c, out)
        return out

    # symbols: a pattern holds when the name matches
    def name_holds(self, node, d) -> bool:
        if node is None:
            return True
        if isinstance(node, Filter):
            return self.filter(node, d)
        if isinstance(node, Pattern):
            m = self.matchers[id(node)]
            if m.literal is not None:
                return (m.literal in d.name) if m.sensitive else (m.lit_lower in d.name.lower())
            return m.rx.search(d.name, timeout=REGEX_TIMEOUT) is not None
        if isinstance(node, Not):
            return not self.name_holds(node.child, d)
        if isinstance(node, And):
            return all(self.name_holds(c, d) for c in node.children)
        return any(self.name_holds(c, d) for c in node.children)


def _repos(conn) -> dict[int, _Repo]:
    out = {}
    for rid, name, root, own in conn.execute("SELECT id, name, root, ownership FROM repos"):
        try:
            o = json.loads(own or "{}")
        except ValueError:
            o = {}
        out[rid] = _Repo(rid, name, root, o)
    return out


def _has_content(conn) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'content_fts'").fetchone() is not None


# ---------------------------------------------------------------------------- content search


def _content_results(conn, q: Query, deadline: float | None) -> Iterator[Result]:
    if not _has_content(conn):
        raise SearchError("this index holds no file contents (written by an older crossnav); "
                          "run `crossnav index` again to add them")
    repos = _repos(conn)
    ev = _Eval(q, repos, deadline)
    try:   # reading candidate texts is most of a search: map the file rather than copy page by page
        conn.execute("PRAGMA mmap_size = 4294967296")
    except sqlite3.Error:
        pass
    match = fts_query(q.expr) if q.has_pattern else None
    base = "SELECT f.id, f.repo_id, f.path, f.language, f.ascii, f.blob FROM files f"
    if match is None:
        rows = conn.execute(base).fetchall()
    else:
        pending = conn.execute("SELECT value FROM meta WHERE key = 'content_fts_from'").fetchone()
        extra = f" OR c.id > {int(pending[0])}" if pending else ""
        rows = conn.execute(
            base + " JOIN content c ON c.blob = f.blob WHERE c.id IN "
            "(SELECT rowid FROM content_fts WHERE content_fts MATCH ?)" + extra, (match,)).fetchall()
    files = [_File(conn, fid, repos[rid], path, lang, asc, blob) for fid, rid, path, lang, asc, blob in rows if rid in repos]
    files.sort(key=lambda f: (f.repo.name, f.path))
    positive = ev.positive(q.expr, [])
    for f in files:
        if deadline is not None and time.monotonic() > deadline:
            raise SearchError("the search ran out of time; narrow it with repo:, file: or a longer literal")
        decided = ev.meta(q.expr, f)
        if decided is False:
            continue
        if not q.has_pattern:
            yield Result(f.repo.name, f.path, 0, 0, 0, "", f.owners, [], f.repo.root, f.ascii, kind="file")
            continue
        if not ev.holds(q.expr, f):
            continue
        lines: dict[int, list] = {}
        for p in positive:
            for ln, spans in ev.file_hits(p, f).items():
                lines.setdefault(ln, []).extend(spans)
        if not lines:
            # only negative patterns (`NOT foo repo:x`): the file itself is the result
            yield Result(f.repo.name, f.path, 0, 0, 0, "", f.owners, [], f.repo.root, f.ascii, kind="file")
            continue
        text = f.text
        starts = _line_starts(text)
        for ln in sorted(lines):
            spans = sorted(set(lines[ln]))
            a = starts[ln]
            b = starts[ln + 1] - 1 if ln + 1 < len(starts) else len(text)
            s, e = spans[0]
            yield Result(f.repo.name, f.path, ln, s, e, text[a:b], f.owners, [list(x) for x in spans],
                         f.repo.root, f.ascii)


# ---------------------------------------------------------------------------- symbol search


class _Def:
    __slots__ = ("id", "name", "qualname", "kind", "line", "col", "end_col", "signature", "repo", "path",
                 "language", "ascii", "uses", "_owners", "container")

    @property
    def owners(self):
        if self._owners is None:
            hit = ownership.owners_for(self.repo.ownership, self.path) if self.repo.ownership else None
            self._owners = list(hit.get("owners") or []) if hit else []
        return self._owners


def _symbol_results(conn, q: Query, limit: int | None) -> Iterator[Result]:
    repos = _repos(conn)
    ev = _Eval(q, repos, None)
    kinds_asked = {kind_of(f.value) for f in walk(q.expr) if isinstance(f, Filter) and f.name == "kind" and not f.negated}
    where, args = [], []
    if "parameter" not in kinds_asked:
        where.append("d.kind <> 'parameter'")
    if "module" not in kinds_asked:
        where.append("d.kind <> 'module'")
    # required filters directly under a top-level AND narrow the SQL
    top = q.expr.children if isinstance(q.expr, And) else (q.expr,) if q.expr is not None else ()
    for f in top:
        if isinstance(f, Filter) and not f.negated and f.name == "kind":
            where.append("d.kind = ?")
            args.append(kind_of(f.value))
        elif isinstance(f, Filter) and not f.negated and f.name == "repo":
            ids = [r.id for r in repos.values() if repo_matcher(f.value)(r.name)]
            where.append(f"d.repo_id IN ({','.join(str(i) for i in ids) or 'NULL'})")
    match = fts_query(q.expr, phrases=True) if q.has_pattern else None
    if match is not None:
        where.append("d.id IN (SELECT rowid FROM defs_fts WHERE defs_fts MATCH ?)")
        args.append(match)
    # ranked in SQL (sorting in C is what keeps a common name fast); Python then checks the exact
    # semantics (case, regex, NOT) on rows in ranked order and stops at the limit
    lits = list(dict.fromkeys(p.value.lower() for p in q.patterns if not p.regex))
    if lits:
        exact = " OR ".join("d.name = ? COLLATE NOCASE" for _ in lits)
        prefix = " OR ".join("d.name LIKE ? ESCAPE '\\'" for _ in lits)
        tier = f"CASE WHEN {exact} THEN 0 WHEN {prefix} THEN 1 ELSE 2 END"
        tier_args = lits + [v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for v in lits]
    else:
        tier, tier_args = "2", []
    kind_rank = "CASE d.kind " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in KIND_ORDER.items()) + " ELSE 9 END"
    select = (f"SELECT d.id, d.name, d.qualname, d.kind, d.name_line, d.name_col, d.name_end_col, d.signature,"
              f" d.repo_id, f.path, f.language, f.ascii, coalesce(u.refs, 0) AS uses, d.container, {tier} AS tier"
              " FROM defs d JOIN files f ON f.id = d.file_id JOIN repos r ON r.id = d.repo_id"
              " LEFT JOIN usage u ON u.qualname = d.qualname WHERE ")
    order = f" ORDER BY tier, uses DESC, {kind_rank}, length(d.name), r.name, f.path, d.name_line"
    if lits:
        # exact and prefix names first, through the name index; the (larger) substring tier only if needed
        head = f"({exact} OR {prefix})"
        base_where = [w for w in where if "defs_fts" not in w]
        passes = [(select + " AND ".join([head] + base_where) + order, tier_args + tier_args + _args_without_fts(where, args)),
                  (select + " AND ".join([f"NOT {head}"] + where) + order, tier_args + tier_args + args)]
    else:
        passes = [(select + (" AND ".join(where) or "1") + order, tier_args + args)]
    n = 0
    for row in (row for sql, a in passes for row in conn.execute(sql, a)):
        d = _Def()
        (d.id, d.name, d.qualname, d.kind, d.line, d.col, d.end_col, d.signature, rid, d.path, d.language,
         d.ascii, d.uses, d.container, _tier) = row
        d.repo = repos.get(rid)
        d._owners = None
        if d.repo is None or not ev.name_holds(q.expr, d):
            continue
        yield Result(d.repo.name, d.path, d.line, d.col, d.end_col, d.signature or d.name, d.owners,
                     [[d.col, d.end_col]], d.repo.root, bool(d.ascii), kind=d.kind, name=d.name,
                     qualname=d.qualname, uses=d.uses)
        n += 1
        if limit and n >= limit:
            return


def _args_without_fts(where: list, args: list) -> list:
    """The bound values of `where` minus the FTS MATCH one (the only clause with a parameter is that one
    or `d.kind = ?`)."""
    out, i = [], 0
    for w in where:
        k = w.count("?")
        if "defs_fts" not in w:
            out.extend(args[i:i + k])
        i += k
    return out


# ---------------------------------------------------------------------------- entry points


def search(conn: sqlite3.Connection, query: Query | str, *, limit: int | None = DEFAULT_LIMIT,
           regex_mode: bool = False, budget: float | None = 30.0) -> Iterator[Result]:
    """Results in order (content: by repo then path; symbols: ranked). Raises QueryError for a bad
    query, SearchError when the search cannot run or exceeds `budget` seconds. `limit` (None: all)
    is a hint for ranking; callers stop iterating where they like (see `run` for limit + "more")."""
    q = parse(query, regex_mode=regex_mode) if isinstance(query, str) else query
    deadline = time.monotonic() + budget if budget else None
    if q.symbols:
        return _symbol_results(conn, q, limit)
    return _content_results(conn, q, deadline)


def run(conn: sqlite3.Connection, query: Query | str, *, limit: int = DEFAULT_LIMIT, regex_mode: bool = False,
        budget: float | None = 30.0) -> Page:
    """At most `limit` results (a `count:N` in the query wins) and whether there are more."""
    t0 = time.perf_counter()
    q = parse(query, regex_mode=regex_mode) if isinstance(query, str) else query
    n = q.count if q.count is not None else limit
    it = search(conn, q, limit=(n + 1) if n else None, budget=budget)
    results = []
    more = False
    for r in it:
        if n and len(results) >= n:
            more = True
            break
        results.append(r)
    return Page(results, more, q, time.perf_counter() - t0)


__all__ = ["QueryError", "SearchError", "Result", "Page", "search", "run", "fts_query", "owner_matches"]
