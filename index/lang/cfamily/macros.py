"""Declaration-decorating macros in C/C++ (`ZEXPORT`, `FAR`, `PNGAPI`, `OF((args))`), found per repo
and blanked before parsing, because tree-sitter does not expand macros: `int ZEXPORT inflate(...)`
otherwise turns the whole file into one ERROR node. Blanking replaces bytes with spaces, so every
position stays where it was.

A *decorator* is a macro whose every `#define` is empty or expands only to storage/qualifier
keywords, attributes (`__attribute__((...))`, `__declspec(...)`) or other decorators. An *identity*
macro is a one-parameter function-like macro expanding to its parameter (`#define OF(args) args`):
`deflate OF((z_streamp strm))` becomes `deflate   (z_streamp strm) `.
"""
from __future__ import annotations

import re

# Well-known decorators from platform headers that are never indexed with the code using them
# (a repo that defines one of these names as something else keeps it: see `repo_decorators`).
BUILTIN_DECORATORS = frozenset({
    "WINAPI", "APIENTRY", "CALLBACK", "WINAPIV", "STDMETHODCALLTYPE", "FAR", "NEAR",
    "__cdecl", "__stdcall", "__fastcall", "__thiscall", "__vectorcall", "__forceinline",
    "__BEGIN_DECLS", "__END_DECLS", "__THROW", "__wur", "__nonnull", "_X_EXPORT", "_X_HIDDEN",
    "PyMODINIT_FUNC", "ZEXPORT", "ZEXPORTVA", "ZEXTERN", "DLLEXPORT", "DLL_EXPORT", "WINBASEAPI", "NTAPI",
    "CDECL", "FORCE_INLINE", "FORCE_NOINLINE", "MEM_STATIC", "HINT_INLINE", "ZSTDLIB_API", "LZ4LIB_API",
    "LZ4_FORCE_INLINE", "XXH_PUBLIC_API", "SQLITE_API", "SQLITE_PRIVATE", "PNGAPI", "PNGCAPI", "PNGCBAPI",
    "PNG_IMPEXP", "PNG_EMPTY", "PNG_PRIVATE", "UV_EXTERN",
})
BUILTIN_IDENTITY = frozenset({"OF", "_ANSI_ARGS_", "__P", "PARAMS", "_PROTO", "__PMT", "ARGS", "PROTO", "_Pr"})

# storage classes, qualifiers and calling conventions (compiler-specific spellings included)
_KEYWORDS = frozenset({"extern", "static", "inline", "__inline", "__inline__", "const", "volatile", "register",
                       "__extension__", "__restrict", "restrict", "__restrict__", "_Noreturn", "noreturn", "far",
                       "near", "__far", "__near", "_far", "_near", "huge", "_huge", "__huge", "__cdecl", "_cdecl",
                       "cdecl", "__stdcall", "_stdcall", "__fastcall", "_fastcall", "pascal", "_pascal", "__pascal",
                       "__export", "_export", "__loadds", "_System", "__syscall", "__declspec", "_declspec",
                       "__attribute__", "__attribute", "noexcept", "constexpr", "virtual", "explicit",
                       "thread_local", "_Thread_local", "__thread"})
_DEFINE = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(\([^)\n]*\))?[ \t]*((?:[^\n]*\\\n)*[^\n]*)", re.M)
_WORD = re.compile(rb"[A-Za-z_]\w*|\d+|\"[^\"\n]*\"|\S")
_COMMENT = re.compile(rb"/\*.*?\*/|//[^\n]*", re.S)
_ANY_DEFINE = re.compile(rb"#[ \t]*define")


def scan_defines(data: bytes, bodies: dict, identity: dict) -> None:
    """Collect object-like macro bodies (name -> list of token tuples) and function-like macro
    shapes (name -> list of "identity" / "empty-call" / "other") from one file."""
    if not _ANY_DEFINE.search(data):
        return
    for m in _DEFINE.finditer(data):
        name, params, body = m.group(1).decode(), m.group(2), _COMMENT.sub(b" ", m.group(3).replace(b"\\\n", b" "))
        if params is None:
            bodies.setdefault(name, []).append(tuple(t.decode("latin-1") for t in _WORD.findall(body)))
        else:
            p, b = params[1:-1].strip(), body.strip()
            shape = "identity" if p and b"," not in p and b == p else "empty-call" if b == b"()" else _definer(p, b)
            identity.setdefault(name, []).append(shape)


def _definer(params: bytes, body: bytes):
    """("definer", k) for a macro that spells a declaration from its parameters, like libpng's
    `PNG_FUNCTION(type, name, args, attributes)` -> `attributes type name args`: the indexes of the
    arguments that spell `type name args`, when they come in that order; else "other"."""
    names = [x.strip().decode("latin-1") for x in params.split(b",")]
    words = [t.decode("latin-1") for t in _WORD.findall(body)]
    if len(names) < 3 or not words or not all(w in names for w in words) or len(words) < 3:
        return "other"
    keep = tuple(names.index(w) for w in words[-3:])      # type, name, args
    if not keep[0] < keep[1] < keep[2]:
        return "other"
    return ("definer", keep)


_ATTRIBUTE_OPENERS = frozenset({"__attribute__", "__attribute", "__declspec", "_declspec", "__asm__", "__asm",
                                "alignas", "_Alignas", "__pragma", "_Pragma"})


def decorators(bodies: dict) -> tuple[set[str], set[str]]:
    """(decorators, those that may expand to `static`). A decorator's every definition is made of
    words only (and attribute parentheses), and at least one is empty or made of storage/qualifier
    keywords and other decorators: `FAR` (`far`, `_far` or nothing), `ZEXPORT` (`WINAPI` or nothing),
    `local` (`static`). `#define inflate z_inflate` is not one: nothing says `z_inflate` decorates."""
    found: set[str] = set()
    static: set[str] = set()
    words = {n for n, defs in bodies.items() if all(_words_only(t) for t in defs)}
    changed = True
    while changed:
        changed = False
        for name in words - found:
            if any(all(t in _KEYWORDS or t in found or t in BUILTIN_DECORATORS or t == "(" or t == ")" or not t[0].isalpha() and t[0] != "_"
                       for t in _outside_parens(toks)) for toks in bodies[name]):
                found.add(name)
                changed = True
    for name in found:
        if any("static" in toks or any(t in static for t in toks) for toks in bodies[name]):
            static.add(name)
    for _ in range(3):
        static |= {n for n in found if any(t in static for toks in bodies[n] for t in toks)}
    return found, static


def _outside_parens(toks):
    depth = 0
    for t in toks:
        if t == "(":
            depth += 1
        elif t == ")":
            depth -= 1
        elif depth == 0:
            yield t


def _words_only(toks: tuple) -> bool:
    """Identifiers and keywords, and parentheses only right after an attribute opener."""
    depth, prev = 0, ""
    for t in toks:
        if t == "(":
            if depth == 0 and prev not in _ATTRIBUTE_OPENERS:
                return False
            depth += 1
        elif t == ")":
            depth -= 1
            if depth < 0:
                return False
        elif depth == 0 and not (t[0].isalpha() or t[0] == "_"):
            return False
        prev = t
    return depth == 0


def repo_decorators(bodies: dict, identity: dict) -> dict:
    """What the blanker needs for one repo, from its scanned #defines: decorators, identity macros
    and static-like decorators; built-ins count unless the repo defines that name otherwise."""
    deco, static = decorators(bodies)
    deco |= {n for n in BUILTIN_DECORATORS if n not in bodies and n not in identity}
    ident = {n for n, shapes in identity.items()
             if "identity" in shapes and all(s in ("identity", "empty-call") for s in shapes) and n not in bodies}
    ident |= {n for n in BUILTIN_IDENTITY if n not in bodies and n not in identity}
    definers = {}
    for n, shapes in identity.items():
        if n not in bodies and shapes and all(isinstance(s, tuple) and s == shapes[0] for s in shapes):
            definers[n] = shapes[0][1]
    return {"decorators": sorted(deco), "identity": sorted(ident), "static": sorted(static), "definers": definers,
            "namespaces": namespace_macros(bodies)}


def _namespace_groups(toks: tuple) -> list[tuple[str, bool]] | None:
    """`namespace fmt { inline namespace v9 {` -> [("fmt", False), ("v9", True)]; None otherwise.
    An inline namespace may be named by a macro call (nlohmann-json's `inline namespace
    NLOHMANN_JSON_NAMESPACE_CONCAT(TAGS, VERSION) {`): its name never matters."""
    groups, i = [], 0
    while i < len(toks):
        inline = toks[i] == "inline"
        j = i + inline
        if toks[j:j + 1] != ("namespace",) or j + 1 >= len(toks) \
                or not (toks[j + 1][:1].isalpha() or toks[j + 1][:1] == "_"):
            return None
        k = j + 2
        if inline and toks[k:k + 1] == ("(",):   # skip the macro call's arguments
            depth = 0
            while k < len(toks):
                depth += {"(": 1, ")": -1}.get(toks[k], 0)
                k += 1
                if depth == 0:
                    break
        if toks[k:k + 1] != ("{",):
            return None
        groups.append((toks[j + 1], inline))
        i = k + 1
    return groups or None


def namespace_macros(bodies: dict) -> dict[str, str]:
    """Macros that open or close namespaces (fmt's `FMT_BEGIN_NAMESPACE` = `namespace fmt { inline
    namespace v9 {`, `FMT_END_NAMESPACE` = `} }`), as the text that replaces them before parsing: the
    opened namespaces in one `namespace a::b{`, inline ones left out (they add nothing to a name:
    `fmt::format` is `fmt::v9::format`), and a closer as the one brace its opener still opens. Only
    replacements no longer than the macro's name (positions must not move), only where every
    `#define` of the name agrees, and a closer only when an opener with as many braces was respelled."""
    openers: dict[str, tuple[int, str]] = {}   # name -> (braces it opens, replacement; "" when it does not fit)
    closers: dict[str, int] = {}
    for name, defs in bodies.items():
        shapes = {_namespace_shape(toks) for toks in defs}
        if len(shapes) != 1 or None in shapes:
            continue
        kind, braces, repl = shapes.pop()
        if kind == "close":
            closers[name] = braces
        else:
            openers[name] = (braces, repl if len(repl) <= len(name) else "")
    out = {name: repl for name, (_, repl) in openers.items() if repl}
    for name, braces in closers.items():
        if any(k == braces and repl for k, repl in openers.values()):
            out[name] = "}"
    return out


def _namespace_shape(toks: tuple) -> tuple[str, int, str] | None:
    """("close", n, "") for n `}`s; ("open", n, "namespace a::b{") for n namespaces opened (the
    replacement "" when all are inline); None for any other macro body."""
    if toks and all(t == "}" for t in toks):
        return "close", len(toks), ""
    groups = _namespace_groups(toks)
    if groups is None:
        return None
    kept = "::".join(g for g, inline in groups if not inline)
    return "open", len(groups), f"namespace {kept}{{" if kept else ""


def blanker(decor, ident, definers=None, namespaces=None):
    """A function bytes -> bytes that blanks these decorators and identity-macro wrappers, turns
    definer-macro calls at the start of a line into the declaration they spell
    (`PNG_FUNCTION(png_structp,PNGAPI f,(int x),ATTR)` -> `             png_structp        f (int x)     `),
    and namespace macros into the namespaces they open or close (`FMT_BEGIN_NAMESPACE` ->
    `namespace fmt{     `)."""
    definers = dict(definers or {})
    namespaces = {n.encode(): r.encode().ljust(len(n)) for n, r in (namespaces or {}).items()}
    ns_re = re.compile(rb"\b" + _trie(sorted(namespaces)) + rb"\b") if namespaces else None
    def_re = re.compile(rb"^[ \t]*(?:(?:static|extern|inline)[ \t]+)*(" + b"|".join(re.escape(n.encode()) for n in definers) + rb")[ \t]*\(", re.M) if definers else None
    names = sorted(set(decor))
    deco_re = re.compile(rb"\b" + _trie([n.encode() for n in names]) + rb"\b") if names else None
    inames = sorted(set(ident), key=len, reverse=True) or ["OF"]
    # an identity wrapper only where a parameter list would be: after a declarator name
    ident_re = re.compile(rb"(?<=[\w)])[ \t]*\b(?:" + b"|".join(re.escape(n.encode()) for n in inames) + rb")[ \t]*\(\(")

    def blank(src: bytes) -> bytes:
        out = blank_fragment_conditionals(src)
        if def_re is not None and def_re.search(src):
            if out is None:
                out = bytearray(src)
            for m in def_re.finditer(src):
                _spell_definer(src, out, m.start(1), m.end() - 1, definers[m.group(1).decode()])
        if deco_re is not None and deco_re.search(src):
            if out is None:
                out = bytearray(src)
            for m in deco_re.finditer(src):
                if _in_directive(src, m.start()):
                    continue
                out[m.start():m.end()] = b" " * (m.end() - m.start())
        if ns_re is not None and ns_re.search(src):
            if out is None:
                out = bytearray(src)
            for m in ns_re.finditer(src):
                if not _in_directive(src, m.start()):
                    out[m.start():m.end()] = namespaces[m.group(0)]
        if b"((" in src and ident_re.search(src):
            if out is None:
                out = bytearray(src)
            for m in ident_re.finditer(src):
                open_at = m.end() - 2          # the wrapper's own "("
                close = _matching(src, open_at)
                if close < 0:
                    continue
                for i in range(m.start(), open_at + 1):
                    if out[i] not in b"\r\n":
                        out[i] = 32
                out[close] = 32
        return bytes(out) if out is not None else src
    return blank


# a directive runs on over lines that end with a backslash (`#if !(defined(A) &&\` + `defined(B))`)
_COND = re.compile(rb"^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|else|endif)\b(?:\\\r?\n|[^\n])*", re.M)
_OPERATOR_END = frozenset(b"(,=?:|&+-*/<>![%^~")


def blank_fragment_conditionals(src: bytes) -> bytearray | None:
    """Keep only the first branch of an `#if` whose branches are not whole statements, and blank
    its directive lines: tree-sitter cannot parse `if (a ||\n#else\n if (\n#endif\n b) {`, and its
    error recovery can swallow every function after it. A conditional counts as a fragment when its
    first branch leaves brackets open or it starts in the middle of an expression (after `(`, `,`,
    an operator). Other conditionals are left to the grammar, which parses them in place."""
    if b"#" not in src:
        return None
    stack: list = []
    out = None
    for m in _COND.finditer(src):
        word = m.group(1)
        if word.startswith(b"if"):
            stack.append([m])
        elif stack:
            stack[-1].append(m)
            if word == b"endif":
                cond = stack.pop()
                if len(cond) >= 2 and _fragment(src, cond):
                    if out is None:
                        out = bytearray(src)
                    first_else = cond[1].start()
                    _blank_range(out, first_else, cond[-1].end())
                    _blank_range(out, cond[0].start(), cond[0].end())
    return out


def _fragment(src: bytes, cond: list) -> bool:
    branch = _COMMENT.sub(b" ", src[cond[0].end():cond[1].start()])
    if (branch.count(b"(") - branch.count(b")") or branch.count(b"{") - branch.count(b"}")
            or branch.count(b"[") - branch.count(b"]")):
        return True
    before = src[max(0, cond[0].start() - 200):cond[0].start()]
    before = _COMMENT.sub(b" ", before).rstrip()
    if before.rpartition(b"\n")[2].lstrip().startswith(b"#"):   # after `#include <x.h>`: no expression open
        return False
    return bool(before) and before[-1] in _OPERATOR_END and not before.endswith((b"*/", b"//"))


def _blank_range(out: bytearray, start: int, end: int) -> None:
    """Spaces over [start, end), keeping line breaks so every line keeps its number."""
    for i in range(start, end):
        if out[i] != 10 and out[i] != 13:
            out[i] = 32


def _trie(words: list[bytes]) -> bytes:
    """One regex alternation with common prefixes factored out: Python's `re` tries alternatives
    one by one at every position, a trie lets the first byte decide (5x faster over 100 names)."""
    tree: dict = {}
    for w in words:
        node = tree
        for ch in w:
            node = node.setdefault(ch, {})
        node[None] = True

    def emit(node) -> bytes:
        alts = [re.escape(bytes([ch])) + emit(sub) for ch, sub in sorted((k, v) for k, v in node.items() if k is not None)]
        if not alts:
            return b""
        body = alts[0] if len(alts) == 1 else b"(?:" + b"|".join(alts) + b")"
        return (b"(?:" + body + b")?") if None in node else body
    return b"(?:" + emit(tree) + b")"


def _spell_definer(src: bytes, out: bytearray, name_at: int, open_at: int, keep) -> None:
    close = _matching(src, open_at)
    if close < 0:
        return
    cuts, depth = [], 0                        # top-level commas
    for i in range(open_at + 1, close):
        c = src[i]
        if c in b"([{":
            depth += 1
        elif c in b")]}":
            depth -= 1
        elif c == 44 and depth == 0:
            cuts.append(i)
    bounds = [open_at] + cuts + [close]
    if len(bounds) - 1 <= max(keep):
        return
    _blank_range(out, name_at, open_at + 1)
    for c in cuts:
        out[c] = 32
    out[close] = 32
    for k in range(len(bounds) - 1):
        if k not in keep:
            _blank_range(out, bounds[k] + 1, bounds[k + 1])


def _in_directive(src: bytes, pos: int) -> bool:
    """The position lies on a preprocessor line (`#define ZEXPORT` must stay a definition)."""
    start = src.rfind(b"\n", 0, pos) + 1
    return src[start:pos].lstrip(b" \t").startswith(b"#")


def _matching(src: bytes, open_at: int) -> int:
    depth = 0
    for i in range(open_at, min(len(src), open_at + 4000)):
        c = src[i]
        if c == 40:
            depth += 1
        elif c == 41:
            depth -= 1
            if depth == 0:
                return i
    return -1
