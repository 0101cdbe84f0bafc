"""Helpers shared by the crossnav tests: building the fixture org as git repos, running the CLI,
and finding expected positions in fixture sources (independently of crossnav)."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

TESTS = Path(__file__).resolve().parent
FIXTURE_ORG = TESTS / "fixtures" / "org"
REPO_NAMES = ["payments", "ledger", "platform-utils", "notifications", "broken"]
REMOTES = {
    "payments": "git@github.com:acme/payments.git",
    "ledger": "https://gitlab.example.com/acme/finance/ledger.git",
    "platform-utils": "git@github.com:acme/platform-utils.git",
    "notifications": "https://github.com/acme/notifications.git",
}
MAX_FILE_KIB = 64          # the org is indexed with --max-file-size 64
CLI = [sys.executable, "-m", "crossnav.index.cli"]

# The session's org lives at a path known at import time, so that pytest-lsp server commands
# (fixed when the test module is imported) can name the database: `serve --db ORG_DB`.
SESSION_DIR = Path(tempfile.mkdtemp(prefix="crossnav-tests-"))
ORG_DB = SESSION_DIR / "org.db"
REAL_DB = SESSION_DIR / "real.db"          # the real-code repos (tests/realcode.py)
SERVE = [*CLI, "serve"]

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Crossnav Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Crossnav Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
    "GIT_AUTHOR_DATE": "2024-01-02T03:04:05+00:00",
    "GIT_COMMITTER_DATE": "2024-01-02T03:04:05+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {out.stderr}")
    return out.stdout


def init_repo(path: Path, remote: str | None = None, message: str = "initial import") -> str:
    git(path, "init", "-q", "-b", "main")
    if remote:
        git(path, "remote", "add", "origin", remote)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return git(path, "rev-parse", "HEAD").strip()


def commit_all(path: Path, message: str) -> str:
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return git(path, "rev-parse", "HEAD").strip()


# Files that cannot live in the project as text: written into the `broken` repo at setup.
LATIN1_SOURCE = ('# -*- coding: latin-1 -*-\n'
                 '"""Caf\xe9 helpers, stored as Latin-1."""\n'
                 'GREETING = "h\xe9llo"\n'
                 '\n'
                 '\n'
                 'def caf\xe9_name():\n'
                 '    return GREETING\n').encode("latin-1")
NOT_UTF8_SOURCE = b'"""No coding cookie, yet Latin-1 bytes."""\nNAME = "\xe9t\xe9"\n\n\ndef summer():\n    return NAME\n'
BINARY_SOURCE = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00def not_python():\x00\x00\xff\xfe" * 20


def huge_source() -> bytes:
    lines = [f"def generated_{i}(x):\n    return x + {i}\n\n" for i in range(3000)]
    data = "".join(lines).encode()
    assert len(data) > MAX_FILE_KIB * 1024
    return data


def write_generated_broken_files(broken: Path) -> None:
    pkg = broken / "brokenpkg"
    (pkg / "latin.py").write_bytes(LATIN1_SOURCE)
    (pkg / "legacy.py").write_bytes(NOT_UTF8_SOURCE)
    (pkg / "blob.py").write_bytes(BINARY_SOURCE)
    (pkg / "huge.py").write_bytes(huge_source())


def build_org(dest: Path, names=REPO_NAMES) -> dict[str, Path]:
    """Copy the fixture org to `dest`, one git repo per folder, committed with a fixed identity/date."""
    dest.mkdir(parents=True, exist_ok=True)
    repos = {}
    for name in names:
        dst = dest / name
        shutil.copytree(FIXTURE_ORG / name, dst, ignore=shutil.ignore_patterns("__pycache__"))
        if name == "broken":
            write_generated_broken_files(dst)
        init_repo(dst, REMOTES.get(name))
        repos[name] = dst
    return repos


def run_cli(*args: str, timeout: float = 180, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
    e.update(env or {})
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=e)


def index(db: Path, *repos: Path, extra=()) -> subprocess.CompletedProcess:
    return run_cli("index", "--db", db, "--max-file-size", MAX_FILE_KIB, *extra, *repos)


def commit_and_index(db: Path, *folders: Path) -> Path:
    """Make each folder a git repo with one commit, and index them all into `db` with the real CLI."""
    for folder in folders:
        init_repo(folder)
    r = index(db, *folders)
    assert r.returncode == 0, r.stderr
    return db


@dataclass
class Org:
    root: Path
    db: Path
    repos: dict[str, Path]
    result: subprocess.CompletedProcess
    heads: dict[str, str] = field(default_factory=dict)

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        return conn

    def path(self, repo: str, rel: str) -> Path:
        return self.repos[repo] / rel

    def uri(self, repo: str, rel: str) -> str:
        return self.path(repo, rel).as_uri()


# ---------------------------------------------------------------------------- expected positions


def find(path: Path, needle: str, nth: int = 0, sub: str | None = None) -> tuple[int, int]:
    """0-based (line, column in code points) of `sub` inside the nth occurrence of `needle` in `path`.

    The tests use this to derive expected positions from the fixture text itself."""
    text = path.read_text(encoding="utf-8")
    start = -1
    for _ in range(nth + 1):
        start = text.find(needle, start + 1)
        if start < 0:
            raise AssertionError(f"{needle!r} (occurrence {nth}) not in {path}")
    if sub is not None:
        off = needle.find(sub)
        assert off >= 0, (needle, sub)
        start += off
    line = text.count("\n", 0, start)
    col = start - (text.rfind("\n", 0, start) + 1)
    return line, col


def to_client_units(line_text: str, col: int, encoding: str) -> int:
    """Code-point column -> the LSP position encoding's units."""
    prefix = line_text[:col]
    if encoding == "utf-8":
        return len(prefix.encode("utf-8"))
    if encoding == "utf-32":
        return col
    return len(prefix.encode("utf-16-le")) // 2


async def stop_session(c) -> None:
    """End a pytest-lsp client's server, also after a failed assertion: stop() alone waits for the
    server to exit, and one that does not answer shutdown is killed."""
    import asyncio
    try:
        await asyncio.wait_for(c.shutdown_session(), 20)
    except Exception:  # noqa: BLE001
        c._server.kill()
    await c.stop()


def serving(db: Path, root: Path, *docs: tuple[Path, str]):
    """`async with serving(db, root, (path, language_id), ...) as c`: a real `crossnav serve --db db`
    over stdio (pytest-lsp, Neovim preset), rooted at `root`, with these files open; stopped after."""
    import contextlib

    from lsprotocol import types
    from pytest_lsp import ClientServerConfig, client_capabilities

    @contextlib.asynccontextmanager
    async def session():
        c = await ClientServerConfig(server_command=[*SERVE, "--db", str(db)]).start()
        try:
            await c.initialize_session(types.InitializeParams(capabilities=client_capabilities("neovim"), root_uri=root.as_uri()))
            for path, language_id in docs:
                c.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
                    uri=path.as_uri(), language_id=language_id, version=1, text=path.read_text(encoding="utf-8"))))
            yield c
        finally:
            await stop_session(c)
    return session()
