"""Real code: requests and its dependencies from unmodified PyPI sdists, each its own git repo.

Expected answers come from Python's `ast` over the dependency sources (tests/realcode.py), never
from crossnav's database. Skipped only when the sdists cannot be downloaded."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

import realcode
from orgutil import CLI, REAL_DB, SERVE, init_repo, run_cli, to_client_units

ASYNC = pytest.mark.asyncio(loop_scope="module")

DEPS = ("urllib3", "idna", "charset-normalizer", "certifi")


@pytest.fixture(scope="module")
def real_repos() -> dict[str, Path]:
    try:
        return realcode.all_repos()
    except realcode.DownloadFailed as e:
        pytest.skip(f"real-code sdists unavailable (no network?): {e}")


@pytest.fixture(scope="module")
def real_index(real_repos) -> Path:
    r = run_cli("index", "--db", REAL_DB, *real_repos.values(), timeout=300)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    return REAL_DB


@pytest.fixture(scope="module")
def oracle(real_repos):
    mm = realcode.ModuleMap({n: real_repos[n] for n in DEPS})
    cases, missing = realcode.cross_repo_cases(real_repos["requests"], mm)
    return mm, cases, missing


@pytest_lsp.fixture(
    scope="module",
    params=["neovim", "visual_studio_code"],
    config=ClientServerConfig(server_command=[*SERVE, "--db", str(REAL_DB)]),
)
async def client(request, lsp_client: LanguageClient, real_index, real_repos):
    result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(request.param),
        root_uri=real_repos["requests"].as_uri()))
    lsp_client.encoding = result.capabilities.position_encoding or "utf-16"
    yield
    await lsp_client.shutdown_session()


def client_pos(client, path: Path, line: int, col: int) -> types.Position:
    text = path.read_text(encoding="utf-8").split("\n")[line]
    return types.Position(line=line, character=to_client_units(text, col, client.encoding))


def first_location(result):
    if result is None:
        return None
    if not isinstance(result, (list, tuple)):
        result = [result]
    if not result:
        return None
    r = result[0]
    if isinstance(r, types.LocationLink):
        return r.target_uri, r.target_selection_range.start.line
    return r.uri, r.range.start.line


def test_oracle_found_the_imports(oracle):
    _, cases, missing = oracle
    assert missing == [], f"ast oracle could not place: {missing}"
    names = {c.name for c in cases}
    # sanity: the oracle sees the imports requests is known to make
    assert {"PoolManager", "Retry", "parse_url", "where", "IDNAError", "MaxRetryError"} <= names
    assert len(cases) >= 60


@ASYNC
async def test_cross_repo_definitions(client: LanguageClient, oracle):
    _, cases, _ = oracle
    opened = set()
    wrong = []
    for c in cases:
        uri = c.file.as_uri()
        if uri not in opened:
            opened.add(uri)
            client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=c.file.read_text(encoding="utf-8"))))
        result = await client.text_document_definition_async(types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=client_pos(client, c.file, c.line, c.col)))
        got = first_location(result)
        expected = {(p.as_uri(), line) for p, line in c.expected}
        if got not in expected:
            wrong.append(f"{c.file.name}:{c.line + 1}:{c.col} {c.name}: got {got}, expected one of {sorted(expected)}")
    ok = len(cases) - len(wrong)
    print(f"cross-repo definitions: {ok}/{len(cases)} correct", *wrong, sep="\n")
    assert ok / len(cases) >= 0.95, f"{ok}/{len(cases)} correct; wrong:\n" + "\n".join(wrong)


@ASYNC
async def test_pool_manager_references_reach_requests(client: LanguageClient, real_repos):
    urllib3_root = real_repos["urllib3"]
    pm = realcode.package_dir(urllib3_root, "urllib3") / "poolmanager.py"
    text = pm.read_text(encoding="utf-8")
    line = next(i for i, ln in enumerate(text.split("\n")) if ln.startswith("class PoolManager("))
    col = len("class ")
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=pm.as_uri(), language_id="python", version=1, text=text)))
    result = await client.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=pm.as_uri()), position=client_pos(client, pm, line, col),
        context=types.ReferenceContext(include_declaration=True)))
    got = {(r.uri, r.range.start.line, r.range.start.character) for r in result or []}
    assert (pm.as_uri(), line, col) in got                                   # the declaration
    requests_root = real_repos["requests"]
    expected = set()
    for f, ln, c in realcode.name_sites(requests_root, "requests", "PoolManager"):
        expected.add((f.as_uri(), ln, client_pos(client, f, ln, c).character))
    assert len(expected) >= 2                                                # import + construction in adapters.py
    in_requests = {g for g in got if g[0].startswith(requests_root.as_uri() + "/")}
    assert in_requests == expected
    # and urllib3's own uses are there too (e.g. its package __init__ re-export)
    init = realcode.package_dir(urllib3_root, "urllib3") / "__init__.py"
    assert any(u == init.as_uri() for u, _, _ in got)


# ---------------------------------------------------------------------------- interrupting the indexer


def make_big_repo(path: Path, files: int = 900) -> Path:
    pkg = path / "bigpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""Generated."""\n')
    body = "".join(f"def f{i}(x, y=1):\n    '''Doc {i}.'''\n    return helper(x) + y * {i}\n\n\n" for i in range(40))
    for n in range(files):
        (pkg / f"mod{n:04d}.py").write_text(f"from bigpkg.mod0000 import helper\n\n\n{body}"
                                            if n else f"def helper(x):\n    return x\n\n\n{body}")
    init_repo(path)
    return path


def table_counts(db: Path):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("PRAGMA foreign_key_check").fetchall() == []
        repos = {name: (stored, actual) for name, stored, actual in c.execute(
            "SELECT r.name, r.files, (SELECT count(*) FROM files f WHERE f.repo_id = r.id) FROM repos r")}
        files = {(r[0], r[1]): r[2] for r in c.execute(
            "SELECT r.name, f.path, f.blob FROM files f JOIN repos r ON r.id = f.repo_id")}
        return repos, files
    finally:
        c.close()


def test_sigint_leaves_a_consistent_index(real_repos, tmp_path):
    db = tmp_path / "int.db"
    r = run_cli("index", "--db", db, real_repos["idna"])
    assert r.returncode == 0, r.stderr
    _, idna_before = table_counts(db)
    big = make_big_repo(tmp_path / "bigrepo")
    order = [real_repos["idna"], big, real_repos["requests"], real_repos["urllib3"],
             real_repos["charset-normalizer"], real_repos["certifi"]]
    proc = subprocess.Popen([*CLI, "index", "--db", str(db), *map(str, order)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "250"},
                            # a shell that started the suite in the background (`cmd &` without job
                            # control) passes SIGINT on as ignored, and Python then keeps it ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # past idna (unchanged) and busy parsing the big repo by then
    time.sleep(1.5)
    assert proc.poll() is None, "indexing finished before it could be interrupted; make the big repo bigger"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert "Traceback" not in err, err
    assert "interrupted" in err

    repos, files = table_counts(db)
    # idna was indexed before and is intact
    assert {k: v for k, v in files.items() if k[0] == "idna"} == idna_before
    # no repo is half-written: its stored file count matches its rows
    for name, (stored, actual) in repos.items():
        assert stored == actual, (name, stored, actual)
    if "bigrepo" in repos:
        assert repos["bigrepo"][1] == 901
    # a re-run finishes the job
    r = run_cli("index", "--db", db, *order, timeout=300)
    assert r.returncode == 0, r.stderr
    repos, files = table_counts(db)
    assert repos["bigrepo"] == (901, 901)
    assert set(repos) == {"idna", "bigrepo", "requests", "urllib3", "charset-normalizer", "certifi"}
    assert {k: v for k, v in files.items() if k[0] == "idna"} == idna_before


# ---------------------------------------------------------------------------- parser processes


def test_parser_processes_write_the_rows_one_process_writes(real_repos, tmp_path):
    """Rows that parser processes stage in their own SQLite files and the indexer copies with
    INSERT ... SELECT (index/staging.py) are exactly the rows of a one-process run, ids included,
    and the stage files are gone when the run ends."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}
    pool, one = tmp_path / "pool.db", tmp_path / "one.db"
    r = run_cli("index", "--db", pool, "-j", "2", *real_repos.values(), timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    r = run_cli("index", "--db", one, "-j", "1", *real_repos.values(), timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    assert list(tmp.iterdir()) == [], "stage files left behind"
    tables = {
        "files": "SELECT * FROM files ORDER BY id",
        "defs": "SELECT * FROM defs ORDER BY id",
        "refs": "SELECT rowid, * FROM refs ORDER BY rowid",
        "aliases": "SELECT rowid, * FROM aliases ORDER BY rowid",
        "bases": "SELECT rowid, * FROM bases ORDER BY rowid",
        "imports": "SELECT file_id, package FROM imports ORDER BY file_id, package",   # a set per file
        "content": "SELECT id, blob, text FROM content ORDER BY id",
        "resolved": "SELECT * FROM resolved ORDER BY target",
        "usage": "SELECT * FROM usage ORDER BY qualname",
        "content_fts": "SELECT rowid FROM content_fts WHERE content_fts MATCH 'def' ORDER BY rowid",
    }
    a = sqlite3.connect(f"file:{pool}?mode=ro", uri=True)
    b = sqlite3.connect(f"file:{one}?mode=ro", uri=True)
    try:
        assert a.execute("SELECT count(*) FROM files").fetchone()[0] >= 64, "too few files to use the parser processes"
        for table, sql in tables.items():
            x, y = a.execute(sql).fetchall(), b.execute(sql).fetchall()
            assert x, f"{table} is empty: the comparison would prove nothing"
            assert x == y, f"{table} differs: {sorted(set(x) ^ set(y), key=repr)[:5]}"
    finally:
        a.close()
        b.close()
