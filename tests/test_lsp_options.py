"""Server settings from initializationOptions: the index path (no --db) and `crossOnly`."""
from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from orgutil import SERVE, find, to_client_units

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(
    scope="module",
    params=["neovim", "visual_studio_code"],
    # no --db: the index comes from initializationOptions; CROSSNAV_DB points at nothing usable
    config=ClientServerConfig(server_command=[*SERVE], server_env={"CROSSNAV_DB": "/nonexistent/crossnav.db"}),
)
async def client(request, lsp_client: LanguageClient, org):
    result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(request.param),
        root_uri=org.repos["ledger"].as_uri(),
        initialization_options={"db": str(org.db), "crossOnly": True},
    ))
    lsp_client.encoding = result.capabilities.position_encoding or "utf-16"
    lsp_client.org = org
    yield
    await lsp_client.shutdown_session()


def where(client, repo, path, needle, sub):
    p = client.org.path(repo, path)
    line, col = find(p, needle, 0, sub)
    text = p.read_text(encoding="utf-8").split("\n")[line]
    return client.org.uri(repo, path), line, to_client_units(text, col, client.encoding)


def locs(result):
    if result is None:
        return []
    if not isinstance(result, (list, tuple)):
        result = [result]
    return sorted((r.uri, r.range.start.line, r.range.start.character) for r in result)


async def request_refs(client, repo, path, needle, sub, include_declaration=True):
    uri, line, ch = where(client, repo, path, needle, sub)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="python", version=1, text=client.org.path(repo, path).read_text(encoding="utf-8"))))
    return await client.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=ch),
        context=types.ReferenceContext(include_declaration=include_declaration)))


POLICY = ("payments", "src/payments/retry/policy.py")
CORE = ("ledger", "ledger/core.py")
FEES = ("ledger", "ledger/fees.py")


async def test_db_from_initialization_options(client: LanguageClient):
    uri, line, ch = where(client, *CORE, "pol.compute_delay(attempt)", "compute_delay")
    result = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=ch)))
    assert locs(result) == [where(client, *POLICY, "def compute_delay", "compute_delay")]
    assert not [m for m in client.messages if m.type in (types.MessageType.Error, types.MessageType.Warning)]


async def test_cross_only_filters_same_repo_locations(client: LanguageClient):
    # from ledger: only the payments locations (definition + its use inside payments) remain
    got = locs(await request_refs(client, *FEES, "return compute_delay(attempt)", "compute_delay"))
    assert got == sorted([
        where(client, *POLICY, "def compute_delay", "compute_delay"),
        where(client, *POLICY, "return compute_delay(", "compute_delay"),
    ])
    # from payments: only the ledger uses remain
    got = locs(await request_refs(client, *POLICY, "def compute_delay", "compute_delay"))
    assert got == sorted([
        where(client, *CORE, "pol.compute_delay(attempt)", "compute_delay"),
        where(client, *CORE, "retry.policy.compute_delay(", "compute_delay"),
        where(client, *FEES, "return compute_delay(attempt)", "compute_delay"),
    ])
