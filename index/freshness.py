"""How a local checkout relates to the commit it was indexed at, and how to follow a position from
the indexed text of a file into its live text. Shared by `crossnav status`, `crossnav url` and the
server's re-anchoring (server/server.py)."""
from __future__ import annotations

import difflib
import os
import re
import subprocess
import threading
from functools import lru_cache
from pathlib import Path

from .repos import blob_id


def current_head(root: str) -> str | None:
    """The work tree's HEAD commit read from .git files (no git process: the server asks often)."""
    git = Path(root) / ".git"
    try:
        if git.is_file():  # worktree / submodule: "gitdir: <path>"
            git = (Path(root) / git.read_text().split(":", 1)[1].strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        ref_file = git / ref
        if ref_file.exists():
            return ref_file.read_text().strip()
        common = git / "commondir"
        base = (git / common.read_text().strip()).resolve() if common.exists() else git
        if (base / ref).exists():
            return (base / ref).read_text().strip()
        for line in (base / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except (OSError, IndexError):
        return None
    return None


@lru_cache(maxsize=1024)
def relation(root: str, indexed: str | None, local: str | None) -> str:
    """`same`, `ahead` (the checkout descends from the indexed commit), `behind`, `diverged`,
    `unknown` (the indexed commit is not in this clone, e.g. an index built in CI before a fetch),
    or `not cloned`."""
    if not os.path.isdir(root):
        return "not cloned"
    if not indexed or not local:
        return "unknown"
    if indexed == local:
        return "same"

    def is_ancestor(a, b):
        try:
            r = subprocess.run(["git", "-C", root, "merge-base", "--is-ancestor", a, b],
                               capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return {0: True, 1: False}.get(r.returncode)  # 128: a commit this clone does not have

    a = is_ancestor(indexed, local)
    if a is None:
        return "unknown"
    if a:
        return "ahead"
    b = is_ancestor(local, indexed)
    return "behind" if b else ("diverged" if b is False else "unknown")


# ---------------------------------------------------------------------------- live file texts

_blob_cache: dict[str, tuple[int, int, str]] = {}
_blob_lock = threading.Lock()


def disk_blob(path: str) -> str | None:
    """git blob id of the file on disk, cached by (mtime, size): the file is read once per change."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (st.st_mtime_ns, st.st_size)
    hit = _blob_cache.get(path)
    if hit is not None and hit[:2] == key:
        return hit[2]
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    blob = blob_id(data)
    with _blob_lock:
        if len(_blob_cache) > 100_000:
            _blob_cache.clear()
        _blob_cache[path] = (*key, blob)
    return blob


@lru_cache(maxsize=64)
def line_map(old: str, new: str) -> tuple[dict[int, int], int]:
    """Old line -> new line for lines the two texts share (difflib's matching blocks), and the
    number of old lines."""
    a, b = old.split("\n"), new.split("\n")
    out: dict[int, int] = {}
    for i, j, n in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
        for k in range(n):
            out[i + k] = j + k
    return out, len(a)


def map_line(old: str, new: str, line: int) -> int | None:
    """Where an unchanged old line is now; for a changed line, the shift of the nearest unchanged line
    above it (None when nothing above survived)."""
    m, _ = line_map(old, new)
    if line in m:
        return m[line]
    for k in range(line - 1, -1, -1):
        if k in m:
            return m[k] + (line - k)
    return None


_DEF_RE = "^[ \t]*(?:async[ \t]+def|def|class)[ \t]+{name}\\b|^[ \t]*(?:self\\.)?{name}[ \t]*(?::[^=\n]*)?="


def find_name(lines: list[str], name: str, near: int, definition: bool) -> tuple[int, int] | None:
    """(line, col) of `name` in the live lines nearest to `near`: a definition (`def/class NAME`,
    `NAME =`) when `definition`, else the identifier."""
    if not name:
        return None
    if definition:
        pat = re.compile(_DEF_RE.format(name=re.escape(name)))
    else:
        pat = re.compile(r"(?<![\w.])" + re.escape(name) + r"\b|(?<=\.)" + re.escape(name) + r"\b")
    best = None
    for i, text in enumerate(lines):
        m = pat.search(text)
        if not m:
            continue
        col = text.find(name, m.start())
        d = abs(i - near)
        if best is None or d < best[0]:
            best = (d, i, col)
    if best is None:
        return None
    return best[1], best[2]


def age(iso: str | None) -> str | None:
    """`3 d`, `5 h`, `12 min`, `now` since an ISO timestamp (a repo's indexed_at); None if unknown."""
    from datetime import datetime, timezone
    if not iso:
        return None
    try:
        secs = (datetime.now(timezone.utc) - datetime.fromisoformat(iso)).total_seconds()
    except ValueError:
        return None
    for unit, n in (("d", 86400), ("h", 3600), ("min", 60)):
        if secs >= n:
            return f"{int(secs // n)} {unit}"
    return "now"
