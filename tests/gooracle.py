"""An independent oracle for Go definitions in real code: regexes over the source text, no
tree-sitter and nothing from crossnav. It finds `pkg.Name` uses of imported packages and the lines
that declare Name in the imported package's directory (`func Name`, `type Name`, `var`/`const`
Name, also inside `var (...)`/`const (...)`/`type (...)` groups), and methods/fields by receiver."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_MODULE = re.compile(r"(?m)^module\s+(\S+)")
_PACKAGE = re.compile(r"(?m)^package\s+(\w+)")
_IMPORT_ONE = re.compile(r'(?m)^import\s+(?:(\w+|\.|_)\s+)?"([^"]+)"')
_IMPORT_BLOCK = re.compile(r"(?ms)^import\s*\((.*?)^\)")
_IMPORT_LINE = re.compile(r'^\s*(?:(\w+|\.|_)\s+)?"([^"]+)"')


def module_path(repo: Path) -> str:
    return _MODULE.search((repo / "go.mod").read_text()).group(1)


def _mods(targets: dict) -> dict:
    """module path -> (repo name, path); a target is a repo path (its go.mod names the module) or
    (path, module path) for a tree without go.mod (the import path it is installed under)."""
    out = {}
    for name, t in targets.items():
        path, mod = t if isinstance(t, tuple) else (t, module_path(t))
        out[mod] = (name, path)
    return out


def imports(text: str) -> dict[str, str]:
    """Local name or alias -> import path ('' local names are filled in by the caller)."""
    out = {}
    for m in _IMPORT_ONE.finditer(text):
        out[m.group(2)] = m.group(1) or ""
    for block in _IMPORT_BLOCK.finditer(text):
        for line in block.group(1).splitlines():
            m = _IMPORT_LINE.match(line)
            if m:
                out[m.group(2)] = m.group(1) or ""
    return out


def blank_strings_and_comments(text: str) -> str:
    """The text with comments and string/rune literals replaced by spaces (positions kept)."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j += 1
        elif c == "`":
            j = text.find("`", i + 1)
            j = n if j < 0 else j + 1
        else:
            i += 1
            continue
        for k in range(i, min(j, n)):
            if out[k] != "\n":
                out[k] = " "
        i = j
    return "".join(out)


def package_name(pkg_dir: Path) -> str | None:
    for f in sorted(pkg_dir.glob("*.go")):
        if not f.name.endswith("_test.go"):
            m = _PACKAGE.search(f.read_text(encoding="utf-8", errors="replace"))
            if m:
                return m.group(1)
    return None


def _decl_lines(text: str, name: str) -> list[int]:
    """0-based lines declaring the package-level `name` in one file's text."""
    clean = blank_strings_and_comments(text)
    lines = clean.split("\n")
    out = []
    word = re.escape(name)
    single = re.compile(rf"^(?:func\s+{word}\s*[\[(]|type\s+{word}\b|var\s+(?:\w+\s*,\s*)*{word}\b|const\s+(?:\w+\s*,\s*)*{word}\b)")
    group_open = re.compile(r"^(var|const|type)\s*\(\s*$")
    in_group = False
    depth = 0
    for i, line in enumerate(lines):
        if in_group:
            if depth == 0 and line.startswith(")"):
                in_group = False
                continue
            if depth == 0 and re.match(rf"^\s+(?:\w+\s*,\s*)*{word}\b(?!\s*[.(])", line) and not re.match(rf"^\s+{word}\s*:", line):
                out.append(i)
            depth += line.count("(") + line.count("{") - line.count(")") - line.count("}")
            depth = max(depth, 0)
            continue
        if single.match(line):
            out.append(i)
        elif group_open.match(line):
            in_group, depth = True, 0
    return out


def method_lines(text: str, recv_type: str, name: str) -> list[int]:
    """0-based lines of `func (r *T) name(` / `func (T) name(`, and of field `name` in `type T struct`,
    and of method `name(` in `type T interface`."""
    clean = blank_strings_and_comments(text)
    lines = clean.split("\n")
    out = []
    meth = re.compile(rf"^func\s*\(\s*(?:\w+\s+)?\*?\s*{re.escape(recv_type)}(?:\[[^\]]*\])?\s*\)\s*{re.escape(name)}\s*[\[(]")
    opener = re.compile(rf"^(?:type\s+|\s+){re.escape(recv_type)}(?:\[[^\]]*\])?\s+(struct|interface)\s*{{\s*$")
    body = None
    for i, line in enumerate(lines):
        if meth.match(line):
            out.append(i)
        if body is None:
            m = opener.match(line)
            if m:
                body, depth = m.group(1), 1
            continue
        if depth == 1 and (re.match(rf"^\s+(?:\w+\s*,\s*)*{re.escape(name)}\b\s*(?:[,*\[\w(]|$)", line)):
            if body == "interface" and not re.match(rf"^\s+{re.escape(name)}\s*\(", line):
                pass
            else:
                out.append(i)
        depth += line.count("{") - line.count("}")
        if depth <= 0:
            body = None
    return out


def shadowed(lines: list[str], i: int, name: str) -> bool:
    """Is `name` declared as a local (`name :=`, `a, name :=`, `var name`, a parameter) in the
    top-level function around line i, before it? (Go's block scoping, approximated per function.)"""
    start = i
    while start > 0 and not lines[start].startswith("func"):
        start -= 1
    if not lines[start].startswith("func"):
        return False
    w = re.escape(name)
    decl = re.compile(rf"(?<![\w.])(?:{w}\s*(?:,\s*\w+\s*)*:=|\w+\s*(?:,\s*\w+\s*)*,\s*{w}\s*(?:,\s*\w+\s*)*:=|var\s+{w}\b|for\s+(?:\w+\s*,\s*)?{w}\s*(?:,\s*\w+\s*)?:=)")
    param = re.compile(rf"[(,]\s*{w}(?:\s*,\s*\w+)*\s+[*\[\]\w.]")
    if param.search(lines[start]):
        return True
    return any(decl.search(lines[k]) for k in range(start, i + 1))


@dataclass
class Use:
    repo: str
    path: str          # repo-relative
    line: int          # 0-based
    col: int           # 0-based code points (ASCII files: bytes)
    name: str
    import_path: str
    expected: list     # [(repo, path, line)]


def package_uses(using: dict[str, Path], targets: dict[str, Path]) -> list[Use]:
    """Every `pkg.Name` in the using repos' Go files whose pkg is an import of a target repo's
    package, with the declaration lines of Name in that package's directory."""
    mods = _mods(targets)
    decl_cache: dict = {}
    uses = []
    for uname, urepo in using.items():
        for f in sorted(urepo.rglob("*.go")):
            if ".git" in f.parts:
                continue
            text = f.read_text(encoding="utf-8", errors="replace")
            local_names = {}
            for ipath, alias in imports(text).items():
                for mod, (tname, trepo) in mods.items():
                    if ipath == mod or ipath.startswith(mod + "/"):
                        pkg_dir = trepo / ipath[len(mod):].lstrip("/")
                        if alias in (".", "_"):
                            continue
                        local = alias or package_name(pkg_dir)
                        if local:
                            local_names[local] = (ipath, tname, trepo, pkg_dir)
            if not local_names:
                continue
            clean = blank_strings_and_comments(text)
            lines = clean.split("\n")
            pat = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, local_names)) + r")\.([A-Za-z_]\w*)")
            for i, line in enumerate(lines):
                for m in pat.finditer(line):
                    if shadowed(lines, i, m.group(1)):
                        continue
                    ipath, tname, trepo, pkg_dir = local_names[m.group(1)]
                    name = m.group(2)
                    key = (str(pkg_dir), name, f.name.endswith("_test.go"))
                    if key not in decl_cache:
                        exp = []
                        for df in sorted(pkg_dir.glob("*.go")):
                            if df.name.endswith("_test.go"):
                                continue
                            for ln in _decl_lines(df.read_text(encoding="utf-8", errors="replace"), name):
                                exp.append((tname, df.relative_to(trepo).as_posix(), ln))
                        decl_cache[key] = exp
                    uses.append(Use(uname, f.relative_to(urepo).as_posix(), i, m.start(2), name, ipath, decl_cache[key]))
    return uses


def _func_result_type(pkg_dir: Path, func: str) -> str | None:
    """`func New(...) *T` / `(T, error)` in a package directory -> T (a type of that package)."""
    pat = re.compile(rf"(?m)^func\s+{re.escape(func)}\s*\((?:[^()]|\([^()]*\))*\)\s*\(?\s*\*?\s*([A-Za-z_]\w*)\b(?!\.)")
    for df in sorted(pkg_dir.glob("*.go")):
        if df.name.endswith("_test.go"):
            continue
        m = pat.search(blank_strings_and_comments(df.read_text(encoding="utf-8", errors="replace")))
        if m and m.group(1) not in ("error", "string", "bool", "int", "func", "interface", "map"):
            return m.group(1)
    return None


def _embedded(pkg_dir: Path, type_name: str) -> list[str]:
    """Same-package types embedded in struct type_name (`\\t*Base` / `\\tBase` lines)."""
    out = []
    opener = re.compile(rf"^type\s+{re.escape(type_name)}\s+struct\s*{{\s*$")
    for df in sorted(pkg_dir.glob("*.go")):
        if df.name.endswith("_test.go"):
            continue
        lines = blank_strings_and_comments(df.read_text(encoding="utf-8", errors="replace")).split("\n")
        for i, line in enumerate(lines):
            if opener.match(line):
                for body in lines[i + 1:]:
                    if body.startswith("}"):
                        break
                    m = re.match(r"^\s+\*?([A-Z]\w*)\s*$", body)
                    if m:
                        out.append(m.group(1))
    return out


def member_expected(tname: str, trepo: Path, pkg_dir: Path, type_name: str, member: str, depth: int = 0) -> list:
    exp = []
    for df in sorted(pkg_dir.glob("*.go")):
        if df.name.endswith("_test.go"):
            continue
        for ln in method_lines(df.read_text(encoding="utf-8", errors="replace"), type_name, member):
            exp.append((tname, df.relative_to(trepo).as_posix(), ln))
    if not exp and depth < 3:
        for base in _embedded(pkg_dir, type_name):
            exp.extend(member_expected(tname, trepo, pkg_dir, base, member, depth + 1))
    return exp


def member_uses(using: dict[str, Path], targets: dict[str, Path]) -> list[Use]:
    """`x.Member` in the using repos where x's type is a named type of a target repo's package,
    declared in the same function in a form a reader sees at once: a parameter `x *pkg.T`,
    `var x pkg.T`, `x := &pkg.T{`, `x := pkg.T{`, or `x := pkg.New(` with `func New(...) *T`."""
    mods = _mods(targets)
    uses = []
    for uname, urepo in using.items():
        for f in sorted(urepo.rglob("*.go")):
            if ".git" in f.parts:
                continue
            text = f.read_text(encoding="utf-8", errors="replace")
            pkgs = {}
            for ipath, alias in imports(text).items():
                for mod, (tname, trepo) in mods.items():
                    if (ipath == mod or ipath.startswith(mod + "/")) and alias not in (".", "_"):
                        pkg_dir = trepo / ipath[len(mod):].lstrip("/")
                        local = alias or package_name(pkg_dir)
                        if local:
                            pkgs[local] = (tname, trepo, pkg_dir)
            if not pkgs:
                continue
            lines = blank_strings_and_comments(text).split("\n")
            alt = "|".join(map(re.escape, pkgs))
            typed = re.compile(rf"(?:[(,]\s*|var\s+)(\w+)\s+\*?({alt})\.([A-Z]\w*)\b(?!\s*[({{.])")
            literal = re.compile(rf"(?<![\w.])(\w+)\s*:=\s*&?({alt})\.([A-Z]\w*)\s*{{")
            ctor = re.compile(rf"(?<![\w.])(\w+)(?:\s*,\s*\w+)*\s*:=\s*({alt})\.([A-Z]\w*)\s*\(")
            known: dict = {}     # var -> (pkg, type); reset at each top-level func
            for i, line in enumerate(lines):
                if line.startswith("func"):
                    known = {}
                for m in typed.finditer(line):
                    known[m.group(1)] = (m.group(2), m.group(3))
                for m in literal.finditer(line):
                    known[m.group(1)] = (m.group(2), m.group(3))
                for m in ctor.finditer(line):
                    t = _func_result_type(pkgs[m.group(2)][2], m.group(3))
                    if t:
                        known[m.group(1)] = (m.group(2), t)
                    else:
                        known.pop(m.group(1), None)
                for m in re.finditer(r"(?<![\w.])(\w+)\.([A-Za-z_]\w*)", line):
                    var, member = m.group(1), m.group(2)
                    if var not in known or var in pkgs:
                        continue
                    if re.match(rf"\s*(?:,\s*\w+\s*)*:?=(?!=)", line[m.end(2):]) and not line[m.end(2):].lstrip().startswith("=="):
                        if re.match(r"\s*:=", line[m.end(2):]):
                            continue
                    pkg, tn = known[var]
                    tname, trepo, pkg_dir = pkgs[pkg]
                    exp = member_expected(tname, trepo, pkg_dir, tn, member)
                    uses.append(Use(uname, f.relative_to(urepo).as_posix(), i, m.start(2), member, f"{pkg}.{tn}", exp))
                lhs = re.search(r"(?<![\w.])((?:\w+\s*,\s*)*\w+)\s*:=", line)
                if lhs and not (literal.search(line) or ctor.search(line)):
                    for var in re.split(r"\s*,\s*", lhs.group(1)):   # redeclared: its type is no longer known
                        known.pop(var, None)
    return uses
