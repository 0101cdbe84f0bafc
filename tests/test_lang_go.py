"""Go: project layout, extraction, the fixture org end to end over LSP, and real Debian Go code.

The fixture org (tests/fixtures/go-org) is four repos of different teams indexed by the real CLI and
queried through `crossnav serve` over stdio with pytest-lsp; expected positions come from the
fixture text. The real code is viper, cobra, testify and their dependencies from Debian's
golang-*-dev packages, each its own repo; expected definitions come from tests/gooracle.py (regexes
over the sources, independent of crossnav)."""
from __future__ import annotations

import shutil

import pytest
from lsprotocol import types

import gooracle
from langorg import (client_fixture, definition, definition_at, hover, indexed_real_code, org_fixture, references,
                     references_at, symbols, where)
from orgutil import SESSION_DIR, TESTS, find, git, init_repo

from crossnav.index.lang import Unit, go

GO_ORG = TESTS / "fixtures" / "go-org"
GO_ORG_DB = SESSION_DIR / "go-org.db"
GO_REAL_DB = SESSION_DIR / "go-real.db"
REMOTES = {"platform-go": "git@github.com:acme/platform-go.git", "payments-go": "https://github.com/acme/payments-go.git",
           "tools-go": "git@github.com:acme/tools.git"}   # legacy-go: no remote, no go.mod (import comment)
ASYNC = pytest.mark.asyncio(loop_scope="module")


def facts_of(text: str, module="go:example.com/m/pkg", project=None, path="pkg/x.go", is_pkg=False):
    return go.extract(text.encode(), Unit(path, "/nonexistent", module, is_pkg, project or {}))


# ---------------------------------------------------------------------------- project()


def test_project_gomod_replace_require_vendor(tmp_path):
    shutil.copytree(GO_ORG / "payments-go", tmp_path / "p")
    paths = ["service/service.go", "service/helpers.go", "vendor/github.com/acme/platform-go/log/log.go"]
    proj = go.project(str(tmp_path / "p"), paths)
    assert proj["packages"] == [("go:github.com/acme/payments-go", "", "go.mod")]
    assert proj["replaces"] == {"github.com/acme/oldplatform": "github.com/acme/platform-go"}
    assert "github.com/acme/platform-go" in proj["requires"]
    # one canonical file per package carries the package definition: doc.go, <dir>.go, else the first
    assert go.module_of(proj, "service/service.go") == ("go:github.com/acme/payments-go/service", True)
    assert go.module_of(proj, "service/helpers.go") == ("go:github.com/acme/payments-go/service", False)
    assert go.module_of(proj, "vendor/github.com/acme/platform-go/log/log.go") == ("go:github.com/acme/platform-go/log", True)


def test_project_go_work_multi_module(tmp_path):
    shutil.copytree(GO_ORG / "tools-go", tmp_path / "t")
    proj = go.project(str(tmp_path / "t"), ["lib/lib.go", "cli/main.go"])
    assert sorted(proj["packages"]) == [("go:github.com/acme/tools/cli", "cli", "go.mod"),
                                        ("go:github.com/acme/tools/lib", "lib", "go.mod")]
    assert go.module_of(proj, "cli/main.go")[0] == "go:github.com/acme/tools/cli"
    assert go.module_of(proj, "lib/sub/x.go")[0] == "go:github.com/acme/tools/lib/sub"


def test_project_without_gomod_fallbacks(tmp_path):
    # 1. a `// import "..."` comment on a package clause (in a subdirectory: the root is derived)
    shutil.copytree(GO_ORG / "legacy-go", tmp_path / "legacy")
    proj = go.project(str(tmp_path / "legacy"), ["metrics/metrics.go"])
    assert proj["packages"] == [("go:github.com/acme/legacy-go", "", "import-comment")]
    assert go.module_of(proj, "metrics/metrics.go")[0] == "go:github.com/acme/legacy-go/metrics"
    # 2. a GOPATH / Debian gocode location: .../src/<import path>
    tree = tmp_path / "usr/share/gocode/src/github.com/acme/plain"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a.go").write_text("package sub\n")
    proj = go.project(str(tree), ["sub/a.go"])
    assert proj["packages"] == [("go:github.com/acme/plain", "", "gopath")]
    assert go.module_of(proj, "sub/a.go")[0] == "go:github.com/acme/plain/sub"
    # 3. the git remote; 4. the folder name
    repo = tmp_path / "clone"
    repo.mkdir()
    (repo / "a.go").write_text("package clone\n")
    init_repo(repo)
    assert go.project(str(repo), ["a.go"])["packages"] == [("go:clone", "", "folder")]
    git(repo, "remote", "add", "origin", "git@gitlab.example.com:team/sub/clone.git")
    proj = go.project(str(repo), ["a.go"])
    assert proj["packages"] == [("go:gitlab.example.com/team/sub/clone", "", "git-remote")]
    assert go.module_of(proj, "a.go") == ("go:gitlab.example.com/team/sub/clone", True)


def test_module_of_without_project():
    """The server asks for files outside every repo with an empty project."""
    assert go.module_of({}, "main.go")[0].startswith("go:")


# ---------------------------------------------------------------------------- extract()

SAMPLE = '''// Package pkg is a sample.
package pkg

import (
	"fmt"
	_ "embed"
	fl "github.com/spf13/pflag"
	. "github.com/dot/imp"
)

// T is documented.
// Over two lines.
//
// Not this paragraph.
type T struct {
	*Base
	Name string // the name
}

// Do does.
func (t *T) Do(x int,
	y string) (*T, error) {
	fs := fl.NewFlagSet("a", fl.ContinueOnError)
	fs.Parse(nil)
	fmt.Println(x, y, t.Name)
	Name := 3
	_ = Name
	DotThing()
	return t, nil
}
'''


def test_extract_definitions_docs_signatures():
    f = facts_of(SAMPLE, is_pkg=True)
    defs = {d[0]: d for d in f.defs}
    assert defs["go:example.com/m/pkg"][2] == "package" and defs["go:example.com/m/pkg"][12] == "Package pkg is a sample."
    t = defs["go:example.com/m/pkg.T"]
    assert t[2] == "struct" and t[11] == "type T struct" and t[12] == "T is documented. Over two lines."
    do = defs["go:example.com/m/pkg.T.Do"]
    assert do[2] == "method" and do[3] == "go:example.com/m/pkg.T"
    assert do[11] == "func (t *T) Do(x int, y string) (*T, error)"
    assert do[13] == "go:example.com/m/pkg.T"               # value type: the first result
    assert defs["go:example.com/m/pkg.T.Name"][12] == "the name"
    assert defs["go:example.com/m/pkg.T.Base"][2] == "field"
    assert f.bases == [("go:example.com/m/pkg.T", "go:example.com/m/pkg.Base")]


def test_extract_references():
    f = facts_of(SAMPLE)
    refs = {(r[3], r[4], r[5]) for r in f.refs}
    assert ("NewFlagSet", "go:github.com/spf13/pflag.NewFlagSet", "name") in refs
    assert ("Parse", "go:github.com/spf13/pflag.NewFlagSet().Parse", "attr") in refs   # value of a call
    assert ("Name", "go:example.com/m/pkg.T.Name", "attr") in refs                     # through the receiver
    assert ("DotThing", "go:example.com/m/pkg.DotThing", "name") in refs                # found via the star alias
    assert ("fl", "go:github.com/spf13/pflag", "alias") in refs
    names = [r[3] for r in f.refs]
    assert "fmt" not in names and "Println" not in names and "embed" not in names      # stdlib and _ imports
    assert "x" not in names and "fs" not in names                                      # locals
    assert names.count("Name") == 1                                                    # `Name := 3` is a local
    assert f.aliases == [("go:example.com/m/pkg", "go:github.com/dot/imp", 1, 7)]
    assert f.imports == {"go:github.com/spf13/pflag", "go:github.com/dot/imp"}


def test_extract_named_types_and_std_values():
    src = """package p

import (
	"sync"
	"github.com/x/base"
)

type Diff base.Unified

type W struct{ mu sync.Mutex }

func (w *W) Do(d Diff) { w.mu.Lock(); _ = d.Eol }
"""
    f = facts_of(src, module="go:example.com/p")
    assert f.bases == [("go:example.com/p.Diff", "go:github.com/x/base.Unified")]   # a defined type's fields
    refs = {r[3]: r[4] for r in f.refs}
    assert refs["mu"] == "go:example.com/p.W.mu" and "Lock" not in refs          # a sync.Mutex: no reference
    assert refs["Eol"] == "go:example.com/p.Diff.Eol"


def test_extract_external_test_package_and_positions():
    src = "package pkg_test\n\nimport \"example.com/m/pkg\"\n\nfunc TestX() { pkg.Run(\"é\", pkg.Run) }\n"
    f = facts_of(src, path="pkg/x_test.go")
    assert [d[0] for d in f.defs] == ["go:example.com/m/pkg_test.TestX"]
    runs = [r for r in f.refs if r[3] == "Run"]
    assert [(r[1], r[2]) for r in runs] == [(19, 22), (32, 35)]    # code points after the é (bytes: 33)


# ---------------------------------------------------------------------------- the fixture org, end to end


lang_org = org_fixture("go-org", GO_ORG_DB, remotes=REMOTES.get)
org_client = client_fixture(GO_ORG_DB, root="payments-go")


SERVICE = ("payments-go", "service/service.go")
LOG = ("platform-go", "log/log.go")
CONFIG = ("platform-go", "config/config.go")


DEFINITIONS = [
    # (use: needle, sub, nth) -> (definition repo, path, needle, sub)
    (("plog.New(\"run\")", "New"), ("platform-go", "log/log.go", "func New(", "New")),                 # aliased import
    (("s.Info(\"start\")", "Info"), ("platform-go", "log/log.go", "func (l *Logger) Info", "Info")),   # promoted by embedding
    (("c.Name)", "Name"), ("platform-go", "config/config.go", "Name    string", "Name")),              # x, err := pkg.F()
    (("Retries: 3", "Retries"), ("platform-go", "config/config.go", "Retries int", "Retries")),        # composite literal key
    (("l.Info(\"running\")", "Info"), ("platform-go", "log/log.go", "func (l *Logger) Info", "Info")),  # x := pkg.New()
    (("lv.String()", "String"), ("platform-go", "log/log.go", "func (lv Level) String", "String")),    # method of `type Level int`
    (("snk.Flush()", "Flush"), ("platform-go", "log/log.go", "Flush() error", "Flush")),               # interface method
    (("legacy.New(\"old\")", "New"), ("platform-go", "log/log.go", "func New(", "New")),               # go.mod replace
    (("plog.Default.Info", "Info"), ("platform-go", "log/log.go", "func (l *Logger) Info", "Info")),   # var Default = New("")
    (("plog.Default.Info", "Default"), ("platform-go", "log/log.go", "var Default", "Default")),
    (("metrics.Counter(\"charges\")", "Counter"), ("legacy-go", "metrics/metrics.go", "func Counter(", "Counter")),  # no go.mod
    (("Counter(\"charges\").Inc()", "Inc"), ("legacy-go", "metrics/metrics.go", "func (c *Count) Inc", "Inc")),
    (("helper(s.cfg", "helper"), ("payments-go", "service/helpers.go", "func helper(", "helper")),      # same package, other file
    (("s.cfg.Retries", "Retries"), ("platform-go", "config/config.go", "Retries int", "Retries")),     # field of a field
    (("old.Info(\"alias\")", "Info"), ("platform-go", "log/log.go", "func (l *Logger) Info", "Info")),  # through a type alias
    (("return Wrap(err", "Wrap"), ("platform-go", "errors/errors.go", "func Wrap(", "Wrap")),          # dot import
    (("cfg *config.Config", "Config"), ("platform-go", "config/config.go", "type Config struct", "Config")),
    (("*plog.Logger", "Logger"), ("platform-go", "log/log.go", "type Logger struct", "Logger")),      # embedded field: the type
    (("\"github.com/acme/platform-go/config\"", "github.com/acme/platform-go/config"),
     ("platform-go", "config/config.go", "package config", "config")),                                  # the import path
]


@ASYNC
@pytest.mark.parametrize("use,want", DEFINITIONS, ids=[f"{u[0]}:{u[1]}" for u, _ in DEFINITIONS])
async def test_org_definition(org_client, use, want):
    got = await definition(org_client, *SERVICE, *use)
    assert got, f"no definition for {use}"
    assert got[0] == where(org_client, *want), got


@ASYNC
async def test_org_definition_is_the_providing_repo_not_a_vendored_copy(org_client):
    """One location, so the editor jumps: the repo that provides the module, not the copy vendored beside the caller."""
    got = await definition(org_client, *SERVICE, "plog.New(\"svc\")", "New")
    assert got == [where(org_client, "platform-go", "log/log.go", "func New(", "New")]


@ASYNC
async def test_org_definition_in_go_work_module(org_client):
    got = await definition(org_client, "tools-go", "cli/main.go", "lib.Greet", "Greet")
    assert got == [where(org_client, "tools-go", "lib/lib.go", "func Greet", "Greet")]


@ASYNC
async def test_org_references_across_repos(org_client):
    got = set(await references(org_client, *LOG, "func (l *Logger) Info", "Info", include_declaration=False))
    want = {where(org_client, *SERVICE, n, "Info") for n in
            ("s.Info(\"start\")", "l.Info(\"running\")", "plog.Default.Info", "old.Info(\"alias\")")}
    want.add(where(org_client, *CONFIG, "c.Logger.Info", "Info"))
    assert got == want


@ASYNC
async def test_org_references_of_a_function_from_a_use(org_client):
    got = set(await references(org_client, *SERVICE, "plog.New(\"run\")", "New"))
    want = {where(org_client, *SERVICE, n, "New") for n in ("plog.New(\"svc\")", "plog.New(\"run\")", "legacy.New(\"old\")")}
    want |= {where(org_client, *CONFIG, "log.New(path)", "New"), where(org_client, *LOG, "func New(", "New"),
             where(org_client, *LOG, "var Default = New(", "New")}
    assert want <= got
    assert got - want <= {where(org_client, "payments-go", "vendor/github.com/acme/platform-go/log/log.go", "func New(", "New")}


@ASYNC
async def test_org_hover_signature_doc_owner(org_client):
    text = await hover(org_client, *SERVICE, "plog.New(\"run\")", "New")
    assert "```go\nfunc New(prefix string) *Logger\n```" in text
    assert "New returns a Logger that prefixes every line." in text and "may be empty" not in text
    assert "@acme/observability" in text and "@acme/platform-team" not in text   # /log/ rule wins
    assert "CODEOWNERS" in text and "line 3" in text
    line = find(org_client.repos["platform-go"] / "log/log.go", "func New(")[0] + 1
    assert f"log/log.go:{line}" in text


@ASYNC
async def test_org_hover_struct_field(org_client):
    text = await hover(org_client, *SERVICE, "Retries: 3", "Retries")
    assert "```go\nRetries int\n```" in text and "@acme/platform-team" in text


@ASYNC
async def test_org_workspace_symbol(org_client):
    result = await symbols(org_client, "Logger")
    assert result, "no symbols"
    # the exact name first: the platform's struct and the vendored copy in payments-go (same qualname, so
    # they tie on usage and are ordered by repo name)
    top = {(s.name, s.kind, s.location.uri, s.location.range.start.line, s.location.range.start.character) for s in result[:2]}
    assert top == {("Logger", types.SymbolKind.Struct, *where(org_client, *LOG, "type Logger struct", "Logger")),
                   ("Logger", types.SymbolKind.Struct,
                    *where(org_client, "payments-go", "vendor/github.com/acme/platform-go/log/log.go", "type Logger struct", "Logger"))}
    result = await symbols(org_client, "Sink lang:go kind:interface")
    assert [(s.name, s.kind) for s in result] == [("Sink", types.SymbolKind.Interface)]


# ---------------------------------------------------------------------------- real code: Debian's Go packages

REAL = {   # repo name -> (Debian package, import path it is installed under, upstream remote for trees without go.mod)
    "viper": ("golang-github-spf13-viper-dev", "github.com/spf13/viper", None),
    "cobra": ("golang-github-spf13-cobra-dev", "github.com/spf13/cobra", None),
    "pflag": ("golang-github-spf13-pflag-dev", "github.com/spf13/pflag", None),
    "afero": ("golang-github-spf13-afero-dev", "github.com/spf13/afero", None),
    "cast": ("golang-github-spf13-cast-dev", "github.com/spf13/cast", None),
    "jwalterweatherman": ("golang-github-spf13-jwalterweatherman-dev", "github.com/spf13/jwalterweatherman", None),
    "mapstructure": ("golang-github-mitchellh-mapstructure-dev", "github.com/mitchellh/mapstructure", None),
    "fsnotify": ("golang-github-fsnotify-fsnotify-dev", "github.com/fsnotify/fsnotify", None),
    "gotenv": ("golang-github-subosito-gotenv-dev", "github.com/subosito/gotenv", None),
    "testify": ("golang-github-stretchr-testify-dev", "github.com/stretchr/testify", None),
    # Debian ships these without go.mod: the import path comes from the clone's remote
    "go-spew": ("golang-github-davecgh-go-spew-dev", "github.com/davecgh/go-spew", "https://github.com/davecgh/go-spew.git"),
    "go-difflib": ("golang-github-pmezard-go-difflib-dev", "github.com/pmezard/go-difflib", "https://github.com/pmezard/go-difflib"),
}
USING = ("viper", "cobra", "testify")


@pytest.fixture(scope="module")
def real_go():
    from debsrc import deb_repo

    def fetch():
        repos = {}
        for name, (pkg, ipath, remote) in REAL.items():
            repo = repos[name] = deb_repo(pkg, f"usr/share/gocode/src/{ipath}", name, remote)
            if remote and not git(repo, "remote").strip():
                git(repo, "remote", "add", "origin", remote)   # a cache made before the remote was asked for
        return repos
    return indexed_real_code(GO_REAL_DB, fetch, "Debian Go packages")


def _targets(repos):
    """For the oracle: every repo, with the import path Debian installed it under when it has no go.mod."""
    return {n: (p if (p / "go.mod").exists() else (p, REAL[n][1])) for n, p in repos.items()}


real_client = client_fixture(GO_REAL_DB, root="viper", org="real_go", presets="neovim")


def test_real_packages_rows(real_go):
    import sqlite3
    conn = sqlite3.connect(f"file:{GO_REAL_DB}?mode=ro", uri=True)
    rows = dict(conn.execute("SELECT r.name, p.package || ' ' || p.source FROM packages p JOIN repos r ON r.id = p.repo_id"))
    assert rows["viper"] == "go:github.com/spf13/viper go.mod"
    assert rows["go-spew"] == "go:github.com/davecgh/go-spew git-remote"
    assert conn.execute("SELECT module FROM files f JOIN repos r ON r.id = f.repo_id WHERE r.name = 'viper' "
                        "AND f.path = 'internal/encoding/yaml/codec.go'").fetchone()[0] == "go:github.com/spf13/viper/internal/encoding/yaml"


async def _check(client, repos, uses, label):
    """Ask the server for the definition at every use; compare with the oracle's lines."""
    good, misses, cross = 0, [], 0
    for u in uses:
        res = await definition_at(client, repos[u.repo] / u.path, u.line, u.col)
        expected = {(repos[r] / p).as_uri() + f":{ln}" for r, p, ln in u.expected}
        got = [f"{uri}:{line}" for uri, line, _ in res]
        if got and got[0] in expected and set(got) <= expected:
            good += 1
        else:
            misses.append(f"{u.repo}/{u.path}:{u.line + 1} {u.name} ({u.import_path}) expected {sorted(expected)[:2]} got {got[:2]}")
    n = len(uses)
    print(f"\n{label}: {good}/{n} = {good / n:.1%} correct" + "".join(f"\n  miss: {m}" for m in misses[:20]))
    return good, n, misses


@ASYNC
async def test_real_cross_repo_definitions(real_client, real_go):
    """`pkg.Name` in viper, cobra and testify on packages of the other repos (pflag, afero, cast,
    mapstructure, fsnotify, gotenv, jwalterweatherman, testify, and go-spew/go-difflib, which have no go.mod)."""
    uses = gooracle.package_uses({n: real_go[n] for n in USING}, _targets(real_go))
    cross = [u for u in uses if u.expected and u.expected[0][0] != u.repo]
    assert {u.expected[0][0] for u in cross} >= {"pflag", "afero", "cast", "mapstructure", "testify", "go-spew", "go-difflib"}
    assert len(cross) >= 300
    good, n, _ = await _check(real_client, real_go, cross, "go-to-definition, pkg.Name across repos")
    assert good / n >= 0.95


@ASYNC
async def test_real_member_definitions_through_value_types(real_client, real_go):
    """`x.Method` / `x.Field` where x is a parameter, `var`, `&pkg.T{}` or `pkg.New()` result of a
    type from another repo (or cobra's own type in cobra/doc): the oracle reads the receiver types."""
    uses = gooracle.member_uses({n: real_go[n] for n in USING}, _targets(real_go))
    uses = [u for u in uses if u.expected]
    cross = [u for u in uses if u.expected[0][0] != u.repo]
    assert len(uses) >= 200 and len(cross) >= 120
    good, n, _ = await _check(real_client, real_go, cross, "go-to-definition, x.Member through value types, across repos")
    assert good / n >= 0.95
    good, n, _ = await _check(real_client, real_go, [u for u in uses if u not in cross], "... within a repo (cobra/doc, viper/remote)")
    assert good / n >= 0.95


@ASYNC
async def test_real_references_reach_other_repos(real_client, real_go):
    """Find-references on pflag's `FlagSet` and go-spew's `ConfigState` lists their uses in cobra,
    viper and testify (every `pkg.FlagSet` the oracle finds there)."""
    for repo, path, needle, users in (("pflag", "flag.go", "type FlagSet struct", ("cobra", "viper")),
                                      ("go-spew", "spew/config.go", "type ConfigState struct", ("testify",))):
        p = real_go[repo] / path
        line, col = find(p, needle, sub=needle.split()[1])
        got = set(await references_at(real_client, p, line, col))
        name = needle.split()[1]
        want = {((real_go[u.repo] / u.path).as_uri(), u.line, u.col)
                for u in gooracle.package_uses({n: real_go[n] for n in users}, _targets(real_go))
                if u.name == name and u.expected and u.expected[0][0] == repo}
        assert want, name
        missing = want - got
        print(f"\nreferences of {repo}.{name}: {len(want) - len(missing)}/{len(want)} oracle uses in {users} found")
        assert not missing, sorted(missing)[:5]
