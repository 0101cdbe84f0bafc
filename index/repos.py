"""What a repo on disk is: its git facts, its source files with blob ids, and what each language's
manifests say about it (index/lang: `project()`)."""
from __future__ import annotations

import hashlib
import os
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import lang

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
    packages: list[tuple[str, str, str]] = field(default_factory=list)  # (package, import_root, source), every language
    projects: dict = field(default_factory=dict)   # language name -> that language's project() for this repo


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


def name_repos(paths: list[Path], indexed: dict[str, str]) -> dict[Path, str]:
    """The name each repo gets in the index, for resolved, distinct `paths`; `indexed` = {name: root}
    of the repos the index already holds.

    A root the index already holds keeps its name, so names never change under a user between runs.
    Any other repo is named after its folder, with parent folders added (`teamA/common`) while that
    name belongs to another repo of this run or to an indexed repo whose root is still a clone here.
    An indexed repo whose root is gone counts as moved: a new clone with its name takes its place."""
    by_root = {root: name for name, root in indexed.items()}
    names = {p: by_root[str(p)] for p in paths if str(p) in by_root}
    taken = set(names.values()) | {n for n, root in indexed.items()
                                   if n not in names.values() and is_git_repo(Path(root))}
    rest = [p for p in paths if p not in names]
    depth = dict.fromkeys(rest, 1)
    while True:
        cand = {p: "/".join(p.parts[-depth[p]:]) for p in rest}
        count = Counter(cand.values())
        clash = [p for p in rest if (count[cand[p]] > 1 or cand[p] in taken) and depth[p] < len(p.parts) - 1]
        if not clash:
            break
        for p in clash:
            depth[p] += 1
    names.update(cand)
    return names


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
    if lang.for_path(path) is None:
        return False
    return not any(part in SKIP_DIRS for part in path.split("/")[:-1])


def layout(repo: Repo, paths) -> None:
    """Ask every language that has files in the repo what its manifests say (once per run)."""
    by_lang: dict = {}
    for path in paths:
        lg = lang.for_path(path)
        if lg is not None:
            by_lang.setdefault(lg.NAME, (lg, []))[1].append(path)
    repo.projects, repo.packages, repo.dist = {}, [], None
    for name, (lg, lang_paths) in sorted(by_lang.items()):
        project = lg.project(str(repo.root), lang_paths)
        repo.projects[name] = project
        repo.packages.extend(project.get("packages", ()))
        repo.dist = repo.dist or project.get("dist")


def language_and_module(repo: Repo, path: str):
    """(language module, module qualname, is_package) of a repo-relative path."""
    lg = lang.for_path(path)
    module, is_pkg = lg.module_of(repo.projects.get(lg.NAME) or {}, path)
    return lg, module, is_pkg

