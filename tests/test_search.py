"""Code search on the fixture org (indexed once per session by conftest.py): content and symbols,
every filter, boolean combinations, owners, kinds, the CLI and the `crossnav.find` LSP command.

Expected content matches come from ripgrep over the same repos (or from the fixture text itself),
never from crossnav's database."""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from crossnav.index.querylang import QueryError
from crossnav.index.search import SearchError, run, search
from orgutil import ORG_DB, SERVE, build_org, commit_all, find, index, init_repo, run_cli, to_client_units

RG = shutil.which("rg")
# files the index skips (binary, larger than the org's limit, not UTF-8): ripgrep still reads them
SKIPPED = {("broken", "brokenpkg/blob.py"), ("broken", "brokenpkg/huge.py"), ("broken", "brokenpkg/legacy.py"),
           ("broken", "brokenpkg/latin.py")}   # Latin-1 bytes on disk: rg sees other bytes than the index


def lines_of(results) -> set[tuple[str, str, int]]:
    return {(r.repo, r.path, r.line + 1) for r in results}


def rg_lines(org, *args: str) -> set[tuple[str, str, int]]:
    """(repo, path, 1-based line) of every ripgrep match over the org's Python files."""
    if RG is None:
        pytest.skip("ripgrep not installed")
    out = subprocess.run([RG, "--no-heading", "-n", "--with-filename", "--type", "py", *args, "--", *[str(p) for p in org.repos.values()]],
                         capture_output=True, text=True, errors="replace")
    assert out.returncode in (0, 1), out.stderr
    got = set()
    for line in out.stdout.splitlines():
        path, ln, _ = line.split(":", 2)
        rel = Path(path).relative_to(org.root / "src")
        repo, rest = rel.parts[0], "/".join(rel.parts[1:])
        if (repo, rest) not in SKIPPED:
            got.add((repo, rest, int(ln)))
    return got


def all_of(conn, q, **kw):
    return list(search(conn, q, limit=None, **kw))


@pytest.fixture
def db(org):
    c = sqlite3.connect(f"file:{org.db}?mode=ro", uri=True)
    yield c
    c.close()


# ---------------------------------------------------------------------------- content = ripgrep


@pytest.mark.parametrize("query,rg_args", [
    ("Backoff", ["-S", "-F", "Backoff"]),
    ("backoff", ["-S", "-F", "backoff"]),                 # smart case: lower case is insensitive
    ("delay(", ["-S", "-F", "delay("]),
    ('"def "', ["-S", "-F", "def "]),
    ("import", ["-S", "-F", "import"]),
    ('"self.delay(attempt) * 2"', ["-S", "-F", "self.delay(attempt) * 2"]),
    ("backoff case:yes", ["-s", "-F", "backoff"]),
    ("Backoff case:no", ["-i", "-F", "Backoff"]),
    ("ab", ["-S", "-F", "ab"]),                            # shorter than a trigram: a full scan
    (r"/def \w+\(/", ["-S", r"def \w+\("]),
    (r"/^class /", ["-S", "^class "]),
    (r"/retr(y|ies)/", ["-S", "retr(y|ies)"]),
    (r"/[A-Z]\w+(Backoff|Entry)/", ["-S", r"[A-Z]\w+(Backoff|Entry)"]),
    (r"/\)$/", ["-S", r"\)$"]),
    (r"/^$/", ["-S", "^$"]),                                # empty lines: zero-width matches
    (r"/x*/", ["-S", "x*"]),                                # every line matches (empty match)
])
def test_content_matches_ripgrep(org, db, query, rg_args):
    got = lines_of(r for r in all_of(db, query) if (r.repo, r.path) not in SKIPPED)
    want = rg_lines(org, *rg_args)
    assert want, "the oracle found nothing: a useless case"
    assert got == want


def test_regex_mode_flag(org, db):
    assert lines_of(all_of(db, r"def \w+\(", regex_mode=True)) >= rg_lines(org, "-S", r"def \w+\(")


def test_match_ranges_are_exact(org, db):
    r = next(x for x in all_of(db, "PatientBackoff"))
    line, col = find(org.path("ledger", "ledger/core.py"), "class PatientBackoff", sub="PatientBackoff")
    assert (r.repo, r.path, r.line, r.col, r.end_col) == ("ledger", "ledger/core.py", line, col, col + len("PatientBackoff"))
    assert r.text == "class PatientBackoff(BO):"
    # several matches on one line: every range, left to right, non-overlapping
    r = next(x for x in all_of(db, "d1") if "d1 + d2" in x.text)
    assert [tuple(x) for x in r.ranges] == [(r.text.index("d1"), r.text.index("d1") + 2)]
    r = next(x for x in all_of(db, "/d[12]/") if "d1 + d2" in x.text)
    starts = [s for s, _ in r.ranges]
    assert starts == [r.text.index("d1"), r.text.index("d2")]


def test_non_ascii_columns_are_code_points(db):
    (r,) = all_of(db, "_name repo:broken")
    assert r.text == "def café_name():" and r.col == len("def café") and r.path == "brokenpkg/latin.py"
    # case-insensitive match of a non-ASCII literal
    assert {x.line for x in all_of(db, "CAFÉ case:no")} == {1, 5}


def test_results_grouped_by_repo_then_path(db):
    res = all_of(db, "import")
    keys = [(r.repo, r.path) for r in res]
    assert keys == sorted(keys)
    assert len({r.repo for r in res}) >= 3


# ---------------------------------------------------------------------------- filters


def test_repo_filters(db):
    assert {r.repo for r in all_of(db, "import repo:ledger")} == {"ledger"}
    assert {r.repo for r in all_of(db, "import repo:^pay|^led")} == {"payments", "ledger"}
    assert {r.repo for r in all_of(db, "import repo:payments repo:ledger")} == {"payments", "ledger"}   # either
    assert "ledger" not in {r.repo for r in all_of(db, "import -repo:ledger")}
    assert all_of(db, "import repo:nosuchrepo") == []


def test_file_filters(db):
    paths = {r.path for r in all_of(db, "import file:*/reports/*.py")}
    assert paths == {"ledger/reports/summary.py"}
    assert {r.path for r in all_of(db, r"import path:core\.py$")} == {"ledger/core.py"}
    assert all(not r.path.endswith("__init__.py") for r in all_of(db, "import -file:__init__.py"))
    assert {r.path for r in all_of(db, "import file:__init__.py")} <= {p for p in
                                                                     {r.path for r in all_of(db, "import")} if p.endswith("__init__.py")}
    assert all_of(db, "Backoff file:**/retry/**") and all("/retry/" in r.path for r in all_of(db, "Backoff file:**/retry/**"))


def test_lang_filters(db):
    everything = lines_of(all_of(db, "import"))
    assert lines_of(all_of(db, "import lang:python")) == everything
    assert lines_of(all_of(db, "import lang:py")) == everything
    assert all_of(db, "import lang:go") == []          # only Python is indexed today
    assert all_of(db, "import lang:c#") == []
    assert all_of(db, "import -lang:python") == []


def test_owner_filters(db):
    # payments/CODEOWNERS: /src/payments/retry/ @acme/reliability (policy.py adds @alice)
    res = all_of(db, "owner:@acme/reliability")
    assert {r.path for r in res} == {"src/payments/retry/__init__.py", "src/payments/retry/policy.py"}
    assert all("@acme/reliability" in r.owners for r in res)
    assert {r.path for r in all_of(db, "def owner:@alice")} == {"src/payments/retry/policy.py"}
    assert {r.path for r in all_of(db, "def owner:alice")} == {"src/payments/retry/policy.py"}
    assert {r.path for r in all_of(db, "owner:acme/reliability")} == {r.path for r in res}
    assert {r.path for r in all_of(db, "__all__ owner:@acme/reliability")} == {"src/payments/retry/__init__.py"}
    # team name without the org
    assert {r.path for r in all_of(db, "owner:reliability")} == {r.path for r in res}
    assert all("@acme/reliability" not in r.owners for r in all_of(db, "import -owner:@acme/reliability"))
    assert {r.repo for r in all_of(db, "import -owner:@acme/reliability")} >= {"ledger", "platform-utils"}
    assert all_of(db, "import owner:@nobody/none") == []
    # every result carries its owners (innersource.json for notifications)
    assert {tuple(r.owners) for r in all_of(db, "repo:notifications")} == {("heidi", "ivan")}


def test_filters_only_lists_files(db):
    res = all_of(db, "repo:ledger file:reports/")
    assert {(r.path, r.kind) for r in res} == {("ledger/reports/__init__.py", "file"), ("ledger/reports/summary.py", "file")}


# ---------------------------------------------------------------------------- boolean combinations


def files_with(db, q):
    return {(r.repo, r.path) for r in all_of(db, q)}


def test_and_or_not(db):
    backoff, delay, entry = files_with(db, "Backoff"), files_with(db, "delay"), files_with(db, "Entry")
    assert files_with(db, "Backoff delay") == backoff & delay
    assert files_with(db, "Backoff AND delay") == backoff & delay
    assert files_with(db, "Backoff OR Entry") == backoff | entry
    assert files_with(db, "Backoff NOT delay") == backoff - delay
    assert files_with(db, "(Backoff OR Entry) AND NOT delay") == (backoff | entry) - delay
    # lines shown are the positive patterns' matches
    for r in all_of(db, "Backoff AND delay"):
        assert "Backoff" in r.text or "delay" in r.text.lower()


def test_filters_inside_boolean_groups(db):
    got = files_with(db, "(repo:ledger Entry) OR (repo:payments Backoff)")
    assert got == {f for f in files_with(db, "Entry") if f[0] == "ledger"} | {f for f in files_with(db, "Backoff") if f[0] == "payments"}
    assert got and {f[0] for f in got} == {"ledger", "payments"}


def test_not_alone_with_a_filter_lists_files(db):
    res = all_of(db, "repo:ledger NOT Backoff")
    assert res and all(r.kind == "file" and r.repo == "ledger" for r in res)
    assert ("ledger", "ledger/core.py") not in {(r.repo, r.path) for r in res}


# ---------------------------------------------------------------------------- symbols


def test_symbol_search_ranked(db):
    res = all_of(db, "type:symbol Backoff")
    assert [(r.qualname, r.kind) for r in res][:2] == [("payments.retry.policy.Backoff", "class"),
                                                       ("ledger.core.PatientBackoff", "class")]
    top = res[0]
    assert (top.repo, top.path) == ("payments", "src/payments/retry/policy.py")
    line, col = find(Path(ORG_DB).parent / "src/payments/src/payments/retry/policy.py", "class Backoff", sub="Backoff")
    assert (top.line, top.col, top.end_col) == (line, col, col + len("Backoff"))
    assert top.uses and top.uses > 0 and "@acme/reliability" in top.owners


def test_symbol_kinds_and_boolean(db):
    fns = all_of(db, "type:symbol kind:function delay")
    assert {r.qualname for r in fns} == {"payments.retry.policy.compute_delay", "ledger.fees.fee_delay"}
    methods = all_of(db, "kind:method delay")      # kind: alone implies type:symbol
    assert {r.qualname for r in methods} == {"payments.retry.policy.Backoff.delay"}
    both = all_of(db, "type:symbol compute_delay OR wait")
    assert {r.qualname for r in both} >= {"payments.retry.policy.compute_delay", "ledger.core.PatientBackoff.wait"}
    assert all(r.kind != "parameter" for r in all_of(db, "type:symbol attempt"))
    assert {r.kind for r in all_of(db, "type:symbol kind:parameter attempt")} == {"parameter"}
    assert all(r.kind in ("function", "class") for r in all_of(db, "kind:function kind:class e"))


def test_symbol_filters(db):
    assert {r.repo for r in all_of(db, "type:symbol Backoff repo:ledger")} == {"ledger"}
    assert {r.repo for r in all_of(db, "type:symbol Backoff -repo:ledger")} == {"payments"}
    assert all(r.path.endswith("policy.py") for r in all_of(db, "type:symbol file:policy.py e"))
    assert {r.qualname for r in all_of(db, "type:symbol lang:python Backoff owner:@acme/reliability")} == {"payments.retry.policy.Backoff"}
    assert all_of(db, "type:symbol lang:go Backoff") == []
    assert {r.qualname for r in all_of(db, r"type:symbol /^compute_\w+$/")} == {"payments.retry.policy.compute_delay"}
    assert {r.name for r in all_of(db, "type:symbol Backoff case:yes")} == {"Backoff", "PatientBackoff"}
    assert all_of(db, "type:symbol BACKOFF case:yes") == []


# ---------------------------------------------------------------------------- limits


def test_count_and_more(db):
    full = all_of(db, "import")
    page = run(db, "import", limit=3)
    assert page.more and [lines_of([r]) for r in page.results] == [lines_of([r]) for r in full[:3]]
    page = run(db, "import count:2", limit=50)
    assert len(page.results) == 2 and page.more
    page = run(db, "import count:all", limit=2)
    assert len(page.results) == len(full) and not page.more
    assert not run(db, "PatientBackoff", limit=50).more


def test_errors(db, tmp_path):
    with pytest.raises(QueryError):
        run(db, "(unbalanced")
    old = tmp_path / "old.db"
    c = sqlite3.connect(old)
    c.executescript("CREATE TABLE repos(id INTEGER PRIMARY KEY, name, root, ownership); CREATE TABLE meta(key, value);"
                    "CREATE TABLE files(id, repo_id, path, language, ascii, blob);")
    with pytest.raises(SearchError, match="run `crossnav index` again"):
        run(c, "foo")


# ---------------------------------------------------------------------------- the CLI


def test_cli_grep_output(org):
    r = run_cli("search", "--db", org.db, "PatientBackoff")
    assert r.returncode == 0, r.stderr
    line, col = find(org.path("ledger", "ledger/core.py"), "class PatientBackoff", sub="PatientBackoff")
    assert r.stdout.splitlines() == [f"ledger/ledger/core.py:{line + 1}:{col + 1}: class PatientBackoff(BO):"]
    # the column is a byte offset, as ripgrep's --vimgrep
    r = run_cli("search", "--db", org.db, "_name", "repo:broken")
    assert r.stdout.splitlines() == ["broken/brokenpkg/latin.py:6:10: def café_name():"]


def test_cli_json_limit_regex_and_exit_codes(org):
    r = run_cli("search", "--db", org.db, "--json", "--limit", "2", "import")
    doc = json.loads(r.stdout)
    assert r.returncode == 0 and doc["more"] is True and len(doc["results"]) == 2
    assert set(doc["results"][0]) >= {"repo", "path", "line", "col", "end_col", "text", "owners", "ranges"}
    assert "more not shown" in r.stderr
    r = run_cli("search", "--db", org.db, "--regex", r"class \w+Backoff")
    assert r.returncode == 0 and r.stdout.count("\n") == 1
    r = run_cli("search", "--db", org.db, "nothing-like-this-anywhere")
    assert r.returncode == 1 and r.stdout == ""
    r = run_cli("search", "--db", org.db, "type:symbol", "Backoff")
    assert r.stdout.splitlines()[0].endswith("class Backoff:  [class payments.retry.policy.Backoff, 2 uses]")


def test_cli_query_error_points_at_column(org):
    r = run_cli("search", "--db", org.db, "foo bogus:x")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert "unknown filter bogus:" in lines[0] and "(column 5)" in lines[0]
    assert lines[1] == "foo bogus:x" and lines[2].startswith("    ^")
    r = run_cli("search", "--db", org.root / "missing.db", "foo")
    assert r.returncode == 2 and "no index" in r.stderr


# ---------------------------------------------------------------------------- index maintenance


def test_incremental_update_dedup_and_orphans(tmp_path):
    repos = build_org(tmp_path / "src", names=["payments", "ledger"])
    db = tmp_path / "x.db"
    assert index(db, *repos.values()).returncode == 0
    c = sqlite3.connect(db)
    n_files, n_content, n_fts = c.execute(
        "SELECT (SELECT count(DISTINCT blob) FROM files), (SELECT count(*) FROM content),"
        " (SELECT count(*) FROM content_fts WHERE content_fts MATCH '\"imp\" OR \"def\" OR \"\"\"\"\"\"'"
        " OR rowid > 0)").fetchone()
    assert n_files == n_content
    assert c.execute("SELECT value FROM meta WHERE key = 'content_fts_from'").fetchone() is None  # built
    c.close()
    # the same file in two repos is stored once
    (repos["ledger"] / "ledger" / "copied.py").write_bytes((repos["payments"] / "src/payments/retry/policy.py").read_bytes())
    commit_all(repos["ledger"], "copy")
    (repos["payments"] / "src/payments/retry/policy.py").write_text("UNIQUE_NEW_TEXT = 1\n")
    commit_all(repos["payments"], "rewrite")
    assert index(db, *repos.values()).returncode == 0
    c = sqlite3.connect(db)
    assert c.execute("SELECT count(DISTINCT blob) FROM files").fetchone()[0] == c.execute("SELECT count(*) FROM content").fetchone()[0]
    assert {(r.repo, r.path) for r in search(c, "UNIQUE_NEW_TEXT", limit=None)} == {("payments", "src/payments/retry/policy.py")}
    assert {(r.repo, r.path) for r in search(c, "compute_delay repo:ledger file:copied", limit=None)} == {("ledger", "ledger/copied.py")}
    # delete the copy: its text goes (no file has that blob any more), the search index forgets it
    (repos["ledger"] / "ledger" / "copied.py").unlink()
    commit_all(repos["ledger"], "rm")
    assert index(db, *repos.values()).returncode == 0
    assert c.execute("SELECT count(DISTINCT blob) FROM files").fetchone()[0] == c.execute("SELECT count(*) FROM content").fetchone()[0]
    assert list(search(c, '"def compute_delay"', limit=None)) == []
    assert c.execute("SELECT count(*) FROM content_fts WHERE content_fts MATCH '\"com\" AND \"put\" AND \"e_d\"'").fetchone()[0] == \
        c.execute("SELECT count(*) FROM content_fts WHERE content_fts MATCH '\"com\" AND \"put\" AND \"e_d\"'").fetchone()[0]
    c.close()


def test_backfill_of_an_index_without_contents(tmp_path):
    repos = build_org(tmp_path / "src", names=["ledger"])
    db = tmp_path / "x.db"
    assert index(db, *repos.values()).returncode == 0
    c = sqlite3.connect(db)
    c.execute("DELETE FROM content")
    c.execute("INSERT INTO content_fts(content_fts) VALUES ('delete-all')")
    c.commit()
    assert list(search(c, "PatientBackoff", limit=None)) == []
    assert index(db, *repos.values()).returncode == 0      # nothing changed, but the texts come back
    assert [r.path for r in search(c, "PatientBackoff", limit=None)] == ["ledger/core.py"]
    c.close()


def test_hostile_regex_does_not_hang(tmp_path):
    root = tmp_path / "hostile"
    root.mkdir()
    (root / "evil.py").write_text("x = '" + "a" * 3000 + "!'\n")
    init_repo(root)
    db = tmp_path / "h.db"
    assert index(db, root).returncode == 0
    t0 = time.monotonic()
    r = run_cli("search", "--db", db, "/(a|aa)+$/")
    assert time.monotonic() - t0 < 20
    assert r.returncode == 2 and "simplify the pattern" in r.stderr


# ---------------------------------------------------------------------------- the server


@pytest_lsp.fixture(
    scope="module",
    params=["neovim", "visual_studio_code"],
    config=ClientServerConfig(server_command=[*SERVE, "--db", str(ORG_DB)]),
)
async def client(request, lsp_client: LanguageClient, org):
    result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(request.param), root_uri=org.repos["ledger"].as_uri()))
    lsp_client.encoding = result.capabilities.position_encoding or "utf-16"
    lsp_client.org = org
    yield
    await lsp_client.shutdown_session()


async def command(client, name, **args):
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command=name, arguments=[args]))


@pytest.mark.asyncio(loop_scope="module")
async def test_lsp_find_content(client):
    org = client.org
    got = await command(client, "crossnav.find", query="PatientBackoff", limit=10)
    assert got["more"] is False and len(got["results"]) == 1
    (r,) = got["results"]
    line, col = find(org.path("ledger", "ledger/core.py"), "class PatientBackoff", sub="PatientBackoff")
    assert (r["repo"], r["path"], r["uri"], r["line"]) == ("ledger", "ledger/core.py", org.uri("ledger", "ledger/core.py"), line)
    assert r["range"] == {"start": {"line": line, "character": col}, "end": {"line": line, "character": col + 14}}
    assert r["owner"] == "@acme/finance" and r["text"] == "class PatientBackoff(BO):"
    # a non-ASCII line: the range is in the client's position encoding
    got = await command(client, "crossnav.find", query="_name repo:broken")
    (r,) = got["results"]
    text = r["text"]
    assert r["range"]["start"]["character"] == to_client_units(text, text.index("_name"), client.encoding)
    got = await command(client, "crossnav.find", query="import", limit=2)
    assert got["more"] is True and len(got["results"]) == 2


@pytest.mark.asyncio(loop_scope="module")
async def test_lsp_find_symbols_errors_and_old_search(client):
    got = await command(client, "crossnav.find", query="type:symbol Backoff")
    assert got["results"][0]["qualname"] == "payments.retry.policy.Backoff" and got["results"][0]["kind"] == "class"
    got = await command(client, "crossnav.find", query="foo (bar")
    assert got["results"] == [] and "never closed" in got["error"] and got["column"] == 5
    # the editor plugins' symbol search keeps its contract
    old = await command(client, "crossnav.search", query="Backoff", limit=5)
    assert old[0]["qualname"] == "payments.retry.policy.Backoff" and {"name", "kind", "repo", "path", "uses", "uri", "range"} <= set(old[0])


@pytest.mark.parametrize("limit", ["-3", "ten"])
def test_limit_must_be_a_count(org, limit):
    """`--limit -3` printed no results and said more were hidden."""
    r = run_cli("search", "--db", org.db, "--limit", limit, "import")
    assert r.returncode == 2 and "expected a whole number, 0 or more" in r.stderr, r.stderr
