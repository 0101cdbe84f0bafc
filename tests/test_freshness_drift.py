"""Honest freshness: every answer knows the commit its repo was indexed at. When the checkout moved
past it, or the target file has uncommitted or unsaved edits, the server says so and re-anchors the
position in the live file; `crossnav status` shows each repo's checkout against the index, and
`crossnav url` turns a local path:line into a code-host link."""
from __future__ import annotations

import shutil

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from orgutil import SERVE, SESSION_DIR, build_org, commit_all, find, git, index, run_cli

HERE = SESSION_DIR / "drift"
DB = HERE / "drift.db"
POLICY = "src/payments/retry/policy.py"
CORE = "ledger/core.py"
HEADER = "# a new header\n# added after the index was built\n\nimport logging\n\nlog = logging.getLogger(__name__)\n\n"


@pytest.fixture(scope="module")
def drift_org():
    """payments and ledger indexed; then payments gets a new commit that pushes every definition
    down (not re-indexed), and ledger/core.py gets an uncommitted edit above its uses."""
    shutil.rmtree(HERE, ignore_errors=True)
    repos = build_org(HERE / "src", names=["payments", "ledger"])
    assert index(DB, *repos.values()).returncode == 0
    indexed = {name: git(p, "rev-parse", "HEAD").strip() for name, p in repos.items()}
    old_line = find(repos["payments"] / POLICY, "def compute_delay", 0, "compute_delay")[0]
    policy = repos["payments"] / POLICY
    policy.write_text(HEADER + policy.read_text(encoding="utf-8"), encoding="utf-8")
    local = commit_all(repos["payments"], "log retries")
    core = repos["ledger"] / CORE
    core.write_text("# work in progress\n\n" + core.read_text(encoding="utf-8"), encoding="utf-8")
    return {"repos": repos, "indexed": indexed, "local": local, "old_line": old_line}


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[*SERVE, "--db", str(DB)]))
async def client(lsp_client: LanguageClient, drift_org):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual_studio_code"), root_uri=drift_org["repos"]["ledger"].as_uri()))
    lsp_client.org = drift_org
    yield
    await lsp_client.shutdown_session()


def at(path, needle, sub, nth=0):
    line, col = find(path, needle, nth, sub)
    return types.TextDocumentIdentifier(uri=path.as_uri()), types.Position(line=line, character=col)


@pytest.mark.asyncio(loop_scope="module")
async def test_definition_is_reanchored_in_a_checkout_ahead_of_the_index(client: LanguageClient):
    repos = client.org["repos"]
    doc, pos = at(repos["ledger"] / CORE, "pol.compute_delay(attempt)", "compute_delay")
    result = await client.text_document_definition_async(types.DefinitionParams(text_document=doc, position=pos))
    policy = repos["payments"] / POLICY
    want = find(policy, "def compute_delay", 0, "compute_delay")
    assert want[0] == client.org["old_line"] + HEADER.count("\n")
    assert result and result[0].uri == policy.as_uri()
    assert (result[0].range.start.line, result[0].range.start.character) == want
    assert result[0].range.end.character == want[1] + len("compute_delay")
    logs = [m.message for m in client.log_messages]
    assert any("position re-anchored: payments/" + POLICY in m and client.org["indexed"]["payments"][:10] in m
               for m in logs), logs


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_says_the_checkout_is_ahead(client: LanguageClient):
    repos = client.org["repos"]
    doc, pos = at(repos["ledger"] / CORE, "pol.compute_delay(attempt)", "compute_delay")
    hover = await client.text_document_hover_async(types.HoverParams(text_document=doc, position=pos))
    text = hover.contents.value
    indexed, local = client.org["indexed"]["payments"], client.org["local"]
    assert f"⚠ payments checkout is ahead of the index (indexed {indexed[:10]}, local {local[:10]})" in text
    assert f"{POLICY} changed since indexed" in text
    # the link and line in the footer are the live ones
    want = find(repos["payments"] / POLICY, "def compute_delay", 0)[0]
    assert f"{POLICY}:{want + 1}" in text
    status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="crossnav.status"))
    by_name = {r["name"]: r for r in status["repos"]}
    assert by_name["payments"]["stale"] and by_name["payments"]["checkout"] == "ahead"
    assert by_name["ledger"]["checkout"] == "same"


@pytest.mark.asyncio(loop_scope="module")
async def test_references_follow_uncommitted_and_unsaved_edits(client: LanguageClient):
    repos = client.org["repos"]
    policy = repos["payments"] / POLICY
    doc, pos = at(policy, "def compute_delay", "compute_delay")
    refs = await client.text_document_references_async(types.ReferenceParams(
        text_document=doc, position=pos, context=types.ReferenceContext(include_declaration=False)))
    core = repos["ledger"] / CORE
    got = {(r.range.start.line, r.range.start.character) for r in refs if r.uri == core.as_uri()}
    # ledger/core.py has an uncommitted edit two lines above its uses
    assert find(core, "pol.compute_delay(attempt)", 0, "compute_delay") in got
    assert find(core, "retry.policy.compute_delay(attempt", 0, "compute_delay") in got
    # unsaved: the editor has policy.py open with more lines above the definition than on disk
    text = "# unsaved 1\n# unsaved 2\n# unsaved 3\n" + policy.read_text(encoding="utf-8")
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=policy.as_uri(), language_id="python", version=1, text=text)))
    doc, pos = at(core, "pol.compute_delay(attempt)", "compute_delay")
    result = await client.text_document_definition_async(types.DefinitionParams(text_document=doc, position=pos))
    want = find(policy, "def compute_delay", 0, "compute_delay")
    assert (result[0].range.start.line, result[0].range.start.character) == (want[0] + 3, want[1])
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=policy.as_uri())))


def test_status_shows_checkout_against_index(drift_org):
    r = run_cli("status", "--db", DB)
    assert r.returncode == 0, r.stderr
    rows = {line.split("│")[1].strip(): line for line in r.stdout.splitlines() if line.count("│") > 5}
    assert "ahead" in rows["payments"] and drift_org["local"][:10] in rows["payments"]
    assert drift_org["indexed"]["payments"][:10] in rows["payments"]
    assert "same" in rows["ledger"]
    assert "min" in rows["payments"] or "now" in rows["payments"]   # the age column


def test_url_prints_the_github_link(org):
    policy = org.path("payments", POLICY)
    line = find(policy, "def compute_delay", 0)[0] + 1
    r = run_cli("url", "--db", org.db, f"{policy}:{line}")
    assert r.returncode == 0, r.stderr
    head = org.heads["payments"]
    assert r.stdout.strip() == f"https://github.com/acme/payments/blob/{head}/{POLICY}#L{line}"
    r = run_cli("url", "--db", org.db, f"{policy}:{line}-{line + 2}")
    assert r.stdout.strip() == f"https://github.com/acme/payments/blob/{head}/{POLICY}#L{line}-L{line + 2}"
    r = run_cli("url", "--db", org.db, "/nonexistent/file.py:3")
    assert r.returncode == 2 and "not inside an indexed repo" in r.stderr
