"""Helpers for the C# and Ruby end-to-end tests: a fixture org (tests/fixtures/<lang>-org/) made into
git repos and indexed by the real CLI, and the LSP requests the tests send to `crossnav serve`.

Expected positions always come from the fixture or real source text (orgutil.find), never from the index."""
from __future__ import annotations

import shutil
from pathlib import Path

from lsprotocol import types

from orgutil import TESTS, Org, find, git, index, init_repo, to_client_units


def build_lang_org(lang_org: str, dest: Path, db: Path) -> Org:
    """Copy tests/fixtures/<lang_org>/* to dest, one git repo each (remote: github.com/acme/<name>),
    index them all with `crossnav index` into db."""
    src = TESTS / "fixtures" / lang_org
    dest.mkdir(parents=True, exist_ok=True)
    repos = {}
    for d in sorted(src.iterdir()):
        if d.is_dir():
            shutil.copytree(d, dest / d.name)
            init_repo(dest / d.name, f"git@github.com:acme/{d.name}.git")
            repos[d.name] = dest / d.name
    result = index(db, *repos.values())
    assert result.returncode == 0, f"crossnav index failed:\n{result.stdout}\n{result.stderr}"
    heads = {n: git(p, "rev-parse", "HEAD").strip() for n, p in repos.items()}
    return Org(root=dest, db=db, repos=repos, result=result, heads=heads)


async def start(lsp_client, preset: str, org: Org):
    from pytest_lsp import client_capabilities
    result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(preset),
        root_uri=next(iter(org.repos.values())).as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=p.as_uri(), name=n) for n, p in org.repos.items()],
    ))
    lsp_client.encoding = result.capabilities.position_encoding or "utf-16"
    lsp_client.org = org
    lsp_client.opened = set()


def open_doc(client, repo, path, language_id):
    uri = client.org.uri(repo, path)
    if uri not in client.opened:
        client.opened.add(uri)
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=uri, language_id=language_id, version=1, text=client.org.path(repo, path).read_text(encoding="utf-8"))))
    return uri


def where(client, repo, path, needle, sub=None, nth=0):
    """(uri, line, character in the client's units) of `sub` in the nth `needle` of a file."""
    p = client.org.path(repo, path)
    line, col = find(p, needle, nth, sub)
    text = p.read_text(encoding="utf-8").split("\n")[line]
    return client.org.uri(repo, path), line, to_client_units(text, col, client.encoding)


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


def _params(client, repo, path, needle, sub, nth, language_id):
    uri = open_doc(client, repo, path, language_id)
    _, line, ch = where(client, repo, path, needle, sub, nth)
    return uri, types.Position(line=line, character=ch)


async def definition(client, language_id, repo, path, needle, sub=None, nth=0):
    uri, pos = _params(client, repo, path, needle, sub, nth, language_id)
    return await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=pos))


async def references(client, language_id, repo, path, needle, sub=None, nth=0, include_declaration=True):
    uri, pos = _params(client, repo, path, needle, sub, nth, language_id)
    return await client.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=pos,
        context=types.ReferenceContext(include_declaration=include_declaration)))


async def hover(client, language_id, repo, path, needle, sub=None, nth=0) -> str:
    uri, pos = _params(client, repo, path, needle, sub, nth, language_id)
    h = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=pos))
    if h is None:
        return ""
    c = h.contents
    return c.value if hasattr(c, "value") else str(c)


async def symbols(client, query: str):
    res = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=query))
    return [(s.name, s.location.uri, s.location.range.start.line) for s in res or []]


async def definition_at(client, uri: str, line: int, character: int):
    """Go-to-definition at a raw position (the real-code tests: positions found by their oracle)."""
    res = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character)))
    return locs(res)
