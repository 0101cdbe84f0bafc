"""The per-language end-to-end tests' scaffolding (tests/test_lang_*.py): a fixture org
(tests/fixtures/<lang>-org/*) made into git repos and indexed by the real CLI, a pytest-lsp client of
the real `crossnav serve` on an index (once per client preset), and the requests the tests send.

    lang_org = org_fixture("go-org", SESSION_DIR / "go-org.db", remotes=REMOTES.get)
    client = client_fixture(SESSION_DIR / "go-org.db", root="payments-go")

    got = await definition(client, "payments-go", "service/service.go", 'plog.New("run")', "New")
    assert got[0] == where(client, "platform-go", "log/log.go", "func New(", "New")

Expected positions always come from the fixture or real source text (orgutil.find, or an oracle's
code-point columns), never from the index, converted to the units the client negotiated (utf-8 for
the Neovim preset, utf-16 for VS Code). Locations are (uri, line, character) in the server's order.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from crossnav.index import lang
from crossnav.index.lang import Unit
from orgutil import SERVE, SESSION_DIR, TESTS, Org, find, git, index, init_repo, run_cli, to_client_units
from realcode import DownloadFailed

PRESETS = ("neovim", "visual_studio_code")


def acme_remote(name: str) -> str:
    return f"git@github.com:acme/{name}.git"


def build_lang_org(fixture: str, dest: Path, db: Path, remotes=acme_remote) -> Org:
    """tests/fixtures/<fixture>/* copied to `dest`, one git repo each (origin: `remotes(name)`, none
    when that is None or `remotes` is), all indexed into `db` by `crossnav index`."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    repos = {}
    for d in sorted((TESTS / "fixtures" / fixture).iterdir()):
        if d.is_dir():
            shutil.copytree(d, dest / d.name)
            init_repo(dest / d.name, remotes(d.name) if remotes else None)
            repos[d.name] = dest / d.name
    result = index(db, *repos.values())
    assert result.returncode == 0, f"crossnav index failed:\n{result.stdout}\n{result.stderr}"
    heads = {n: git(p, "rev-parse", "HEAD").strip() for n, p in repos.items()}
    return Org(root=dest, db=db, repos=repos, result=result, heads=heads)


def org_fixture(fixture: str, db: Path, remotes=acme_remote):
    """A module-scoped fixture (assign it to `lang_org`): the fixture org, built and indexed once."""
    @pytest.fixture(scope="module")
    def lang_org() -> Org:
        return build_lang_org(fixture, SESSION_DIR / fixture, db, remotes)
    return lang_org


def indexed_real_code(db: Path, fetch, what: str, max_file_kib: int | None = None) -> dict[str, Path]:
    """A module's real code: `fetch()` -> {repo name: folder} (downloads cached), indexed into `db` by
    the real CLI; the module's tests are skipped, saying so, when `what` cannot be downloaded."""
    try:
        repos = fetch()
    except DownloadFailed as e:
        pytest.skip(f"{what} unavailable: {e}")
    size = ("--max-file-size", str(max_file_kib)) if max_file_kib else ()
    r = run_cli("index", "--db", db, *size, *repos.values(), timeout=600)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    return repos


def client_fixture(db: Path, root: str | None = None, org: str = "lang_org", presets=PRESETS):
    """A module-scoped pytest-lsp client of `crossnav serve --db db`, started once per client preset
    (`presets` a single name: no parameter), its workspace the repos of fixture `org` (an Org or a
    {name: path} dict), `root` (default: the first repo) its root folder."""
    single = isinstance(presets, str)

    @pytest_lsp.fixture(scope="module", **({} if single else {"params": list(presets)}),
                        config=ClientServerConfig(server_command=[*SERVE, "--db", str(db)]))
    async def client(request, lsp_client: LanguageClient):
        await start(lsp_client, presets if single else request.param, request.getfixturevalue(org), root)
        yield
        await lsp_client.shutdown_session()
    return client


async def start(client, preset: str, org, root: str | None = None):
    repos = org.repos if isinstance(org, Org) else org
    result = await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(preset),
        root_uri=repos[root or next(iter(repos))].as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=p.as_uri(), name=n) for n, p in repos.items()],
    ))
    client.encoding = result.capabilities.position_encoding or "utf-16"
    client.repos = repos
    client.opened = set()


# ---------------------------------------------------------------------------- positions


def units(client, path: Path, line: int, col: int) -> int:
    """A code-point column of a file's line in the client's position units."""
    return to_client_units(path.read_text(encoding="utf-8", errors="replace").split("\n")[line], col, client.encoding)


def file(client, repo: str, path: str) -> Path:
    return client.repos[repo] / path


def where(client, repo: str, path: str, needle: str, sub: str | None = None, nth: int = 0):
    """(uri, line, character in the client's units) of `sub` in the nth `needle` of a file."""
    p = client.repos[repo] / path
    line, col = find(p, needle, nth, sub)
    return p.as_uri(), line, units(client, p, line, col)


def at(client, path: Path, line: int, col: int):
    """(uri, line, character in the client's units) of a code-point position (an oracle's)."""
    return path.as_uri(), line, units(client, path, line, col)


def open_doc(client, path: Path) -> str:
    """didOpen the file with its text on disk (once per client), as an editor does before asking."""
    uri = path.as_uri()
    if uri not in client.opened:
        client.opened.add(uri)
        lg = lang.for_path(path.name)
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=uri, language_id=lg.NAME if lg else "plaintext", version=1, text=path.read_text(encoding="utf-8"))))
    return uri


def locs(result) -> list:
    """Location | [Location] | [LocationLink] | None -> [(uri, line, character)] in the server's order."""
    if result is None:
        return []
    out = []
    for r in result if isinstance(result, (list, tuple)) else [result]:
        if isinstance(r, types.LocationLink):
            out.append((r.target_uri, r.target_selection_range.start.line, r.target_selection_range.start.character))
        else:
            out.append((r.uri, r.range.start.line, r.range.start.character))
    return out


def hover_text(h) -> str:
    if h is None:
        return ""
    c = h.contents
    return c.value if isinstance(c, types.MarkupContent) else str(c)


# ---------------------------------------------------------------------------- requests at a needle


def _at(client, repo, path, needle, sub, nth):
    """Open the file; its identifier and the position of `sub` in the nth `needle`."""
    uri = open_doc(client, client.repos[repo] / path)
    _, line, ch = where(client, repo, path, needle, sub, nth)
    return types.TextDocumentIdentifier(uri=uri), types.Position(line=line, character=ch)


async def definition(client, repo, path, needle, sub=None, nth=0) -> list:
    doc, pos = _at(client, repo, path, needle, sub, nth)
    return locs(await client.text_document_definition_async(types.DefinitionParams(text_document=doc, position=pos)))


async def references(client, repo, path, needle, sub=None, nth=0, include_declaration=True) -> list:
    doc, pos = _at(client, repo, path, needle, sub, nth)
    return locs(await client.text_document_references_async(types.ReferenceParams(
        text_document=doc, position=pos, context=types.ReferenceContext(include_declaration=include_declaration))))


async def hover(client, repo, path, needle, sub=None, nth=0) -> str:
    doc, pos = _at(client, repo, path, needle, sub, nth)
    return hover_text(await client.text_document_hover_async(types.HoverParams(text_document=doc, position=pos)))


async def symbols(client, query: str) -> list:
    return await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=query)) or []


# ---------------------------------------------------------------------------- requests at an oracle's position


async def definition_at(client, path: Path, line: int, col: int) -> list:
    """Go-to-definition at a code-point position of a file (the file is not opened)."""
    return locs(await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
        position=types.Position(line=line, character=units(client, path, line, col)))))


async def references_at(client, path: Path, line: int, col: int, include_declaration=False) -> list:
    """Find-references at a code-point position of a file (the file is not opened)."""
    return locs(await client.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
        position=types.Position(line=line, character=units(client, path, line, col)),
        context=types.ReferenceContext(include_declaration=include_declaration))))


# ---------------------------------------------------------------------------- extraction speed


def extraction_speed(lg, roots, suffix: str, ctags_language: str) -> tuple[int, str]:
    """extract() of language module `lg` alone (no project) over every `suffix` file under the repo
    roots: (lines, a line saying lines per CPU-second, with universal-ctags' lines per second on the
    same trees beside it when ctags is installed). Printed, not asserted: the machine is shared."""
    files = [f for r in roots for f in sorted(r.rglob("*" + suffix))]
    data = [f.read_bytes() for f in files]
    lines = sum(d.count(b"\n") + 1 for d in data)
    t = time.process_time()
    for f, d in zip(files, data):
        lg.extract(d, Unit(str(f), "/", lg.PREFIX + "x", False, {}))
    dt = time.process_time() - t
    msg = f"{ctags_language} extract: {lines} lines in {dt:.3f} CPU s = {lines / dt:,.0f} lines/s"
    if shutil.which("ctags"):
        t0 = time.perf_counter()
        subprocess.run(["ctags", "-R", f"--languages={ctags_language}", "-f", "/dev/null", *map(str, roots)], check=True)
        msg += f"; ctags {lines / (time.perf_counter() - t0):,.0f} lines/s (wall)"
    return lines, msg
