"""jedi's share of go-to-definition (what needs type inference: `super().print`, attributes of inferred
values) lands in the indexed repos, also when a package of the same name is installed where the server
runs. crossnav's own dependencies (rich, click, jedi, ...) are such packages: a team's fork of one, or the
version the company uses, must win over the copy that happens to sit beside crossnav."""
from __future__ import annotations

import importlib.util
import os
import sys

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, client_capabilities

from orgutil import SERVE, commit_and_index, find, stop_session

INSTALLED = "rich"   # a dependency of crossnav: always installed beside the server

LIB = '''class Console:
    """The platform team's console."""

    def print(self, *objects):
        return objects
'''

APP = '''from rich.console import Console


class Loud(Console):
    def print(self, *objects):
        return super().print(*objects)


def shout(console: Console):
    return console.print("hi")
'''


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    assert importlib.util.find_spec(f"{INSTALLED}.console") is not None, "the premise: rich is installed beside crossnav"
    root = tmp_path_factory.mktemp("inference")
    lib, app = root / "src" / "rich", root / "src" / "app"
    (lib / "rich").mkdir(parents=True)
    (lib / "rich" / "__init__.py").write_text("")
    (lib / "rich" / "console.py").write_text(LIB)
    (app / "app").mkdir(parents=True)
    (app / "app" / "__init__.py").write_text("")
    (app / "app" / "loud.py").write_text(APP)
    return commit_and_index(root / "index.db", lib, app), lib, app


@pytest.mark.asyncio
@pytest.mark.parametrize("env", [{}, {"VIRTUAL_ENV": sys.prefix}], ids=["plain", "venv-active"])
async def test_inferred_definitions_land_in_the_indexed_repo_not_an_installed_copy(org, env):
    db, lib, app = org
    path = app / "app" / "loud.py"
    c = await ClientServerConfig(server_command=[*SERVE, "--db", str(db)], server_env={**os.environ, **env}).start()
    try:
        await c.initialize_session(types.InitializeParams(capabilities=client_capabilities("neovim"),
                                                          root_uri=app.as_uri()))
        c.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=path.as_uri(), language_id="python", version=1, text=APP)))
        want = (lib / "rich" / "console.py").as_uri(), find(lib / "rich" / "console.py", "def print", 0, "print")
        for needle in ("super().print(", "console.print("):
            line, col = find(path, needle, 0, "print")
            result = await c.text_document_definition_async(types.DefinitionParams(
                text_document=types.TextDocumentIdentifier(uri=path.as_uri()), position=types.Position(line=line, character=col)))
            got = [(r.uri, (r.range.start.line, r.range.start.character)) for r in result or []]
            assert got == [want], needle
    finally:
        await stop_session(c)
