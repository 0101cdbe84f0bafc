"""Code search on real code (requests and its dependencies, unmodified PyPI sdists as git repos):
content results must be ripgrep's, line for line, over the files the index holds. Skipped only when
the sdists cannot be downloaded."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

import realcode
from crossnav.index.search import run, search
from orgutil import REAL_DB, run_cli

RG = shutil.which("rg")


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    try:
        repos = realcode.all_repos()
    except realcode.DownloadFailed as e:
        pytest.skip(f"real-code sdists unavailable (no network?): {e}")
    r = run_cli("index", "--db", REAL_DB, *repos.values(), timeout=300)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    conn = sqlite3.connect(f"file:{REAL_DB}?mode=ro", uri=True)
    indexed = {(a, b) for a, b in conn.execute("SELECT r.name, f.path FROM files f JOIN repos r ON r.id = f.repo_id")}
    yield repos, conn, indexed
    conn.close()


def rg(repos: dict[str, Path], indexed, *args: str) -> set:
    if RG is None:
        pytest.skip("ripgrep not installed")
    got = set()
    for name, root in repos.items():
        # every file type: crossnav indexes more languages than Python; `indexed` keeps its files
        out = subprocess.run([RG, "--no-ignore", "--hidden", "-g", "!.git",
                              "-n", "--no-heading", "--with-filename", *args, "--", "."],
                             cwd=root, capture_output=True, text=True, errors="replace")
        assert out.returncode in (0, 1), out.stderr
        for line in out.stdout.splitlines():
            path, ln, _ = line.split(":", 2)
            path = path[2:] if path.startswith("./") else path
            if (name, path) in indexed:
                got.add((name, path, int(ln)))
    return got


@pytest.mark.parametrize("query,args", [
    ("HTTPAdapter", ["-S", "-F", "HTTPAdapter"]),
    ("urlparse", ["-S", "-F", "urlparse"]),
    ("def __init__(self", ["-S", "-F", "def __init__(self"]),   # several terms: the lines of each, in files with all
    ('"def __init__(self"', ["-S", "-F", "def __init__(self"]),
    ("timeout", ["-S", "-F", "timeout"]),
    ("Timeout case:yes", ["-s", "-F", "Timeout"]),
    ("idna", ["-S", "-F", "idna"]),
    ("é", ["-S", "-F", "é"]),
    (r"/def \w+_\w+\(self\)/", ["-S", r"def \w+_\w+\(self\)"]),
    (r"/^\s+raise \w+Error\(/", ["-S", r"^\s+raise \w+Error\("]),
    (r"/(urllib3|requests)\.exceptions\.\w+/", ["-S", r"(urllib3|requests)\.exceptions\.\w+"]),
    (r"/0x[0-9A-F]{4}/", ["-S", r"0x[0-9A-F]{4}"]),
    (r"/\bself\.[a-z_]+ = None$/", ["-S", r"\bself\.[a-z_]+ = None$"]),
    (r"/#.*TODO/", ["-S", r"#.*TODO"]),
])
def test_content_equals_ripgrep(real, query, args):
    repos, conn, indexed = real
    ours = {(r.repo, r.path, r.line + 1) for r in search(conn, query + " count:all", limit=None)}
    if query == "def __init__(self":
        # three ANDed terms: files with all three, lines of any; ripgrep's side built the same way
        files = None
        lines = set()
        for term in ("def", "__init__(self"):
            hit = rg(repos, indexed, "-S", "-F", term)
            lines |= hit
            f = {(a, b) for a, b, _ in hit}
            files = f if files is None else files & f
        theirs = {x for x in lines if (x[0], x[1]) in files}
    else:
        theirs = rg(repos, indexed, *args)
    assert theirs, "the oracle found nothing: a useless case"
    assert ours == theirs, (sorted(ours - theirs)[:5], sorted(theirs - ours)[:5])


def test_filters_on_real_code(real):
    repos, conn, indexed = real
    every = {(r.repo, r.path, r.line + 1) for r in search(conn, "HTTPAdapter count:all", limit=None)}
    only = {(r.repo, r.path, r.line + 1) for r in search(conn, "HTTPAdapter repo:^requests$ file:src/** count:all", limit=None)}
    assert only == {x for x in every if x[0] == "requests" and x[1].startswith("src/")} and only
    tests = {(r.repo, r.path) for r in search(conn, "HTTPAdapter -file:^src/ count:all", limit=None)}
    assert tests and all(not p.startswith("src/") for _, p in tests)


def test_symbols_on_real_code(real):
    _, conn, _ = real
    page = run(conn, "type:symbol HTTPAdapter", limit=5)
    assert page.results[0].qualname == "requests.adapters.HTTPAdapter"
    page = run(conn, "type:symbol kind:class lang:python repo:urllib3 PoolManager", limit=10)
    assert page.results[0].qualname == "urllib3.poolmanager.PoolManager"
    assert all(r.kind == "class" and r.repo == "urllib3" for r in page.results)
    names = {r.name for r in run(conn, "type:symbol encode OR decode repo:idna", limit=50).results}
    assert {"encode", "decode"} <= names
