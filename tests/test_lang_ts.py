"""TypeScript and JavaScript: the language module on its own, the fixture org (tests/fixtures/ts-org:
four repos of three teams, TS/TSX/CommonJS) indexed by the real CLI and queried through the real
server over stdio, and real npm packages (each its own repo) checked against an independent oracle
(tests/jsoracle.py: package.json exports and export chains by regular expressions)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import tree_sitter_javascript
import tree_sitter_typescript
from lsprotocol import types
from pytest_lsp import LanguageClient
from tree_sitter import Language, Parser

import jsoracle
from langorg import (client_fixture, definition, definition_at, hover, locs, open_doc, org_fixture, references,
                     references_at, symbols, where)
from npmsrc import npm_repo
from orgutil import SESSION_DIR, TESTS, run_cli, to_client_units
from realcode import DownloadFailed

from crossnav.index.lang import Unit, for_path
from crossnav.index.lang import javascript, typescript

ASYNC = pytest.mark.asyncio(loop_scope="module")

TS_ORG = TESTS / "fixtures" / "ts-org"
TS_DB = SESSION_DIR / "ts-org.db"
TS_REAL_DB = SESSION_DIR / "ts-real.db"
REMOTES = {
    "http-client": "git@github.com:acme/http-client.git",
    "design-system": "https://gitlab.example.com/acme/ui/design-system.git",
    "legacy-utils": "git@github.com:acme/legacy-utils.git",
    "checkout-web": "https://github.com/acme/checkout-web.git",
}
# real code: (npm name, version, repo name); consumers import from providers
NPM = [
    ("@tanstack/query-core", "5.90.2", "query-core"),
    ("@tanstack/react-query", "5.90.2", "react-query"),
    ("@trpc/server", "11.0.0", "trpc-server"),
    ("@trpc/client", "11.0.0", "trpc-client"),
    ("express", "5.1.0", "express"),
    ("router", "2.2.0", "router"),
    ("body-parser", "2.2.0", "body-parser"),
    ("type-is", "2.0.1", "type-is"),
    ("on-finished", "2.4.1", "on-finished"),
    ("http-errors", "2.0.0", "http-errors"),
    ("content-type", "1.0.5", "content-type"),
]
CJS = ("router", "body-parser", "type-is", "on-finished", "http-errors", "content-type")


def extract_file(root: Path, rel: str):
    lg = for_path(rel)
    project = lg.project(str(root), [rel])
    module, is_pkg = lg.module_of(project, rel)
    return lg.extract((root / rel).read_bytes(), Unit(rel, str(root), module, is_pkg, project))


# ---------------------------------------------------------------------------- the module on its own


def test_language_modules_share_one_namespace():
    assert typescript.PREFIX == javascript.PREFIX == "js:"
    assert for_path("src/a.tsx") is typescript and for_path("types/a.d.ts") is typescript
    assert for_path("lib/a.cjs") is javascript and for_path("a.mjs") is javascript
    assert typescript.extract is javascript.extract        # one implementation


def test_project_maps_built_entry_points_to_sources():
    root = TS_ORG / "http-client"
    p = typescript.project(str(root), [])
    assert p["packages"] == [("js:@acme/http-client", "", "package.json")]
    # dist/ is not in the repo: dist/index.d.ts -> src/index.ts, dist/utils/index.js -> src/utils/index.ts
    assert p["entries"]["js:@acme/http-client/src/index"] == ["js:@acme/http-client"]
    assert p["entries"]["js:@acme/http-client/src/utils/index"] == ["js:@acme/http-client/utils"]
    assert typescript.module_of(p, "src/index.ts") == ("js:@acme/http-client/src/index", True)
    assert typescript.module_of(p, "src/utils/backoff.ts") == ("js:@acme/http-client/src/utils/backoff", False)
    # tsconfig.json with comments and trailing commas: paths resolved against baseUrl
    assert p["tsconfig"][""]["paths"] == [("@/*", ["src/*"])]


def test_a_bundle_named_after_its_package_maps_to_the_source_index(tmp_path):
    """redux 5 ships `dist/redux.d.ts` and `dist/cjs/redux.cjs`, built from `src/index.ts`: the stem
    maps to no source, so navigation stopped in the bundled .d.ts although src/ ships too."""
    import json
    for rel in ("src/index.ts", "src/types/store.ts", "dist/redux.d.ts", "dist/cjs/redux.cjs"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("export {}\n")
    (tmp_path / "package.json").write_text(json.dumps({
        "name": "redux", "main": "dist/cjs/redux.cjs", "types": "dist/redux.d.ts",
        "exports": {"./package.json": "./package.json",
                    ".": {"types": "./dist/redux.d.ts", "default": "./dist/cjs/redux.cjs"}}}))
    files = ["package.json", "src/index.ts", "src/types/store.ts", "dist/redux.d.ts", "dist/cjs/redux.cjs"]
    assert typescript.project(str(tmp_path), files)["entries"] == {"js:redux/src/index": ["js:redux"]}
    # a JavaScript package whose entry is its own source keeps it
    koa = tmp_path / "koa"
    (koa / "lib").mkdir(parents=True)
    (koa / "package.json").write_text(json.dumps({"name": "koa", "main": "lib/application.js"}))
    (koa / "lib" / "application.js").write_text("module.exports = class Application {}\n")
    assert typescript.project(str(koa), ["package.json", "lib/application.js"])["entries"] == \
        {"js:koa/lib/application": ["js:koa"]}


def test_project_of_a_monorepo():
    root = TS_ORG / "design-system"
    p = typescript.project(str(root), [])
    assert p["packages"] == [("js:@acme/button", "packages/button", "package.json"),
                             ("js:@acme/theme", "packages/theme", "package.json"),
                             ("js:design-system", "", "package.json")]
    assert typescript.module_of(p, "packages/button/src/Button.tsx") == ("js:@acme/button/src/Button", False)
    assert typescript.module_of(p, "packages/button/src/index.ts") == ("js:@acme/button/src/index", True)
    assert typescript.module_of(p, "packages/theme/src/index.ts") == ("js:@acme/theme/src/index", True)


def test_reexports_become_aliases():
    facts = extract_file(TS_ORG / "http-client", "src/index.ts")
    m = "js:@acme/http-client/src"
    aliases = {(a, t, s) for a, t, s, _ in facts.aliases}
    assert aliases == {
        (f"{m}/index", f"{m}/client", 1),                                     # export * from './client'
        (f"{m}/index.Retry", f"{m}/retry.RetryPolicy", 0),                    # export {RetryPolicy as Retry}
        (f"{m}/index.RetryOptions", f"{m}/retry.RetryOptions", 0),
        (f"{m}/index.defaultConfig", f"{m}/config.default", 0),
        (f"{m}/index.Transport", f"{m}/transport.Transport", 0),
        (f"{m}/index.Level", f"{m}/levels.Level", 0),                         # '@/levels' by tsconfig paths
        ("js:@acme/http-client", f"{m}/index", 0),                            # the package entry
    }
    defs = {d[0]: d for d in facts.defs}
    assert defs[f"{m}/index"][2] == "module" and defs[f"{m}/index"][12] == "Public entry point of the HTTP client."


def test_classes_members_docs_and_types():
    facts = extract_file(TS_ORG / "http-client", "src/client.ts")
    m = "js:@acme/http-client/src/client"
    defs = {d[0]: d for d in facts.defs}
    cls = defs[f"{m}.Client"]
    assert cls[2] == "class" and cls[11] == "export class Client extends BaseClient implements Transport"
    assert cls[12] == "HTTP client with retries and connection reuse."
    assert (cls[8], cls[9], cls[10]) == (9, 13, 19)
    assert defs[f"{m}.Client.get"][2:3] == ("method",) and defs[f"{m}.Client.get"][12] == "Send a GET request."
    assert defs[f"{m}.Client.retry"][2] == "field" and defs[f"{m}.Client.retry"][13] == "js:@acme/http-client/src/retry.RetryPolicy()"
    assert defs[f"{m}.Client.baseUrl"][2] == "field"                 # a constructor parameter property
    assert defs[f"{m}.createClient"][13] == f"{m}.Client()"          # the return type
    assert set(facts.bases) == {(f"{m}.Client", "js:@acme/http-client/src/base.BaseClient"),
                                (f"{m}.Client", "js:@acme/http-client/src/transport.Transport"),
                                (f"{m}.Options", f"{m}.RequestOptions")}         # type Options = RequestOptions & {…}
    assert defs[f"{m}.Options.tag"][2] == "property" and defs[f"{m}.RequestOptions.timeoutMs"][2] == "property"
    refs = {(r[3], r[4], r[5]) for r in facts.refs}
    assert ("attempt", f"{m}.Client.retry.attempt", "attr") in refs     # this.retry.attempt()
    assert ("RetryPolicy", "js:@acme/http-client/src/retry.RetryPolicy", "name") in refs


def test_commonjs_exports():
    root = TS_ORG / "legacy-utils"
    index = extract_file(root, "lib/index.js")
    m = "js:legacy-utils/lib"
    assert {(a, t, s) for a, t, s, _ in index.aliases} == {
        (f"{m}/index.formatMoney", f"{m}/format.formatMoney", 0),
        (f"{m}/index.Ledger", f"{m}/ledger.default", 0),
        (f"{m}/index.default", f"{m}/index", 0),
        ("js:legacy-utils", f"{m}/index", 0)}
    assert [d[0] for d in index.defs] == [f"{m}/index", f"{m}/index.parseMoney"]
    ledger = extract_file(root, "lib/ledger.js")
    defs = {d[0]: d[2] for d in ledger.defs}
    # a function with prototype methods is a class
    assert defs == {f"{m}/ledger": "module", f"{m}/ledger.Ledger": "class",
                    f"{m}/ledger.Ledger.add": "method", f"{m}/ledger.Ledger.total": "method"}
    assert {(a, t, s) for a, t, s, _ in ledger.aliases} == {
        (f"{m}/ledger", f"{m}/ledger.Ledger", 1), (f"{m}/ledger.default", f"{m}/ledger.Ledger", 0)}


def test_other_import_and_export_forms():
    src = "\n".join([
        "import fs = require('node:fs')",
        "import Def, * as all from '@org/pkg/sub'",
        "const { join: pathJoin } = require('path')",
        "const helper = require('./helper').helper",
        "export * as tools from './tools'",
        "export { default as Main } from './main'",
        "export = fs.readFile",
        "fs.stat(Def, all.x, pathJoin, helper)",
    ]).encode()
    facts = typescript.extract(src, Unit("src/mod.ts", "", "js:app/src/mod", False, {"repo": "app"}))
    m = "js:app/src"
    assert {(a, t, s) for a, t, s, _ in facts.aliases} == {
        (f"{m}/mod.tools", f"{m}/tools", 0), (f"{m}/mod.Main", f"{m}/main.default", 0),
        (f"{m}/mod", "js:node:fs.readFile", 1), (f"{m}/mod.default", "js:node:fs.readFile", 0)}    # export =
    uses = [(r[3], r[4]) for r in facts.refs if r[0] == 7]
    assert uses == [("fs", "js:node:fs.default"), ("stat", "js:node:fs.stat"), ("Def", "js:@org/pkg/sub.default"),
                    ("all", "js:@org/pkg/sub"), ("x", "js:@org/pkg/sub.x"), ("pathJoin", "js:path.join"),
                    ("helper", f"{m}/helper.helper")]
    assert facts.imports == {"js:node:fs", "js:@org/pkg", "js:path"}


def test_locals_shadow_imports():
    lines = ["import { Client } from 'pkg'",
             "function f(Client) { return Client }",
             "function g() { const c = new Client(); c.get(); let Client2 = Client; return Client2 }"]
    facts = typescript.extract("\n".join(lines).encode(), Unit("a.ts", "", "js:app/a", False, {}))
    uses = sorted((r[0], r[1], r[4]) for r in facts.refs if r[5] != "import")
    g = lines[2]
    assert uses == [(2, g.index("Client()"), "js:pkg.Client"), (2, g.index("get"), "js:pkg.Client().get"),
                    (2, g.index("= Client;") + 2, "js:pkg.Client")]


def test_a_json_require_is_data_not_a_module():
    """statuses: `var codes = require('./codes.json'); status.message = codes`. The member was an alias
    into `codes.json`, where nothing is indexed, so definition fell to a name search that landed in
    another repo (koa's `get message()`). Now it follows the value, as for any other variable."""
    src = (b"var codes = require('./codes.json')\n"
           b"module.exports = status\n"
           b"function status () {}\n"
           b"status.message = codes\n")
    facts = javascript.extract(src, Unit("index.js", "", "js:statuses/index", True, {}))
    aliases = {a[0]: a[1] for a in facts.aliases}
    assert aliases["js:statuses/index.status.message"] == "js:statuses/index.codes"
    assert "js:statuses/index.codes" in {d[0] for d in facts.defs}
    assert not any("json" in t for t in aliases.values())


def test_module_augmentation_does_not_take_over_the_augmented_name():
    """react-router's `declare module '@tanstack/history' { interface HistoryState {...} }` (a module
    file: it imports) merges fields into history's interface. It was defined as
    js:@tanstack/history.HistoryState itself, so every import of HistoryState, also in router-core,
    which does not depend on react-router, landed in react-router. A script file's ambient
    `declare module 'x'` still defines x's members."""
    aug = (b"import type { ParsedLocation } from '@tanstack/router-core'\n"
           b"declare module '@tanstack/history' {\n  interface HistoryState {\n    __tempKey?: string\n  }\n}\n")
    facts = typescript.extract(aug, Unit("src/history.ts", "", "js:@tanstack/react-router/src/history", False, {}))
    quals = {d[0] for d in facts.defs}
    assert "js:@tanstack/history.HistoryState" not in quals
    assert "js:@tanstack/react-router/src/history#@tanstack/history.HistoryState" in quals
    ambient = b"declare module 'left-pad' {\n  export default function leftPad(s: string, n: number): string\n}\n"
    facts = typescript.extract(ambient, Unit("types/left-pad.d.ts", "", "js:app/types/left-pad", False, {}))
    assert "js:left-pad.default" in {d[0] for d in facts.defs} or "js:left-pad.leftPad" in {d[0] for d in facts.defs}


def test_broken_and_minified_code_does_not_stop_extraction():
    src = (b"export function before(): number { return 1 }\n"
           b"export class A {\n  m(: string) { }\n}\n"
           b"export function after(): number { return 2 }\n")
    facts = typescript.extract(src, Unit("broken.ts", "", "js:app/broken", False, {}))
    assert facts.errors > 0
    assert {"js:app/broken.before", "js:app/broken.A", "js:app/broken.A.m", "js:app/broken.after"} <= {d[0] for d in facts.defs}
    minified = b"var x=function(){" + b"a.b(c);" * 20000 + b"};module.exports={x:x,y:function(){}}\n"
    facts = javascript.extract(minified, Unit("min.js", "", "js:app/min", False, {}))
    assert {d[0] for d in facts.defs} == {"js:app/min", "js:app/min.x", "js:app/min.y"}


def test_generic_call_signatures_on_their_own_lines_keep_the_file():
    """redux-thunk's ThunkDispatch: call signatures separated by line breaks only, the next starting
    with `<`. TypeScript accepts it; tree-sitter-typescript 0.23 made the whole file one ERROR, so
    nothing in it was defined and every import of it fell through to the bundled .d.ts."""
    src = (b"export interface ThunkDispatch<S, E> {\n"
           b"  <R>(thunk: (s: S) => R): R\n"
           b"\n"
           b"  // the base overload\n"
           b"  <A extends string>(action: A): A\n"
           b"}\n"
           b"\n"
           b"export type ThunkAction<R> = (d: ThunkDispatch<R, 1>) => R\n")
    facts = typescript.extract(src, Unit("src/types.ts", "", "js:redux-thunk/src/types", False, {}))
    assert facts.errors == 0
    names = {d[0]: (d[8], d[9]) for d in facts.defs}   # identifier row, column: unchanged by the repair
    assert names["js:redux-thunk/src/types.ThunkDispatch"] == (0, 17)
    assert names["js:redux-thunk/src/types.ThunkAction"] == (7, 12)


# ---------------------------------------------------------------------------- the fixture org, end to end


lang_org = org_fixture("ts-org", TS_DB, remotes=REMOTES.get)
client = client_fixture(TS_DB, root="checkout-web")


API = ("checkout-web", "src/api.ts")
CHECKOUT = ("checkout-web", "src/Checkout.tsx")
MONEY = ("checkout-web", "src/money.js")
CLIENT = ("http-client", "src/client.ts")

DEFINITIONS = [
    # (from: repo, path, needle, sub) -> (to: repo, path, needle, sub)
    ((*API, "import { Client,", "Client"), (*CLIENT, "export class Client", "Client")),            # export * chain
    ((*API, "extends Client", "Client"), (*CLIENT, "export class Client", "Client")),
    ((*API, "new Retry(2)", "Retry"), ("http-client", "src/retry.ts", "class RetryPolicy", "RetryPolicy")),  # renamed re-export
    ((*API, "+ defaultConfig.", "defaultConfig"), ("http-client", "src/config.ts", "const defaults", "defaults")),  # default
    ((*API, "defaultConfig.timeoutMs", "timeoutMs"), ("http-client", "src/config.ts", "timeoutMs: 5000", "timeoutMs")),
    ((*API, "= backoff(3)", "backoff"), ("http-client", "src/utils/backoff.ts", "function backoff", "backoff")),  # subpath export
    ((*API, "Level.Info", "Level"), ("http-client", "src/levels.ts", "enum Level", "Level")),    # tsconfig paths
    ((*API, "Level.Info", "Info"), ("http-client", "src/levels.ts", "Info = 2", "Info")),
    ((*API, "new http.Client(", "Client"), (*CLIENT, "export class Client", "Client")),          # namespace import
    ((*API, "(): http.Client", "Client"), (*CLIENT, "export class Client", "Client")),
    ((*API, "client.close()", "close"), ("http-client", "src/base.ts", "close(): void", "close")),  # return type + base
    ((*API, "other.get(", "get"), (*CLIENT, "async get(", "get")),                               # annotated local
    ((*API, "this.get('/cart')", "get"), (*CLIENT, "async get(", "get")),                         # inherited member
    ((*API, "this.close()", "close"), ("http-client", "src/base.ts", "close(): void", "close")),
    ((*API, "options.timeoutMs", "timeoutMs"), (*CLIENT, "timeoutMs: number", "timeoutMs")),    # type alias members
    ((*API, "options.tag", "tag"), (*CLIENT, "tag?: string", "tag")),                          # intersection type
    ((*CHECKOUT, "<Button label", "Button"), ("design-system", "packages/button/src/Button.tsx", "function Button", "Button")),
    ((*CHECKOUT, "<Card title", "Card"), ("design-system", "packages/button/src/Card.tsx", "const Card", "Card")),
    ((*CHECKOUT, "colors.danger", "danger"), ("design-system", "packages/theme/src/index.ts", "danger: '#f30'", "danger")),
    ((*CHECKOUT, "api.get(", "get"), (*CLIENT, "async get(", "get")),                             # via makeApi(): http.Client
    ((*CHECKOUT, "makeApi()", "makeApi"), (*API, "function makeApi", "makeApi")),                 # relative import
    ((*MONEY, "return formatMoney(", "formatMoney"), ("legacy-utils", "lib/format.js", "function formatMoney", "formatMoney")),
    ((*MONEY, "new Ledger()", "Ledger"), ("legacy-utils", "lib/ledger.js", "function Ledger", "Ledger")),
    ((*MONEY, "ledger.add(", "add"), ("legacy-utils", "lib/ledger.js", "prototype.add", "add")),
    ((*MONEY, "utils.parseMoney", "parseMoney"), ("legacy-utils", "lib/index.js", "exports.parseMoney", "parseMoney")),
    (("design-system", "packages/button/src/Button.tsx", "colors.primary", "colors"),            # workspace package
     ("design-system", "packages/theme/src/index.ts", "const colors", "colors")),
    ((*CLIENT, "new RetryPolicy(3)", "RetryPolicy"), ("http-client", "src/retry.ts", "class RetryPolicy", "RetryPolicy")),
]


@ASYNC
@pytest.mark.parametrize("case", DEFINITIONS, ids=lambda c: f"{c[0][1]}:{c[0][3]}")
async def test_definition_across_repos(client: LanguageClient, case):
    (frm, to) = case
    assert await definition(client, *frm) == [where(client, *to)]


@ASYNC
async def test_definition_from_an_unsaved_buffer(client: LanguageClient):
    """A buffer that differs from the indexed file is extracted live (relative imports read from disk)."""
    path = client.repos["checkout-web"] / "src" / "Checkout.tsx"
    text = "// edited, not saved\nimport { Level } from '@acme/http-client'\n" + path.read_text(encoding="utf-8") + \
        "\nexport const lvl = Level.Debug\n"
    uri = path.with_name("Checkout.draft.tsx").as_uri()   # a new, unsaved file: the other tests see Checkout.tsx as indexed
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="typescriptreact", version=1, text=text)))
    lines = text.split("\n")
    for needle, sub, target in (("makeApi()", "makeApi", where(client, *API, "function makeApi", "makeApi")),
                                ("Level.Debug", "Debug", where(client, "http-client", "src/levels.ts", "Debug,", "Debug"))):
        line = next(i for i, ln in enumerate(lines) if needle in ln)
        col = lines[line].index(needle) + needle.index(sub)
        got = locs(await client.text_document_definition_async(types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=to_client_units(lines[line], col, client.encoding)))))
        assert got == [target], needle


@ASYNC
async def test_references_of_a_class_reach_other_repos(client: LanguageClient):
    got = set(await references(client, *CLIENT, "export class Client", "Client", include_declaration=False))
    in_checkout = {g for g in got if g[0].startswith(client.repos["checkout-web"].as_uri() + "/")}
    assert in_checkout == {
        where(client, *API, "import { Client,", "Client"),
        where(client, *API, "extends Client", "Client"),
        where(client, *API, "(): http.Client", "Client"),
        where(client, *API, "other: Client", "Client"),
        where(client, *API, "new http.Client(", "Client"),
    }
    assert where(client, *CLIENT, "string): Client {", "Client") in got             # its own repo too


@ASYNC
async def test_references_of_a_method_include_unknown_receivers(client: LanguageClient):
    got = sorted(await references(client, *CLIENT, "  send(method", "send", include_declaration=False))
    assert got == sorted([where(client, *CLIENT, "this.send(", "send"),                   # resolved
                          where(client, *API, "anyClient.send(", "send")])               # `any`: by name, in a file importing the package


@ASYNC
async def test_references_of_a_commonjs_method(client: LanguageClient):
    got = sorted(await references(client, "legacy-utils", "lib/ledger.js", "prototype.add", "add", include_declaration=False))
    assert got == [where(client, *MONEY, "ledger.add(", "add")]


@ASYNC
async def test_hover_signature_doc_and_owner(client: LanguageClient):
    text = await hover(client, *API, "extends Client", "Client")
    assert "export class Client extends BaseClient implements Transport" in text
    assert "```typescript" in text
    assert "HTTP client with retries and connection reuse." in text
    assert "Requests go through" not in text                    # first paragraph only
    assert "@acme/platform" in text and ".github/CODEOWNERS" in text
    text = await hover(client, *API, "new Retry(2)", "Retry")
    assert "How many times to retry, and how long to wait." in text
    assert "@acme/resilience" in text and "line 2" in text      # the /src/retry.ts rule
    text = await hover(client, *MONEY, "return formatMoney(", "formatMoney")
    assert "function formatMoney (cents, currency)" in text and "```javascript" in text
    assert "Format cents as a money string." in text


@ASYNC
async def test_workspace_symbols(client: LanguageClient):
    result = await symbols(client, "RetryPolicy")
    assert result and result[0].name == "RetryPolicy" and result[0].kind == types.SymbolKind.Class
    first = result[0]
    assert (first.location.uri, first.location.range.start.line, first.location.range.start.character) == \
        where(client, "http-client", "src/retry.ts", "class RetryPolicy", "RetryPolicy")
    assert "http-client" in first.container_name
    result = await symbols(client, "lang:ts kind:interface Props")
    assert [s.name for s in result] == ["ButtonProps"]
    result = await symbols(client, "lang:js Ledger")
    assert [s.name for s in result][:1] == ["Ledger"]


@ASYNC
async def test_document_symbols_nest_members(client: LanguageClient):
    uri = open_doc(client, client.repos[CLIENT[0]] / CLIENT[1])
    result = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    flat = {}

    def walk(items, depth):
        for s in items or []:
            flat[s.name] = (s.kind, depth)
            walk(getattr(s, "children", None), depth + 1)
    walk(result, 0)
    assert flat["Client"][0] == types.SymbolKind.Class
    assert flat["get"][1] == flat["Client"][1] + 1


# ---------------------------------------------------------------------------- real npm packages


@pytest.fixture(scope="module")
def npm_repos() -> dict[str, Path]:
    try:
        return {repo: npm_repo(name, version, repo) for name, version, repo in NPM}
    except DownloadFailed as e:
        pytest.skip(f"npm packages unavailable (no network?): {e}")


@pytest.fixture(scope="module")
def npm_index(npm_repos) -> dict[str, Path]:
    """The npm repos, indexed into TS_REAL_DB."""
    r = run_cli("index", "--db", TS_REAL_DB, *npm_repos.values(), timeout=600)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    return npm_repos


def _sources(root: Path, suffixes) -> list[Path]:
    return sorted(p for p in (root / "src").rglob("*") if p.suffix in suffixes and p.is_file())


@pytest.fixture(scope="module")
def oracle(npm_repos):
    pkgs = jsoracle.Packages({name: npm_repos[repo] for name, _, repo in NPM})
    js_consumers = [p for r in ("express", "router", "body-parser") for p in sorted(npm_repos[r].rglob("*.js"))
                    if ".git" not in p.parts]
    return {
        "react-query -> query-core": jsoracle.es_import_cases(
            _sources(npm_repos["react-query"], (".ts", ".tsx")), pkgs, "@tanstack/query-core"),
        "trpc-client -> trpc-server": jsoracle.es_import_cases(
            _sources(npm_repos["trpc-client"], (".ts", ".tsx")), pkgs, "@trpc/server"),
        "express/router/body-parser -> CommonJS deps": jsoracle.cjs_require_cases(js_consumers, pkgs, CJS),
    }


real_client = client_fixture(TS_REAL_DB, root="react-query", org="npm_index")


async def _goto(client, path: Path, line: int, col: int):
    open_doc(client, path)
    got = sorted(await definition_at(client, path, line, col))
    return (got[0][0], got[0][1]) if got else None


def test_oracle_found_the_cross_package_uses(oracle):
    for pair, cases in oracle.items():
        placed = [c for c in cases if c.expected]
        assert len(placed) >= 0.98 * len(cases), (pair, [(c.file.name, c.line, c.name) for c in cases if not c.expected])
    assert len(oracle["react-query -> query-core"]) >= 300
    assert len(oracle["trpc-client -> trpc-server"]) >= 200
    assert len(oracle["express/router/body-parser -> CommonJS deps"]) >= 25
    names = {c.name for c in oracle["react-query -> query-core"]}
    assert {"QueryClient", "QueryObserver", "notifyManager", "hydrate"} <= names


@ASYNC
async def test_real_cross_repo_definitions(real_client: LanguageClient, oracle):
    lines = []
    for pair, cases in oracle.items():
        cases = [c for c in cases if c.expected]
        wrong = []
        for c in cases:
            got = await _goto(real_client, c.file, c.line, c.col)
            if got not in {(p.as_uri(), ln) for p, ln in c.expected}:
                wrong.append(f"  {c.file.name}:{c.line + 1}:{c.col} {c.name}: got {got}, expected "
                             f"{sorted((p.name, ln + 1) for p, ln in c.expected)}")
        ok = len(cases) - len(wrong)
        lines.append((pair, ok, len(cases), wrong))
    print("\ncross-repo go-to-definition against the oracle:")
    for pair, ok, n, wrong in lines:
        print(f"{pair}: {ok}/{n} = {ok / n:.1%}", *wrong[:20], sep="\n")
    for pair, ok, n, wrong in lines:
        assert ok / n >= 0.95, f"{pair}: {ok}/{n}\n" + "\n".join(wrong)


@ASYNC
async def test_real_references_reach_the_consumer(real_client: LanguageClient, npm_repos):
    core = npm_repos["query-core"] / "src" / "queryClient.ts"
    text = core.read_text(encoding="utf-8")
    line = next(i for i, ln in enumerate(text.split("\n")) if ln.startswith("export class QueryClient"))
    open_doc(real_client, core)
    got = {(uri, ln) for uri, ln, _ in await references_at(real_client, core, line, len("export class "))}
    # every import of QueryClient from query-core in react-query's sources is among them
    rq = npm_repos["react-query"] / "src"
    expected = set()
    for f in _sources(npm_repos["react-query"], (".ts", ".tsx")):
        code = jsoracle.code_of(f.read_text(encoding="utf-8"))
        for m in jsoracle.re.finditer(r"import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*'@tanstack/query-core'", code):
            for s in jsoracle.re.finditer(r"\bQueryClient\b(?!\w)", m.group(1)):
                expected.add((f.as_uri(), jsoracle.line_col(code, m.start(1) + s.start())[0]))
    assert len(expected) >= 5
    assert expected <= got, sorted(expected - got)
    assert any(u.startswith(rq.as_uri()) and "QueryClientProvider" in u for u, _ in got)
    # CommonJS: body-parser's json() is used by express
    jsf = npm_repos["body-parser"] / "lib" / "types" / "json.js"
    jtext = jsf.read_text(encoding="utf-8")
    jline = next(i for i, ln in enumerate(jtext.split("\n")) if ln.startswith("function json"))
    open_doc(real_client, jsf)
    result = await references_at(real_client, jsf, jline, len("function "))
    express = npm_repos["express"] / "lib" / "express.js"
    eline = next(i for i, ln in enumerate(express.read_text(encoding="utf-8").split("\n"))
                 if ln.startswith("exports.json = bodyParser.json"))
    assert (express.as_uri(), eline) in {(uri, ln) for uri, ln, _ in result}


def test_real_code_extraction_speed(npm_repos, capsys):
    """Lines per CPU-second of extract() on the real sources (printed beside ctags, not asserted:
    the machine is shared)."""
    jobs = []
    for repo in npm_repos.values():
        paths = [p.relative_to(repo).as_posix() for p in repo.rglob("*")
                 if p.is_file() and for_path(p.name) in (typescript, javascript) and ".git" not in p.parts]
        proj = typescript.project(str(repo), paths)
        for rel in paths:
            module, is_pkg = typescript.module_of(proj, rel)
            jobs.append(((repo / rel).read_bytes(), Unit(rel, str(repo), module, is_pkg, proj)))
    lines = sum(src.count(b"\n") + 1 for src, _ in jobs)
    best = None
    for _ in range(3):
        t0 = time.process_time()
        facts = [typescript.extract(src, unit) for src, unit in jobs]
        dt = time.process_time() - t0
        best = dt if best is None else min(best, dt)
    with capsys.disabled():
        print(f"\nextract(): {len(jobs)} files, {lines} lines, {best:.2f} CPU-s, {lines / best:,.0f} lines/s")
    assert lines > 50_000
    # errors are the parser's only: no statement was skipped for a shape the extractor did not expect
    grammars = {"ts": Language(tree_sitter_typescript.language_typescript()),
                "tsx": Language(tree_sitter_typescript.language_tsx()),
                "js": Language(tree_sitter_javascript.language())}
    for (src, unit), f in zip(jobs, facts):
        g = "tsx" if unit.path.endswith(".tsx") else "ts" if unit.path.endswith((".ts", ".mts", ".cts")) else "js"
        if f.errors:
            assert Parser(grammars[g]).parse(src).root_node.has_error, unit.path
