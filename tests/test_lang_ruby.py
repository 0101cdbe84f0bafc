"""Ruby: the extractor on its own, the fixture org (tests/fixtures/ruby-org: two teams' gems) end to end
through `crossnav index` and `crossnav serve` over stdio, and real Debian gems (rack + rack-test,
faraday + faraday-net_http, sinatra + rack-protection) checked against an independent regex oracle of Ruby's constant nesting."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from crossnav.index.lang import Unit, ruby
from langorg import (at, client_fixture, definition, definition_at, extraction_speed, file, hover, indexed_real_code,
                     org_fixture, references, references_at, symbols, where)
from orgutil import MAX_FILE_KIB, SESSION_DIR, find

RB_DB = SESSION_DIR / "ruby-org.db"
REAL_DB = SESSION_DIR / "ruby-real.db"
aio = pytest.mark.asyncio(loop_scope="module")

HTTP = ("acme-http", "lib/acme/http.rb")
RETRY = ("acme-http", "lib/acme/http/retry.rb")
CHARGER = ("billing", "lib/billing/charger.rb")
BILLING = ("billing", "lib/billing.rb")


def facts(src: str, path="lib/x.rb"):
    return ruby.extract(src.encode(), Unit(path, "/nonexistent", "rb:x", False, {}))


# ---------------------------------------------------------------------------- extractor


def test_nesting_methods_constants_and_kinds():
    f = facts("module Acme\n  # The client.\n  class Client < Base\n    include Mixin\n    TIMEOUT = 5\n"
              "    attr_accessor :host\n    def get(path) = path\n    def self.build; new; end\n"
              "    class << self\n      def shared; end\n    end\n    def name=(v); @name = v; end\n  end\n"
              "  class Errors::Timeout < StandardError; end\n  Point = Struct.new(:x)\nend\nclass Acme::Other; end\n"
              "def helper; end\n")
    kinds = {d[0]: d[2] for d in f.defs}
    assert kinds == {
        "rb:Acme": "module", "rb:Acme.Client": "class", "rb:Acme.Client.TIMEOUT": "constant",
        "rb:Acme.Client.host": "property", "rb:Acme.Client.get": "method", "rb:Acme.Client.build": "method",
        "rb:Acme.Client.shared": "method", "rb:Acme.Client.name=": "method", "rb:Acme.Client.@name": "attribute",
        "rb:Acme.Errors.Timeout": "class", "rb:Acme.Point": "class", "rb:Acme.Other": "class", "rb:helper": "method"}
    client = next(d for d in f.defs if d[0] == "rb:Acme.Client")
    assert client[11] == "class Client < Base" and client[12] == "The client."
    assert next(d for d in f.defs if d[0] == "rb:Acme.Client.build")[13] == "rb:Acme.Client()"   # factory
    host = next(d for d in f.defs if d[0] == "rb:Acme.Client.host")
    assert (host[8], host[9], host[10]) == (5, 19, 23)      # the symbol without its colon
    assert set(f.bases) == {("rb:Acme.Client", "rb:Acme.Base"), ("rb:Acme.Client", "rb:Acme.Client.Mixin"),
                            ("rb:Acme.Errors.Timeout", "rb:Acme.StandardError")}
    stars = {a[:2] for a in f.aliases if a[2] == 1}
    assert {("rb:Acme", "rb:"), ("rb:Acme.Client", "rb:Acme"), ("rb:Acme.Other", "rb:")} <= stars


def test_uses_locals_and_receivers():
    f = facts('require "rack/request"\nmodule Acme\n  class Client\n    def get(env, opts = {})\n'
              '      req = ::Rack::Request.new(env)\n      req.params\n      Helpers.fetch(opts)\n'
              '      @retry = Retry.new\n      @retry.run\n      puts env\n      send_later\n'
              '      [1].each { |i| i.succ }\n    end\n  end\nend\n')
    refs = {(r[3], r[4]) for r in f.refs}
    assert ("Request", "rb:Rack.Request") in refs and ("Rack", "rb:Rack") in refs
    assert ("new", "rb:Rack.Request.initialize") in refs
    assert ("params", "rb:Rack.Request().params") in refs          # a local's value types its methods
    assert ("fetch", "rb:Acme.Client.Helpers.fetch") in refs       # innermost guess; the resolver widens it
    assert ("run", "rb:Acme.Client.@retry.run") in refs
    assert ("send_later", "rb:Acme.Client.send_later") in refs     # a method of self
    names = [r[3] for r in f.refs]
    assert "env" not in names and "req" not in names and "i" not in names and "puts" not in names
    assert ("succ", None) in refs
    assert {"rb:rack", "rb:Rack"} <= f.imports


def test_non_ascii_columns_are_code_points():
    f = facts('X = "héllo😀"; Target.run\n')
    ref = next(r for r in f.refs if r[3] == "Target")
    assert ref[1] == 14 and ref[2] == 20


def test_project_reads_gemspec(tmp_path):
    (tmp_path / "rack-test.gemspec").write_text('Gem::Specification.new do |s|\n  s.name = "rack-test".freeze\nend\n')
    assert ruby.project(str(tmp_path), ["rack-test.gemspec"])["packages"] == [("rb:rack-test", "lib", "gemspec")]
    (tmp_path / "rack-test.gemspec").unlink()
    p = ruby.project(str(tmp_path / "rack-2.2.22"), [])
    assert p["packages"] == [("rb:rack", "lib", "gemspec"), ("rb:Rack", "lib", "gemspec")]
    assert ruby.module_of(p, "lib/rack/request.rb") == ("rb:rack/request", False)


# ---------------------------------------------------------------------------- the fixture org, end to end


lang_org = org_fixture("ruby-org", RB_DB)
client = client_fixture(RB_DB)


# (id, use file, needle, sub, definition file, needle, sub)
DEFINITIONS = [
    ("superclass-other-repo", CHARGER, "< Acme::Http::Client", "Client", HTTP, "class Client", "Client"),
    ("mixin-module", CHARGER, "include Acme::Http::Helpers", "Helpers", RETRY, "module Helpers", "Helpers"),
    ("singleton-method", CHARGER, "Client.build", "build", HTTP, "def self.build", "build"),
    ("method-of-factory-value", CHARGER, 'client.get("/charge', "get", HTTP, "def get", "get"),
    ("new-is-initialize", CHARGER, "Client.new(timeout: 5)", "new", HTTP, "def initialize", "initialize"),
    ("method-of-new-value", CHARGER, 'other.get("/retry")', "get", HTTP, "def get", "get"),
    ("mixin-method-via-self", CHARGER, "log(to_query(", "to_query", RETRY, "def to_query", "to_query"),
    ("inherited-attr-reader", CHARGER, "card: card), timeout)", "timeout", HTTP, "attr_reader :timeout", "timeout"),
    ("same-file-method", CHARGER, "    log(to_query", "log", CHARGER, "def log", "log"),
    ("lexical-constant", BILLING, "Charger.new", "Charger", CHARGER, "class Charger", "Charger"),
    ("constant-in-same-gem", HTTP, "Retry.new(3)", "Retry", RETRY, "class Retry", "Retry"),
    ("ivar-typed-method", HTTP, "@retry.run", "run", RETRY, "def run", "run"),
    ("class-constant", HTTP, "timeout: DEFAULT_TIMEOUT)", "DEFAULT_TIMEOUT", HTTP, "DEFAULT_TIMEOUT = 30", "DEFAULT_TIMEOUT"),
]


@aio
@pytest.mark.parametrize("case", DEFINITIONS, ids=[c[0] for c in DEFINITIONS])
async def test_definition(client: LanguageClient, case):
    _, use, needle, sub, target, tneedle, tsub = case
    got = sorted(await definition(client, *use, needle, sub))
    assert got == [where(client, *target, tneedle, tsub)]


@aio
async def test_reopened_module_has_every_definition(client: LanguageClient):
    got = sorted(await definition(client, *CHARGER, "< Acme::Http::Client", "Http"))
    assert got == sorted([where(client, *HTTP, "module Http", "Http"), where(client, *RETRY, "module Http", "Http")])


@aio
async def test_references_span_repos(client: LanguageClient):
    got = sorted(await references(client, *HTTP, "def get", "get", include_declaration=False))
    assert got == sorted([where(client, *CHARGER, 'client.get("/charge', "get"),
                          where(client, *CHARGER, 'other.get("/retry")', "get")])
    got = sorted(await references(client, *HTTP, "class Client", "Client", include_declaration=False))
    assert got == sorted([where(client, *CHARGER, "< Acme::Http::Client", "Client"),
                          where(client, *CHARGER, "Http::Client.build", "Client"),
                          where(client, *CHARGER, "Http::Client.new", "Client")])
    from_use = sorted(await references(client, *CHARGER, "Http::Client.new", "Client", include_declaration=False))
    assert from_use == got


@aio
async def test_hover_shows_signature_doc_and_owner(client: LanguageClient):
    text = await hover(client, *CHARGER, "< Acme::Http::Client", "Client")
    assert "```ruby\nclass Client\n```" in text
    assert "Sends requests to Acme services." in text and "Retries with" not in text   # first paragraph
    assert "@acme/platform" in text and "acme-http" in text
    line = find(file(client, *HTTP), "class Client")[0] + 1
    assert f"lib/acme/http.rb:{line}" in text
    text = await hover(client, *CHARGER, "log(to_query(", "to_query")
    assert "def to_query(params)" in text and "Builds the query string." in text and "@acme/resilience" in text


@aio
async def test_workspace_symbol(client: LanguageClient):
    got = [(s.name, s.location.uri, s.location.range.start.line) for s in await symbols(client, "Retry")]
    uri, line, _ = where(client, *RETRY, "class Retry", "Retry")
    assert got[0] == ("Retry", uri, line)
    kinds = await symbols(client, "lang:ruby kind:class Charger")
    assert [(s.name, s.kind, s.location.uri) for s in kinds] == [
        ("Charger", types.SymbolKind.Class, file(client, *CHARGER).as_uri())]


# ---------------------------------------------------------------------------- real code: Debian gems

GEMS = {   # repo name -> (Debian package, gem folder inside it)
    "rack": ("ruby-rack", "usr/share/rubygems-integration/all/gems/rack-2.*"),
    "rack-test": ("ruby-rack-test", "usr/share/rubygems-integration/all/gems/rack-test-*"),
    "faraday": ("ruby-faraday", "usr/share/rubygems-integration/all/gems/faraday-1.*"),
    "faraday-net_http": ("ruby-faraday-net-http", "usr/share/rubygems-integration/all/gems/faraday-net_http-*"),
    "rack-protection": ("ruby-rack-protection", "usr/share/rubygems-integration/all/gems/rack-protection-*"),
    "sinatra": ("ruby-sinatra", "usr/share/rubygems-integration/all/gems/sinatra-*"),
}
PAIRS = [   # (user, library, namespace)
    ("rack-test", "rack", "Rack"), ("faraday-net_http", "faraday", "Faraday"), ("rack-protection", "rack", "Rack"),
    ("sinatra", "rack", "Rack"), ("sinatra", "rack-protection", "Rack"),
]

_OPEN = re.compile(r"^(\s*)(class|module)\s+((?:::)?[A-Z]\w*(?:::[A-Z]\w*)*)(?!\s*<<)")
_DEF = re.compile(r"^(\s*)def\s+(?:self\.)?([a-z_]\w*[?!=]?)")
_CONST = re.compile(r"^(\s*)([A-Z][A-Z0-9_]*)\s*=[^=~]")


def oracle_defs(lib: Path) -> dict:
    """Ruby's constant nesting by indentation (`class`/`module` ... matching `end`), over lib/ of a gem:
    'Rack::Request' -> {(path, line, col)}, 'Rack::Utils#escape' -> ..., 'Rack::RELEASE' -> ..."""
    out: dict = {}
    for f in sorted((lib / "lib").rglob("*.rb")):
        lines = f.read_text(encoding="utf-8", errors="replace").split("\n")
        stack = []   # (indent, [name parts])
        for i, line in enumerate(lines):
            m = _OPEN.match(line)
            if m and not re.search(r"\bend\s*$", line):
                indent = len(m.group(1))
                while stack and stack[-1][0] >= indent:
                    stack.pop()
                path = m.group(3)
                parts = path.lstrip(":").split("::") if path.startswith("::") else \
                    [p for _, ps in stack[-1:] for p in ps] + path.split("::")
                stack.append((indent, parts))
                col = m.start(3) + len(path) - len(parts[-1])
                out.setdefault("::".join(parts), set()).add((str(f.relative_to(lib)), i, col))
                continue
            s = line.strip()
            if s == "end" and stack and len(line) - len(line.lstrip()) == stack[-1][0]:
                stack.pop()
                continue
            owner = "::".join(stack[-1][1]) if stack else None
            for rx, sep in ((_DEF, "#"), (_CONST, "::")):
                m = rx.match(line)
                if m and owner and len(m.group(1)) > stack[-1][0]:
                    out.setdefault(f"{owner}{sep}{m.group(2)}", set()).add((str(f.relative_to(lib)), i, m.start(2)))
    return out


def oracle_uses(user: Path, namespace: str, defs: dict) -> list:
    """`Ns::A::B` constant paths and `Ns::A.meth` calls in `user`'s lib/ whose target the library defines
    (and `user` does not): [(path, line, col of the last name, expected key)]."""
    own = oracle_defs(user)
    uses = []
    rx = re.compile(r"(?<![\w:])(?:::)?(" + namespace + r"(?:::[A-Z]\w*)+)(?:\.([a-z_]\w*[?!]?))?")
    for f in sorted((user / "lib").rglob("*.rb")):
        for i, line in enumerate(f.read_text(encoding="utf-8", errors="replace").split("\n")):
            code = line.split(" #")[0] if not line.lstrip().startswith("#") else ""
            code = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', lambda m: " " * len(m.group(0)), code)
            for m in rx.finditer(code):
                path, meth = m.group(1), m.group(2)
                if meth and meth != "new" and f"{path}#{meth}" in defs and f"{path}#{meth}" not in own:
                    uses.append((str(f.relative_to(user)), i, m.start(2), f"{path}#{meth}"))
                if path in defs and path not in own:
                    uses.append((str(f.relative_to(user)), i, m.end(1) - len(path.split("::")[-1]), path))
    return uses


@pytest.fixture(scope="module")
def real_repos():
    from debsrc import deb_repo
    return indexed_real_code(REAL_DB, lambda: {name: deb_repo(pkg, sub, name) for name, (pkg, sub) in GEMS.items()},
                             "Debian packages", MAX_FILE_KIB)


real_client = client_fixture(REAL_DB, org="real_repos", presets="visual_studio_code")


@aio
async def test_real_cross_repo_definitions(real_client: LanguageClient, real_repos):
    total_hits, total = 0, 0
    misses = []
    for user_name, lib_name, ns in PAIRS:
        user, lib = real_repos[user_name], real_repos[lib_name]
        defs = oracle_defs(lib)
        uses = oracle_uses(user, ns, defs)
        assert uses, user_name
        hits = 0
        for path, line, col, key in uses:
            got = await definition_at(real_client, user / path, line, col)
            want = {at(real_client, lib / p, ln, c) for p, ln, c in defs[key]}
            if got and set(got) <= want:
                hits += 1
            else:
                misses.append((user_name, path, line + 1, key, got[:2]))
        print(f"\nRuby real code ({user_name} -> {lib_name}): cross-repo go-to-definition {hits}/{len(uses)}")
        total_hits += hits
        total += len(uses)
    accuracy = total_hits / total
    print(f"Ruby real code overall: {total_hits}/{total} = {accuracy:.1%}; misses: {misses}")
    assert total >= 40
    assert accuracy >= 0.95, misses


@aio
async def test_real_references_reach_the_other_repo(real_client: LanguageClient, real_repos):
    rack, rack_test = real_repos["rack"], real_repos["rack-test"]
    (path, line, col), = oracle_defs(rack)["Rack::MockRequest"]
    res = await references_at(real_client, rack / path, line, col)
    in_test = {(u, ln) for u, ln, _ in res if u.startswith(rack_test.as_uri() + "/")}
    want = (rack_test / "lib/rack/test.rb").as_uri(), find(rack_test / "lib/rack/test.rb", "Rack::MockRequest.env_for")[0]
    assert want in in_test, in_test


def test_real_extraction_speed(real_repos, capsys):
    """Lines per CPU-second of extract() on the real gems (printed, with ctags on the same files)."""
    lines, msg = extraction_speed(ruby, list(real_repos.values()), ".rb", "Ruby")
    with capsys.disabled():
        print("\n" + msg)
    assert lines > 10000
