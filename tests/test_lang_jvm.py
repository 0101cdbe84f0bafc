"""Java and Kotlin: project layout, extraction, and cross-repo navigation end to end.

(a) tests/fixtures/jvm-org: three repos of three teams (billing-core: Maven, Java; billing-kt:
    Gradle, Kotlin calling the Java; reports: Gradle, Java calling both), indexed by the real CLI,
    asked through the real server over stdio with both client presets.
(b) react-native's Android sources and seven React Native libraries from npm (tests/jvmsrc.py),
    with expected definitions from a source-layout oracle that knows nothing of crossnav.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

import jvmsrc
from langorg import (client_fixture, definition, definition_at, hover, indexed_real_code, open_doc, org_fixture, references,
                     references_at, symbols, where)
from orgutil import SESSION_DIR, TESTS, find

from crossnav.index.lang import Unit, java, kotlin

ASYNC = pytest.mark.asyncio(loop_scope="module")
JVM_ORG = TESTS / "fixtures" / "jvm-org"
JVM_DB = SESSION_DIR / "jvm-org.db"
JVM_REAL_DB = SESSION_DIR / "jvm-real.db"
REMOTES = {"billing-core": "git@github.com:acme/billing-core.git",
           "billing-kt": "git@github.com:acme/billing-kt.git",
           "reports": "https://gitlab.example.com/acme/analytics/reports.git"}

CORE = ("billing-core", "src/main/java/com/acme/billing/Invoice.java")
DOCUMENT = ("billing-core", "src/main/java/com/acme/billing/Document.java")
MONEY = ("billing-core", "src/main/java/com/acme/billing/Money.java")
STATUS = ("billing-core", "src/main/java/com/acme/billing/Status.java")
PAYABLE = ("billing-core", "src/main/java/com/acme/billing/Payable.java")
FORMATS = ("billing-core", "src/main/java/com/acme/billing/util/Formats.java")
CHECKOUT = ("billing-kt", "src/main/kotlin/com/acme/checkout/Checkout.kt")
REPORT = ("reports", "src/main/java/com/acme/reports/DailyReport.java")
ROW = ("reports", "src/main/java/com/acme/reports/ReportRow.java")


# ---------------------------------------------------------------------------- the fixture org


lang_org = org_fixture("jvm-org", JVM_DB, remotes=REMOTES.get)
client = client_fixture(JVM_DB, root="reports")


def test_project_reads_maven_and_gradle():
    core = java.project(str(JVM_ORG / "billing-core"), [
        "src/main/java/com/acme/billing/Invoice.java", "src/main/java/com/acme/billing/util/Formats.java", "pom.xml"])
    assert (core["build"], core["group"], core["artifact"]) == ("pom.xml", "com.acme", "billing-core")
    assert core["packages"] == [("jvm:com.acme.billing", "src/main/java", "pom.xml")]
    kt = kotlin.project(str(JVM_ORG / "billing-kt"), ["src/main/kotlin/com/acme/checkout/Checkout.kt"])
    assert (kt["build"], kt["group"], kt["artifact"]) == ("build.gradle", "com.acme.mobile", "billing-kt")
    assert kt["packages"] == [("jvm:com.acme.checkout", "src/main/kotlin", "build.gradle")]


def test_project_without_build_files_uses_package_declarations(tmp_path):
    (tmp_path / "android/src/com/horcrux/svg").mkdir(parents=True)
    (tmp_path / "android/src/com/horcrux/svg/A.java").write_text("package com.horcrux.svg;\nclass A {}\n")
    (tmp_path / "android/src/com/horcrux/svg/B.kt").write_text("// x\npackage com.horcrux.svg\nclass B\n")
    p = java.project(str(tmp_path), ["android/src/com/horcrux/svg/A.java", "android/src/com/horcrux/svg/B.kt"])
    assert p["packages"] == [("jvm:com.horcrux.svg", "android/src", "package")]


def test_module_of_is_the_package(tmp_path):
    d = tmp_path / "src/main/java/com/acme/x"
    d.mkdir(parents=True)
    (d / "Declared.java").write_text("/* package com.wrong; */\npackage com.acme.other;\nclass Declared {}\n")
    (d / "Undeclared.java").write_text("class Undeclared {}\n")
    p = java.project(str(tmp_path), ["src/main/java/com/acme/x/Declared.java", "src/main/java/com/acme/x/Undeclared.java"])
    assert java.module_of(p, "src/main/java/com/acme/x/Declared.java") == ("jvm:com.acme.other", False)
    assert java.module_of(p, "src/main/java/com/acme/x/Undeclared.java") == ("jvm:com.acme.x", False)   # the folder


def facts_of(mod, src: str, module="jvm:fallback"):
    return mod.extract(src.encode(), Unit(path="X", root="/", module=module, is_package=False))


def test_java_definitions_kinds_signatures_docs():
    f = facts_of(java, (JVM_ORG / CORE[0] / CORE[1]).read_text())
    d = {(q, k): (name, sig, doc, typ) for q, name, k, _c, *_pos, sig, doc, typ in
         [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13]) for r in f.defs]}
    B = "jvm:com.acme.billing"
    assert (B, "package") in d
    name, sig, doc, _ = d[(f"{B}.Invoice", "class")]
    assert sig == "public class Invoice extends Document implements Payable"
    assert doc == "An invoice: lines of money owed by one customer."
    assert d[(f"{B}.Invoice.<init>", "constructor")][:2] == ("Invoice", "public Invoice(String id)")
    assert d[(f"{B}.Invoice.Line", "class")][0] == "Line"
    assert d[(f"{B}.Invoice.MAX_LINES", "constant")][1] == "public static final int MAX_LINES"
    assert d[(f"{B}.Invoice.lines", "field")][3] == "jvm:java.util.List"
    assert d[(f"{B}.Invoice.of", "method")][1:] == ("public static Invoice of(String id, Money first)",
                                                     "A new invoice with one line.", f"{B}.Invoice")
    assert (f"{B}.Invoice", f"{B}.Document") in f.bases and (f"{B}.Invoice", f"{B}.Payable") in f.bases
    kinds = {r[2] for r in facts_of(java, "package a; enum E { X; } record R(int v) {} interface I {}").defs}
    assert kinds == {"package", "enum", "enum_member", "record", "field", "interface"}


def test_kotlin_definitions_and_companion_base():
    f = facts_of(kotlin, (JVM_ORG / CHECKOUT[0] / CHECKOUT[1]).read_text())
    d = {(r[0], r[2]): r for r in f.defs}
    C = "jvm:com.acme.checkout"
    assert d[(f"{C}.Checkout", "class")][12] == "The checkout flow of the mobile app."
    assert (f"{C}.Checkout.Companion", "object") in d and (f"{C}.Registry", "object") in d
    assert d[(f"{C}.Checkout.Companion.create", "method")][11] == "fun create(): Checkout"
    assert (f"{C}.checkoutTotal", "function") in d and (f"{C}.Receipt.invoice", "property") in d
    assert (f"{C}.Checkout", f"{C}.Checkout.Companion") in f.bases        # Checkout.create() finds the companion's
    assert (f"{C}.Receipt", "jvm:com.acme.billing.Document") in f.bases
    assert ("jvm:com.acme.checkout", "jvm:com.acme.billing.util", 1, 6) in f.aliases   # import com.acme.billing.util.*
    g = facts_of(kotlin, "package p\nconst val K = 1\ntypealias Id = String\nclass A { constructor(x: Int) }\n")
    assert {(r[0], r[1], r[2]) for r in g.defs} >= {("jvm:p.K", "K", "constant"), ("jvm:p.Id", "Id", "type"),
                                                    ("jvm:p.A.<init>", "A", "constructor")}


def test_index_rows(lang_org):
    c = sqlite3.connect(f"file:{JVM_DB}?mode=ro", uri=True)
    try:
        langs = dict(c.execute("SELECT path, language FROM files WHERE path LIKE '%Checkout.kt' OR path LIKE '%Invoice.java'"))
        assert set(langs.values()) == {"java", "kotlin"}
        pkgs = set(c.execute("SELECT r.name, p.package, p.import_root, p.source FROM packages p JOIN repos r ON r.id = p.repo_id"))
        assert pkgs == {("billing-core", "jvm:com.acme.billing", "src/main/java", "pom.xml"),
                        ("billing-kt", "jvm:com.acme.checkout", "src/main/kotlin", "build.gradle"),
                        ("reports", "jvm:com.acme.reports", "src/main/java", "build.gradle")}
    finally:
        c.close()


# (id, use (repo, path), needle, sub, definition (repo, path), needle, sub)
DEFINITIONS = [
    ("kt-import-java-class", CHECKOUT, "import com.acme.billing.Invoice", "Invoice", CORE, "class Invoice", "Invoice"),
    ("kt-static-call-java", CHECKOUT, "Invoice.of(customer, Money(250", "of", CORE, "Invoice of(", "of"),
    ("kt-ctor-call-is-class", CHECKOUT, "Money(250", "Money", MONEY, "record Money", "Money"),
    ("kt-value-type-from-return", CHECKOUT, "invoice.total()", "total", CORE, "Money total()", "total"),
    ("kt-nested-java-class", CHECKOUT, "val line: Invoice.Line", "Line", CORE, "class Line", "Line"),
    ("kt-wildcard-import", CHECKOUT, "Formats.format(due)", "Formats", FORMATS, "class Formats", "Formats"),
    ("kt-wildcard-import-member", CHECKOUT, "Formats.format(due)", "format", FORMATS, "String format(", "format"),
    ("kt-extends-java", CHECKOUT, ": Document(id)", "Document", DOCUMENT, "class Document", "Document"),
    ("kt-inherited-java-method", CHECKOUT, '"Receipt " + id()', "id", DOCUMENT, "String id()", "id"),
    ("kt-enum-member-method", CHECKOUT, "Status.OPEN.isFinal()", "isFinal", STATUS, "boolean isFinal", "isFinal"),
    ("kt-enum-member", CHECKOUT, "Status.OPEN.isFinal()", "OPEN", STATUS, "OPEN,", "OPEN"),
    ("java-kotlin-companion", REPORT, "Checkout.create().pay()", "create", CHECKOUT, "fun create()", "create"),
    ("java-kotlin-return-type", REPORT, "Checkout.create().pay()", "pay", CHECKOUT, "fun pay()", "pay"),
    ("java-kotlin-object", REPORT, "Registry.INSTANCE.register", "register", CHECKOUT, "fun register", "register"),
    ("java-kotlin-class-ctor", REPORT, 'new Receipt("r-1"', "Receipt", CHECKOUT, "class Receipt", "Receipt"),
    ("java-fqn-in-code", REPORT, "com.acme.billing.Status.PAID.isFinal()", "PAID", STATUS, "PAID;", "PAID"),
    ("java-fqn-member", REPORT, "com.acme.billing.Status.PAID.isFinal()", "isFinal", STATUS, "boolean isFinal", "isFinal"),
    ("java-static-import", REPORT, "new ReportRow(format(both))", "format", FORMATS, "String format(", "format"),
    ("java-field-value-type", REPORT, "invoice.total().cents()", "total", CORE, "Money total()", "total"),
    ("java-record-component", REPORT, "invoice.total().cents()", "cents", MONEY, "long cents", "cents"),
    ("java-var-inference", REPORT, "Money both = sum.plus(due)", "plus", MONEY, "Money plus(", "plus"),
    ("java-param-interface", REPORT, "payable.amountDue()", "amountDue", PAYABLE, "Money amountDue()", "amountDue"),
    ("java-same-package", REPORT, "public ReportRow row(", "ReportRow", ROW, "class ReportRow", "ReportRow"),
]


@ASYNC
@pytest.mark.parametrize("case", DEFINITIONS, ids=[c[0] for c in DEFINITIONS])
async def test_definition(client: LanguageClient, case):
    _, use, needle, sub, target, tneedle, tsub = case
    assert (await definition(client, *use, needle, sub))[:1] == [where(client, *target, tneedle, tsub)]


@ASYNC
async def test_references_cross_repo_and_language(client: LanguageClient):
    got = set(await references(client, *CORE, "public Money total()", "total"))
    for file, needle in ((CHECKOUT, "invoice.total()"), (REPORT, "invoice.total().cents()"), (CORE, ": total();")):
        assert where(client, *file, needle, "total") in got, needle
    assert where(client, *CORE, "public Money total()", "total") in got


@ASYNC
async def test_hover_java_class_from_kotlin(client: LanguageClient):
    text = await hover(client, *CHECKOUT, "Invoice.of(customer, Money(250", "Invoice")
    assert "```java\npublic class Invoice extends Document implements Payable" in text
    assert "An invoice: lines of money owed by one customer." in text
    assert "@acme/billing-team" in text and "CODEOWNERS" in text
    assert "billing-core" in text


@ASYNC
async def test_hover_kotlin_companion_from_java(client: LanguageClient):
    text = await hover(client, *REPORT, "Checkout.create()", "create")
    assert "```kotlin\nfun create(): Checkout" in text and "A checkout for a walk-in customer." in text
    assert "@acme/mobile" in text


@ASYNC
async def test_workspace_symbol(client: LanguageClient):
    result = await symbols(client, "Invoice")
    first = result[0]
    assert (first.name, first.kind) == ("Invoice", types.SymbolKind.Class)
    uri, line, ch = where(client, *CORE, "class Invoice", "Invoice")
    assert (first.location.uri, first.location.range.start.line, first.location.range.start.character) == (uri, line, ch)
    result = await symbols(client, "kind:method lang:kotlin create")
    assert [s.name for s in result][:1] == ["create"]
    assert result[0].location.uri.endswith("Checkout.kt")


# ---------------------------------------------------------------------------- real code (npm)


@pytest.fixture(scope="module")
def real() -> dict[str, Path]:
    return indexed_real_code(JVM_REAL_DB, jvmsrc.all_repos, "react-native sources from npm")


@pytest.fixture(scope="module")
def real_cases(real):
    layout = jvmsrc.Layout(real["react-native"])
    cases, unplaced = [], []
    for name, root in sorted(real.items()):
        if name != "react-native":
            c, u = jvmsrc.cross_repo_cases(root, layout)
            cases += c
            unplaced += u
    return cases, unplaced


real_client = client_fixture(JVM_REAL_DB, root="react-native-screens", org="real", presets="visual_studio_code")


def test_oracle_sees_the_libraries_imports(real_cases):
    cases, _ = real_cases
    names = {c.name for c in cases}
    assert {"ReactApplicationContext", "ReactContextBaseJavaModule", "ReactMethod", "Arguments", "ReadableMap"} <= names
    assert sum(c.member for c in cases) >= 300 and len(cases) >= 2000
    assert {c.file.suffix for c in cases} == {".java", ".kt"}


@ASYNC
async def test_real_cross_repo_definitions(real_client: LanguageClient, real_cases):
    cases, _ = real_cases
    wrong = []
    for c in cases:
        open_doc(real_client, c.file)
        got = (await definition_at(real_client, c.file, c.line, c.col))[:1]
        expected = {(p.as_uri(), ln) for p, ln in c.expected}
        if not got or (got[0][0], got[0][1]) not in expected:
            wrong.append(f"{c.file.name}:{c.line + 1}:{c.col} {c.name}: got {got[:1]}")
    ok = len(cases) - len(wrong)
    members = sum(c.member for c in cases)
    print(f"\nreal Java/Kotlin cross-repo definitions (react-native 0.76.9 + 7 libraries from npm): "
          f"{ok}/{len(cases)} = {ok / len(cases):.1%} ({members} members, {len(cases) - members} classes)",
          *wrong[:30], sep="\n")
    assert ok / len(cases) >= 0.95, "\n".join(wrong[:50])


@ASYNC
async def test_real_references_reach_other_repos(real_client: LanguageClient, real, real_cases):
    cases, _ = real_cases
    rn = real["react-native"]
    f = rn / jvmsrc.RN_SOURCE_ROOT / "com/facebook/react/bridge/ReactContextBaseJavaModule.java"
    line, col = find(f, "class ReactContextBaseJavaModule", 0, "ReactContextBaseJavaModule")
    open_doc(real_client, f)
    got = {(uri, ln) for uri, ln, _ in await references_at(real_client, f, line, col)}
    expected = {(c.file.as_uri(), c.line) for c in cases if c.name == "ReactContextBaseJavaModule"}
    assert len({u for u, _ in expected}) >= 5                  # modules in several libraries extend it
    assert expected <= got, sorted(expected - got)[:10]


def test_columns_are_code_points_after_non_ascii_text():
    src = 'package p;\nclass A { String s = "héllo😀"; B b = new B(); }\n'
    f = facts_of(java, src)
    line = src.split("\n")[1]
    refs = {(r[3], r[1], r[2]) for r in f.refs}
    col = line.index("B b")
    assert ("B", col, col + 1) in refs
    col = line.index("B()")
    assert ("B", col, col + 1) in refs
    d = next(r for r in f.defs if r[0] == "jvm:p.A.b")
    assert (d[9], d[10]) == (line.index("b ="), line.index("b =") + 1)
    k = facts_of(kotlin, 'package p\nval s = "ü"; val t = Foo()\n')
    line = 'val s = "ü"; val t = Foo()'
    assert ("Foo", line.index("Foo"), line.index("Foo") + 3) in {(r[3], r[1], r[2]) for r in k.refs}


@pytest.mark.asyncio
async def test_a_call_lands_on_the_overload_with_as_many_parameters(tmp_path):
    """Overloads share one qualified name: jackson-databind's `g.writeStartObject(this, node.size())`
    landed on `writeStartObject()`, the first declared (57 of 204 calls to overloaded jackson-core
    methods). The call's argument count now picks the overload, in declaration order among equals."""
    from orgutil import commit_and_index, serving
    lib, app = tmp_path / "core", tmp_path / "app"
    gen = lib / "src" / "main" / "java" / "com" / "acme" / "core" / "Gen.java"
    gen.parent.mkdir(parents=True)
    gen.write_text("package com.acme.core;\n\npublic class Gen {\n"
                   "    public void write() { }\n"
                   "    public void write(Object value) { }\n"
                   "    public void write(java.util.Map<String, Object> value, int size) { }\n"
                   "    public void flush() { }\n}\n")
    use = app / "src" / "main" / "java" / "com" / "acme" / "app" / "Use.java"
    use.parent.mkdir(parents=True)
    use.write_text("package com.acme.app;\n\nimport com.acme.core.Gen;\n\nclass Use {\n"
                   "    void run(Gen g, java.util.Map<String, Object> m) {\n"
                   "        g.write(m, m.size());\n        g.write(\"a, b\");\n        g.write();\n        g.write(\n            m,\n            0);\n"
                   "    }\n}\n")
    db = commit_and_index(tmp_path / "jvm.db", lib, app)
    async with serving(db, app, (use, "java")) as c:
        lines = use.read_text().split("\n")
        for needle, want in (("g.write(m, m.size())", 5), ('g.write("a, b")', 4), ("g.write();", 3), ("g.write(\n", 5)):
            line = next(i for i, ln in enumerate(lines) if needle.split("\n")[0] in ln and (needle.endswith("\n") == ln.rstrip().endswith("(")))
            col = lines[line].index("write")
            got = await c.text_document_definition_async(types.DefinitionParams(
                text_document=types.TextDocumentIdentifier(uri=use.as_uri()), position=types.Position(line=line, character=col)))
            assert got and (got[0].uri, got[0].range.start.line) == (gen.as_uri(), want), (needle, got)
