"""Rust: crates from Cargo.toml, one file's facts, and navigation across repos end to end.

(a) project()/module_of()/extract() on small inputs written for each rule; (b) the fixture org
tests/fixtures/rust-org (geo-core, and the render workspace of another team) indexed by the real
CLI and queried through `crossnav serve` over stdio with both client presets; (c) real, unmodified
Debian crates (serde_json, serde, itoa, ryu, memchr; each its own repo), with go-to-definition from
serde_json into its dependencies checked against tests/rustoracle.py, which reads the crates' text by
Rust's module rules and never looks at crossnav's index.
"""
from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

import rustoracle
from crossnav.index.lang import Unit, rust
from debsrc import deb_repo
from orgutil import SERVE, SESSION_DIR, TESTS, find, init_repo, run_cli, to_client_units
from realcode import DownloadFailed

FIXTURES = TESTS / "fixtures" / "rust-org"
ORG_DB = SESSION_DIR / "rust-org.db"
REAL_DB = SESSION_DIR / "rust-real.db"
REMOTES = {"geo-core": "git@github.com:acme/geo-core.git", "render": "https://github.com/acme/render.git"}
CRATES = {   # Debian package -> (folder in the .deb, repo name)
    "librust-serde-json-dev": ("usr/share/cargo/registry/serde_json-*", "serde_json"),
    "librust-serde-dev": ("usr/share/cargo/registry/serde-1*", "serde"),
    "librust-itoa-dev": ("usr/share/cargo/registry/itoa-*", "itoa"),
    "librust-ryu-dev": ("usr/share/cargo/registry/ryu-*", "ryu"),
    "librust-memchr-dev": ("usr/share/cargo/registry/memchr-*", "memchr"),
}
ASYNC = pytest.mark.asyncio(loop_scope="module")


def write(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def facts_of(src: str, module="rust:demo", path="src/x.rs", project=None):
    return rust.extract(src.encode(), Unit(path, "/nowhere", module, False, project or {}))


def targets(facts) -> dict:
    """name -> [targets] of the file's uses, in text order."""
    out: dict = {}
    for r in sorted(facts.refs):
        out.setdefault(r[3], []).append(r[4])
    return out


# ---------------------------------------------------------------------------- (a) project() and module_of()


def test_debian_registry_layout_and_module_paths(tmp_path):
    crate = "usr/share/cargo/registry/serde-json-1.0.87"
    write(tmp_path, {
        f"{crate}/Cargo.toml": '[package]\nname = "serde-json"\nversion = "1.0.87"\nedition = "2018"\n'
                               '[dependencies.itoa]\nversion = "1"\n[target."cfg(unix)".dependencies]\nlibc = "0.2"\n',
        f"{crate}/src/lib.rs": "", f"{crate}/src/value/mod.rs": "", f"{crate}/src/value/de.rs": "",
        f"{crate}/src/main.rs": "", f"{crate}/src/bin/tool.rs": "", f"{crate}/tests/debug.rs": "",
        f"{crate}/build.rs": "",
    })
    paths = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.rs")]
    proj = rust.project(str(tmp_path), paths)
    assert proj["packages"] == [("rust:serde_json", crate, "Cargo.toml")]
    (c,) = proj["crates"]
    assert c["edition"] == "2018" and {"itoa", "libc", "std", "core"} <= set(c["deps"])
    mod = {p[len(crate) + 1:]: rust.module_of(proj, p) for p in paths}
    assert mod == {
        "src/lib.rs": ("rust:serde_json", True),
        "src/value/mod.rs": ("rust:serde_json.value", True),
        "src/value/de.rs": ("rust:serde_json.value.de", False),
        "src/main.rs": ("rust:serde_json/main", True),          # a binary next to the library: its own crate
        "src/bin/tool.rs": ("rust:serde_json/bin/tool", True),
        "tests/debug.rs": ("rust:serde_json/tests/debug", True),
        "build.rs": ("rust:serde_json/build", True),
    }


def test_workspace_members_lib_name_and_path_attribute(tmp_path):
    write(tmp_path, {
        "Cargo.toml": '[workspace]\nmembers = ["crates/*"]\n[workspace.package]\nedition = "2021"\n',
        "crates/a-core/Cargo.toml": '[package]\nname = "a-core"\nedition.workspace = true\n[lib]\nname = "acore"\n',
        "crates/a-core/src/lib.rs": '#[path = "private/mod.rs"]\npub mod __private;\n',
        "crates/a-core/src/private/mod.rs": "mod de;\n",
        "crates/a-core/src/private/de.rs": "",
        "crates/a-cli/Cargo.toml": '[package]\nname = "a-cli"\n',
        "crates/a-cli/src/main.rs": "mod args;\n", "crates/a-cli/src/args.rs": "",
    })
    paths = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.rs")]
    proj = rust.project(str(tmp_path), paths)
    assert proj["packages"] == [("rust:a_cli", "crates/a-cli", "Cargo.toml"), ("rust:acore", "crates/a-core", "Cargo.toml")]
    editions = {c["name"]: c["edition"] for c in proj["crates"]}
    assert editions == {"acore": "2021", "a_cli": "2015"}     # inherited from the workspace; Cargo's default
    assert rust.module_of(proj, "crates/a-core/src/private/mod.rs") == ("rust:acore.__private", True)
    assert rust.module_of(proj, "crates/a-core/src/private/de.rs") == ("rust:acore.__private.de", False)
    assert rust.module_of(proj, "crates/a-cli/src/main.rs") == ("rust:a_cli", True)   # no lib: main is the root
    assert rust.module_of(proj, "crates/a-cli/src/args.rs") == ("rust:a_cli.args", False)


def test_odd_manifests_still_name_the_crate(tmp_path):
    write(tmp_path, {
        "broken-0.2.1/Cargo.toml": '[package]\nname = "half-written"\nversion = 0.2.1 this is not toml\n',
        "broken-0.2.1/src/lib.rs": "",
        "nameless-3.0.0/Cargo.toml": "[package]\nversion = '3.0.0'\n",
        "nameless-3.0.0/src/lib.rs": "",
        "loose/thing.rs": "",
    })
    paths = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.rs")]
    proj = rust.project(str(tmp_path), paths)
    assert rust.module_of(proj, "broken-0.2.1/src/lib.rs") == ("rust:half_written", True)
    assert rust.module_of(proj, "nameless-3.0.0/src/lib.rs") == ("rust:nameless", True)
    assert rust.module_of(proj, "loose/thing.rs")[0].startswith("rust:")
    # the server asks with no project at all (a file outside every indexed repo)
    assert rust.module_of({}, "main.rs") == ("rust:main", True)
    assert rust.project(str(tmp_path / "not-there"), ["src/lib.rs"])["crates"]


# ---------------------------------------------------------------------------- (a) extract()


def test_use_trees_become_aliases_and_uses():
    f = facts_of("use a::b::{c, d as e, f::*, self};\npub use crate::x::Y;\nuse super::z;\nuse ::ext::T;\n"
                 "extern crate foo as bar;\n", module="rust:demo.m.n", project={"crates": [
                     {"dir": "", "name": "demo", "edition": "2018", "lib": "src/lib.rs", "src": "src",
                      "deps": ["a", "std", "core", "alloc"]}]})
    assert sorted(f.aliases) == sorted([
        ("rust:demo.m.n.c", "rust:a.b.c", 0, 0), ("rust:demo.m.n.e", "rust:a.b.d", 0, 0),
        ("rust:demo.m.n", "rust:a.b.f", 1, 0), ("rust:demo.m.n.b", "rust:a.b", 0, 0),
        ("rust:demo.m.n.Y", "rust:demo.x.Y", 0, 1), ("rust:demo.m.n.z", "rust:demo.m.z", 0, 2),
        ("rust:demo.m.n.T", "rust:ext.T", 0, 3), ("rust:demo.m.n.bar", "rust:foo", 0, 4)])
    t = targets(f)
    assert t["d"] == ["rust:a.b.d"] and t["e"] == ["rust:a.b.d"] and t["Y"] == ["rust:demo.x.Y"]
    assert {r[5] for r in f.refs if r[3] == "e"} == {"alias"}
    assert {"rust:a", "rust:ext", "rust:foo"} <= f.imports


def test_edition_2015_use_paths_are_crate_relative():
    proj = {"crates": [{"dir": "", "name": "old", "edition": "2015", "lib": "src/lib.rs", "src": "src",
                        "deps": ["serde", "std", "core"]}]}
    f = facts_of("use de::Visitor;\nuse serde::Serialize;\nfn f() -> ::serde::Ser { ::de::x() }\n", "rust:old.ser", project=proj)
    assert ("rust:old.ser.Visitor", "rust:old.de.Visitor", 0, 0) in f.aliases
    assert ("rust:old.ser.Serialize", "rust:serde.Serialize", 0, 1) in f.aliases
    t = targets(f)
    assert t["Ser"] == ["rust:serde.Ser"] and t["x"] == ["rust:old.de.x"]


def test_items_members_impls_and_traits():
    src = '''//! Demo crate.
use crate::units::Meters;
use crate::names::Named;
/// A point.
///
/// Second paragraph.
#[derive(Debug)]
pub struct Point<T> { pub x: T, y: Meters }
pub enum Shape { Dot, Line(u8), Box { w: u8 } }
pub trait Area: Named { fn area(&self) -> f64; fn twice(&self) -> f64 { self.area() * 2.0 } type Unit; const K: u8; }
impl<T> Point<T> { pub fn new(x: T) -> Self { Point { x, y: Meters } } }
impl Area for Point<f64> { fn area(&self) -> f64 { self.x } type Unit = (); const K: u8 = 1; }
impl Area for &'static str { fn area(&self) -> f64 { 0.0 } }
#[macro_export]
macro_rules! point { () => {} }
pub const ORIGIN: u8 = 0; static mut COUNT: u32 = 0; type Alias = Point<u8>; union U { a: u8 }
mod inner { pub fn helper() {} }
'''
    f = facts_of(src, "rust:geo.shapes")
    kinds = {d[0]: d[2] for d in f.defs}
    assert kinds == {
        "rust:geo.shapes": "module", "rust:geo.shapes.Point": "struct", "rust:geo.shapes.Point.x": "field",
        "rust:geo.shapes.Point.y": "field", "rust:geo.shapes.Shape": "enum", "rust:geo.shapes.Shape.Dot": "enum_member",
        "rust:geo.shapes.Shape.Line": "enum_member", "rust:geo.shapes.Shape.Box": "enum_member",
        "rust:geo.shapes.Shape.Box.w": "field", "rust:geo.shapes.Area": "trait", "rust:geo.shapes.Area.area": "method",
        "rust:geo.shapes.Area.twice": "method", "rust:geo.shapes.Area.Unit": "type", "rust:geo.shapes.Area.K": "constant",
        "rust:geo.shapes.Point.new": "method", "rust:geo.shapes.Point.area": "method", "rust:geo.shapes.Point.Unit": "type",
        "rust:geo.shapes.Point.K": "constant", "rust:str.area": "method", "rust:geo.point": "macro",
        "rust:geo.shapes.ORIGIN": "constant", "rust:geo.shapes.COUNT": "constant", "rust:geo.shapes.Alias": "type",
        "rust:geo.shapes.U": "union", "rust:geo.shapes.U.a": "field", "rust:geo.shapes.inner": "module",
        "rust:geo.shapes.inner.helper": "function",
    }
    by = {d[0]: d for d in f.defs}
    assert by["rust:geo.shapes"][12] == "Demo crate."
    assert by["rust:geo.shapes.Point"][11] == "pub struct Point<T>"
    assert by["rust:geo.shapes.Point"][12] == "A point."
    assert by["rust:geo.shapes.Area.area"][11] == "fn area(&self) -> f64"
    assert by["rust:geo.shapes.Point.new"][13] == "rust:geo.shapes.Point"        # `-> Self`: the value type
    assert by["rust:geo.shapes.Point.y"][13] == "rust:geo.units.Meters"           # a field's type, for `p.y.m()`
    assert sorted(f.bases) == [("rust:geo.shapes.Alias", "rust:geo.shapes.Point"),   # a type alias has its type's members
                               ("rust:geo.shapes.Area", "rust:geo.names.Named"),     # a supertrait
                               ("rust:geo.shapes.Point", "rust:geo.shapes.Area"), ("rust:str", "rust:geo.shapes.Area")]
    t = targets(f)
    assert t["area"] == ["rust:geo.shapes.Area.area"]                # self.area() in the trait's default method
    assert t["x"] == ["rust:geo.shapes.Point.x"]                     # self.x in an impl of Point
    assert "T" not in t                                              # generic parameters are not uses


def test_generic_bounds_give_receivers_their_trait():
    src = '''use serde::de;
fn visit<V: de::Visitor<'de>, W>(v: V, w: &mut W, r: impl Read) -> Result<V::Value, W::Error> where W: io::Write {
    v.visit_str("x");
    w.flush();
}
impl<T: de::Deserialize> Wrapper for T { fn wrap(self) {} }
'''
    f = facts_of(src, "rust:json.de")
    t = targets(f)
    assert t["visit_str"] == ["rust:serde.de.Visitor.visit_str"]        # `V: Visitor`: the trait's method
    assert t["Value"] == ["rust:serde.de.Visitor.Value"]                # `V::Value`: its associated type
    assert t["flush"] == ["rust:io.Write.flush"] and t["Error"] == ["rust:io.Write.Error"]   # from the where clause
    # a blanket impl's methods are not the bound trait's (they would shadow its declarations)
    assert [d[0] for d in f.defs if d[1] == "wrap"] == ["rust:json.de.T.wrap"]


def test_same_named_locals_in_different_functions_keep_their_own_types():
    """Receivers are memoised per file: `class.push()` in two functions, each with its own `class`,
    resolves to each function's type. A name bound twice in one function means its last `let` in
    the text, whatever order the query returns the `let`s in (it varied from run to run: 44 of 734
    Debian Rust files differed between two runs before)."""
    src = """use crate::hir::{ClassBytes, ClassUnicode};
fn bytes() {
    let class = ClassBytes::new();
    if true { class.push(1); }
}
fn unicode() {
    let class = ClassUnicode::new();
    if true { class.push(2); }
    let m = ClassBytes::new();
    let m = ClassUnicode::new();
    { m.negate(); }
}
"""
    t = targets(facts_of(src, "rust:regex_syntax.parse"))
    assert t["push"] == ["rust:regex_syntax.hir.ClassBytes.new().push",
                         "rust:regex_syntax.hir.ClassUnicode.new().push"]
    assert t["negate"] == ["rust:regex_syntax.hir.ClassUnicode.new().negate"]


def test_glob_import_in_a_function_and_variant_constructors():
    lines = ["enum Kind { One(u8), Two }",
             "fn f(k: Kind) -> Kind { use self::Kind::*; match k { One(b) => Two, Two => One(1) } }",
             "fn g() -> Kind { Two }"]
    f = facts_of("\n".join(lines) + "\n", "rust:m")

    def at(row, word, nth=0):
        col = -1
        for _ in range(nth + 1):
            col = lines[row].index(word, col + 1)
        return row, col, word

    uses = sorted((r[0], r[1], r[3], r[4]) for r in f.refs if r[5] != "import")
    assert uses == sorted([
        (*at(1, "Kind"), "rust:m.Kind"), (*at(1, "Kind", 1), "rust:m.Kind"),   # the glob does not hide the enum
        (*at(1, "One(b)")[:2], "One", "rust:m.Kind.One"), (*at(1, "Two"), "rust:m.Kind.Two"),
        (*at(1, "Two", 1), "rust:m.Kind.Two"), (*at(1, "One(1)")[:2], "One", "rust:m.Kind.One"),   # one use each
        (*at(2, "Kind"), "rust:m.Kind"), (*at(2, "Two"), None)])                                    # no glob in g


def test_items_behind_cfg_macros_are_defined_where_they_stand():
    """tokio and mio: `cfg_net! { pub use ...; }` at module level, `impl Poll { cfg_os_poll! { pub fn new() } }`.
    A held-out check on Debian's tokio found mio::Poll::new and mio::net::SocketAddr undefined behind them."""
    src = """use std::io;

cfg_net! {
    pub use self::tcp::TcpStream;
    cfg_os_poll! {
        pub fn helper() {}
    }
}

pub struct Poll {}

impl Poll {
    cfg_os_poll! {
        /// Return a new Poll handle.
        pub fn new() -> io::Result<Poll> { todo!() }
    }
}

bitflags! {
    pub struct Flags: u32 { const A = 1; }
}
"""
    f = facts_of(src, module="rust:mio.poll", path="src/poll.rs")
    defs = {d[0]: (d[2], d[8], d[9], d[12]) for d in f.defs}
    assert defs["rust:mio.poll.Poll.new"] == ("method", 14, 15, "Return a new Poll handle.")   # line and column kept
    assert defs["rust:mio.poll.helper"] == ("function", 5, 15, None)                           # nested: cfg_net! { cfg_os_poll! {
    assert ("rust:mio.poll.TcpStream", "rust:mio.poll.tcp.TcpStream") in {a[:2] for a in f.aliases}
    assert f.errors == 0 and not any(q.endswith(".Flags") for q in defs)   # other macros' bodies stay tokens


def test_macro_body_items_and_macro_arguments():
    src = '''macro_rules! declare_error_trait {
    (Error: Sized) => {
        /// Errors a deserializer reports.
        pub trait Error: Sized {
            /// Raised with a message.
            fn custom<T>(msg: T) -> Self;
        }
    }
}
declare_error_trait!(Error: Sized);
use serde::de::{self, Visitor};
fn f(v: &Visitor) {
    let de = make();
    tri!(de::Error::custom(format!("{}", v.visit())));
    tri!(Error::custom(x));
}
'''
    f = facts_of(src, "rust:json.de")
    by = {d[0]: d for d in f.defs}
    assert by["rust:json.de.Error"][2] == "trait" and by["rust:json.de.Error"][12] == "Errors a deserializer reports."
    assert by["rust:json.de.Error"][8:10] == (3, 18)             # where the macro body names it
    assert by["rust:json.de.Error.custom"][11] == "fn custom<T>(msg: T) -> Self"
    t = targets(f)
    # `de` is a local variable too, but a path's first segment is never a local: the module wins
    assert t["custom"] == ["rust:serde.de.Error.custom", "rust:json.de.Error.custom"]
    assert t["visit"] == ["rust:serde.de.Visitor.visit"]     # a typed parameter's method, inside format! tokens
    assert t["tri"] == ["rust:json.tri", "rust:json.tri"]    # an unknown macro: the crate root's, as #[macro_export] puts it


# ---------------------------------------------------------------------------- (b) the fixture org


@pytest.fixture(scope="module")
def org():
    dest = SESSION_DIR / "rust-org"
    repos = {}
    for name in ("geo-core", "render"):
        shutil.copytree(FIXTURES / name, dest / name)
        init_repo(dest / name, REMOTES[name])
        repos[name] = dest / name
    r = run_cli("index", "--db", ORG_DB, *repos.values())
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    return repos


@pytest_lsp.fixture(
    scope="module",
    params=["neovim", "visual_studio_code"],
    config=ClientServerConfig(server_command=[*SERVE, "--db", str(ORG_DB)]),
)
async def client(request, lsp_client: LanguageClient, org):
    result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(request.param), root_uri=org["render"].as_uri()))
    lsp_client.encoding = result.capabilities.position_encoding or "utf-16"
    lsp_client.org = org
    lsp_client.opened = set()
    yield
    await lsp_client.shutdown_session()


GEO_LIB = ("geo-core", "src/lib.rs")
SHAPES = ("geo-core", "src/shapes/mod.rs")
CIRCLE = ("geo-core", "src/shapes/circle.rs")
UNITS = ("geo-core", "src/units.rs")
API = ("render", "crates/render-api/src/lib.rs")
CANVAS = ("render", "crates/render-api/src/canvas.rs")
SVG = ("render", "crates/render-api/src/backends/svg_impl.rs")
CLI_MAIN = ("render", "crates/render-cli/src/main.rs")


def where(client, repo, path, needle, sub=None, nth=0):
    p = client.org[repo] / path
    line, col = find(p, needle, nth, sub)
    text = p.read_text(encoding="utf-8").split("\n")[line]
    return (p.as_uri(), line, to_client_units(text, col, client.encoding))


def open_doc(client, repo, path) -> str:
    p = client.org[repo] / path
    if p.as_uri() not in client.opened:
        client.opened.add(p.as_uri())
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=p.as_uri(), language_id="rust", version=1, text=p.read_text(encoding="utf-8"))))
    return p.as_uri()


def at(client, repo, path, needle, sub=None):
    uri, line, ch = where(client, repo, path, needle, sub)
    open_doc(client, repo, path)
    return types.TextDocumentIdentifier(uri=uri), types.Position(line=line, character=ch)


def locs(result) -> list:
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


# (id, use site (repo, path), needle, sub, definition (repo, path), needle, sub)
DEFINITIONS = [
    ("reexported-struct-in-use-list", API, "use geo_core::{Circle, Shape}", "Circle", CIRCLE, "pub struct Circle", "Circle"),
    ("trait-through-two-reexports", API, "impl Shape for Square", "Shape", SHAPES, "pub trait Shape", "Shape"),
    ("associated-fn-through-reexport", API, "Circle::new(radius)", "new", CIRCLE, "pub fn new", "new"),
    ("trait-impl-method-on-let-value", API, "c.area() + s.area()", "area", CIRCLE, "fn area(&self) -> f64 {", "area"),
    ("same-file-impl-method", API, "+ s.area()", "area", API, "fn area(&self) -> f64 {", "area"),
    ("trait-default-method-via-impl-bases", API, "c.describe()", "describe", SHAPES, "fn describe", "describe"),
    ("enum-variant-through-module-path", API, "Unit::Meters;", "Meters", UNITS, "    Meters,", "Meters"),
    ("const-through-star-reexport", API, "geo_core::EPSILON", "EPSILON", UNITS, "pub const EPSILON", "EPSILON"),
    ("exported-macro-by-path", API, "geo_core::square!(self.side)", "square", GEO_LIB, "macro_rules! square", "square"),
    ("field-of-self-in-macro-args", API, "geo_core::square!(self.side)", "side", API, "pub side: f64", "side"),
    ("renamed-import-call", CANVAS, "Disc::new(svg::DEFAULT_RADIUS)", "new", CIRCLE, "pub fn new", "new"),
    ("path-attribute-module-item", CANVAS, "svg::DEFAULT_RADIUS", "DEFAULT_RADIUS", SVG, "pub const DEFAULT_RADIUS", "DEFAULT_RADIUS"),
    ("super-import", CANVAS, "use super::Square", "Square", API, "pub struct Square", "Square"),
    ("other-workspace-member", CLI_MAIN, "total_area(1.0, sq.side)", "total_area", API, "pub fn total_area", "total_area"),
    ("crate-path-in-geo-core", CIRCLE, "use crate::units::{Unit, EPSILON}", "EPSILON", UNITS, "pub const EPSILON", "EPSILON"),
    ("on-definition-itself", CIRCLE, "pub struct Circle", "Circle", CIRCLE, "pub struct Circle", "Circle"),
]


@ASYNC
@pytest.mark.parametrize("case", DEFINITIONS, ids=[c[0] for c in DEFINITIONS])
async def test_definition(client: LanguageClient, case):
    _, site, needle, sub, target, tneedle, tsub = case
    doc, pos = at(client, *site, needle, sub)
    result = await client.text_document_definition_async(types.DefinitionParams(text_document=doc, position=pos))
    assert locs(result) == [where(client, *target, tneedle, tsub)]


@ASYNC
async def test_references_of_trait_span_both_repos(client: LanguageClient):
    expected = sorted([
        where(client, *SHAPES, "pub trait Shape", "Shape"),
        where(client, *GEO_LIB, "pub use shapes::{Circle, Shape}", "Shape"),
        where(client, *CIRCLE, "use super::Shape", "Shape"),
        where(client, *CIRCLE, "impl Shape for Circle", "Shape"),
        where(client, *API, "use geo_core::{Circle, Shape}", "Shape"),
        where(client, *API, "impl Shape for Square", "Shape"),
    ])
    doc, pos = at(client, *SHAPES, "pub trait Shape", "Shape")
    got = await client.text_document_references_async(types.ReferenceParams(
        text_document=doc, position=pos, context=types.ReferenceContext(include_declaration=True)))
    assert locs(got) == expected
    doc, pos = at(client, *API, "impl Shape for Square", "Shape")     # the same answer from a use in the other repo
    got = await client.text_document_references_async(types.ReferenceParams(
        text_document=doc, position=pos, context=types.ReferenceContext(include_declaration=True)))
    assert locs(got) == expected


@ASYNC
async def test_references_of_associated_fn_include_renamed_import(client: LanguageClient):
    doc, pos = at(client, *CIRCLE, "pub fn new", "new")
    got = await client.text_document_references_async(types.ReferenceParams(
        text_document=doc, position=pos, context=types.ReferenceContext(include_declaration=False)))
    assert locs(got) == sorted([where(client, *API, "Circle::new(radius)", "new"),
                                where(client, *CANVAS, "Disc::new(", "new")])


@ASYNC
async def test_hover_shows_signature_doc_and_owner(client: LanguageClient):
    doc, pos = at(client, *API, "fn label(c: &Circle)", "Circle")
    h = await client.text_document_hover_async(types.HoverParams(text_document=doc, position=pos))
    text = h.contents.value
    assert "```rust\npub struct Circle\n```" in text
    assert "A circle centred at the origin." in text
    assert "@alice" in text and ".github/CODEOWNERS" in text and "@acme/geo-team" not in text
    assert "`rust:geo_core.shapes.circle.Circle`" in text
    assert "Used in 8 places across 2 repos" in text    # 4 in render, 4 in geo-core (`-> Self` counts); imports do not
    doc, pos = at(client, *API, "Unit::Meters;", "Meters")
    h = await client.text_document_hover_async(types.HoverParams(text_document=doc, position=pos))
    assert "SI metres." in h.contents.value and "@acme/geo-team" in h.contents.value


@ASYNC
async def test_hover_on_non_ascii_line(client: LanguageClient):
    doc, pos = at(client, *API, 'c.describe(), unit, geo_core::EPSILON', "EPSILON")
    h = await client.text_document_hover_async(types.HoverParams(text_document=doc, position=pos))
    assert "pub const EPSILON: f64 = 1e-9" in h.contents.value and "Below this, lengths are zero." in h.contents.value


@ASYNC
async def test_workspace_symbols(client: LanguageClient):
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="Circle"))
    first = result[0]
    assert (first.name, first.kind) == ("Circle", types.SymbolKind.Struct)
    assert first.container_name.startswith("geo-core")
    assert (first.location.uri, first.location.range.start.line, first.location.range.start.character) == \
        where(client, *CIRCLE, "pub struct Circle", "Circle")
    kinds = {s.name: s.kind for s in await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="Shape"))}
    assert kinds["Shape"] == types.SymbolKind.Interface
    kinds = {s.name: s.kind for s in await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="Meters"))}
    assert kinds["Meters"] == types.SymbolKind.EnumMember
    # the search filters: language (and its `rs` alias), kind, repo
    got = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="lang:rust kind:method area"))
    assert {(s.name, s.kind) for s in got} == {("area", types.SymbolKind.Method)}   # the trait's, Circle's, Square's
    assert len(got) == 3
    got = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="lang:rs repo:render area"))
    assert [s.name for s in got] == ["area", "total_area"]                           # exact, then substring
    assert (got[0].location.uri, got[0].location.range.start.line) == where(client, *API, "fn area(&self) -> f64 {", "area")[:2]
    assert list(await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="lang:go Circle")) or []) == []


# ---------------------------------------------------------------------------- (c) real code


@pytest.fixture(scope="module")
def real() -> dict:
    try:
        return {name: deb_repo(pkg, sub, name) for pkg, (sub, name) in CRATES.items()}
    except DownloadFailed as e:
        pytest.skip(f"Debian crates unavailable: {e}")


def test_real_crates_extract_the_same_every_time(real):
    """Extraction is a function of the file and its project: three extractions of every file of the
    real crates in one process agree (4 of these 150 files differed before `let`s were sorted)."""
    n, differ = 0, []
    for root in real.values():
        files = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
        proj = rust.project(str(root), files)
        for rel in sorted(f for f in files if f.endswith(".rs")):
            module, is_pkg = rust.module_of(proj, rel)
            src = (root / rel).read_bytes()
            runs = [sorted(rust.extract(src, Unit(rel, str(root), module, is_pkg, proj)).refs) for _ in range(3)]
            n += 1
            if any(r != runs[0] for r in runs):
                differ.append(f"{root.name}/{rel}")
    assert n > 100
    assert differ == []


@pytest.fixture(scope="module")
def real_index(real) -> Path:
    r = run_cli("index", "--db", REAL_DB, *real.values(), timeout=600)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    return REAL_DB


@pytest.fixture(scope="module")
def oracle(real):
    cases, missing = [], []
    for name, edition in (("serde", "2015"), ("itoa", "2018"), ("ryu", "2018")):
        c, m = rustoracle.use_sites(real["serde_json"], rustoracle.Crate(real[name], name, edition))
        cases += c
        missing += m
    return cases, missing


@pytest_lsp.fixture(
    scope="module",
    params=["neovim", "visual_studio_code"],
    config=ClientServerConfig(server_command=[*SERVE, "--db", str(REAL_DB)]),
)
async def real_client(request, lsp_client: LanguageClient, real_index, real):
    result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(request.param), root_uri=real["serde_json"].as_uri()))
    lsp_client.encoding = result.capabilities.position_encoding or "utf-16"
    yield
    await lsp_client.shutdown_session()


def test_oracle_sees_the_uses(oracle):
    cases, missing = oracle
    texts = {c.text for c in cases}
    assert {"serde::de::Error::custom", "serde::ser::Serialize", "serde::Deserialize", "serde::de::Visitor",
            "serde::forward_to_deserialize_any", "itoa::Buffer", "ryu::Buffer::new"} <= texts
    assert len(cases) >= 500
    assert len(missing) <= len(cases) * 0.02, missing


def _pos(encoding, path: Path, line: int, col: int) -> types.Position:
    text = path.read_text(encoding="utf-8").split("\n")[line]
    return types.Position(line=line, character=to_client_units(text, col, encoding))


@ASYNC
async def test_real_cross_repo_definitions(real_client: LanguageClient, oracle):
    cases, _ = oracle
    opened, wrong = set(), []
    for c in cases:
        uri = c.file.as_uri()
        if uri not in opened:
            opened.add(uri)
            real_client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
                uri=uri, language_id="rust", version=1, text=c.file.read_text(encoding="utf-8"))))
        result = await real_client.text_document_definition_async(types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=_pos(real_client.encoding, c.file, c.line, c.col)))
        got = [(u, line) for u, line, _ in locs(result)]
        expected = {(p.as_uri(), line) for p, line in c.expected}
        if not got or got[0] not in expected:
            wrong.append(f"{c.file.name}:{c.line + 1}:{c.col} {c.text}: got {got[:2]}, expected {sorted(expected)}")
    ok = len(cases) - len(wrong)
    # and the answers come from resolving the use, not from the server's fallback search by name
    with sqlite3.connect(f"file:{REAL_DB}?mode=ro", uri=True) as db:
        root = str(cases[0].file).split("/src/")[0].split("/tests/")[0]
        resolved = sum(1 for c in cases if db.execute(
            """SELECT 1 FROM refs x JOIN files f ON f.id = x.file_id JOIN resolved s ON s.target = x.target
               WHERE f.path = ? AND x.line = ? AND x.col <= ? AND x.end_col > ? AND s.canonical IS NOT NULL""",
            (str(c.file)[len(root) + 1:], c.line, c.col, c.col)).fetchone())
    print(f"\nrust cross-repo definitions (serde_json -> serde, itoa, ryu): {ok}/{len(cases)} = {ok / len(cases):.1%}; "
          f"{resolved} of them resolved in the index", *wrong[:40], sep="\n")
    assert ok / len(cases) >= 0.95, "\n".join(wrong)
    assert resolved / len(cases) >= 0.95


@ASYNC
async def test_real_references_reach_serde_json(real_client: LanguageClient, real, oracle):
    cases, _ = oracle
    ser = real["serde"] / "src" / "ser" / "mod.rs"
    text = ser.read_text(encoding="utf-8")
    line = next(i for i, ln in enumerate(text.split("\n")) if ln.startswith("pub trait Serialize "))
    col = len("pub trait ")
    real_client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=ser.as_uri(), language_id="rust", version=1, text=text)))
    result = await real_client.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=ser.as_uri()), position=_pos(real_client.encoding, ser, line, col),
        context=types.ReferenceContext(include_declaration=True)))
    got = {(u, ln) for u, ln, _ in locs(result)}
    assert (ser.as_uri(), line) in got
    # every use the oracle places on this trait in serde_json (src and tests) is among the answers
    want = {(c.file.as_uri(), c.line) for c in cases if (ser, line) in c.expected}
    assert len(want) >= 20
    assert want <= got, sorted(want - got)[:10]


def test_real_extraction_speed(real, capsys):
    """Lines per CPU-second of extract() on the real crates (printed with ctags' figure when installed)."""
    files = [p for r in real.values() for p in sorted(r.rglob("*.rs")) if ".git" not in p.parts]
    lines = 0
    cpu = 0.0
    for repo in real.values():
        paths = [str(p.relative_to(repo)) for p in sorted(repo.rglob("*.rs")) if ".git" not in p.parts]
        proj = rust.project(str(repo), paths)
        for rel in paths:
            src = (repo / rel).read_bytes()
            module, pkg = rust.module_of(proj, rel)
            t0 = time.process_time()
            rust.extract(src, Unit(rel, str(repo), module, pkg, proj))
            cpu += time.process_time() - t0
            lines += src.count(b"\n") + 1
    rate = lines / cpu
    note = ""
    ctags = shutil.which("ctags")
    if ctags:
        import resource
        import subprocess
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([ctags, "--languages=Rust", "-f", "/dev/null", *map(str, files)], check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        ct = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        note = f"; ctags {lines / max(ct, 1e-6):,.0f} lines/s"
    with capsys.disabled():
        print(f"\nrust extract: {len(files)} files, {lines} lines, {rate:,.0f} lines per CPU-second{note}")
    assert rate > 20_000   # a floor that catches an accidental quadratic walk on a shared, busy machine
