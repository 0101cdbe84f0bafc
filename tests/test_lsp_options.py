"""Server settings from initializationOptions: the index path (no --db) and `crossOnly` (true, or a
list of the languages it applies to, from initializationOptions and workspace/didChangeConfiguration)."""
from __future__ import annotations

import contextlib
import shutil

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from orgutil import SERVE, TESTS, find, index, init_repo, stop_session, to_client_units

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


# ---- crossOnly as a list of languages ------------------------------------------------------------

# every reference to payments' compute_delay, from either repo (include_declaration)
ALL_REFS = [
    (POLICY, "def compute_delay"), (POLICY, "return compute_delay("),
    (CORE, "pol.compute_delay(attempt)"), (CORE, "retry.policy.compute_delay("), (FEES, "return compute_delay(attempt)"),
]
OTHER_REPO_REFS = ALL_REFS[:2]          # what a ledger file sees when crossOnly applies to it
ENTRY_USE = (*CORE, "def post(entry: Entry", "Entry")          # defined in the same repo (ledger/models.py)
ENTRY_DEF = ("ledger", "ledger/models.py", "class Entry", "Entry")


@contextlib.asynccontextmanager
async def session(org, init_options: dict, env: dict | None = None):
    """A fresh `crossnav serve` over stdio, initialized with these options (the VS Code preset);
    the index is `org.db` unless the options name another."""
    c = await ClientServerConfig(server_command=[*SERVE], server_env=env).start()
    try:
        result = await c.initialize_session(types.InitializeParams(
            capabilities=client_capabilities("visual_studio_code"), root_uri=next(iter(org.repos.values())).as_uri(),
            initialization_options={"db": str(org.db), **init_options}))
        c.encoding = result.capabilities.position_encoding or "utf-16"
        c.org = org
        yield c
    finally:
        await stop_session(c)


async def fees_refs(c):
    return locs(await request_refs(c, *FEES, "return compute_delay(attempt)", "compute_delay"))


async def entry_definition(c):
    uri, line, ch = where(c, *ENTRY_USE)
    return locs(await c.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=ch))))


def expected(c, refs):
    return sorted(where(c, *path, needle, "compute_delay") for path, needle in refs)


def warnings(c):
    return [m.message for m in c.log_messages if m.type == types.MessageType.Warning]


def configure(c, value):
    c.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"crossnav": {"crossOnly": value}}))


async def test_cross_only_list_naming_the_files_language_filters(org):
    async with session(org, {"crossOnly": ["go", "python"]}) as c:
        assert await fees_refs(c) == expected(c, OTHER_REPO_REFS)
        assert await entry_definition(c) == []           # ledger's own Entry: left to the Python server
        assert not warnings(c)


async def test_cross_only_list_without_the_files_language_does_not_filter(org):
    async with session(org, {"crossOnly": ["go", "rust", "typescript"]}) as c:
        assert await fees_refs(c) == expected(c, ALL_REFS)
        assert await entry_definition(c) == [where(c, *ENTRY_DEF)]
        assert not warnings(c)


async def test_cross_only_false_and_empty_list_do_not_filter(org):
    for value in (False, []):
        async with session(org, {"crossOnly": value}) as c:
            assert await fees_refs(c) == expected(c, ALL_REFS), value
            assert await entry_definition(c) == [where(c, *ENTRY_DEF)], value


@pytest.mark.parametrize("value", ["yes", "python", 1, {"python": True}, ["python", 3]])
async def test_malformed_cross_only_is_ignored_with_a_log_message(org, value):
    async with session(org, {"crossOnly": value}) as c:
        assert await fees_refs(c) == expected(c, ALL_REFS)      # the default (false) stays
        assert [w for w in warnings(c) if "ignoring crossOnly=" in w and "initializationOptions" in w], c.log_messages


async def test_unknown_language_names_are_dropped_the_others_kept(org):
    async with session(org, {"crossOnly": ["klingon", "Python"]}) as c:
        assert await fees_refs(c) == expected(c, OTHER_REPO_REFS)
        assert [w for w in warnings(c) if "unknown language 'klingon'" in w], c.log_messages


async def test_did_change_configuration_switches_between_lists_and_booleans(org):
    async with session(org, {}) as c:
        assert await fees_refs(c) == expected(c, ALL_REFS)         # default: false
        configure(c, ["python"])
        assert await fees_refs(c) == expected(c, OTHER_REPO_REFS)
        configure(c, ["go"])
        assert await fees_refs(c) == expected(c, ALL_REFS)
        configure(c, ["python", "javascript"])
        assert await entry_definition(c) == []
        configure(c, "python")                                       # malformed: the list above stays
        assert await fees_refs(c) == expected(c, OTHER_REPO_REFS)
        assert [w for w in warnings(c) if "workspace/didChangeConfiguration" in w and "ignoring crossOnly='python'" in w]
        configure(c, False)
        assert await fees_refs(c) == expected(c, ALL_REFS)
        configure(c, True)
        assert await fees_refs(c) == expected(c, OTHER_REPO_REFS)
        assert await entry_definition(c) == []
        configure(c, None)                                           # null: the default
        assert await entry_definition(c) == [where(c, *ENTRY_DEF)]


# ---- the same for a Go file: the list is matched against the requesting file's language ----------

class GoOrg:
    def __init__(self, db, repos):
        self.db, self.repos = db, repos

    def path(self, repo, rel):
        return self.repos[repo] / rel

    def uri(self, repo, rel):
        return self.path(repo, rel).as_uri()


@pytest.fixture(scope="module")
def go_org(tmp_path_factory):
    """tests/fixtures/go-org (payments-go uses platform-go) as git repos, indexed by the real CLI."""
    dest = tmp_path_factory.mktemp("go-org")
    repos = {}
    for src in sorted((TESTS / "fixtures" / "go-org").iterdir()):
        shutil.copytree(src, dest / src.name)
        init_repo(dest / src.name)
        repos[src.name] = dest / src.name
    result = index(dest / "go.db", *repos.values())
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return GoOrg(dest / "go.db", repos)


SERVICE_GO = ("payments-go", "service/service.go")


async def go_definition(c, needle, sub):
    uri, line, ch = where(c, *SERVICE_GO, needle, sub)
    c.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="go", version=1, text=c.org.path(*SERVICE_GO).read_text(encoding="utf-8"))))
    return locs(await c.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=ch))))


async def test_cross_only_list_applies_to_go_files_by_their_language(go_org):
    helper = ("payments-go", "service/helpers.go", "func helper(", "helper")     # same repo
    new = ("platform-go", "log/log.go", "func New(", "New")                      # another team's repo
    async with session(go_org, {"crossOnly": ["go"]}) as c:
        assert await go_definition(c, "helper(s.cfg", "helper") == []
        assert where(c, *new) in await go_definition(c, 'plog.New("run")', "New")
        assert all(uri.startswith(go_org.repos["platform-go"].as_uri() + "/")
                   for uri, _, _ in await go_definition(c, 'plog.New("run")', "New"))    # no vendored copy in payments-go
    async with session(go_org, {"crossOnly": ["python"]}) as c:
        assert await go_definition(c, "helper(s.cfg", "helper") == [where(c, *helper)]
        assert not warnings(c)


async def test_references_beyond_the_limit_are_cut_with_a_shown_message(org):
    """A list cut at maxReferences looks complete: the user is told, in the editor, not only in a log.
    Other repos' uses come first (the home repo's are the ones an editor already finds)."""
    async with session(org, {"maxReferences": 2}) as c:
        got = await fees_refs(c)
        declaration = where(c, *POLICY, "def compute_delay", "compute_delay")
        ledger = c.org.repos["ledger"].as_uri() + "/"
        uses = [g for g in got if g != declaration]
        assert declaration in got and len(uses) == 2 and all(u[0].startswith(ledger) for u in uses), got
        assert set(uses) < set(expected(c, ALL_REFS))
        shown = [m.message for m in c.messages if m.type == types.MessageType.Warning]
        assert shown == ["crossnav: more than 2 references to payments.retry.policy.compute_delay; showing the first 2, "
                         "other repos' first (raise the maxReferences setting for more)"]
    async with session(org, {}) as c:
        assert await fees_refs(c) == expected(c, ALL_REFS)
        assert not c.messages


@pytest.mark.parametrize("options", [{"maxReferences": -1}, {"maxReferences": 0}, {"maxReferences": "many"},
                                     {"maxSymbols": 0}, {"jediBudget": -3}, {"maxReferences": True}])
async def test_settings_out_of_range_keep_their_defaults(org, options):
    """`maxReferences: -1` listed one location, `maxSymbols: 0` no symbols at all."""
    async with session(org, options) as c:
        assert await fees_refs(c) == expected(c, ALL_REFS)
        symbols = await c.workspace_symbol_async(types.WorkspaceSymbolParams(query="compute_delay"))
        assert symbols and any(s.name == "compute_delay" for s in symbols)
        key = next(iter(options))
        assert [w for w in warnings(c) if f"ignoring initializationOptions.{key}=" in w], c.log_messages


async def test_a_db_option_that_is_not_a_path_is_ignored(org):
    """`initializationOptions.db: 42` was opened as a file named "42"; now CROSSNAV_DB stands and the log says why."""
    async with session(org, {"db": 42}, env={"CROSSNAV_DB": str(org.db)}) as c:
        assert await fees_refs(c) == expected(c, ALL_REFS)
        assert [w for w in warnings(c) if "ignoring initializationOptions.db=42" in w], c.log_messages
