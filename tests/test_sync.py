"""`crossnav sync`: a published index reaches the local cache atomically (HTTP with ETag, a shared
drive path), a bad download never replaces a good index, and a running server switches to the new
file without a restart, losing no request."""
from __future__ import annotations

import asyncio
import gzip
import http.server
import os
import shutil
import sqlite3
import threading

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from orgutil import SERVE, SESSION_DIR, build_org, find, index, run_cli

HERE = SESSION_DIR / "sync"
PUB = HERE / "pub"                     # what CI publishes
LIVE_DB = HERE / "live" / "index.db"   # the running server's index, replaced by sync
CORE = "ledger/core.py"


@pytest.fixture(scope="module")
def published():
    """Two published indexes: `small.db` (payments, ledger) and `big.db` (+ notifications)."""
    shutil.rmtree(HERE, ignore_errors=True)
    repos = build_org(HERE / "src", names=["payments", "ledger", "notifications"])
    PUB.mkdir(parents=True)
    small, big = HERE / "build-small.db", HERE / "build-big.db"
    assert index(small, repos["payments"], repos["ledger"]).returncode == 0
    assert index(big, *repos.values()).returncode == 0
    from crossnav.index.sync import copy_index
    copy_index(small, PUB / "small.db")
    copy_index(big, PUB / "big.db")
    with open(PUB / "big.db", "rb") as f, gzip.open(PUB / "big.db.gz", "wb") as g:
        shutil.copyfileobj(f, g)
    # the running server starts on a locally built index (WAL mode, with -wal/-shm while open)
    LIVE_DB.parent.mkdir(parents=True)
    shutil.copy(small, LIVE_DB)
    return repos


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with an ETag that honours If-None-Match (SimpleHTTPRequestHandler already does
    Last-Modified / If-Modified-Since)."""
    statuses: list = []

    def _etag(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            return None
        st = os.stat(path)
        return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'

    def send_head(self):
        tag = self._etag()
        if tag and self.headers.get("If-None-Match") == tag:
            self.send_response(304)
            self.send_header("ETag", tag)
            self.end_headers()
            return None
        return super().send_head()

    def send_response(self, code, message=None):
        type(self).statuses.append(code)
        super().send_response(code, message)
        tag = self._etag()
        if tag and code == 200:
            self.send_header("ETag", tag)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_server(published):
    handler = lambda *a, **k: _Handler(*a, directory=str(PUB), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def repo_names(db) -> set[str]:
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {r[0] for r in c.execute("SELECT name FROM repos")}
    finally:
        c.close()


def leftovers(dest) -> list[str]:
    return sorted(p.name for p in dest.parent.iterdir() if p.name.startswith("."))


def test_sync_over_http_with_etag(http_server, tmp_path):
    dest = tmp_path / "cache" / "index.db"
    _Handler.statuses.clear()
    r = run_cli("sync", "--db", dest, f"{http_server}/small.db")
    assert r.returncode == 0, r.stderr
    assert "updated" in r.stdout and "2 repos" in r.stdout
    assert repo_names(dest) == {"payments", "ledger"}
    side = (tmp_path / "cache" / "index.db.sync.json").read_text()
    assert "etag" in side
    r = run_cli("sync", "--db", dest, f"{http_server}/small.db")
    assert r.returncode == 0, r.stderr
    assert "up to date" in r.stdout
    assert _Handler.statuses == [200, 304]
    # a new publication is fetched; .gz is decompressed on the way
    r = run_cli("sync", "--db", dest, f"{http_server}/big.db.gz")
    assert r.returncode == 0, r.stderr
    assert repo_names(dest) == {"payments", "ledger", "notifications"}
    # the result is one self-contained file: no journal/WAL beside it, no temp files
    assert sqlite3.connect(dest).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert leftovers(dest) == []
    assert not (dest.parent / "index.db-wal").exists()
    # also through `crossnav status`
    st = run_cli("status", "--db", dest)
    assert st.returncode == 0 and "notifications" in st.stdout


def test_sync_from_a_path_and_file_url(published, tmp_path):
    dest = tmp_path / "index.db"
    src = tmp_path / "share" / "org.db"
    src.parent.mkdir()
    shutil.copy(PUB / "small.db", src)
    r = run_cli("sync", "--db", dest, src)
    assert r.returncode == 0, r.stderr
    assert repo_names(dest) == {"payments", "ledger"}
    r = run_cli("sync", "--db", dest, src)
    assert "up to date" in r.stdout
    shutil.copy(PUB / "big.db", src)               # the shared drive gets a new index
    r = run_cli("sync", "--db", dest, src)
    assert "updated" in r.stdout
    assert repo_names(dest) == {"payments", "ledger", "notifications"}
    r = run_cli("sync", "--db", dest, src.as_uri())  # another source name: fetched again
    assert r.returncode == 0 and "updated" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("kind", ["junk", "newer-schema", "truncated", "missing"])
def test_bad_download_keeps_the_old_index(published, http_server, tmp_path, kind):
    dest = tmp_path / "index.db"
    assert run_cli("sync", "--db", dest, PUB / "small.db").returncode == 0
    before = dest.read_bytes()
    bad = PUB / f"bad-{kind}.db"
    if kind == "junk":
        bad.write_bytes(b"<html>502 Bad Gateway</html>" * 100)
    elif kind == "newer-schema":
        shutil.copy(PUB / "big.db", bad)
        c = sqlite3.connect(bad)
        c.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        c.commit()
        c.close()
    elif kind == "truncated":
        data = (PUB / "big.db").read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    r = run_cli("sync", "--db", dest, f"{http_server}/{bad.name}")
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert "unchanged" in lines[0]
    expected = {"junk": "not a crossnav index", "newer-schema": "newer crossnav", "truncated": "truncated",
                "missing": "404"}[kind]
    assert expected in lines[0]
    assert dest.read_bytes() == before
    assert leftovers(dest) == []


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[*SERVE, "--db", str(LIVE_DB)]))
async def client(lsp_client: LanguageClient, published):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual_studio_code"), root_uri=published["ledger"].as_uri()))
    lsp_client.repos = published
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio(loop_scope="module")
async def test_sync_under_a_running_server(client: LanguageClient):
    core = client.repos["ledger"] / CORE
    line, col = find(core, "pol.compute_delay(attempt)", 0, "compute_delay")
    params = types.DefinitionParams(text_document=types.TextDocumentIdentifier(uri=core.as_uri()),
                                    position=types.Position(line=line, character=col))

    async def notification_symbols():
        res = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="subject"))
        return [s for s in res or [] if "/notifications/" in s.location.uri]

    first = await client.text_document_definition_async(params)
    assert first and first[0].uri.endswith("policy.py")
    assert await notification_symbols() == []
    assert (LIVE_DB.parent / "index.db-wal").exists()   # the server reads the WAL-mode local index

    sync = asyncio.create_task(asyncio.to_thread(run_cli, "sync", "--db", LIVE_DB, PUB / "big.db"))
    answers = []
    while not sync.done() or len(answers) < 60:       # requests before, during and after the replace
        batch = await asyncio.gather(*[client.text_document_definition_async(params) for _ in range(5)])
        answers.extend(batch)
        if len(answers) > 5000:
            break
    r = await sync
    assert r.returncode == 0, r.stderr
    assert all(a and a[0].uri == first[0].uri and a[0].range == first[0].range for a in answers), \
        [a for a in answers if not a][:3]
    assert await notification_symbols(), "the server did not switch to the synced index"
    status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="crossnav.status"))
    assert {r["name"] for r in status["repos"]} == {"payments", "ledger", "notifications"}
    c = sqlite3.connect(f"file:{LIVE_DB}?mode=ro", uri=True)
    assert c.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    c.close()
    # and once more while the server reads the synced (rollback-journal) file
    r = await asyncio.to_thread(run_cli, "sync", "--db", LIVE_DB, PUB / "small.db")
    assert r.returncode == 0, r.stderr
    assert await notification_symbols() == []
    assert await client.text_document_definition_async(params) == first


def test_sync_from_a_live_wal_mode_index_takes_a_consistent_snapshot(published, tmp_path):
    """Publishing straight from CI's build database while something still holds it open: committed
    transactions still in its -wal are part of the published copy."""
    src = tmp_path / "build.db"
    shutil.copy(HERE / "build-small.db", src)
    writer = sqlite3.connect(src)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('published_by', 'ci')")
    writer.commit()
    assert (tmp_path / "build.db-wal").stat().st_size > 0
    try:
        dest = tmp_path / "pub" / "org.db"
        r = run_cli("sync", "--db", dest, src)
        assert r.returncode == 0, r.stderr
        c = sqlite3.connect(f"file:{dest}?mode=ro", uri=True)
        assert c.execute("SELECT value FROM meta WHERE key = 'published_by'").fetchone() == ("ci",)
        c.close()
    finally:
        writer.close()
