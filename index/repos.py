"""What a repo on disk is: its git facts, its source files with blob ids, its Python import roots."""
from __future__ import annotations

import configparser
import hashlib
import os
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

LANGUAGES = {".py": "python", ".pyi": "python"}
SKIP_DIRS = {".git", "node_modules", ".venv", "venv", ".tox", ".nox", "site-packages", "__pycache__",
             ".mypy_cache", ".pytest_cache", ".eggs"}


class RepoError(Exception):
    """A path that cannot be indexed as a repo; the message says what to do."""


@dataclass
class Repo:
    name: str
    root: Path
    remote: str | None = None
    head: str | None = None
    branch: str | None = None
    dist: str | None = None
    import_roots: list[str] = field(default_factory=list)   # repo-relative, deepest first; "" = repo root
    packages: list[tuple[str, str, str]] = field(default_factory=list)  # (package, import_root, source)


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.decode("utf-8", "surrogateescape")


def is_git_repo(path: Path) -> bool:
    return (path / ".git").exists()


def discover(root: Path) -> list[Path]:
    """Every git work tree under `root` (not descending into a repo once found)."""
    if not root.is_dir():
        raise RepoError(f"{root} is not a directory; pass the folder that holds your clones, e.g. --discover ~/src")
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        p = Path(dirpath)
        if (p / ".git").exists():
            found.append(p)
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
    return found


def open_repo(path: Path, name: str | None = None) -> Repo:
    path = path.expanduser()
    if not path.exists():
        raise RepoError(f"{path} does not exist; check the path (or use --discover ROOT to find repos)")
    if not path.is_dir():
        raise RepoError(f"{path} is not a directory; pass a repository folder")
    path = path.resolve()
    if not is_git_repo(path):
        raise RepoError(f"{path} is not a git repository (no .git); pass a clone, or use --discover {path} to index the repos below it")
    repo = Repo(name=name or path.name, root=path)
    remote = _git(path, "config", "--get", "remote.origin.url")
    if not remote:
        remotes = (_git(path, "remote") or "").split()
        remote = _git(path, "config", "--get", f"remote.{remotes[0]}.url") if remotes else None
    repo.remote = remote.strip() if remote else None
    head = _git(path, "rev-parse", "--verify", "-q", "HEAD")
    repo.head = head.strip() if head else None
    branch = _git(path, "symbolic-ref", "--short", "-q", "HEAD")
    repo.branch = branch.strip() if branch else None
    _python_layout(repo)
    return repo


def blob_id(data: bytes) -> str:
    """git's blob id of these bytes, so untracked/modified files get ids comparable to tracked ones."""
    h = hashlib.sha1(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


def source_files(repo: Repo) -> dict[str, str | None]:
    """Repo-relative path -> git blob id (None when the work tree differs from git: hash the content)."""
    out = _git(repo.root, "ls-files", "-s", "-z")
    files: dict[str, str | None] = {}
    if out is not None:
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, _, path = entry.partition("\t")
            parts = meta.split()
            if len(parts) < 3 or parts[0] == "160000":  # submodule
                continue
            if _wanted(path):
                files[path] = parts[1]
        changed = _git(repo.root, "ls-files", "-z", "-m", "-o", "--exclude-standard") or ""
        for path in changed.split("\0"):
            if path and _wanted(path):
                files[path] = None
        deleted = _git(repo.root, "ls-files", "-z", "-d") or ""
        for path in deleted.split("\0"):
            files.pop(path, None)
    return files


def _wanted(path: str) -> bool:
    ext = os.path.splitext(path)[1]
    if ext not in LANGUAGES:
        return False
    return not any(part in SKIP_DIRS for part in path.split("/")[:-1])


def module_for(repo: Repo, path: str) -> tuple[str, bool]:
    """Dotted module name of a repo-relative .py path, relative to the deepest import root holding it."""
    from .python import module_name_for
    for root in repo.import_roots:
        if not root:
            return module_name_for(path)
        if path.startswith(root + "/"):
            return module_name_for(path[len(root) + 1:])
    return module_name_for(path)


def _python_layout(repo: Repo) -> None:
    """Import roots and the top-level packages the repo provides (src/ layout, config, or root)."""
    root = repo.root
    roots: list[tuple[str, str]] = []
    cfg_roots, repo.dist = _configured_roots(root)
    for r in cfg_roots:
        if (root / r).is_dir():
            roots.append((r, "config"))
    if (root / "src").is_dir() and not any(r == "src" for r, _ in roots):
        roots.append(("src", "src-layout"))
    roots.sort(key=lambda r: -len(r[0]))
    repo.import_roots = [r for r, _ in roots] + [""]
    seen = set()
    for rel, source in roots + [("", "root")]:
        base = root / rel if rel else root
        try:
            entries = sorted(os.scandir(base), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            name = e.name
            if name.startswith((".", "_")) and name != "__init__.py" or name in SKIP_DIRS:
                continue
            if not rel and name in ("tests", "test", "docs", "doc", "examples", "benchmarks", "scripts", "src", "build", "dist"):
                continue
            if e.is_dir() and name.isidentifier():
                if (Path(e.path) / "__init__.py").exists() or _has_python(Path(e.path)):
                    pkg = name
                else:
                    continue
            elif e.is_file() and name.endswith(".py") and name[:-3].isidentifier() and name not in ("setup.py", "conftest.py", "noxfile.py", "tasks.py", "fabfile.py"):
                pkg = name[:-3]
            else:
                continue
            if pkg not in seen:
                seen.add(pkg)
                repo.packages.append((pkg, rel, source))


def _has_python(d: Path, depth: int = 3) -> bool:
    """Python modules in `d`, or below it in identifier-named folders: a PEP 420 namespace
    package such as `acme/utils/strings.py` (no `acme/__init__.py`) still provides `acme`."""
    try:
        entries = list(os.scandir(d))
    except OSError:
        return False
    if any(e.name.endswith(".py") and e.is_file() for e in entries):
        return True
    return depth > 0 and any(e.is_dir() and e.name.isidentifier() and e.name not in SKIP_DIRS
                             and _has_python(Path(e.path), depth - 1) for e in entries)


def _configured_roots(root: Path) -> tuple[list[str], str | None]:
    """Package directories named by pyproject.toml / setup.cfg, and the distribution name."""
    roots: list[str] = []
    dist = None
    pp = root / "pyproject.toml"
    if pp.is_file():
        try:
            data = tomllib.loads(pp.read_text(encoding="utf-8", errors="replace"))
        except (tomllib.TOMLDecodeError, OSError):
            data = {}
        tool = data.get("tool", {}) if isinstance(data, dict) else {}
        dist = (data.get("project") or {}).get("name") or (tool.get("poetry") or {}).get("name")
        st = tool.get("setuptools", {}) or {}
        pd = st.get("package-dir") or {}
        if isinstance(pd, dict) and isinstance(pd.get(""), str):
            roots.append(pd[""].strip("/"))
        find = (st.get("packages") or {}) if isinstance(st.get("packages"), dict) else {}
        for w in (find.get("find") or {}).get("where", []) or []:
            if isinstance(w, str) and w not in (".", ""):
                roots.append(w.strip("/"))
        for p in (tool.get("poetry") or {}).get("packages", []) or []:
            if isinstance(p, dict) and isinstance(p.get("from"), str):
                roots.append(p["from"].strip("/"))
        hatch = (((tool.get("hatch") or {}).get("build") or {}).get("targets") or {}).get("wheel") or {}
        for p in hatch.get("packages", []) or []:
            if isinstance(p, str) and "/" in p.strip("/"):
                roots.append(p.strip("/").rsplit("/", 1)[0])
    sc = root / "setup.cfg"
    if sc.is_file():
        cp = configparser.ConfigParser(interpolation=None)
        try:
            cp.read_string(sc.read_text(encoding="utf-8", errors="replace"))
            dist = dist or cp.get("metadata", "name", fallback=None)
            pdir = cp.get("options", "package_dir", fallback="")
            for line in pdir.splitlines():
                k, _, v = line.partition("=")
                if k.strip() == "" and v.strip():
                    roots.append(v.strip().strip("/"))
            where = cp.get("options.packages.find", "where", fallback="").strip()
            if where and where != ".":
                roots.append(where.strip("/"))
        except (configparser.Error, OSError):
            pass
    return list(dict.fromkeys(r for r in roots if r)), dist
