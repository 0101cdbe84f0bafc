"""Where a path into a Rust crate is defined, read from the crate's text by Rust's module rules
(independent of crossnav): `mod x;` files (and `#[path]`), item declarations found by regex
(`pub trait|struct|enum|fn|type|const|static|mod Name`, also inside `macro_rules!` bodies, as a
reader would find them), `pub use` re-exports and globs followed to their source, members found in
the item's braces or in `impl ... Name` blocks. And the use sites to check: every path in a
dependent crate that starts with the crate's name or with a name a `use crate_name::...` bound.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_ITEM = r"^[ \t]*(?:pub(?:\([^)]*\))?[ \t]+)?(?:unsafe[ \t]+|async[ \t]+|const[ \t]+|extern[ \t]+\"C\"[ \t]+)*" \
        r"(?:trait|struct|enum|union|type|fn|const|static|mod)[ \t]+{}\b"
_MOD_DECL = re.compile(r"^[ \t]*(?:pub(?:\([^)]*\))?[ \t]+)?mod[ \t]+(\w+)[ \t]*;", re.M)
_PATH_ATTR = re.compile(r'#\[path\s*=\s*"([^"]+)"\]')
_USE = re.compile(r"^[ \t]*(pub(?:\([^)]*\))?[ \t]+)?use[ \t]+([^;]+);", re.M)
STD = {"std", "core", "alloc"}


def strip(text: str) -> str:
    """Comments and string/char literal contents blanked (same length), so regexes see only code."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out[i:j] = ["\n" if ch == "\n" else " " for ch in text[i:j]]
            i = j
        elif c == '"' or (c == "r" and re.match(r'r#*"', text[i:i + 4]) and (i == 0 or not text[i - 1].isalnum())):
            m = re.match(r'r(#*)"', text[i:i + 8]) if c == "r" else None
            if m:
                end = '"' + m.group(1)
                j = text.find(end, i + len(m.group(0)))
                j = n if j < 0 else j + len(end)
            else:
                j = i + 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                j = min(j + 1, n)
            out[i + 1:j - 1] = ["\n" if ch == "\n" else " " for ch in text[i + 1:j - 1]]
            i = j
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            j = text.index("'", i + 2) + 1
            out[i + 1:j - 1] = " " * (j - i - 2)
            i = j
        else:
            i += 1
    return "".join(out)


def block_end(code: str, start: int) -> int:
    """Offset just after the `{...}` block opening at or after `start` (or the `;` ending the item)."""
    i = start
    while i < len(code) and code[i] not in "{;":
        i += 1
    if i >= len(code) or code[i] == ";":
        return i
    depth = 0
    while i < len(code):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def nested_blocks(code: str) -> list[tuple[int, int]]:
    """Spans of `{...}` blocks other than macro_rules! bodies and arms: items inside them (a
    trait's `type Error`, a function's local struct) are not items of the module."""
    out, stack = [], []
    last = 0
    for i, ch in enumerate(code):
        if ch == "{":
            header = code[last:i]
            outer_macro = not stack or stack[-1][0] == "macro"
            if re.search(r"macro_rules!\s*\w+\s*$", header) or (stack and stack[-1][0] == "macro" and
                                                              re.search(r"=>\s*$", header)):
                kind = "macro"
            elif outer_macro and stack and re.search(r"^\s*$", header):
                kind = "macro"
            else:
                kind = "block"
            stack.append((kind, i))
            last = i + 1
        elif ch == "}":
            if stack:
                kind, start = stack.pop()
                if kind == "block":
                    out.append((start, i + 1))
            last = i + 1
        elif ch == ";":
            last = i + 1
    return out


def inside(spans, pos) -> bool:
    return any(a <= pos < b for a, b in spans)


def block_end_bracket(code: str, i: int) -> int:
    """Offset after the `[...]` opening at `i`."""
    depth = 0
    while i < len(code):
        if code[i] == "[":
            depth += 1
        elif code[i] == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def macro_bodies(code: str) -> list[tuple[int, int]]:
    return [(m.start(), block_end(code, m.end())) for m in re.finditer(r"macro_rules!\s*\w+", code)]


def use_leaves(tree: str) -> list[tuple[list[str], str | None]]:
    """`a::b::{c, d as e, f::*}` -> [(['a','b','c'], 'c'), (['a','b','d'], 'e'), (['a','b','f','*'], None)]."""
    out = []

    def walk(prefix, t):
        for p in _split_top(t):
            p = p.strip()
            if not p:
                continue
            brace = p.find("{")
            if brace >= 0:
                head = [h.strip() for h in p[:brace].split("::") if h.strip()]
                walk(prefix + head, p[brace + 1:p.rindex("}")])
                continue
            m = re.match(r"(.*?)\s+as\s+(\w+)$", p)
            path, alias = (m.group(1), m.group(2)) if m else (p, None)
            segs = [x.strip() for x in path.split("::") if x.strip()]
            if segs == ["self"]:
                out.append((prefix, alias or (prefix[-1] if prefix else None)))
            elif segs and segs[-1] == "*":
                out.append((prefix + segs, None))
            elif segs:
                out.append((prefix + segs, alias or segs[-1]))

    walk([], re.sub(r"\s+", " ", tree))
    return out


def _split_top(t: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in t:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


@dataclass
class Crate:
    """One crate's source tree, read as text."""
    root: Path
    name: str
    edition: str = "2018"
    modules: dict = field(default_factory=dict)   # tuple of segments -> file
    texts: dict = field(default_factory=dict)     # file -> (text, stripped code)
    blocks: dict = field(default_factory=dict)    # file -> nested_blocks()

    def __post_init__(self):
        self._walk((), self.root / "src" / "lib.rs", True)

    def code(self, f: Path) -> str:
        if f not in self.texts:
            text = f.read_text(encoding="utf-8")
            self.texts[f] = (text, strip(text))
        return self.texts[f][1]

    def _walk(self, path: tuple, f: Path, dir_owner: bool):
        if not f.is_file() or path in self.modules:
            return
        self.modules[path] = f
        code = self.code(f)
        lines = self.texts[f][0].split("\n")
        for m in _MOD_DECL.finditer(code):
            name = m.group(1)
            row = code.count("\n", 0, m.start())
            explicit = None
            k = row - 1
            while k >= 0 and lines[k].strip().startswith(("#[", "//")):   # the attributes right above
                a = _PATH_ATTR.search(lines[k])
                explicit = explicit or (a.group(1) if a else None)
                k -= 1
            if explicit:
                child = (f.parent / explicit).resolve()
                self._walk(path + (name,), child, child.name == "mod.rs")
                continue
            base = f.parent if dir_owner else f.parent / f.stem
            for cand in (base / f"{name}.rs", base / name / "mod.rs"):
                if cand.is_file():
                    self._walk(path + (name,), cand, cand.name == "mod.rs")
                    break

    # ---- resolution -------------------------------------------------------------------
    def line_of(self, f: Path, offset: int) -> int:
        return self.texts[f][1].count("\n", 0, offset)

    def resolve(self, mod: tuple, names: list[str], depth: int = 0) -> set:
        """{(file, 0-based line)} where `mod::names...` is defined in this crate (empty: elsewhere)."""
        if depth > 12 or mod not in self.modules or not names:
            return set()
        name, rest = names[0], names[1:]
        f = self.modules[mod]
        code = self.code(f)
        if mod + (name,) in self.modules:
            child = mod + (name,)
            return self.resolve(child, rest, depth + 1) if rest else {(self.modules[child], 0)}
        found = set()
        if f not in self.blocks:
            self.blocks[f] = nested_blocks(code)
        for m in re.finditer(_ITEM.format(re.escape(name)), code, re.M):
            start = m.start() + m.group(0).rindex(name)
            if inside(self.blocks[f], start):
                continue
            if rest:
                found |= self.member(f, start, name, rest[0])
            else:
                found.add((f, self.line_of(f, start)))
        if not mod and not rest:
            for file in self.modules.values():
                c = self.code(file)
                for m in re.finditer(r"#\[macro_export[^\]]*\][\s\S]{0,200}?macro_rules!\s*" + re.escape(name) + r"\b", c):
                    found.add((file, self.line_of(file, m.end() - len(name))))
        if found:
            return found
        for m in _USE.finditer(code):
            if not m.group(1):
                continue   # private uses are not visible from other crates
            for segs, local in use_leaves(m.group(2)):
                if segs[-1] == "*":
                    target = self.module_path(mod, segs[:-1])
                    if target is not None:
                        found |= self.resolve(target, names, depth + 1)
                elif local == name:
                    target = self.module_path(mod, segs[:-1])
                    if target is not None:
                        found |= self.resolve(target, [segs[-1]] + rest, depth + 1)
        return found

    def module_path(self, mod: tuple, segs: list[str]):
        """The module a `use` prefix names, from module `mod`; None outside this crate."""
        if not segs:
            return mod
        cur = list(mod)
        first, *more = segs
        if first == "crate":
            cur = []
        elif first == "self":
            pass
        elif first == "super":
            cur = cur[:-1]
        elif first in STD or first == "$crate":
            return None if first in STD else ()
        elif self.edition == "2015":
            cur = [first]
        elif tuple(cur + [first]) in self.modules:
            cur = cur + [first]
        else:
            return None
        for s in more:
            if s == "super":
                cur = cur[:-1]
            elif s != "self":
                cur.append(s)
        return tuple(cur)

    def member(self, f: Path, start: int, owner: str, member: str) -> set:
        """`member` inside the braces of the item at `start`, else in `impl ... owner` blocks."""
        code = self.code(f)
        end = block_end(code, start)
        pat = re.compile(r"(?:\bfn|\bconst|\btype)[ \t]+(" + re.escape(member) + r")\b|^[ \t]*(" + re.escape(member) +
                         r")\b[ \t]*[,({=]?[ \t]*$|^[ \t]*(" + re.escape(member) + r")[ \t]*[({,]", re.M)
        found = set()
        for m in pat.finditer(code, start, end):
            g = next(i for i in (1, 2, 3) if m.group(i))
            found.add((f, self.line_of(f, m.start(g))))
            break
        if found:
            return found
        impl = re.compile(r"^[ \t]*impl\b(?:<[^{]*?>)?[ \t]+(?:[^{;]*?\bfor[ \t]+)?(?:\w+::)*" +
                          re.escape(owner) + r"\b[^{;]*\{", re.M)
        for file in self.modules.values():
            c = self.code(file)
            for m in impl.finditer(c):
                e = block_end(c, m.end() - 1)
                mm = re.search(r"\bfn[ \t]+(" + re.escape(member) + r")\b", c[m.end():e])
                if mm:
                    found.add((file, self.line_of(file, m.end() + mm.start(1))))
        return found


@dataclass
class Case:
    file: Path
    line: int
    col: int
    text: str                 # the path as written, up to this segment
    expected: set             # {(file, line)}


def use_sites(dependent: Path, crate: Crate) -> tuple[list[Case], list[str]]:
    """Every segment of every path in `dependent` (src and tests) into `crate`: paths written
    `crate_name::...`, names bound by `use crate_name::...`, and paths starting with them.
    Returns (cases, uses the oracle could not place in the crate)."""
    cases, missing = [], []
    for f in sorted(list((dependent / "src").rglob("*.rs")) + list((dependent / "tests").rglob("*.rs"))):
        text = f.read_text(encoding="utf-8")
        code = strip(text)
        skip = macro_bodies(code) + [(m.start(), block_end_bracket(code, m.end() - 1)) for m in re.finditer(r"#!?\[", code)]
        blocks = nested_blocks(code)
        bound = {crate.name: [((0, len(code)), [])]}   # local name -> [(where it binds, path in the crate)]
        use_spans = []
        for m in _USE.finditer(code):
            tree = m.group(2)
            if not re.match(r"\s*(::)?\s*" + crate.name + r"\b", tree):
                continue
            use_spans.append((m.start(), m.end()))
            around = [b for b in blocks if b[0] <= m.start() < b[1]]
            span = min(around, key=lambda b: b[1] - b[0]) if around else (0, len(code))
            for segs, local in use_leaves(tree):
                if segs and segs[0] == crate.name and local and segs[-1] != "*":
                    bound.setdefault(local, []).append((span, segs[1:]))
        if len(bound) == 1 and crate.name + "::" not in code:
            continue
        names = "|".join(sorted((re.escape(n) for n in bound), key=len, reverse=True))
        for m in re.finditer(r"(?<![\w:.$'])(" + names + r")\b((?:[ \t]*::[ \t]*\w+)*)", code):
            pos = m.start()
            if inside(skip, pos):
                continue   # macro_rules! bodies are templates, and `#[derive(Serialize)]` names a derive macro
            first, tail = m.group(1), m.group(2)
            in_use = any(a <= pos < b for a, b in use_spans)
            if in_use:
                continue
            segs = [s.strip() for s in tail.split("::") if s.strip()]
            if first[:1].islower() and first != crate.name and not segs and not code[m.end():m.end() + 1] == "!":
                continue    # a lower-case name not used as a path or macro: a local variable, most likely
            before = code[max(0, pos - 12):pos]
            if re.search(r"\b(type|fn|struct|enum|trait|mod|const|static|let|mut)\s+$", before):
                continue    # a definition or a binding of that name, not a use
            spans = [(b, segs) for b, segs in bound[first] if b[0] <= pos < b[1]]
            if not spans:
                continue   # a name bound by a `use` in another function
            prefix = min(spans, key=lambda x: x[0][1] - x[0][0])[1]
            local_def = re.search(r"\b(struct|enum|trait|type|union|fn|mod)\s+" + re.escape(first) + r"\b", code)
            if prefix and local_def and min(spans, key=lambda x: x[0][1] - x[0][0])[0] == (0, len(code)):
                continue   # the file defines its own item of that name (a use of it lives in a narrower scope)
            offs = [(first, pos)]
            off = m.start(2)
            for s in segs:
                k = code.index(s, off)
                offs.append((s, k))
                off = k + len(s)
            for i, (seg, k) in enumerate(offs):
                if i == 0 and first == crate.name:
                    continue
                path = prefix + [s for s, _ in offs[1:i + 1]]
                if not path:
                    continue
                expected = crate.resolve((), path)
                line = text.count("\n", 0, k)
                col = k - (text.rfind("\n", 0, k) + 1)
                label = "::".join([crate.name] + path)
                if expected:
                    cases.append(Case(f, line, col, label, expected))
                else:
                    missing.append(f"{f.name}:{line + 1}:{col} {label}")
                    break
        cases.extend(_use_tree_cases(f, text, code, use_spans, crate, missing))
    return cases, missing


def _use_tree_cases(f, text, code, spans, crate, missing):
    """Each segment inside `use crate_name::...;` (but `self`, globs and new names after `as`)."""
    out = []
    for a, b in spans:
        stmt = code[a:b]
        tree_start = a + stmt.index("use") + 3
        for segs, _ in use_leaves(_USE.match(stmt).group(2)):
            if not segs or segs[0] != crate.name or segs[-1] in ("*", "self") or len(segs) < 2:
                continue
            leaf = segs[-1]   # the leaf's own identifier in the statement (not a path segment before it)
            for m in re.finditer(r"(?<![\w$])" + re.escape(leaf) + r"\b(?!\s*::)", code[tree_start:b]):
                k = tree_start + m.start()
                expected = crate.resolve((), segs[1:])
                line = text.count("\n", 0, k)
                col = k - (text.rfind("\n", 0, k) + 1)
                label = "::".join(segs)
                if expected:
                    out.append(Case(f, line, col, "use " + label, expected))
                else:
                    missing.append(f"{f.name}:{line + 1}:{col} use {label}")
                break
    return out
