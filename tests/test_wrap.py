"""`crossnav serve --wrap CMD`: one server entry = the user's language server + crossnav.

The wrapped server is the real jedi-language-server from PyPI; also a missing command and one
that dies right after start, where crossnav must keep answering and say why."""
from __future__ import annotations

import shutil
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from orgutil import ORG_DB, SERVE, find, to_client_units

pytestmark = pytest.mark.asyncio(loop_scope="module")

JLS = shutil.which("jedi-language-server") or str(__import__("pathlib").Path(sys.executable).with_name("jedi-language-server"))
DIES = f"{sys.executable} -c 'import sys; sys.stdin.buffer.read(1); sys.exit(3)'"

POLICY = ("payments", "src/payments/retry/policy.py")
CORE = ("ledger", "ledger/core.py")


async def start(lsp_client: LanguageClient, org, preset="visual_studio_code"):
    result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(preset), root_uri=org.repos["ledger"].as_uri()))
    lsp_client.encoding = result.capabilities.position_encoding or "utf-16"
    lsp_client.org = org
    lsp_client.server_name = result.server_info.name if result.server_info else ""
    return result


def where(client, repo, path, needle, sub=None):
    p = client.org.path(repo, path)
    line, col = find(p, needle, 0, sub)
    text = p.read_text(encoding="utf-8").split("\n")[line]
    return client.org.uri(repo, path), line, to_client_units(text, col, client.encoding)


def open_doc(client, repo, path):
    uri = client.org.uri(repo, path)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="python", version=1, text=client.org.path(repo, path).read_text(encoding="utf-8"))))
    return uri


def locs(result):
    if result is None:
        return []
    result = result if isinstance(result, (list, tuple)) else [result]
    out = []
    for r in result:
        if isinstance(r, types.LocationLink):
            out.append((r.target_uri, r.target_selection_range.start.line, r.target_selection_range.start.character))
        else:
            out.append((r.uri, r.range.start.line, r.range.start.character))
    return sorted(out)


async def definition(client, repo, path, needle, sub):
    uri = open_doc(client, repo, path)
    _, line, ch = where(client, repo, path, needle, sub)
    return await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=ch)))


# ---------------------------------------------------------------- wrapping jedi-language-server


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[*SERVE, "--db", str(ORG_DB), "--wrap", JLS]))
async def jls(lsp_client: LanguageClient, org):
    await start(lsp_client, org)
    yield
    await lsp_client.shutdown_session()


async def test_wrapped_server_is_named_and_answers_what_crossnav_does_not(jls: LanguageClient):
    assert jls.server_name == "crossnav+jedi-language-server"
    uri = open_doc(jls, *CORE)
    _, line, ch = where(jls, *CORE, "policy = BO(base", "policy")
    # completion is jedi-language-server's alone: crossnav has none, so an answer proves forwarding
    result = await jls.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line + 1, character=4)))
    items = result.items if isinstance(result, types.CompletionList) else result
    assert any(i.label == "policy" for i in items)


async def test_cross_repo_definition_comes_from_crossnav(jls: LanguageClient):
    # jedi-language-server alone cannot see payments (not installed): crossnav's answer is used
    got = locs(await definition(jls, *CORE, "pol.compute_delay(attempt)", "compute_delay"))
    assert got == [where(jls, *POLICY, "def compute_delay", "compute_delay")]


async def test_local_definition_comes_from_the_wrapped_server(jls: LanguageClient):
    got = locs(await definition(jls, *CORE, "return self.delay(attempt) * 2", "self"))
    assert got == [where(jls, *CORE, "def wait(self, attempt)", "self")]


async def test_hover_gets_crossnav_owner_footer(jls: LanguageClient):
    uri = open_doc(jls, *CORE)
    _, line, ch = where(jls, *CORE, "pol.compute_delay(attempt)", "compute_delay")
    h = await jls.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=ch)))
    text = h.contents.value if isinstance(h.contents, types.MarkupContent) else str(h.contents)
    assert "@alice" in text and ".github/CODEOWNERS" in text


async def test_references_merge_without_duplicates(jls: LanguageClient):
    uri = open_doc(jls, *CORE)
    _, line, ch = where(jls, *CORE, "pol.compute_delay(attempt)", "compute_delay")
    result = await jls.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=ch),
        context=types.ReferenceContext(include_declaration=True)))
    got = locs(result)
    assert len(got) == len(set(got))
    assert where(jls, *POLICY, "def compute_delay", "compute_delay") in got
    assert where(jls, *CORE, "retry.policy.compute_delay(", "compute_delay") in got


async def test_crossnav_commands_reach_crossnav(jls: LanguageClient):
    status = await jls.workspace_execute_command_async(types.ExecuteCommandParams(command="crossnav.status", arguments=[]))
    assert {r["name"] for r in status["repos"]} >= {"payments", "ledger"}


# ---------------------------------------------------------------- wrapped server missing / dying


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[*SERVE, "--db", str(ORG_DB), "--wrap", "no-such-language-server --stdio"]))
async def missing(lsp_client: LanguageClient, org):
    await start(lsp_client, org)
    yield
    await lsp_client.shutdown_session()


async def test_missing_wrapped_server_is_reported_and_crossnav_answers(missing: LanguageClient):
    got = locs(await definition(missing, *CORE, "pol.compute_delay(attempt)", "compute_delay"))
    assert got == [where(missing, *POLICY, "def compute_delay", "compute_delay")]
    said = " ".join(m.message for m in missing.messages)
    assert "no-such-language-server" in said and "cross-repo" in said


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[*SERVE, "--db", str(ORG_DB), "--wrap", DIES]))
async def dying(lsp_client: LanguageClient, org):
    await start(lsp_client, org)
    yield
    await lsp_client.shutdown_session()


async def test_dying_wrapped_server_is_reported_and_crossnav_answers(dying: LanguageClient):
    got = locs(await definition(dying, *CORE, "pol.compute_delay(attempt)", "compute_delay"))
    assert got == [where(dying, *POLICY, "def compute_delay", "compute_delay")]
    said = " ".join(m.message for m in dying.messages)
    assert "exited with code 3" in said or "did not answer initialize" in said
