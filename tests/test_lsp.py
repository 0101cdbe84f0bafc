"""LSP tests: `crossnav serve --db ORG_DB` over stdio, driven by pytest-lsp with both client presets.

Expected positions come from the fixture sources (orgutil.find), converted to the position
encoding the server negotiated (utf-8 for the Neovim preset, utf-16 for VS Code)."""
from __future__ import annotations

import asyncio
import uuid

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from orgutil import ORG_DB, SERVE, find, to_client_units

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(
    scope="module",
    params=["neovim", "visual_studio_code"],
    config=ClientServerConfig(server_command=[*SERVE, "--db", str(ORG_DB)]),
)
async def client(request, lsp_client: LanguageClient, org):
    result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(request.param),
        root_uri=org.repos["ledger"].as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=p.as_uri(), name=n) for n, p in org.repos.items()],
    ))
    lsp_client.encoding = result.capabilities.position_encoding or "utf-16"
    lsp_client.preset = request.param
    lsp_client.org = org
    lsp_client.opened = set()
    yield
    await lsp_client.shutdown_session()


# ---------------------------------------------------------------------------- helpers


def open_doc(client, repo, path):
    uri = client.org.uri(repo, path)
    if uri not in client.opened:
        client.opened.add(uri)
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=uri, language_id="python", version=1, text=client.org.path(repo, path).read_text(encoding="utf-8"))))
    return uri


def where(client, repo, path, needle, sub=None, nth=0):
    """(uri, line, character in the client's units) of `sub` in the nth `needle` in a fixture file."""
    p = client.org.path(repo, path)
    line, col = find(p, needle, nth, sub)
    text = p.read_text(encoding="utf-8").split("\n")[line]
    return client.org.uri(repo, path), line, to_client_units(text, col, client.encoding)


def position(client, repo, path, needle, sub=None, nth=0, offset=0):
    _, line, ch = where(client, repo, path, needle, sub, nth)
    return types.Position(line=line, character=ch + offset)


def locs(result):
    """Location | [Location] | [LocationLink] | None -> sorted [(uri, line, character)]."""
    if result is None:
        return []
    if not isinstance(result, (list, tuple)):
        result = [result]
    out = []
    for r in result:
        if isinstance(r, types.LocationLink):
            out.append((r.target_uri, r.target_selection_range.start.line, r.target_selection_range.start.character))
        else:
            out.append((r.uri, r.range.start.line, r.range.start.character))
    return sorted(out)


async def definition(client, repo, path, needle, sub=None, nth=0, offset=0):
    uri = open_doc(client, repo, path)
    return await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=position(client, repo, path, needle, sub, nth, offset)))


async def references(client, repo, path, needle, sub=None, nth=0, include_declaration=True):
    uri = open_doc(client, repo, path)
    return await client.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=position(client, repo, path, needle, sub, nth),
        context=types.ReferenceContext(include_declaration=include_declaration)))


async def hover(client, repo, path, needle, sub=None, nth=0):
    uri = open_doc(client, repo, path)
    return await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=position(client, repo, path, needle, sub, nth)))


def hover_text(h) -> str:
    assert h is not None, "no hover"
    c = h.contents
    if isinstance(c, types.MarkupContent):
        return c.value
    if isinstance(c, (list, tuple)):
        return "\n".join(x if isinstance(x, str) else x.value for x in c)
    return c if isinstance(c, str) else c.value


def no_errors(client):
    errors = [m.message for m in client.log_messages if m.type == types.MessageType.Error]
    assert errors == [], errors
    assert not [m.message for m in client.messages if m.type in (types.MessageType.Error, types.MessageType.Warning)]


POLICY = ("payments", "src/payments/retry/policy.py")
CORE = ("ledger", "ledger/core.py")
FEES = ("ledger", "ledger/fees.py")
SUMMARY = ("ledger", "ledger/reports/summary.py")
MODELS = ("ledger", "ledger/models.py")
EMAIL = ("notifications", "acme/notify/email.py")
STRINGS = ("platform-utils", "acme/utils/strings.py")

# (id, (repo, path), needle, sub, expected (repo, path), expected needle, expected sub)
DEFINITION_CASES = [
    ("alias-BO-import", CORE, "import Backoff as BO", "BO", POLICY, "class Backoff", "Backoff"),
    ("reexport-name", CORE, "import Backoff as BO", "Backoff", POLICY, "class Backoff", "Backoff"),
    ("alias-BO-base-class", CORE, "class PatientBackoff(BO)", "BO", POLICY, "class Backoff", "Backoff"),
    ("alias-BO-call", CORE, "policy = BO(base", "BO", POLICY, "class Backoff", "Backoff"),
    ("module-alias-attr", CORE, "pol.compute_delay(attempt)", "compute_delay", POLICY, "def compute_delay", "compute_delay"),
    ("module-alias-itself", CORE, "pol.compute_delay(attempt)", "pol", POLICY, '"""Retry policies', None),
    ("attr-chain-leaf", CORE, "retry.policy.compute_delay(", "compute_delay", POLICY, "def compute_delay", "compute_delay"),
    ("attr-chain-middle", CORE, "retry.policy.compute_delay(", "policy", POLICY, '"""Retry policies', None),
    ("attr-chain-root", CORE, "retry.policy.compute_delay(", "retry", ("payments", "src/payments/retry/__init__.py"),
     '"""Retry helpers', None),
    ("constant-via-alias", CORE, "pol.MAX_ATTEMPTS", "MAX_ATTEMPTS", POLICY, "MAX_ATTEMPTS = 5", "MAX_ATTEMPTS"),
    ("inherited-method-via-self", CORE, "self.delay(attempt)", "delay", POLICY, "def delay", "delay"),
    ("kwarg-to-init-param", CORE, "BO(base=1.0", "base", POLICY, "base: float = 0.5, factor", "base"),
    ("kwarg-cap", CORE, "cap=60.0", "cap", POLICY, "cap: float = 30.0):\n        self", "cap"),
    ("kwarg-to-function-param", CORE, "factor=3.0", "factor", POLICY,
     "factor: float = 2.0, cap: float = 30.0) -> float", "factor"),
    ("relative-import-use", CORE, "entry: Entry", "Entry", MODELS, "class Entry", "Entry"),
    ("star-import-function", FEES, "return compute_delay(attempt)", "compute_delay", POLICY, "def compute_delay", "compute_delay"),
    ("star-import-constant", FEES, "+ MAX_ATTEMPTS", "MAX_ATTEMPTS", POLICY, "MAX_ATTEMPTS = 5", "MAX_ATTEMPTS"),
    ("dotdot-import", SUMMARY, "from ..models import Entry", "Entry", MODELS, "class Entry", "Entry"),
    ("dotdot-module-attr", SUMMARY, "fees.fee_delay(1)", "fee_delay", FEES, "def fee_delay", "fee_delay"),
    ("dotdot-kwarg", SUMMARY, "amount=10", "amount", MODELS, "amount=0", "amount"),
    ("same-repo-call", SUMMARY, "    post(entry)", "post", CORE, "def post", "post"),
    ("namespace-pkg-non-ascii-line", EMAIL, "slug = slugify(label)", "slugify", STRINGS, "def slugify", "slugify"),
    ("namespace-pkg-attr", EMAIL, "strings.slugify(title)", "slugify", STRINGS, "def slugify", "slugify"),
    ("on-definition-itself", POLICY, "class Backoff", "Backoff", POLICY, "class Backoff", "Backoff"),
]


@pytest.mark.parametrize("case", DEFINITION_CASES, ids=[c[0] for c in DEFINITION_CASES])
async def test_definition(client: LanguageClient, case):
    _, (repo, path), needle, sub, (erepo, epath), eneedle, esub = case
    result = await definition(client, repo, path, needle, sub)
    assert locs(result) == [where(client, erepo, epath, eneedle, esub)]


async def test_definition_from_middle_of_identifier(client: LanguageClient):
    # cursor on the last character of `compute_delay`, not its first
    result = await definition(client, *CORE, "pol.compute_delay(attempt)", "compute_delay", offset=len("compute_delay") - 1)
    assert locs(result) == [where(client, *POLICY, "def compute_delay", "compute_delay")]


async def test_definition_of_unresolvable_import_is_empty(client: LanguageClient):
    for needle in ("gadget = Widget()", "import Widget"):
        result = await definition(client, *CORE, needle, "Widget")
        assert locs(result) == [], needle
    no_errors(client)


async def test_definition_position_encoding_matters(client: LanguageClient):
    # `slugify` after "é😀": code point 25, UTF-16 unit 26, UTF-8 byte 29
    _, line, ch = where(client, *EMAIL, "slug = slugify(label)", "slugify")
    assert ch == {"utf-8": 29, "utf-16": 26, "utf-32": 25}[client.encoding]
    if client.preset == "neovim":
        assert client.encoding == "utf-8"
    else:
        assert client.encoding == "utf-16"


# ---------------------------------------------------------------------------- references


def compute_delay_uses(client):
    return sorted([
        where(client, *CORE, "pol.compute_delay(attempt)", "compute_delay"),
        where(client, *CORE, "retry.policy.compute_delay(", "compute_delay"),
        where(client, *FEES, "return compute_delay(attempt)", "compute_delay"),
        where(client, *POLICY, "return compute_delay(", "compute_delay"),
    ])


async def test_references_from_definition_site(client: LanguageClient):
    decl = where(client, *POLICY, "def compute_delay", "compute_delay")
    result = await references(client, *POLICY, "def compute_delay", "compute_delay", include_declaration=True)
    assert locs(result) == sorted(compute_delay_uses(client) + [decl])
    result = await references(client, *POLICY, "def compute_delay", "compute_delay", include_declaration=False)
    assert locs(result) == compute_delay_uses(client)


async def test_references_from_use_site_match_definition_site(client: LanguageClient):
    decl = where(client, *POLICY, "def compute_delay", "compute_delay")
    from_def = locs(await references(client, *POLICY, "def compute_delay", "compute_delay"))
    for repo_path, needle in ((CORE, "pol.compute_delay(attempt)"), (FEES, "return compute_delay(attempt)"),
                              (CORE, "retry.policy.compute_delay(")):
        got = locs(await references(client, *repo_path, needle, "compute_delay"))
        assert got == from_def, needle
        got = locs(await references(client, *repo_path, needle, "compute_delay", include_declaration=False))
        assert got == [x for x in from_def if x != decl], needle


async def test_references_of_reexported_class_span_repos(client: LanguageClient):
    decl = where(client, *POLICY, "class Backoff", "Backoff")
    expected = sorted([
        decl,
        where(client, "payments", "src/payments/retry/__init__.py", "from .policy import Backoff", "Backoff"),
        where(client, *CORE, "import Backoff as BO", "Backoff"),
        # not the new name `BO` in `import Backoff as BO`: a binding, not a use (as pyright answers)
        where(client, *CORE, "class PatientBackoff(BO)", "BO"),
        where(client, *CORE, "policy = BO(base", "BO"),
    ])
    assert locs(await references(client, *POLICY, "class Backoff", "Backoff")) == expected
    assert locs(await references(client, *CORE, "policy = BO(base", "BO")) == expected
    uris = {u for u, _, _ in expected}
    assert {client.org.uri(*CORE), client.org.uri(*POLICY)} <= uris


async def test_references_namespace_package(client: LanguageClient):
    expected = sorted([
        where(client, *STRINGS, "def slugify", "slugify"),
        where(client, *STRINGS, "return slugify(text)", "slugify"),
        where(client, *EMAIL, "import slugify", "slugify"),
        where(client, *EMAIL, "slug = slugify(label)", "slugify"),
        where(client, *EMAIL, "strings.slugify(title)", "slugify"),
    ])
    assert locs(await references(client, *EMAIL, "slug = slugify(label)", "slugify")) == expected


# ---------------------------------------------------------------------------- hover


async def test_hover_class_through_alias(client: LanguageClient):
    org = client.org
    text = hover_text(await hover(client, *CORE, "policy = BO(base", "BO"))
    assert "class Backoff:" in text                                        # signature
    assert "Exponential backoff between payment retries." in text          # docstring
    assert "payments" in text
    line = find(org.path(*POLICY), "class Backoff")[0] + 1                 # 1-based in prose and URLs
    assert f"src/payments/retry/policy.py:{line}" in text
    assert f"https://github.com/acme/payments/blob/{org.heads['payments']}/src/payments/retry/policy.py#L{line}" in text
    # owners, and which rule decided: .github/CODEOWNERS line 4 (last match wins; root CODEOWNERS ignored)
    assert "@alice" in text and "@acme/reliability" in text
    assert "@acme/payments-team" not in text and "@acme/wrong-team" not in text
    assert ".github/CODEOWNERS" in text and "line 4" in text
    assert f"https://github.com/acme/payments/blob/{org.heads['payments']}/CONTRIBUTING.md" in text
    assert "Used in 2 places across 1 repo" in text


async def test_hover_function_usage_across_repos(client: LanguageClient):
    text = hover_text(await hover(client, *FEES, "return compute_delay(attempt)", "compute_delay"))
    assert "def compute_delay(attempt: int, base: float = 0.5, factor: float = 2.0, cap: float = 30.0) -> float:" in text
    assert "Delay in seconds for one attempt, capped at `cap`." in text
    assert "Used in 4 places across 2 repos" in text


async def test_hover_gitlab_sections_and_link(client: LanguageClient):
    org = client.org
    text = hover_text(await hover(client, *SUMMARY, "    post(entry)", "post"))
    line = find(org.path(*CORE), "def post")[0] + 1
    assert "def post(entry: Entry, attempt: int = 0):" in text
    assert "Post one entry." in text
    assert f"https://gitlab.example.com/acme/finance/ledger/-/blob/{org.heads['ledger']}/ledger/core.py#L{line}" in text
    assert "@acme/finance" in text and "@acme/backend" in text
    assert ".gitlab/CODEOWNERS" in text and "line 5" in text
    assert f"https://gitlab.example.com/acme/finance/ledger/-/blob/{org.heads['ledger']}/docs/CONTRIBUTING.md" in text


async def test_hover_owners_file_inheritance(client: LanguageClient):
    text = hover_text(await hover(client, *EMAIL, "slug = slugify(label)", "slugify"))
    assert "Lower-case, dash-separated form of `text`." in text
    for owner in ("carol", "dave", "platform-lead@example.com", "bob"):
        assert owner in text
    assert "acme/utils/OWNERS" in text
    assert "Used in 3 places across 2 repos" in text


async def test_hover_on_whitespace_is_empty(client: LanguageClient):
    uri = open_doc(client, *CORE)
    blank = find(client.org.path(*CORE), "\n\n\nclass PatientBackoff")[0] + 1     # an empty line
    h = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=blank, character=0)))
    assert h is None
    h = await client.text_document_hover_async(types.HoverParams(   # the indentation before `return`
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=position(client, *CORE, "    return policy, d1", offset=1)))
    assert h is None


# ---------------------------------------------------------------------------- symbols


async def test_workspace_symbol_exact_name_first(client: LanguageClient):
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="Backoff"))
    assert result, "no symbols"
    first = result[0]
    assert first.name == "Backoff"
    assert first.kind == types.SymbolKind.Class
    assert "payments" in first.container_name
    uri, line, ch = where(client, *POLICY, "class Backoff", "Backoff")
    assert (first.location.uri, first.location.range.start.line, first.location.range.start.character) == (uri, line, ch)
    names = [s.name for s in result]
    assert "PatientBackoff" in names and names.index("PatientBackoff") > 0
    patient = result[names.index("PatientBackoff")]
    assert "ledger" in patient.container_name


async def test_workspace_symbol_case_and_substring(client: LanguageClient):
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="slugify"))
    assert [s.name for s in result][:1] == ["slugify"]
    assert "platform-utils" in result[0].container_name
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="pute_del"))
    assert "compute_delay" in [s.name for s in result]
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="zzznothing"))
    assert list(result or []) == []


async def test_open_in_code_host_asks_the_editor(client: LanguageClient):
    uri, line, _ = where(client, *POLICY, "def compute_delay", "compute_delay")
    answer = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="crossnav.openInCodeHost", arguments=[{"uri": uri, "line": line, "endLine": line + 2}]))
    url = answer["url"]
    assert url.startswith("https://github.com/acme/payments/blob/")
    assert url.endswith(f"/src/payments/retry/policy.py#L{line + 1}-L{line + 3}")
    # both presets support window/showDocument: the server asked the editor to open it externally
    assert answer["opened"] is True
    assert any(d.uri == url and d.external for d in client.shown_documents)


async def test_workspace_symbol_accepts_search_filters(client: LanguageClient):
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="repo:ledger Backoff"))
    assert [(s.name, s.container_name.split(" · ")[0]) for s in result] == [("PatientBackoff", "ledger")]
    uri, line, ch = where(client, *CORE, "class PatientBackoff", "PatientBackoff")
    assert (result[0].location.uri, result[0].location.range.start.line, result[0].location.range.start.character) == (uri, line, ch)
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="kind:function repo:payments delay"))
    names = {s.name for s in result}
    assert "compute_delay" in names and all(s.kind == types.SymbolKind.Function for s in result)
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="repo:( Backoff"))
    assert list(result or []) == []     # a malformed query answers nothing, not an error
    # the plugins' symbol search command takes the same filters
    found = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="crossnav.search", arguments=[{"query": "repo:ledger Backoff", "limit": 20}]))
    assert [(f["qualname"], f["repo"]) for f in found] == [("ledger.core.PatientBackoff", "ledger")]
    assert (found[0]["uri"], found[0]["range"]["start"]["line"]) == (uri, line)


async def test_document_symbols(client: LanguageClient):
    uri = open_doc(client, *POLICY)
    result = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert result
    top = {s.name: s for s in result}
    assert [s.name for s in result] == ["MAX_ATTEMPTS", "Backoff", "compute_delay"]
    assert top["Backoff"].kind == types.SymbolKind.Class
    assert top["compute_delay"].kind == types.SymbolKind.Function
    assert top["MAX_ATTEMPTS"].kind == types.SymbolKind.Constant
    _, line, ch = where(client, *POLICY, "class Backoff", "Backoff")
    sel = top["Backoff"].selection_range
    assert (sel.start.line, sel.start.character, sel.end.character) == (line, ch, ch + len("Backoff"))
    assert top["Backoff"].range.start.line == line
    assert top["Backoff"].range.end.line == find(client.org.path(*POLICY), "self.attempts = 0")[0]
    children = [c.name for c in top["Backoff"].children]
    assert [c for c in children if c in ("__init__", "delay", "reset")] == ["__init__", "delay", "reset"]
    methods = {c.name: c for c in top["Backoff"].children}
    assert methods["delay"].kind == types.SymbolKind.Method


# ---------------------------------------------------------------------------- robustness


async def test_unknown_uri_gives_empty_results(client: LanguageClient):
    uri = "file:///nonexistent/dir/nowhere.py"
    pos = types.Position(line=0, character=0)
    doc = types.TextDocumentIdentifier(uri=uri)
    assert locs(await client.text_document_definition_async(types.DefinitionParams(text_document=doc, position=pos))) == []
    assert locs(await client.text_document_references_async(types.ReferenceParams(
        text_document=doc, position=pos, context=types.ReferenceContext(include_declaration=True)))) == []
    assert await client.text_document_hover_async(types.HoverParams(text_document=doc, position=pos)) is None
    assert not await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc))
    no_errors(client)


async def test_file_outside_every_repo(client: LanguageClient, tmp_path_factory):
    d = tmp_path_factory.mktemp("outside")
    f = d / "scratch.py"
    f.write_text("x = 1\n\n\ndef local_helper():\n    return x\n")
    uri = f.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="python", version=1, text=f.read_text())))
    doc = types.TextDocumentIdentifier(uri=uri)
    # whitespace: nothing
    assert locs(await client.text_document_definition_async(types.DefinitionParams(
        text_document=doc, position=types.Position(line=1, character=0)))) == []
    # a past-the-end position: nothing, not an error
    assert locs(await client.text_document_definition_async(types.DefinitionParams(
        text_document=doc, position=types.Position(line=500, character=3)))) == []
    # the file's own symbols still work from the live buffer
    syms = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc))
    assert [s.name for s in syms or []] == ["x", "local_helper"]
    no_errors(client)


async def test_position_on_whitespace_in_indexed_file(client: LanguageClient):
    result = await definition(client, *CORE, "\n\n\ndef post", offset=1)   # an empty line
    assert locs(result) == []
    result = await definition(client, *CORE, "    policy = BO(", offset=1)   # indentation
    assert locs(result) == []


def raw_request(client, method, params):
    """Send a request with untyped JSON params (the typed client API cannot build malformed ones)."""
    from concurrent.futures import Future

    from pygls.protocol.json_rpc import JsonRPCResponseMessage
    proto = client.protocol
    msg_id = f"raw-{uuid.uuid4()}"
    fut: Future = Future()
    proto._request_futures[msg_id] = fut
    proto._result_types[msg_id] = JsonRPCResponseMessage
    proto._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return asyncio.wrap_future(fut)


MALFORMED = [  # (method, params, add a valid textDocument?)
    ("textDocument/definition", {"position": {"line": 1, "character": 1}}, False),          # no textDocument
    ("textDocument/definition", "uri-only", False),                                        # params not an object
    ("textDocument/hover", {"position": "line 3"}, True),                                  # wrong type
    ("textDocument/references", {"position": {"line": 1, "character": 1}}, True),          # no context
]


def malformed_params(client, params, with_doc):
    if with_doc:
        return {"textDocument": {"uri": client.org.uri(*CORE)}, **params}
    return params


async def test_server_keeps_answering_after_malformed_requests(client: LanguageClient):
    open_doc(client, *CORE)
    pending = [raw_request(client, m, malformed_params(client, p, d)) for m, p, d in MALFORMED]
    try:
        result = await asyncio.wait_for(definition(client, *CORE, "policy = BO(base", "BO"), timeout=10)
        assert locs(result) == [where(client, *POLICY, "class Backoff", "Backoff")]
    finally:
        for f in pending:
            f.cancel()


async def test_malformed_request_gets_an_lsp_error(client: LanguageClient):
    open_doc(client, *CORE)
    problems = []
    for method, params, with_doc in MALFORMED:
        try:
            result = await asyncio.wait_for(raw_request(client, method, malformed_params(client, params, with_doc)), timeout=5)
        except asyncio.TimeoutError:
            problems.append(f"{method} {params!r}: no response within 5 s")
        except JsonRpcException as e:
            if e.code not in (-32602, -32600):          # InvalidParams / InvalidRequest
                problems.append(f"{method} {params!r}: error code {e.code} ({e})")
        else:
            problems.append(f"{method} {params!r}: a result instead of an error: {result!r}")
    assert problems == []
