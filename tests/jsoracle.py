"""Where is an imported npm name defined? An answer for the TypeScript/JavaScript tests that owes
nothing to crossnav: package.json `exports`/`main`, then `export … from` / `export *` chains (ES
modules) or `module.exports` / `exports.x` assignments (CommonJS), followed with regular
expressions over the package sources. Positions are (path, 0-based line, code-point column)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

_TOKENS = re.compile(r"""("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|(//[^\n]*|/\*.*?\*/)""", re.S)
_KW = r"(?:declare\s+)?(?:default\s+)?(?:abstract\s+)?(?:async\s+)?(?:function\s*\*?|class|interface|type|enum|const|let|var|namespace)\s+"
_TS_SOURCES = (".ts", ".tsx", ".mts", ".cts")


def _blank(m) -> str:
    return re.sub(r"[^\n]", " ", m.group(0))


def code_of(text: str) -> str:
    """Comments blanked (same length, same lines); strings kept."""
    return _TOKENS.sub(lambda m: m.group(1) or _blank(m), text)


def bare_of(text: str) -> str:
    """Comments and string contents blanked: what is left is code, at the same offsets."""
    return _TOKENS.sub(lambda m: (m.group(1)[0] + " " * (len(m.group(1)) - 2) + m.group(1)[-1]
                                  if m.group(1) and "\n" not in m.group(1) else _blank(m)), text)


def line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset)
    return line, offset - (text.rfind("\n", 0, offset) + 1)


@dataclass
class Case:
    file: Path
    line: int
    col: int
    name: str
    expected: set = field(default_factory=set)    # {(path, line)}


class Packages:
    """npm packages on disk (name -> folder), and their exported names."""

    def __init__(self, dirs: dict[str, Path]):
        self.dirs = dirs
        self._texts: dict[Path, str] = {}

    def code(self, path: Path) -> str:
        if path not in self._texts:
            self._texts[path] = code_of(path.read_text(encoding="utf-8"))
        return self._texts[path]

    # -- files
    def entry(self, name: str, sub: str = ".") -> Path | None:
        d = self.dirs.get(name)
        if d is None:
            return None
        pj = json.loads((d / "package.json").read_text(encoding="utf-8"))
        exp = pj.get("exports")
        value = None
        if isinstance(exp, dict):
            value = exp.get(sub) if any(k.startswith(".") for k in exp) else (exp if sub == "." else None)
        elif isinstance(exp, str) and sub == ".":
            value = exp
        leaves: list[str] = []

        def collect(v):
            if isinstance(v, str):
                leaves.append(v)
            elif isinstance(v, dict):
                for x in v.values():
                    collect(x)
            elif isinstance(v, list):
                for x in v:
                    collect(x)
        collect(value)
        if not leaves and sub == ".":
            leaves = [x for x in (pj.get("types"), pj.get("typings"), pj.get("main")) if isinstance(x, str)] + ["index.js"]
        for leaf in leaves:       # a condition that names the TypeScript source itself
            p = (d / leaf).resolve()
            if p.suffix in _TS_SOURCES and not p.name.endswith(".d.ts") and p.is_file():
                return p
        for leaf in leaves:       # the src/ file at the built file's place under its build folder
            parts = Path(leaf.removeprefix("./")).parts
            stem = re.sub(r"(\.d)?\.[mc]?[jt]s$", "", parts[-1])
            parts = parts[:-1] + (stem,)
            for i in range(1, len(parts)):
                cand = d.joinpath("src", *parts[i:])
                for c in (cand.with_name(cand.name + ".ts"), cand.with_name(cand.name + ".tsx"), cand / "index.ts"):
                    if c.is_file():
                        return c
        for leaf in leaves:
            p = d / leaf
            for c in (p, p.with_name(p.name + ".js"), p / "index.js"):
                if c.is_file():
                    return c
        return None

    def module(self, importer: Path, spec: str) -> Path | None:
        if spec.startswith("."):
            base = (importer.parent / spec)
            cands = [base.with_name(base.name + e) for e in (".ts", ".tsx", ".d.ts", ".js")] + \
                    [base / f"index{e}" for e in (".ts", ".tsx", ".js")]
            if spec.endswith(".js"):
                cands.insert(0, base.with_suffix(".ts"))
            cands.append(base)
            return next((c.resolve() for c in cands if c.is_file()), None)
        parts = spec.split("/")
        n = 2 if spec.startswith("@") else 1
        name, sub = "/".join(parts[:n]), "/".join(parts[n:])
        return self.entry(name, f"./{sub}" if sub else ".")

    # -- ES modules
    def export(self, file: Path | None, name: str, seen=None) -> set:
        """{(file, line)} where `file`'s export `name` is declared."""
        seen = set() if seen is None else seen
        if file is None or (file, name) in seen:
            return set()
        seen.add((file, name))
        code = self.code(file)
        if name == "default":
            m = re.search(r"^[ \t]*export\s+default\s+(?:abstract\s+)?(?:async\s+)?(?:function\s*\*?|class)\s+(\w+)", code, re.M)
            if m:
                return {(file, line_col(code, m.start(1))[0])}
            m = re.search(r"^[ \t]*export\s+default\s+(\w+)\s*;?\s*$", code, re.M)
            if m:
                return self.local(file, m.group(1), seen)
        m = re.search(rf"^[ \t]*export\s+{_KW}{re.escape(name)}\b", code, re.M)
        if m:
            return {(file, line_col(code, m.end() - len(name))[0])}
        out: set = set()
        for m in re.finditer(r"export\s+(?:type\s+)?\{([^}]*)\}(\s*from\s*['\"]([^'\"]+)['\"])?", code):
            for spec in m.group(1).split(","):
                spec = re.sub(r"^\s*type\s+", "", spec).strip()
                local, _, exported = spec.partition(" as ")
                local, exported = local.strip(), (exported or local).strip()
                if exported != name or not local:
                    continue
                if m.group(3):
                    out |= self.export(self.module(file, m.group(3)), local, seen)
                else:
                    out |= self.local(file, local, seen)
        if out:
            return out
        for m in re.finditer(r"export\s+\*\s+from\s*['\"]([^'\"]+)['\"]", code):
            out |= self.export(self.module(file, m.group(1)), name, seen)
        return out

    def local(self, file: Path, local: str, seen) -> set:
        code = self.code(file)
        m = re.search(rf"^[ \t]*(?:export\s+)?{_KW}{re.escape(local)}\b", code, re.M)
        if m:
            return {(file, line_col(code, m.end() - len(local))[0])}
        for m in re.finditer(r"import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*['\"]([^'\"]+)['\"]", code):
            for spec in m.group(1).split(","):
                spec = re.sub(r"^\s*type\s+", "", spec).strip()
                orig, _, alias = spec.partition(" as ")
                if (alias or orig).strip() == local:
                    return self.export(self.module(file, m.group(2)), orig.strip(), seen)
        return set()

    # -- CommonJS
    def cjs(self, file: Path | None, member: str | None, seen=None) -> set:
        """{(file, line)} of `require(file)` (member None) or of `require(file).member`."""
        seen = set() if seen is None else seen
        if file is None or (file, member) in seen:
            return set()
        seen.add((file, member))
        code = self.code(file)
        if member is None:
            m = re.search(r"module\.exports\s*=\s*require\(\s*'([^']+)'\s*\)", code)
            if m:
                return self.cjs(self.module(file, m.group(1)), None, seen)
            m = re.search(r"module\.exports\s*=\s*(\w+)\s*;?\s*$", code, re.M)
            return self.cjs_name(file, m.group(1), seen) if m else set()
        m = re.search(rf"^(?:module\.)?exports\.{re.escape(member)}\s*=\s*(.+)$", code, re.M)
        if m:
            value = m.group(1).strip().rstrip(";")
            r = re.match(r"require\(\s*'([^']+)'\s*\)$", value)
            if r:
                return self.cjs(self.module(file, r.group(1)), None, seen)
            if re.match(r"\w+$", value):
                return self.cjs_name(file, value, seen)
            r = re.match(r"(\w+)\.(\w+)$", value)
            if r:
                d = re.search(rf"^(?:var|let|const)\s+{r.group(1)}\s*=\s*require\(\s*'([^']+)'\s*\)", code, re.M)
                if d:
                    return self.cjs(self.module(file, d.group(1)), r.group(2), seen)
            return {(file, line_col(code, m.start())[0])}
        m = re.search(rf"Object\.defineProperty\(\s*exports\s*,\s*'{re.escape(member)}'\s*,\s*\{{[^}}]*?require\(\s*'([^']+)'\s*\)", code, re.S)
        if m:
            return self.cjs(self.module(file, m.group(1)), None, seen)
        m = re.search(r"module\.exports\s*=\s*require\(\s*'([^']+)'\s*\)", code)
        if m:
            return self.cjs(self.module(file, m.group(1)), member, seen)
        m = re.search(r"module\.exports\s*=\s*(\w+)\s*;?\s*$", code, re.M)
        if m:
            r = re.search(rf"^{m.group(1)}\.{re.escape(member)}\s*=", code, re.M)
            if r:
                return {(file, line_col(code, r.start())[0])}
        return set()

    def cjs_name(self, file: Path, name: str, seen) -> set:
        code = self.code(file)
        m = re.search(rf"^(?:var|let|const)\s+{name}\s*=\s*require\(\s*'([^']+)'\s*\)", code, re.M)
        if m:
            return self.cjs(self.module(file, m.group(1)), None, seen)
        m = re.search(rf"^[ \t]*(?:async\s+)?(?:function\s*\*?|class)\s+{name}\b", code, re.M)
        if m:
            return {(file, line_col(code, m.end() - len(name))[0])}
        return set()


# ------------------------------------------------------------------------------------ cases


def es_import_cases(files, pkgs: Packages, provider: str) -> list[Case]:
    """Every imported name from `provider` (and its subpaths) in these files, and each later use."""
    cases = []
    for f in files:
        text = f.read_text(encoding="utf-8")
        code = code_of(text)
        bare = bare_of(text)
        spans = []
        bindings = {}    # local -> (exported name, module file)
        namespaces = {}  # local -> module file
        for m in re.finditer(r"import\s+(?:type\s+)?([\w$]+\s*,\s*)?(\{[^}]*\}|\*\s*as\s+[\w$]+)?\s*from\s*['\"]([^'\"]+)['\"]", code):
            spec = m.group(3)
            if spec != provider and not spec.startswith(provider + "/"):
                continue
            spans.append((m.start(), m.end()))
            target = pkgs.module(f, spec)
            if m.group(2) and m.group(2).startswith("{"):
                body_at = m.start(2)
                for s in re.finditer(r"(?:type\s+)?([\w$]+)(?:\s+as\s+([\w$]+))?", m.group(2)):
                    name, alias = s.group(1), s.group(2) or s.group(1)
                    line, col = line_col(text, body_at + s.start(1))
                    cases.append(Case(f, line, col, name, pkgs.export(target, name)))
                    bindings[alias] = (name, target)
            elif m.group(2):
                ns = m.group(2).split()[-1]
                namespaces[ns] = target
        if not bindings and not namespaces:
            continue
        shadowed = {n for n in list(bindings) + list(namespaces)
                    if re.search(rf"(?:const|let|var|function|class)\s+{re.escape(n)}\b", bare)}
        inside = lambda off: any(a <= off < b for a, b in spans)  # noqa: E731
        for local, (name, target) in bindings.items():
            if local in shadowed:
                continue
            for u in re.finditer(rf"(?<![\w$.#]){re.escape(local)}(?![\w$])(?!\s*:(?!:))(?!\s*\?\s*:)", bare):
                if inside(u.start()):
                    continue
                line, col = line_col(text, u.start())
                cases.append(Case(f, line, col, local, pkgs.export(target, name)))
        for ns, target in namespaces.items():
            if ns in shadowed:
                continue
            for u in re.finditer(rf"(?<![\w$.#]){re.escape(ns)}\.([\w$]+)", bare):
                line, col = line_col(text, u.start(1))
                cases.append(Case(f, line, col, u.group(1), pkgs.export(target, u.group(1))))
    return cases


def cjs_require_cases(files, pkgs: Packages, providers) -> list[Case]:
    """`const X = require('provider')`: each use of X (its definition), and of X.member."""
    cases = []
    for f in files:
        text = f.read_text(encoding="utf-8")
        code = code_of(text)
        bare = bare_of(text)
        for m in re.finditer(r"^(?:var|let|const)\s+([\w$]+)\s*=\s*require\(\s*'([^']+)'\s*\)\s*;?\s*$", code, re.M):
            local, spec = m.group(1), m.group(2)
            if spec not in providers:
                continue
            entry = pkgs.entry(spec)
            for u in re.finditer(rf"(?<![\w$.]){re.escape(local)}(?![\w$])(\.([\w$]+))?", bare):
                if u.start() == m.start(1):
                    continue
                if u.group(2):
                    line, col = line_col(text, u.start(2))
                    cases.append(Case(f, line, col, u.group(2), pkgs.cjs(entry, u.group(2))))
                else:
                    line, col = line_col(text, u.start())
                    cases.append(Case(f, line, col, local, pkgs.cjs(entry, None)))
    return cases
