"""An index built on another machine (CI, a synced file) names other paths: the server finds this
machine's clones under the configured clone roots, by git remote or folder name, and answers with them."""
from __future__ import annotations

import shutil

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from orgutil import SERVE, SESSION_DIR, build_org, find, index

HERE = SESSION_DIR / "cloneroots"
DB = HERE / "ci.db"
LAPTOP = HERE / "laptop"   # where this machine keeps its clones
POLICY = "src/payments/retry/policy.py"
CORE = "ledger/core.py"


@pytest.fixture(scope="module")
def laptop():
    shutil.rmtree(HERE, ignore_errors=True)
    repos = build_org(HERE / "ci-runner", names=["payments", "ledger"])
    assert index(DB, *repos.values()).returncode == 0
    LAPTOP.mkdir(parents=True)
    shutil.move(str(repos["payments"]), str(LAPTOP / "payments"))
    shutil.move(str(repos["ledger"]), str(LAPTOP / "ledger-renamed"))   # found by its git remote
    return {"payments": LAPTOP / "payments", "ledger": LAPTOP / "ledger-renamed"}


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[*SERVE, "--db", str(DB)]))
async def client(lsp_client: LanguageClient, laptop):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual_studio_code"), root_uri=laptop["ledger"].as_uri(),
        initialization_options={"cloneRoots": [str(LAPTOP)]}))
    lsp_client.repos = laptop
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio(loop_scope="module")
async def test_locations_point_at_this_machines_clones(client: LanguageClient):
    core = client.repos["ledger"] / CORE
    line, col = find(core, "pol.compute_delay(attempt)", 0, "compute_delay")
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=core.as_uri(), language_id="python", version=1, text=core.read_text(encoding="utf-8"))))
    result = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=core.as_uri()), position=types.Position(line=line, character=col)))
    policy = client.repos["payments"] / POLICY
    assert [(r.uri, r.range.start.line) for r in result] == [(policy.as_uri(), find(policy, "def compute_delay", 0)[0])]
    refs = await client.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=core.as_uri()), position=types.Position(line=line, character=col),
        context=types.ReferenceContext(include_declaration=False)))
    assert {r.uri for r in refs} >= {core.as_uri(), policy.as_uri()}
    assert all(str(LAPTOP) in r.uri for r in refs)
