"""The index changes under running readers: a server keeps answering and follows the indexer's
commits without a restart, and a reader never sees half of a repo's update."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
import time

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from orgutil import CLI, SERVE, SESSION_DIR, build_org, commit_all, find, index

FRESH = SESSION_DIR / "freshness"
FRESH_DB = FRESH / "fresh.db"
POLICY = "src/payments/retry/policy.py"
CORE = "ledger/core.py"


@pytest.fixture(scope="module")
def fresh_org():
    shutil.rmtree(FRESH, ignore_errors=True)
    repos = build_org(FRESH / "src", names=["payments", "ledger"])
    r = index(FRESH_DB, *repos.values())
    assert r.returncode == 0, r.stderr
    return repos


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[*SERVE, "--db", str(FRESH_DB)]))
async def client(lsp_client: LanguageClient, fresh_org):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual_studio_code"), root_uri=fresh_org["ledger"].as_uri()))
    lsp_client.repos = fresh_org
    yield
    await lsp_client.shutdown_session()


async def definition_line(client: LanguageClient) -> int:
    core = client.repos["ledger"] / CORE
    line, col = find(core, "pol.compute_delay(attempt)", 0, "compute_delay")
    result = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=core.as_uri()), position=types.Position(line=line, character=col)))
    assert result, "no definition"
    loc = result[0]
    assert loc.uri == (client.repos["payments"] / POLICY).as_uri()
    return loc.range.start.line


@pytest.mark.asyncio(loop_scope="module")
async def test_server_follows_reindex_without_restart(client: LanguageClient):
    policy = client.repos["payments"] / POLICY
    before = await definition_line(client)
    assert before == find(policy, "def compute_delay", 0, "compute_delay")[0]
    # the definition moves down three lines in a new commit; the indexer writes while the server runs
    policy.write_text("# one\n# two\n# three\n" + policy.read_text(encoding="utf-8"), encoding="utf-8")
    commit_all(client.repos["payments"], "move compute_delay down")
    r = index(FRESH_DB, client.repos["payments"])
    assert r.returncode == 0, r.stderr
    after = await definition_line(client)
    assert after == before + 3 == find(policy, "def compute_delay", 0, "compute_delay")[0]


def test_reader_never_sees_half_a_repo(tmp_path):
    """While payments is re-indexed with many changed files, a reader polling the payments rows sees
    the complete old state or the complete new state, nothing in between."""
    repos = build_org(tmp_path / "src", names=["payments"])
    pkg = repos["payments"] / "src/payments/gen"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for i in range(150):
        (pkg / f"m{i}.py").write_text("".join(f"def f{i}_{j}():\n    return {j}\n" for j in range(40)))
    commit_all(repos["payments"], "generated modules")
    db = tmp_path / "r.db"
    assert index(db, repos["payments"]).returncode == 0

    def snapshot(conn):
        return conn.execute("""SELECT count(*), coalesce(sum(d.name LIKE '%\\_v2' ESCAPE '\\'), 0)
                               FROM defs d JOIN files f ON f.id = d.file_id
                               WHERE f.path LIKE 'src/payments/gen/%' AND d.kind = 'function'""").fetchone()

    reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    old = snapshot(reader)
    assert old == (150 * 40, 0)
    for i in range(150):   # every function renamed: old and new states are easy to tell apart
        (pkg / f"m{i}.py").write_text("".join(f"def f{i}_{j}_v2():\n    return {j}\n" for j in range(40)))
    commit_all(repos["payments"], "rename all")

    seen, stop = set(), threading.Event()

    def poll():
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        while not stop.is_set():
            seen.add(snapshot(conn))
            time.sleep(0.002)
        conn.close()

    t = threading.Thread(target=poll)
    t.start()
    try:
        r = subprocess.run([*CLI, "index", "--db", str(db), "-q", str(repos["payments"])], capture_output=True, text=True, timeout=180)
    finally:
        stop.set()
        t.join()
    assert r.returncode == 0, r.stderr
    new = snapshot(reader)
    assert new == (150 * 40, 150 * 40)
    assert seen <= {old, new}, f"a reader saw a half-written repo: {sorted(seen - {old, new})}"
    assert len(seen) >= 1
