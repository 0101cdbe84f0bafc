"""Real code for the tests: unmodified PyPI sdists, each unpacked into its own git repo (cached),
and an `ast`-based oracle for where an imported name is defined (independent of crossnav)."""
from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from orgutil import init_repo

PINS = {
    "requests": "2.32.3",
    "urllib3": "2.2.3",
    "idna": "3.10",
    "charset-normalizer": "3.4.0",
    "certifi": "2024.8.30",
}
IMPORT_NAMES = {"requests": "requests", "urllib3": "urllib3", "idna": "idna",
                "charset-normalizer": "charset_normalizer", "certifi": "certifi"}
CACHE = Path(os.environ.get("CROSSNAV_TEST_CACHE", "~/.cache/crossnav-tests")).expanduser()


class DownloadFailed(Exception):
    pass


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def sdist(name: str, version: str) -> Path:
    d = CACHE / "sdists"
    d.mkdir(parents=True, exist_ok=True)

    def cached():
        want = f"{_norm(name)}_{_norm(version)}"
        for f in d.iterdir():
            for ext in (".tar.gz", ".zip"):
                if f.name.endswith(ext) and _norm(f.name[: -len(ext)]) == want:
                    return f
        return None

    found = cached()
    if found:
        return found
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                              f"{name}=={version}", "-d", str(d)], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DownloadFailed(f"pip download {name}=={version}: {e}") from e
    found = cached()
    if out.returncode != 0 or found is None:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["?"]
        raise DownloadFailed(f"pip download {name}=={version} failed: {tail[0]}")
    return found


def repo(name: str, version: str) -> Path:
    """A git repo holding the unpacked sdist, folder named after the distribution (the repo name)."""
    def unpack(tmp: Path) -> Path:
        extract(sdist(name, version), tmp)
        return one_folder(tmp, what=f"{name} {version} sdist")
    return unpacked_repo(CACHE / "repos" / f"{name}-{version}", name, unpack,
                         f"https://github.com/example/{name}.git", message=f"{name} {version} sdist")


def unpacked_repo(base: Path, name: str, unpack, remote: str | None = None, message: str = "initial import") -> Path:
    """The git repo `base/name`, made once and then reused (the cache of every real-code helper):
    `unpack(tmp)` puts the files in a temporary folder beside it and returns the folder that becomes
    the repo. `base/.complete` marks a whole one; anything else there is thrown away and made again."""
    dest = base / name
    marker = base / ".complete"
    if marker.exists() and (dest / ".git").exists():
        return dest
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        shutil.copytree(unpack(Path(tmp)), dest, symlinks=True)
    init_repo(dest, remote, message)
    marker.touch()
    return dest


def extract(archive: Path, into: Path) -> None:
    """Unpack a .zip or a tarball (no member outside `into`, no links out of it)."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(into)
    else:
        with tarfile.open(archive) as t:
            t.extractall(into, filter="data")


def one_folder(root: Path, pattern: str = "*", what: str = "the download") -> Path:
    """The one folder matching `pattern` (a glob, may name sub-folders) under `root`."""
    found = [p for p in root.glob(pattern) if p.is_dir() and not p.is_symlink()]
    if len(found) != 1:
        raise DownloadFailed(f"{what}: {pattern!r} matched {len(found)} folders")
    return found[0]


def all_repos() -> dict[str, Path]:
    return {name: repo(name, version) for name, version in PINS.items()}


# ---------------------------------------------------------------------------- the ast oracle


def package_dir(repo_root: Path, import_name: str) -> Path:
    for cand in (repo_root / "src" / import_name, repo_root / import_name):
        if (cand / "__init__.py").exists():
            return cand
    raise FileNotFoundError(f"{import_name} package not found in {repo_root}")


class ModuleMap:
    """Dotted module name -> source file, for the packages of the given repos."""

    def __init__(self, repos: dict[str, Path]):
        self.files: dict[str, Path] = {}
        for name, root in repos.items():
            pkg = package_dir(root, IMPORT_NAMES[name])
            for f in pkg.rglob("*.py"):
                rel = f.relative_to(pkg.parent).with_suffix("")
                parts = list(rel.parts)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                self.files[".".join(parts)] = f
        self._trees: dict[Path, ast.Module] = {}

    def tree(self, f: Path) -> ast.Module:
        if f not in self._trees:
            self._trees[f] = ast.parse(f.read_bytes(), str(f))
        return self._trees[f]

    def is_package(self, module: str) -> bool:
        return self.files[module].name == "__init__.py"


def _module_level(body):
    """Statements at module level, descending into if/try/with blocks."""
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.With)):
            yield from _module_level(node.body)
            yield from _module_level(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try) or (sys.version_info >= (3, 11) and isinstance(node, ast.TryStar)):
            yield from _module_level(node.body)
            for h in node.handlers:
                yield from _module_level(h.body)
            yield from _module_level(node.orelse)
            yield from _module_level(node.finalbody)


def _targets(t):
    if isinstance(t, ast.Name):
        yield t
    elif isinstance(t, (ast.Tuple, ast.List)):
        for e in t.elts:
            yield from _targets(e)


def definition_sites(mm: ModuleMap, module: str, name: str, depth: int = 0) -> set[tuple[Path, int]]:
    """Where `module.name` is defined: {(file, 0-based line of the name)}; follows re-exports."""
    if depth > 10:
        return set()
    sub = f"{module}.{name}"
    f = mm.files.get(module)
    if f is None:
        return set()
    found: set[tuple[Path, int]] = set()
    reexports: set[tuple[Path, int]] = set()
    for node in _module_level(mm.tree(f).body):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            found.add((f, node.lineno - 1))
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                for n in _targets(t):
                    if n.id == name:
                        found.add((f, n.lineno - 1))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            found.add((f, node.target.lineno - 1))
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                if (a.asname or a.name) != name or a.name == "*":
                    continue
                if node.level:
                    base = module if mm.is_package(module) else module.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    src = f"{base}.{node.module}" if node.module else base
                else:
                    src = node.module
                hit = definition_sites(mm, src, a.name, depth + 1)
                if not hit and f"{src}.{a.name}" in mm.files:
                    hit = {(mm.files[f"{src}.{a.name}"], 0)}
                reexports |= hit
    if found or reexports:
        return found | reexports      # e.g. urllib3: `from ._version import __version__` + `__version__ = __version__`
    if sub in mm.files:
        return {(mm.files[sub], 0)}
    return set()


def _function_locals(fn) -> set[str]:
    """Names local to a function (parameters, assignments, nested defs), minus `global`s."""
    a = fn.args
    names = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg] if x is not None}
    if isinstance(fn, ast.Lambda):
        return names
    glob: set[str] = set()
    stack = list(fn.body)
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
            continue
        if isinstance(n, ast.Lambda):
            continue
        if isinstance(n, (ast.Global, ast.Nonlocal)):
            glob.update(n.names)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        stack.extend(ast.iter_child_nodes(n))
    return names - glob


def _visible_loads(tree, names: set[str]):
    """Name loads of `names` (and `name.attr` loads) that are not shadowed by a function-local binding."""
    out = []

    def visit(node, shadow):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for d in getattr(node, "decorator_list", []) + node.args.defaults + [d for d in node.args.kw_defaults if d]:
                visit(d, shadow)
            inner = shadow | _function_locals(node)
            for b in node.body if isinstance(node.body, list) else [node.body]:
                visit(b, inner)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names and node.id not in shadow:
            out.append(node)
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name)
              and node.value.id in names and node.value.id not in shadow):
            out.append(node)
        for c in ast.iter_child_nodes(node):
            visit(c, shadow)

    visit(tree, frozenset())
    return out


@dataclass(frozen=True)
class Case:
    file: Path           # file in the requests repo
    line: int            # 0-based
    col: int             # code points
    name: str
    expected: frozenset  # {(file, line)}


def _cp_col(lines: list[str], lineno: int, byte_col: int) -> int:
    line = lines[lineno - 1]
    return len(line.encode("utf-8")[:byte_col].decode("utf-8"))


def cross_repo_cases(requests_root: Path, mm: ModuleMap, tops=("urllib3", "idna", "charset_normalizer", "certifi")):
    """Every use in requests' package of a name imported from the other repos, with its expected definition."""
    cases: list[Case] = []
    missing: list[str] = []
    pkg = package_dir(requests_root, "requests")
    for f in sorted(pkg.rglob("*.py")):
        text = f.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        imported: dict[str, tuple[str, str]] = {}    # local name -> (module, name)
        modules: dict[str, str] = {}                 # local name -> module (import x / import x as y)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] in tops:
                for a in node.names:
                    if a.name == "*":
                        continue
                    imported[a.asname or a.name] = (node.module, a.name)
                    exp = definition_sites(mm, node.module, a.name)
                    if not exp:
                        missing.append(f"{node.module}.{a.name}")
                        continue
                    # the imported name in the import statement itself
                    seg = lines[a.lineno - 1]
                    col = _cp_col(lines, a.lineno, a.col_offset)
                    assert seg[col:].startswith(a.name), (f, a.lineno, seg)
                    cases.append(Case(f, a.lineno - 1, col, a.name, frozenset(exp)))
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] in tops and a.asname is None and "." not in a.name:
                        modules[a.name] = a.name
                    elif a.name.split(".")[0] in tops and a.asname:
                        modules[a.asname] = a.name
        for node in _visible_loads(tree, set(imported) | set(modules)):
            if isinstance(node, ast.Name):
                if node.id not in imported:
                    continue
                mod, name = imported[node.id]
                exp = definition_sites(mm, mod, name)
                if exp:
                    cases.append(Case(f, node.lineno - 1, _cp_col(lines, node.lineno, node.col_offset), node.id, frozenset(exp)))
            elif node.value.id in modules:
                exp = definition_sites(mm, modules[node.value.id], node.attr)
                if not exp:
                    missing.append(f"{modules[node.value.id]}.{node.attr}")
                    continue
                end = _cp_col(lines, node.end_lineno, node.end_col_offset)
                cases.append(Case(f, node.end_lineno - 1, end - len(node.attr), node.attr, frozenset(exp)))
    return sorted(set(cases), key=lambda c: (str(c.file), c.line, c.col)), missing


def name_sites(root: Path, import_name: str, name: str) -> set[tuple[Path, int, int]]:
    """Every occurrence of identifier `name` (imports, loads, attribute names) in a package, per `ast`."""
    out = set()
    pkg = package_dir(root, import_name)
    for f in pkg.rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Name) and node.id == name:
                out.add((f, node.lineno - 1, _cp_col(lines, node.lineno, node.col_offset)))
            elif isinstance(node, ast.alias) and (node.asname or node.name) == name and node.name == name:
                out.add((f, node.lineno - 1, _cp_col(lines, node.lineno, node.col_offset)))
            elif isinstance(node, ast.Attribute) and node.attr == name:
                end = _cp_col(lines, node.end_lineno, node.end_col_offset)
                out.add((f, node.end_lineno - 1, end - len(name)))
    return out
