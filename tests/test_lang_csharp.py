"""C#: the extractor on its own, the fixture org (tests/fixtures/csharp-org: two teams' repos) end to end
through `crossnav index` and `crossnav serve` over stdio, and real Debian C# (dbus-sharp and
dbus-sharp-glib, which builds on it) checked against an independent regex oracle."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from crossnav.index.lang import Unit, csharp
from langorg import (at, client_fixture, definition, definition_at, extraction_speed, file, hover, indexed_real_code,
                     org_fixture, references, references_at, symbols, where)
from orgutil import MAX_FILE_KIB, SESSION_DIR, find

CS_DB = SESSION_DIR / "csharp-org.db"
REAL_DB = SESSION_DIR / "csharp-real.db"

HTTP = ("acme-http", "src/Acme.Http/HttpClient.cs")
RETRY = ("acme-http", "src/Acme.Http/Retry/RetryPolicy.cs")
CHARGER = ("billing", "src/Billing/Charger.cs")
REFUNDS = ("billing", "src/Billing/Refunds.cs")


def facts(src: str, path="x.cs"):
    return csharp.extract(src.encode(), Unit(path, "/nonexistent", "cs:x", False, {}))


# ---------------------------------------------------------------------------- extractor


def test_namespaces_types_members_and_kinds():
    f = facts("namespace A.B;\n/// <summary>The <see cref=\"T:A.B.C\"/> thing &amp; more.</summary>\n"
              "public partial class C<T> : Base<T>, IX where T : class {\n"
              "  public const int Max = 3;\n  private int _n;\n  public string Name { get; set; }\n"
              "  public C(int n) { _n = n; }\n  public T Get<U>(U u) => default;\n"
              "  public enum Mode { Fast, Slow = 2 }\n  public record P(int X);\n"
              "  public struct S { } public interface I { void M(); }\n  public event System.EventHandler Changed;\n}\n")
    kinds = {d[0]: d[2] for d in f.defs}
    assert kinds == {
        "cs:A": "namespace", "cs:A.B": "namespace", "cs:A.B.C": "class", "cs:A.B.C.Max": "constant",
        "cs:A.B.C._n": "field", "cs:A.B.C.Name": "property", "cs:A.B.C.#ctor": "constructor", "cs:A.B.C.Get": "method",
        "cs:A.B.C.Mode": "enum", "cs:A.B.C.Mode.Fast": "enum_member", "cs:A.B.C.Mode.Slow": "enum_member",
        "cs:A.B.C.P": "record", "cs:A.B.C.P.X": "property", "cs:A.B.C.S": "struct", "cs:A.B.C.I": "interface",
        "cs:A.B.C.I.M": "method", "cs:A.B.C.Changed": "field"}
    cls = next(d for d in f.defs if d[0] == "cs:A.B.C")
    assert cls[11] == "public partial class C<T> : Base<T>, IX where T : class"
    assert cls[12] == "The A.B.C thing & more."
    assert (cls[8], cls[9], cls[10]) == (2, 21, 22)
    get = next(d for d in f.defs if d[0] == "cs:A.B.C.Get")
    assert get[11] == "public T Get<U>(U u)" and get[13] is None     # type parameters are no types
    assert ("cs:A.B.C", "cs:A.B.Base") in f.bases and ("cs:A.B.C", "cs:A.B.IX") in f.bases
    # lexical scopes: the type sees its namespace, the namespace its parent, the outermost the global one
    assert {a[:3] for a in f.aliases} >= {("cs:A.B.C", "cs:A.B", 1), ("cs:A.B", "cs:A", 1), ("cs:A", "cs:", 1)}


def test_usings_locals_and_value_types():
    f = facts("using System.Text;\nusing static Acme.Util.MathX;\nusing H = Acme.Http.HttpClient;\n"
              "namespace N {\n class K {\n  H _h;\n  void M(H p, int n) {\n   var local = new Acme.Http.Request();\n"
              "   p.Send(local); _h.Send(null); local.Path.Trim(); n.ToString(); Helper.Run(n);\n  }\n }\n}\n")
    refs = {(r[3], r[4]) for r in f.refs}
    assert ("H", "cs:Acme.Http.HttpClient") in refs                     # the using alias, resolved in the file
    assert ("Send", "cs:Acme.Http.HttpClient().Send") in refs           # parameter typed by the alias
    assert ("Send", "cs:N.K._h.Send") in refs                           # field: its type is on the def
    assert ("Path", "cs:N.K.Acme.Http.Request().Path") in refs          # `var x = new T()`
    assert ("Run", "cs:N.K.Helper.Run") in refs
    names = [r[3] for r in f.refs]
    assert "local" not in names and "p" not in names and "n" not in names   # locals are not stored
    assert ("ToString", None) in refs                                    # int has no members we know
    assert next(d for d in f.defs if d[0] == "cs:N.K._h")[13] == "cs:Acme.Http.HttpClient"
    stars = {(a[0], a[1]) for a in f.aliases if a[2] == 1}
    assert ("cs:N", "cs:System.Text") in stars and ("cs:N", "cs:Acme.Util.MathX") in stars
    assert {"cs:System", "cs:System.Text", "cs:Acme"} <= f.imports


def test_file_without_namespace_gives_usings_to_its_types():
    f = facts("using DBus;\nclass Program { static void Main() { Bus.Session.Ping(); } }\n")
    assert ("cs:Program", "cs:DBus", 1) in {a[:3] for a in f.aliases}
    assert ("Session", "cs:Program.Bus.Session") in {(r[3], r[4]) for r in f.refs}


def test_non_ascii_columns_are_code_points():
    f = facts("namespace N { class K { string s = \"héllo😀\"; void M() { Target(); } } }\n")
    ref = next(r for r in f.refs if r[3] == "Target")
    line = "namespace N { class K { string s = \"héllo😀\"; void M() { Target(); } } }"
    assert ref[1] == line.index("Target") and ref[2] == ref[1] + 6


def test_project_reads_csproj_and_module_guess(tmp_path):
    (tmp_path / "src/Lib").mkdir(parents=True)
    (tmp_path / "src/Lib/Lib.csproj").write_text("<Project><PropertyGroup><RootNamespace>Acme.Lib</RootNamespace>"
                                                 "</PropertyGroup></Project>")
    (tmp_path / "src/Lib/Sub").mkdir()
    p = csharp.project(str(tmp_path), ["src/Lib/Sub/A.cs", "src/Lib/B.cs"])
    assert p["packages"] == [("cs:Acme.Lib", "src/Lib", "csproj")]
    assert csharp.module_of(p, "src/Lib/Sub/A.cs") == ("cs:Acme.Lib.Sub", False)
    assert csharp.project("/nonexistent/repo", ["a/B.cs"])["packages"] == []


# ---------------------------------------------------------------------------- the fixture org, end to end


lang_org = org_fixture("csharp-org", CS_DB)
client = client_fixture(CS_DB)


aio = pytest.mark.asyncio(loop_scope="module")

# (id, use file, needle, sub, definition file, needle, sub)
DEFINITIONS = [
    ("base-class-other-repo", CHARGER, "class Charger : HttpClient", "HttpClient", HTTP, "public class HttpClient", "HttpClient"),
    ("field-type", CHARGER, "readonly HttpClient _client", "HttpClient", HTTP, "public class HttpClient", "HttpClient"),
    ("method-through-field-type", CHARGER, "_client.Send(new Request(\"/charge", "Send", HTTP, "public Response Send", "Send"),
    ("record-from-using", CHARGER, "new Request(\"/charge", "Request", HTTP, "public record Request", "Request"),
    ("using-alias", CHARGER, "new Policy { Attempts", "Policy", RETRY, "public class RetryPolicy", "RetryPolicy"),
    ("static-method-through-alias", CHARGER, "Policy.Default()", "Default", RETRY, "static RetryPolicy Default", "Default"),
    ("object-initializer-property", CHARGER, "{ Attempts = 5 }", "Attempts", RETRY, "public int Attempts { get; init; }", "Attempts"),
    ("inherited-property", CHARGER, "WriteLine(Timeout", "Timeout", HTTP, "public int Timeout", "Timeout"),
    ("constant", CHARGER, "HttpClient.DefaultTimeout", "DefaultTimeout", HTTP, "public const int DefaultTimeout", "DefaultTimeout"),
    ("qualified-enum-member", CHARGER, "Retry.Backoff.Fixed", "Fixed", RETRY, "    Fixed,", "Fixed"),
    ("qualified-namespace-part", CHARGER, "Acme.Http.Retry.Backoff", "Retry", RETRY, "namespace Acme.Http.Retry;", "Retry"),
    ("member-of-returned-type", CHARGER, "response.Status +", "Status", HTTP, "public int Status", "Status"),
    ("declared-local-type", CHARGER, "again.Status", "Status", HTTP, "public int Status", "Status"),
    ("interface-member-via-property-type", REFUNDS, "Policy.Attempts", "Attempts", RETRY, "int Attempts { get; }", "Attempts"),
    ("file-scoped-using", REFUNDS, "= RetryPolicy.Default()", "RetryPolicy", RETRY, "public class RetryPolicy", "RetryPolicy"),
]


@aio
@pytest.mark.parametrize("case", DEFINITIONS, ids=[c[0] for c in DEFINITIONS])
async def test_definition(client: LanguageClient, case):
    _, use, needle, sub, target, tneedle, tsub = case
    got = sorted(await definition(client, *use, needle, sub))
    assert got == [where(client, *target, tneedle, tsub)]


@aio
async def test_references_span_repos(client: LanguageClient):
    decl = where(client, *HTTP, "public Response Send", "Send")
    got = sorted(await references(client, *HTTP, "public Response Send", "Send"))
    assert got == sorted([decl, where(client, *CHARGER, "_client.Send(new Request(\"/charge", "Send"),
                          where(client, *CHARGER, "_client.Send(new Request(\"/retry", "Send")])
    # the same answer from a use in the other repo
    from_use = sorted(await references(client, *CHARGER, "_client.Send(new Request(\"/retry", "Send"))
    assert from_use == got


@aio
async def test_references_of_a_type_include_alias_uses(client: LanguageClient):
    got = sorted(await references(client, *RETRY, "public class RetryPolicy", "RetryPolicy", include_declaration=False))
    want = [where(client, *CHARGER, "Policy.Default()", "Policy"), where(client, *CHARGER, "new Policy {", "Policy"),
            where(client, *CHARGER, "Retry.RetryPolicy;", "RetryPolicy"),       # the using alias's target
            where(client, *REFUNDS, "= RetryPolicy.Default()", "RetryPolicy"),
            where(client, *HTTP, "private readonly RetryPolicy", "RetryPolicy"),
            where(client, *HTTP, "HttpClient(RetryPolicy policy)", "RetryPolicy"),
            where(client, *RETRY, "static RetryPolicy Default", "RetryPolicy"),
            where(client, *RETRY, "=> new RetryPolicy()", "RetryPolicy")]
    assert got == sorted(want)   # not the alias name `Policy` in `using Policy = ...` (a binding, not a use)


@aio
async def test_hover_shows_signature_doc_and_owner(client: LanguageClient):
    text = await hover(client, *CHARGER, "class Charger : HttpClient", "HttpClient")
    assert "```csharp\npublic class HttpClient : IDisposable\n```" in text
    assert "Sends requests to Acme services, retrying with a RetryPolicy." in text
    assert "@acme/platform" in text and "acme-http" in text
    line = find(file(client, *HTTP), "public class HttpClient")[0] + 1
    assert f"src/Acme.Http/HttpClient.cs:{line}" in text
    text = await hover(client, *CHARGER, "Policy.Default()", "Default")
    assert "public static RetryPolicy Default()" in text and "@acme/resilience" in text


@aio
async def test_workspace_symbol(client: LanguageClient):
    got = [(s.name, s.location.uri, s.location.range.start.line) for s in await symbols(client, "RetryPolicy")]
    uri, line, _ = where(client, *RETRY, "public class RetryPolicy", "RetryPolicy")
    assert got[0] == ("RetryPolicy", uri, line)
    assert ("IRetryPolicy", uri, where(client, *RETRY, "public interface IRetryPolicy")[1]) in got
    kinds = await symbols(client, "lang:csharp kind:method Send")
    assert [(s.name, s.kind) for s in kinds] == [("Send", types.SymbolKind.Method)]


# ---------------------------------------------------------------------------- real code: dbus-sharp(-glib)
# Debian ships no C# source in binary packages and NuGet is unreachable: these are the Debian *source*
# packages (orig tarballs, unmodified), fetched with `apt-get source` (tests/debsrc.py).

_TYPE_DECL = re.compile(r"\b(?:class|struct|interface|enum)\s+([A-Z]\w*)|\bdelegate\s+[\w<>\[\],. ]+?\s+([A-Z]\w*)\s*[<(]")
_NAMESPACE = re.compile(r"^\s*namespace\s+([\w.]+)", re.M)


def _code(text: str) -> str:
    """Comments and string/char literals blanked (same length), so regexes see only code."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r'//[^\n]*|/\*.*?\*/|@"(?:[^"]|"")*"|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])+\'', blank, text, flags=re.S)


def oracle_types(root: Path) -> dict:
    """Every top-level type of a C# tree by its namespace-qualified name -> {(path, line, col)}: block
    namespaces by brace depth, file-scoped ones, types at namespace level only (regex, not crossnav)."""
    out: dict = {}
    for f in sorted(root.rglob("*.cs")):
        code = _code(f.read_text(encoding="utf-8", errors="replace"))
        stack = []   # (namespace, depth it opened at)
        depth, file_ns = 0, None
        fs = re.search(r"^\s*namespace\s+([\w.]+)\s*;", code, re.M)
        if fs:
            file_ns = fs.group(1)
        pending_ns = None
        i = 0
        for m in re.finditer(r"\bnamespace\s+([\w.]+)\s*(?=[{;])|[{}]|" + _TYPE_DECL.pattern, code):
            tok = m.group(0)
            if tok == "{":
                depth += 1
                if pending_ns is not None:
                    stack.append((pending_ns, depth))
                    pending_ns = None
            elif tok == "}":
                if stack and stack[-1][1] == depth:
                    stack.pop()
                depth -= 1
            elif tok.startswith("namespace"):
                if not code[m.end():].lstrip().startswith(";"):
                    pending_ns = m.group(1)
            else:
                name = m.group(2) or m.group(3)
                ns_depth = stack[-1][1] if stack else 0
                if depth != ns_depth:
                    continue   # nested type
                ns = ".".join([n for n, _ in stack] + ([file_ns] if file_ns and not stack else []))
                line = code.count("\n", 0, m.start(2) if m.group(2) else m.start(3))
                start = m.start(2) if m.group(2) else m.start(3)
                col = start - (code.rfind("\n", 0, start) + 1)
                qual = f"{ns}.{name}" if ns else name
                out.setdefault(qual, set()).add((str(f.relative_to(root)), line, col))
                _members(code, m.end(), qual, str(f.relative_to(root)), out)
            i += 1
    return out


_MEMBER = re.compile(r"^[ \t]*(?:(?:public|private|protected|internal|static|readonly|const|override|virtual|abstract|"
                     r"sealed|new|extern|unsafe|event|async|partial)\s+)*[\w<>\[\],.?]+\s+([A-Z]\w*)\s*(?:\(|\{|=>|;|=)", re.M)


def _members(code: str, after: int, qual: str, rel: str, out: dict) -> None:
    """'Type.Member' -> {(path, line, col)} for members declared directly in the type's body
    (brace depth 1 below the type's `{`; enum members are `Name,` lines there)."""
    start = code.find("{", after)
    if start < 0 or ";" in code[after:start] and "(" not in code[after:start]:
        return
    depth, i = 0, start
    while i < len(code):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                break
        i += 1
    body = code[start:i]
    enum = re.search(r"\benum\s+\w+\s*(?::\s*\w+\s*)?$", code[:start].rstrip())
    rx = re.compile(r"^[ \t]*([A-Z]\w*)\s*(?:=[^=][^,\n]*)?,?[ \t]*$", re.M) if enum else _MEMBER
    for m in rx.finditer(body):
        pos = start + m.start(1)
        if body[:m.start(1)].count("{") - body[:m.start(1)].count("}") != 1:
            continue
        line = code.count("\n", 0, pos)
        out.setdefault(f"{qual}.{m.group(1)}", set()).add((rel, line, pos - (code.rfind("\n", 0, pos) + 1)))


def oracle_uses(repo: Path, types_: dict) -> list:
    """Uses of another tree's types in `repo`: an identifier named like one of those types, in a file
    whose `using`s (or own namespace) bring that type's namespace in scope, not declared in `repo`
    itself, not after a `.`. -> [(path, line, col, qualified name)]."""
    own = oracle_types(repo)
    own_simple = {q.rsplit(".", 1)[-1] for q in own}
    by_simple: dict = {}
    for q in types_:
        if "." in q and q.rsplit(".", 1)[0] in types_:
            continue   # a member
        by_simple.setdefault(q.rsplit(".", 1)[-1], []).append(q)
    uses = []
    for f in sorted(repo.rglob("*.cs")):
        text = f.read_text(encoding="utf-8", errors="replace")
        code = _code(text)
        usings = set(re.findall(r"^\s*using\s+([\w.]+)\s*;", code, re.M))
        nss = set(_NAMESPACE.findall(code))
        scopes = set(usings)
        for ns in nss:   # a namespace sees itself and its parents
            parts = ns.split(".")
            scopes.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        for m in re.finditer(r"(?<![\w.])([A-Z]\w*)\b", code):
            name = m.group(1)
            if name in own_simple or name not in by_simple:
                continue
            if re.match(r"\s*[=(]", code[m.end():]) and re.search(r"\b(?:class|struct|interface|enum|new)\s+$", code[:m.start()]):
                continue
            cands = [q for q in by_simple[name] if q.rpartition(".")[0] in scopes]
            if len(cands) != 1:
                continue
            line = code.count("\n", 0, m.start())
            col = m.start() - (code.rfind("\n", 0, m.start()) + 1)
            uses.append((str(f.relative_to(repo)), line, col, cands[0]))
            member = re.match(r"\.([A-Z]\w*)\b", code[m.end():])   # Type.Member
            if member and f"{cands[0]}.{member.group(1)}" in types_:
                uses.append((str(f.relative_to(repo)), line, col + len(name) + 1, f"{cands[0]}.{member.group(1)}"))
    return uses


@pytest.fixture(scope="module")
def real_org():
    from debsrc import deb_source_repo
    return indexed_real_code(REAL_DB, lambda: {"dbus-sharp": deb_source_repo("dbus-sharp", top="dbus-sharp-0.*"),
                                               "dbus-sharp-glib": deb_source_repo("dbus-sharp-glib", top="dbus-sharp-glib-0.*")},
                             "Debian source packages", MAX_FILE_KIB)


real_client = client_fixture(REAL_DB, org="real_org", presets="visual_studio_code")


@aio
async def test_real_cross_repo_definitions(real_client: LanguageClient, real_org):
    """dbus-sharp-glib's uses of dbus-sharp (other repo), and dbus-sharp's tests/ using its src/ (same repo)."""
    lines = []
    for label, user, lib in (("dbus-sharp-glib -> dbus-sharp", real_org["dbus-sharp-glib"], real_org["dbus-sharp"]),
                             ("dbus-sharp tests/ -> src/ (same repo)", real_org["dbus-sharp"] / "tests",
                              real_org["dbus-sharp"] / "src")):
        expected = oracle_types(lib)
        uses = oracle_uses(user, expected)
        assert len(uses) >= 20, uses
        hits, misses = 0, []
        for path, line, col, qual in uses:
            got = await definition_at(real_client, user / path, line, col)
            want = {at(real_client, lib / p, ln, c) for p, ln, c in expected[qual]}
            if got and set(got) <= want:
                hits += 1
            else:
                misses.append((path, line + 1, qual, got[:2]))
        accuracy = hits / len(uses)
        lines.append(f"C# real code ({label}): go-to-definition {hits}/{len(uses)} = {accuracy:.1%}")
        print("\n" + lines[-1], misses[:5])
        assert accuracy >= 0.95, misses


@aio
async def test_real_references_reach_the_other_repo(real_client: LanguageClient, real_org):
    lib, user = real_org["dbus-sharp"], real_org["dbus-sharp-glib"]
    (path, line, col), = oracle_types(lib)["DBus.Connection"]
    res = await references_at(real_client, lib / path, line, col)
    in_user = [loc for loc in res if loc[0].startswith(user.as_uri() + "/")]
    glib = (user / "src/GLib.cs").as_uri()
    want_line = find(user / "src/GLib.cs", "public static void Init (Connection conn)")[0]
    assert (glib, want_line) in {(u, ln) for u, ln, _ in in_user}, in_user


def test_real_extraction_speed(real_org, capsys):
    """Lines per CPU-second of extract() on the real trees (the figure is printed; ctags beside it)."""
    lines, msg = extraction_speed(csharp, list(real_org.values()), ".cs", "C#")
    with capsys.disabled():
        print("\n" + msg)
    assert lines > 5000
