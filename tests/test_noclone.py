"""Navigating into a repo that is indexed but not cloned on this machine: the server writes a
read-only copy of the indexed file under the cache directory, and navigation continues from there."""
from __future__ import annotations

import os
import shutil
import stat

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from orgutil import SERVE, SESSION_DIR, build_org, find, git, index

HERE = SESSION_DIR / "noclone"
CACHE = HERE / "cache"
POLICY = "src/payments/retry/policy.py"
CORE = "ledger/core.py"
# payments under its folder name, and under a name with a parent folder (what two clones called
# `payments` get): its copies then live under files/billing/payments/<commit>/
NAMES = ("payments", "billing/payments")
DBS = {name: HERE / f"noclone-{i}.db" for i, name in enumerate(NAMES)}


@pytest.fixture(scope="module")
def org():
    shutil.rmtree(HERE, ignore_errors=True)
    repos = build_org(HERE / "src", names=["payments", "ledger"])
    for name, db in DBS.items():
        for repo, as_name in ((repos["ledger"], "ledger"), (repos["payments"], name)):
            r = index(db, repo, extra=("--name", as_name))
            assert r.returncode == 0, r.stderr
    payments = repos["payments"]
    original = (payments / POLICY).read_text(encoding="utf-8")
    head = git(payments, "rev-parse", "HEAD").strip()
    shutil.move(str(payments), str(HERE / "payments-elsewhere"))   # this machine has not cloned payments
    return repos, original, head


@pytest_lsp.fixture(scope="module", params=NAMES, config=ClientServerConfig(
    server_command=SERVE, server_env={**os.environ, "XDG_CACHE_HOME": str(CACHE)}))
async def client(lsp_client: LanguageClient, org, request):
    repos, original, head = org
    name = request.param
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("neovim"), root_uri=repos["ledger"].as_uri(),
        initialization_options={"db": str(DBS[name])}))
    lsp_client.org = repos, original, CACHE / "crossnav" / "files" / name / head[:12] / POLICY, name
    yield
    await lsp_client.shutdown_session()


async def definition(client, path, needle, sub):
    line, col = find(path, needle, 0, sub)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=path.as_uri(), language_id="python", version=1, text=path.read_text(encoding="utf-8"))))
    return await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=path.as_uri()), position=types.Position(line=line, character=col)))


@pytest.mark.asyncio(loop_scope="module")
async def test_definition_into_a_repo_not_cloned_opens_a_readonly_copy(client: LanguageClient):
    repos, original, copy, _ = client.org
    result = await definition(client, repos["ledger"] / CORE, "pol.compute_delay(attempt)", "compute_delay")
    assert result and len(result) == 1
    assert result[0].uri == copy.as_uri()
    assert copy.read_text(encoding="utf-8") == original
    assert not copy.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert result[0].range.start.line == find(copy, "def compute_delay", 0, "compute_delay")[0]


@pytest.mark.asyncio(loop_scope="module")
async def test_navigation_continues_inside_the_copy(client: LanguageClient):
    repos, _, copy, name = client.org
    if not copy.exists():
        await definition(client, repos["ledger"] / CORE, "pol.compute_delay(attempt)", "compute_delay")
    # a use inside the copied file resolves from the index, and lands in the copy again
    result = await definition(client, copy, "return compute_delay(", "compute_delay")
    assert [(r.uri, r.range.start.line) for r in result] == [(copy.as_uri(), find(copy, "def compute_delay", 0)[0])]
    # hover from inside the copy still knows the repo and its owners
    line, col = find(copy, "def compute_delay", 0, "compute_delay")
    h = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=copy.as_uri()), position=types.Position(line=line, character=col)))
    assert h is not None and f"**{name}**" in h.contents.value and "@alice" in h.contents.value


def test_a_crafted_index_places_no_copy_outside_the_cache(org, tmp_path):
    """A published index is data from elsewhere: a repo name or a path with `..` in it must not make
    the server write its read-only copy anywhere but under the cache folder."""
    import sqlite3

    from crossnav.server.query import Index, Loc
    db = tmp_path / "crafted.db"
    src = sqlite3.connect(DBS["payments"])
    dst = sqlite3.connect(db)
    src.backup(dst)
    src.close()
    dst.execute("UPDATE repos SET name = '../../escaped' WHERE name = 'payments'")
    dst.execute("UPDATE files SET path = '../../../outside.py' WHERE path = ?", (CORE,))
    dst.commit()
    dst.close()
    files = tmp_path / "cache" / "files"
    index = Index(db, files_dir=files)
    for name, repo, path in (("../../escaped", "payments", POLICY), ("ledger", "ledger", "../../../outside.py")):
        loc = Loc(name, str(org[0][repo]), path, 0, 0, 0, 1)
        assert index.local_path(loc) == loc.abspath
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != db and not p.name.startswith("crafted.db")]
    assert written == []
