"""C and C++: extraction, the fixture org end to end over LSP, and real Debian C code.

The fixture org (tests/fixtures/c-org) is four repos of different teams: a C library (libacme), a C
program using its headers (payments-svc), a C++ library calling the C library (geo-cpp) and a C++
app using both (viewer); indexed by the real CLI and queried through `crossnav serve` over stdio with
pytest-lsp. The real code is zlib and libpng from Debian's source packages (upstream tarballs,
unmodified), each its own repo; expected definitions come from tests/coracle.py (regexes over the
sources, independent of crossnav)."""
from __future__ import annotations

import shutil
import sqlite3

import pytest
from lsprotocol import types

import coracle
import cpporacle
from langorg import (client_fixture, definition, definition_at, hover, indexed_real_code, org_fixture, references,
                     references_at, symbols, where)
from orgutil import SESSION_DIR, TESTS

from crossnav.index.lang import Unit, c, cpp
from crossnav.index.lang.cfamily import macros as cmacros

C_ORG = TESTS / "fixtures" / "c-org"
C_ORG_DB = SESSION_DIR / "c-org.db"
C_REAL_DB = SESSION_DIR / "c-real.db"
CPP_REAL_DB = SESSION_DIR / "cpp-real.db"
ASYNC = pytest.mark.asyncio(loop_scope="module")


def facts(text: str, path="src/x.c", project=None, lang=c):
    project = project if project is not None else {"repo": "r"}
    return lang.extract(text.encode(), Unit(path, "/nonexistent", lang.module_of(project, path)[0], False, project))


def defs_by_qual(f):
    return {d[0]: d for d in f.defs}


# ---------------------------------------------------------------------------- extraction


def test_c_definitions_kinds_and_file_local_statics():
    f = facts("/** Doc of add. */\nint add(int a, int b) { return a + b; }\n"
              "static int helper(void) { return 1; }\n"
              "struct point { int x; int y; };\n"
              "typedef struct { int w; } size_t2;\n"
              "enum color { RED, GREEN = 2 };\n"
              "#define MAX 10\n#define SQ(x) ((x) * (x))\n"
              "int counter;\nextern int shared;\n"
              "int proto(int);\n")
    d = defs_by_qual(f)
    assert d["c:add"][2] == "function" and d["c:add"][12] == "Doc of add." and d["c:add"][11] == "int add(int a, int b)"
    assert d["c:r/src/x.c.helper"][2] == "function"          # static: under the file's module
    assert "c:helper" not in d
    assert d["c:point"][2] == "struct" and d["c:point.x"][2] == "field" and d["c:point.y"][2] == "field"
    assert d["c:size_t2"][2] == "struct" and d["c:size_t2.w"][2] == "field"   # anonymous struct named by its typedef
    assert d["c:color"][2] == "enum" and d["c:RED"][2] == "enum_member" and d["c:GREEN"][2] == "enum_member"
    assert d["c:r/src/x.c.MAX"][2] == "constant" and d["c:r/src/x.c.SQ"][2] == "macro"   # a .c file's macros are its own
    assert facts("#define MAX 10\n", path="include/x.h").defs[1][0] == "c:MAX"
    assert d["c:counter"][2] == "variable"
    # declarations without a body: the full range is the name (the server ranks them after bodies)
    for q in ("c:shared", "c:proto"):
        line, col, end_line, end_col, nl, nc, nec = d[q][4:11]
        assert (line, col, end_line, end_col) == (nl, nc, nl, nec), q
    add = d["c:add"]
    assert add[4:8] == (1, 0, 1, 39)


def test_c_references_calls_types_macros_statics_and_members():
    f = facts("#include \"x.h\"\nstatic int helper(void);\n"
              "typedef struct node { int v; struct node *next; } node_t;\n"
              "int run(node_t *n, int k) {\n  int local = SQ(k) + helper() + ext(MAX);\n"
              "  return n->next->v + local;\n}\n")
    refs = {(r[3], r[5]): r[4] for r in f.refs}
    assert refs[("helper", "call")] == "c:r/src/x.c.helper"
    assert refs[("ext", "call")] == "c:ext"
    assert refs[("SQ", "call")] == "c:SQ" and refs[("MAX", "name")] == "c:MAX"     # from x.h
    assert refs[("node_t", "type")] == "c:node_t"
    assert refs[("next", "attr")] == "c:node_t.next" and refs[("v", "attr")] == "c:node_t.next.v"
    assert ("local", "name") not in refs and ("k", "name") not in refs and ("n", "name") not in refs   # locals
    assert refs[("x.h", "import")] == "c:x.h" and "c:x.h" in f.imports


def test_c_decorator_macros_and_kr_definitions_parse():
    """zlib-style code: `local` (= static), `ZEXPORT`, `FAR`, `OF((args))` and K&R parameters."""
    bodies, ident = {}, {}
    cmacros.scan_defines(b"#define local static\n#define ZEXPORT\n#define FAR\n#define OF(args) args\n"
                         b"#define inflate z_inflate\n", bodies, ident)
    project = {"repo": "z", "macros": cmacros.repo_decorators(bodies, ident)}
    assert {"local", "ZEXPORT", "FAR"} <= set(project["macros"]["decorators"]) and "inflate" not in project["macros"]["decorators"]
    assert project["macros"]["identity"] and "OF" in project["macros"]["identity"]
    f = facts("local int check OF((z_streamp strm));\n"
              "int ZEXPORT inflate(strm, flush)\nz_streamp strm;\nint flush;\n{\n  struct state FAR *s = 0;\n  return check(strm);\n}\n"
              "local int check(strm)\nz_streamp strm;\n{ return 0; }\n", project=project)
    d = defs_by_qual(f)
    assert d["c:inflate"][2] == "function" and d["c:inflate"][8] == 1
    assert d["c:z/src/x.c.check"][2] == "function"
    assert f.errors == 0


def test_c_fragment_conditionals_do_not_swallow_the_file():
    f = facts("int a(int x) {\n  if (x ||\n#ifdef Y\n    x > 1 ||\n#else\n    (\n#endif\n    x < 0) { return 1; }\n  return 0;\n}\n"
              "int b(void) { return 2; }\n")
    d = defs_by_qual(f)
    assert d["c:a"][4:7:2] == (0, 9) and d["c:b"][8] == 10


def test_conditionals_that_are_whole_statements_keep_every_branch():
    """libarchive's xar reader: `#if !(defined(A) &&` continued over lines with a backslash, a stub, `#else`, then the
    real code. The continuation was read as part of the first branch, whose parentheses then did not
    balance, so the `#else` branch (3,000 lines) was blanked. And an `#ifdef` right after an
    `#include <x.h>` line is not inside an expression, whatever the line ends with."""
    f = facts("#include <zlib.h>\n"
              "#if !(defined(HAVE_ZLIB_H) &&\\\n"
              "      defined(HAVE_LIBXML2))\n"
              "int stub(void) { return 0; }\n"
              "#else\n"
              "int real(void) { return inflate(0, 0); }\n"
              "#endif\n"
              "#include <bzlib.h>\n"
              "#ifdef HAVE_BZLIB_H\n"
              "int with_bz(void) { return 1; }\n"
              "#else\n"
              "int without_bz(void) { return 0; }\n"
              "#endif\n")
    d = defs_by_qual(f)
    assert {"c:stub", "c:real", "c:with_bz", "c:without_bz"} <= set(d)
    assert ("inflate", "c:inflate") in {(r[3], r[4]) for r in f.refs}


def test_api_names_inside_a_calling_convention_macro():
    """bzip2 declares and defines every function as `int BZ_API(BZ2_bzCompressInit) (...)`: the
    definition was `BZ_API`, so libarchive's 23 calls into bzip2 found nothing."""
    f = facts("int BZ_API(BZ2_bzCompressInit)\n    ( bz_stream* strm, int blockSize100k )\n{\n   return 0;\n}\n"
              "BZ_EXTERN int BZ_API(BZ2_bzDecompress) (\n      bz_stream *strm\n   );\n", path="bzlib.c")
    d = defs_by_qual(f)
    assert d["c:BZ2_bzCompressInit"][8:10] == (0, 11) and d["c:BZ2_bzCompressInit"][2] == "function"
    assert "c:BZ2_bzDecompress" in d and "c:BZ_API" not in d


@pytest.mark.asyncio
async def test_a_library_definition_ranks_before_its_examples_and_tests(tmp_path):
    """One global C namespace: zstd's examples/roundtrip.c stubs ZSTD_isError, zlib's test/minigzip.c
    declares its own gzFile. A caller in another repo lands on the library's, and only there."""
    from orgutil import commit_and_index, find, serving
    lib, app = tmp_path / "zstd", tmp_path / "app"
    for rel, text in (("lib/zstd.h", "unsigned ZSTD_isError(unsigned long code);\n"),
                      ("lib/common/zstd_common.c", "#include \"zstd.h\"\nunsigned ZSTD_isError(unsigned long code) { return code > 1; }\n"),
                      ("examples/roundtrip.c", "static int x;\nunsigned ZSTD_isError(unsigned long c) { return 0; }\n"),
                      ("tests/fuzz.c", "unsigned ZSTD_isError(unsigned long c) { return 1; }\n")):
        (lib / rel).parent.mkdir(parents=True, exist_ok=True)
        (lib / rel).write_text(text)
    (app / "src").mkdir(parents=True)
    (app / "src" / "use.c").write_text("#include <zstd.h>\nint check(unsigned long r) { return ZSTD_isError(r); }\n")
    db = commit_and_index(tmp_path / "c.db", lib, app)
    use = app / "src" / "use.c"
    async with serving(db, app, (use, "c")) as c:
        line, col = find(use, "ZSTD_isError(r)", 0, "ZSTD_isError")
        got = await c.text_document_definition_async(types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=use.as_uri()), position=types.Position(line=line, character=col)))
        body = lib / "lib" / "common" / "zstd_common.c"
        assert [(g.uri, g.range.start.line) for g in got] == [(body.as_uri(), 1)]


@pytest.mark.asyncio
async def test_a_type_named_in_a_conversion_operator_goes_to_the_type(tmp_path):
    """gmock: `operator ::testing::Matcher<T>() const` is a method whose name holds a use of gtest's
    Matcher; definition on `Matcher` answered with the operator itself."""
    from orgutil import commit_and_index, find, serving
    gtest, gmock = tmp_path / "gtest", tmp_path / "gmock"
    (gtest / "gtest").mkdir(parents=True)
    (gtest / "gtest" / "gtest-matchers.h").write_text(
        "namespace testing {\ntemplate <typename T>\nclass Matcher {\n public:\n  Matcher() {}\n};\n}  // namespace testing\n")
    (gmock / "gmock").mkdir(parents=True)
    use = gmock / "gmock" / "gmock-matchers.h"
    use.write_text("#include \"gtest/gtest-matchers.h\"\nnamespace testing {\nclass PolymorphicMatcher {\n public:\n"
                   "  template <typename T>\n  operator ::testing::Matcher<T>() const { return ::testing::Matcher<T>(); }\n};\n}\n")
    db = commit_and_index(tmp_path / "cpp.db", gtest, gmock)
    async with serving(db, gmock, (use, "cpp")) as c:
        line, col = find(use, "operator ::testing::Matcher<T>()", 0, "Matcher")
        got = await c.text_document_definition_async(types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=use.as_uri()), position=types.Position(line=line, character=col)))
        header = gtest / "gtest" / "gtest-matchers.h"
        assert got and (got[0].uri, got[0].range.start.line) == (header.as_uri(), 2), got


def test_cpp_namespaces_classes_methods_using():
    src = ("namespace a { namespace b {\n/// A thing.\nclass Foo : public Base {\n public:\n  Foo();\n  int m(int x) const;\n"
           "  int v;\n};\nint Foo::m(int x) const { return g(v) + this->v; }\n}}\n"
           "namespace fs = std::filesystem;\nusing namespace a::b;\nnamespace { int hidden() { return 1; } }\n"
           "int use() { Foo f; return f.m(1) + hidden(); }\n")
    f = facts(src, path="src/x.cpp", lang=cpp)
    d = {}
    for row in f.defs:
        d.setdefault(row[0], []).append(row)
    assert d["c:a.b.Foo"][0][2] == "class" and d["c:a.b.Foo"][0][12] == "A thing."
    assert [r[2] for r in d["c:a.b.Foo.m"]] == ["method", "method"]     # in-class declaration + out-of-line body
    assert d["c:a.b.Foo.Foo"][0][2] == "constructor"
    assert "c:r/src/x.cpp.hidden" in d
    assert ("c:a.b.Foo", "c:a.b.Base") in f.bases
    aliases = {(a[0], a[1], a[2]) for a in f.aliases}
    assert ("c:a.b", "c:a", 1) in aliases and ("c:a", "c:", 1) in aliases       # lookup walks outwards
    assert ("c:r/src/x.cpp.fs", "c:std.filesystem", 0) in aliases
    assert ("c:r/src/x.cpp", "c:a.b", 1) in aliases                              # using namespace a::b
    refs = {(r[3], r[0]): r[4] for r in f.refs}
    assert refs[("g", 8)] == "c:a.b.Foo.g" and refs[("v", 8)] == "c:a.b.Foo.v"
    assert refs[("Foo", 13)] == "c:r/src/x.cpp.Foo" and refs[("hidden", 13)] == "c:r/src/x.cpp.hidden"


def test_header_language_rule():
    assert c.extract(b"class A { public: int x; };\n", Unit("a.h", "/x", "c:r/a.h", False, {"repo": "r"})).defs[1][2] == "class"
    assert c.extract(b"struct A { int x; };\n", Unit("a.h", "/x", "c:r/a.h", False, {"repo": "r"})).defs[1][2] == "struct"
    # a C++-only repo parses every .h as C++
    f = c.extract(b"struct A { int x; };\n", Unit("a.h", "/x", "c:r/a.h", False, {"repo": "r", "cpp_only": True}))
    assert ("c:A", "c:", 1, 0) in f.aliases


def test_project_include_roots_and_packages(tmp_path):
    shutil.copytree(C_ORG / "libacme", tmp_path / "libacme")
    proj = c.project(str(tmp_path / "libacme"), [])
    assert proj["include_roots"] == ["include", ""]
    assert ("c:libacme", "include", "include") in proj["packages"]
    assert "ACME_API" in proj["macros"]["decorators"]
    assert c.module_of(proj, "src/ring.c") == ("c:libacme/src/ring.c", False)
    f = c.extract((tmp_path / "libacme/include/acme/ring.h").read_bytes(),
                  Unit("include/acme/ring.h", str(tmp_path / "libacme"), "c:libacme/include/acme/ring.h", False, proj))
    assert ("c:acme/ring.h", "c:libacme/include/acme/ring.h", 0, 0) in f.aliases   # `#include <acme/ring.h>`


# ---------------------------------------------------------------------------- the fixture org, end to end


lang_org = org_fixture("c-org", C_ORG_DB)
org_client = client_fixture(C_ORG_DB, root="viewer")


MAIN = ("payments-svc", "src/main.c")
QUEUE = ("payments-svc", "src/queue.c")
RENDER = ("viewer", "app/render.cc")
RING_H = ("libacme", "include/acme/ring.h")
RING_C = ("libacme", "src/ring.c")
SHAPE_H = ("geo-cpp", "include/geo/shape.hpp")
SHAPE_CPP = ("geo-cpp", "src/shape.cpp")

DEFINITIONS = [
    # (use file, needle, sub) -> (definition file, needle, sub): the first location
    (MAIN, "acme_ring_new(ACME", "acme_ring_new", RING_C, "acme_ring_new(size_t", "acme_ring_new"),  # body before prototype
    (MAIN, "acme_ring_new(ACME_RING_MAX", "ACME_RING_MAX", RING_H, "define ACME_RING_MAX", "ACME_RING_MAX"),  # macro
    (MAIN, "acme_ring_p ring =", "acme_ring_p", RING_H, "*acme_ring_p;", "acme_ring_p"),                # typedef
    (MAIN, "ring->cap > 0", "cap", RING_H, "size_t cap;", "cap"),                                      # field through typedef chain
    (MAIN, "acme_log(0", "acme_log", ("libacme", "src/log.c"), "void acme_log(", "acme_log"),
    (MAIN, "pay_enqueue(&q", "pay_enqueue", QUEUE, "int pay_enqueue(", "pay_enqueue"),              # same repo, other file
    (MAIN, "#include <acme/ring.h>", "acme/ring.h", RING_H, "#ifndef ACME_RING_H", "#"),               # include path
    (QUEUE, "== ACME_FULL", "ACME_FULL", RING_H, "ACME_FULL,", "ACME_FULL"),                            # enum constant
    (QUEUE, "return (int)grow(1)", "grow", QUEUE, "static size_t grow(", "grow"),                      # own static, not libacme's
    (QUEUE, "q->dropped++", "dropped", ("payments-svc", "src/queue.h"), "int dropped;", "dropped"),
    (RENDER, "acme_log(1", "acme_log", ("libacme", "src/log.c"), "void acme_log(", "acme_log"),        # C++ calls C
    (RENDER, "g::Circle c(", "Circle", SHAPE_H, "class Circle", "Circle"),                             # namespace alias
    (RENDER, "const Shape &s", "Shape", SHAPE_H, "class Shape", "Shape"),                               # using namespace
    (RENDER, "s.describe()", "describe", SHAPE_CPP, "Shape::describe", "describe"),                    # out-of-line body
    (RENDER, "units::to_feet(", "to_feet", SHAPE_CPP, "units::to_feet", "to_feet"),
    (RENDER, "c.area()", "area", SHAPE_CPP, "Circle::area", "area"),
    (RENDER, "p->radius", "radius", SHAPE_H, "double radius;", "radius"),
    (RENDER, "geo::units::PI", "PI", SHAPE_H, "double PI", "PI"),
    (RENDER, "draw(c);", "draw", RENDER, "static void draw(", "draw"),
    (SHAPE_CPP, "return units::PI", "PI", SHAPE_H, "double PI", "PI"),                                 # enclosing namespace
    (SHAPE_CPP, "++calls", "calls", SHAPE_CPP, "int calls", "calls"),                                   # anonymous namespace
]


@ASYNC
@pytest.mark.parametrize("case", DEFINITIONS, ids=[f"{c[0][1]}:{c[2]}" for c in DEFINITIONS])
async def test_org_definition(org_client, case):
    use_file, needle, sub, def_file, def_needle, def_sub = case
    got = await definition(org_client, *use_file, needle, sub)
    assert got, f"no definition for {sub}"
    want = where(org_client, *def_file, def_needle, def_sub)
    if def_sub == "#":
        want = (want[0], 0, 0)
    assert got[0] == want, got


@ASYNC
async def test_org_definition_is_the_body_not_the_prototype(org_client):
    """One location, so the editor jumps: the function's body, not its prototype in the header."""
    got = await definition(org_client, *MAIN, "acme_ring_pop(ring", "acme_ring_pop")
    assert got == [where(org_client, *RING_C, "acme_ring_pop(acme", "acme_ring_pop")]


@ASYNC
async def test_org_references_across_repos(org_client):
    got = set(await references(org_client, *RING_C, "acme_ring_push(acme", "acme_ring_push", include_declaration=False))
    assert got == {where(org_client, *QUEUE, "acme_ring_push(q", "acme_ring_push"),
                   where(org_client, *RENDER, "acme_ring_push(ring", "acme_ring_push")}
    # a C++ method: from its use in another repo, every use (and not the unrelated geo-cpp `area` text)
    got = set(await references(org_client, *RENDER, "c.area()", "area", include_declaration=False))
    assert where(org_client, *RENDER, "c.area()", "area") in got


@ASYNC
async def test_org_hover_signature_doc_owner(org_client):
    text = await hover(org_client, *MAIN, "acme_ring_new(ACME", "acme_ring_new")
    assert "```c\nacme_ring_t * acme_ring_new(size_t cap)\n```" in text, text
    assert "@acme/platform" in text and "CODEOWNERS" in text
    text = await hover(org_client, *RENDER, "g::Circle c(", "Circle")
    assert "class Circle : public Shape" in text and "A circle around the origin." in text and "@acme/maps" in text


@ASYNC
async def test_org_workspace_symbol(org_client):
    result = await symbols(org_client, "acme_ring_push")
    assert result
    # one result per qualname and repo: the definition with a body, not the prototype
    top = [(s.name, s.kind, s.location.uri, s.location.range.start.line) for s in result]
    assert top == [("acme_ring_push", types.SymbolKind.Function, *where(org_client, *RING_C, "acme_ring_push(acme", "acme_ring_push")[:2])]
    result = await symbols(org_client, "Circle lang:cpp kind:class")
    assert [(s.name, s.kind) for s in result] == [("Circle", types.SymbolKind.Class)]


# ---------------------------------------------------------------------------- real code: zlib + libpng from Debian sources


@pytest.fixture(scope="module")
def real_c():
    from debsrc import deb_source_repo
    return indexed_real_code(C_REAL_DB, lambda: {"zlib": deb_source_repo("zlib", name="zlib"),
                                                 "libpng": deb_source_repo("libpng1.6", name="libpng")},
                             "Debian source packages")


real_client = client_fixture(C_REAL_DB, root="libpng", org="real_c", presets="neovim")


def _zlib_uses(real_c):
    """Uses in libpng (library and contrib programs) of the names zlib's public headers declare."""
    z = coracle.definitions(real_c["zlib"])
    own = coracle.definitions(real_c["libpng"], skip=())
    names = coracle.public_names(real_c["zlib"], ["zlib.h", "zconf.h"], z) - own.names()
    uses = coracle.uses(real_c["libpng"], names, "*.[ch]") + coracle.uses(real_c["libpng"], names, "contrib/**/*.c")
    return z, uses


def test_real_packages_and_include_aliases(real_c):
    conn = sqlite3.connect(f"file:{C_REAL_DB}?mode=ro", uri=True)
    pk = set(conn.execute("SELECT r.name, p.package, p.import_root, p.source FROM packages p JOIN repos r ON r.id = p.repo_id"))
    assert ("zlib", "c:zlib", "", "include") in pk and ("libpng", "c:libpng", "", "include") in pk
    assert ("zlib", "c:minizip", "contrib/minizip", "pkg-config") in pk
    assert conn.execute("SELECT canonical FROM resolved WHERE target = 'c:zlib.h'").fetchone()[0] == "c:zlib/zlib.h"


@ASYNC
async def test_real_cross_repo_definitions(real_client, real_c):
    z, uses = _zlib_uses(real_c)
    assert len(uses) >= 150 and len({u.name for u in uses}) >= 30
    good, misses = 0, []
    for u in uses:
        res = await definition_at(real_client, real_c["libpng"] / u.path, u.line, u.col)
        expected = {((real_c["zlib"] / p).as_uri(), ln) for p, ln in z.expected(u.name)}
        if res and (res[0][0], res[0][1]) in expected:
            good += 1
        else:
            misses.append(f"libpng/{u.path}:{u.line + 1} {u.name} expected {sorted(expected)[:2]} got {res[:2]}")
    n = len(uses)
    print(f"\nC go-to-definition, libpng -> zlib: {good}/{n} = {good / n:.1%} correct"
          + "".join(f"\n  miss: {m}" for m in misses[:20]))
    assert good / n >= 0.95


@ASYNC
async def test_real_references_reach_other_repo(real_client, real_c):
    """Find-references on zlib's `inflateEnd` body and `Z_STREAM_END` macro list libpng's uses."""
    z, uses = _zlib_uses(real_c)
    for name in ("inflateEnd", "Z_STREAM_END", "uInt"):
        (path, line), = sorted(z.expected(name))[:1]
        p = real_c["zlib"] / path
        col = p.read_text(encoding="utf-8").split("\n")[line].index(name)
        got = set(await references_at(real_client, p, line, col))
        want = {((real_c["libpng"] / u.path).as_uri(), u.line, u.col) for u in uses if u.name == name}
        assert want, name
        missing = want - got
        print(f"\nreferences of zlib {name}: {len(want) - len(missing)}/{len(want)} oracle uses in libpng found")
        assert not missing, sorted(missing)[:5]


# ---------------------------------------------------------------------------- real code: spdlog -> fmt (C++) from Debian


@pytest.fixture(scope="module")
def real_cpp():
    """fmt 9 (libfmt-dev) and spdlog 1.10 (libspdlog-dev, built against that fmt), their headers as
    shipped, each its own repo. fmt opens its namespace with macros (`FMT_BEGIN_NAMESPACE`)."""
    from debsrc import deb_repo
    return indexed_real_code(CPP_REAL_DB, lambda: {"fmt": deb_repo("libfmt-dev", "usr/include", "fmt"),
                                                   "spdlog": deb_repo("libspdlog-dev", "usr/include", "spdlog")},
                             "Debian packages")


real_cpp_client = client_fixture(CPP_REAL_DB, root="spdlog", org="real_cpp", presets="neovim")


def namespace_macros(defines: bytes) -> dict[str, str]:
    bodies, shapes = {}, {}
    cmacros.scan_defines(defines, bodies, shapes)
    return cmacros.namespace_macros(bodies)


def test_namespace_macros_open_the_namespace_they_spell():
    ns = namespace_macros(b"#define ACME_BEGIN_NAMESPACE namespace fmt { inline namespace v9 {\n"
                          b"#define ACME_END_NAMESPACE } }\n#define ACME_DETAIL_BEGIN namespace detail {\n"
                          b"#define ACME_DETAIL_END }\n#define TOO_LONG namespace averyverylongname {\n#define LOG(x) x\n")
    # the replacement must fit in the macro's name (positions never move): TOO_LONG is left alone
    assert ns == {"ACME_BEGIN_NAMESPACE": "namespace fmt{", "ACME_END_NAMESPACE": "}",
                  "ACME_DETAIL_BEGIN": "namespace detail{", "ACME_DETAIL_END": "}"}
    project = {"repo": "fmt", "cpp_only": True, "macros": {**cmacros.repo_decorators({}, {}), "namespaces": ns}}
    src = ("ACME_BEGIN_NAMESPACE\nACME_DETAIL_BEGIN\nint helper();\nACME_DETAIL_END\nclass buffer {};\n"
           "inline namespace v10 { int f() { return 1; } }\nACME_END_NAMESPACE\n")
    f = facts(src, "include/fmt/core.h", project, cpp)
    quals = {d[0] for d in f.defs}
    assert {"c:fmt.detail.helper", "c:fmt.buffer", "c:fmt.f"} <= quals, quals
    assert not any("v9" in q or "v10" in q for q in quals)      # inline namespaces add nothing to a name
    assert f.errors == 0
    # the namespaces are defined where the macros open them; the name range is the macro's
    ns = {d[0]: (d[8], d[9], d[10]) for d in f.defs if d[2] == "namespace"}
    assert ns == {"c:fmt": (0, 0, len("ACME_BEGIN_NAMESPACE")), "c:fmt.detail": (1, 0, len("ACME_DETAIL_BEGIN"))}


def test_an_inline_namespace_named_by_a_macro_call_still_opens():
    """nlohmann-json 3.11: `NLOHMANN_JSON_NAMESPACE_BEGIN` is `namespace nlohmann { inline namespace
    NLOHMANN_JSON_NAMESPACE_CONCAT(TAGS, VERSION) {`. Not recognised, no definition of the library was
    under `nlohmann`: 1 of 190 uses in xeus, valijson, cpp-jwt and pybind11-json found it."""
    ns = namespace_macros(b"#define NLOHMANN_JSON_NAMESPACE_BEGIN \\\n    namespace nlohmann \\\n    { \\\n"
                          b"    inline namespace NLOHMANN_JSON_NAMESPACE_CONCAT( \\\n        TAGS, \\\n        VERSION) \\\n    {\n"
                          b"#define NLOHMANN_JSON_NAMESPACE_END \\\n    } /* inline */ \\\n    } // namespace nlohmann\n")
    assert ns == {"NLOHMANN_JSON_NAMESPACE_BEGIN": "namespace nlohmann{", "NLOHMANN_JSON_NAMESPACE_END": "}"}
    project = {"repo": "nlohmann", "cpp_only": True, "macros": {**cmacros.repo_decorators({}, {}), "namespaces": ns}}
    f = facts("NLOHMANN_JSON_NAMESPACE_BEGIN\nclass basic_json {};\nusing json = basic_json;\nNLOHMANN_JSON_NAMESPACE_END\n",
              "nlohmann/json_fwd.hpp", project, cpp)
    assert {"c:nlohmann.basic_json", "c:nlohmann.json"} <= {d[0] for d in f.defs} and f.errors == 0


@ASYNC
async def test_real_cpp_cross_repo_definitions(real_cpp_client, real_cpp):
    defs = cpporacle.definitions(real_cpp["fmt"])
    # and through spdlog's alias `namespace fmt_lib = fmt;` (`std` when built with std::format instead)
    uses = cpporacle.qualified_uses(real_cpp["spdlog"], "fmt") + cpporacle.qualified_uses(real_cpp["spdlog"], "fmt_lib")
    spaces = cpporacle.namespaces(real_cpp["fmt"])
    checked = [u for u in uses if defs.get(u.name) and all(x in spaces for x in u.inner)]
    # not in this fmt (`fmt::internal::` is fmt 7's, used behind an #if)
    absent = sorted({"::".join(u.inner + (u.name,)) for u in uses if u not in checked})
    assert len(checked) >= 30 and len({u.name for u in checked}) >= 12
    good, misses = 0, []
    for u in checked:
        res = await definition_at(real_cpp_client, real_cpp["spdlog"] / u.path, u.line, u.col)
        expected = {((real_cpp["fmt"] / p).as_uri(), ln) for p, ln in defs[u.name]}
        if res and (res[0][0], res[0][1]) in expected:
            good += 1
        else:
            misses.append(f"spdlog/{u.path}:{u.line + 1} {u.name} expected {sorted(expected)[:2]} got {res[:2]}")
    n = len(checked)
    print(f"\nC++ go-to-definition, spdlog -> fmt (fmt:: and fmt_lib::): {good}/{n} = {good / n:.1%} correct "
          f"({len(absent)} names fmt 9 does not define: {', '.join(absent)})"
          + "".join(f"\n  miss: {m}" for m in misses[:20]))
    assert good / n >= 0.95


@ASYNC
async def test_real_cpp_references_reach_other_repo(real_cpp_client, real_cpp):
    """Find-references on fmt's `basic_memory_buffer` class lists spdlog's uses."""
    defs = cpporacle.definitions(real_cpp["fmt"])
    (path, line), = sorted(p for p in defs["basic_memory_buffer"] if p[0].endswith("format.h"))[:1]
    text = (real_cpp["fmt"] / path).read_text().split("\n")[line]
    got = await references_at(real_cpp_client, real_cpp["fmt"] / path, line, text.index("basic_memory_buffer"))
    spdlog_uses = {((real_cpp["spdlog"] / u.path).as_uri(), u.line) for u in cpporacle.qualified_uses(real_cpp["spdlog"], "fmt")
                   if u.name == "basic_memory_buffer"}
    assert spdlog_uses and spdlog_uses <= {(uri, ln) for uri, ln, _ in got}

