"""Shards and merge: `crossnav index --shard OUT.db REPO` per repo, `crossnav merge --db ORG.db SHARD...`.

The bar: a merged index of separately built shards gives identical answers to a single build (the same
rows, the same derived tables, the same search and LSP answers), a newer shard replaces one repo
atomically, an older one is skipped, --include/--exclude select repos, and a bad shard changes nothing."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from orgutil import CLI, REPO_NAMES, SERVE, SESSION_DIR, build_org, commit_all, index, run_cli

MERGE = SESSION_DIR / "merge"


# ---------------------------------------------------------------------------- helpers


def shard(out: Path, repo: Path, *extra) -> subprocess.CompletedProcess:
    r = run_cli("index", "--shard", out, "--max-file-size", 64, *extra, repo)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def merge(db: Path, *shards, extra=()) -> subprocess.CompletedProcess:
    return run_cli("merge", "--db", db, *extra, *shards)


# Every table as a set of rows keyed by names, not ids (ids differ between a build and a merge).
DUMP = {
    "repos": "SELECT name, root, remote, web_url, head, branch, ownership, dist, files, lines FROM repos",
    "files": """SELECT r.name, f.path, f.language, f.module, f.size, f.blob, f.lines, f.ascii, f.errors
                FROM files f JOIN repos r ON r.id = f.repo_id""",
    "defs": """SELECT r.name, f.path, d.qualname, d.name, d.kind, d.container, d.line, d.col, d.end_line, d.end_col,
                      d.name_line, d.name_col, d.name_end_col, d.signature, d.doc, d.type, d.repo_id = f.repo_id
               FROM defs d JOIN files f ON f.id = d.file_id JOIN repos r ON r.id = f.repo_id""",
    "refs": """SELECT r.name, f.path, x.line, x.col, x.end_col, x.name, x.target, x.kind, x.repo_id = f.repo_id
               FROM refs x JOIN files f ON f.id = x.file_id JOIN repos r ON r.id = f.repo_id""",
    "aliases": """SELECT r.name, f.path, a.alias, a.target, a.star, a.line
                  FROM aliases a JOIN files f ON f.id = a.file_id JOIN repos r ON r.id = f.repo_id""",
    "bases": "SELECT r.name, f.path, b.class, b.base FROM bases b JOIN files f ON f.id = b.file_id JOIN repos r ON r.id = f.repo_id",
    "imports": "SELECT r.name, f.path, i.package FROM imports i JOIN files f ON f.id = i.file_id JOIN repos r ON r.id = f.repo_id",
    "packages": "SELECT r.name, p.package, p.import_root, p.source FROM packages p JOIN repos r ON r.id = p.repo_id",
    "skipped": "SELECT r.name, s.path, s.reason FROM skipped s JOIN repos r ON r.id = s.repo_id",
    "repo_totals": "SELECT r.name, t.defs, t.refs FROM repo_totals t JOIN repos r ON r.id = t.repo_id",
    "resolved": "SELECT target, canonical FROM resolved",
    "usage": "SELECT qualname, refs, repos FROM usage",
    "content": "SELECT blob, text FROM content",
    # the two FTS indexes answer the same (defs_fts is external-content, content_fts contentless)
    "defs_fts": """SELECT t.q, d.qualname FROM (SELECT 'ret' AS q UNION SELECT 'Led' UNION SELECT 'ify' UNION SELECT 'ash') t
                   JOIN defs_fts ON defs_fts MATCH t.q JOIN defs d ON d.id = defs_fts.rowid""",
    "content_fts": """SELECT t.q, c.blob FROM (SELECT 'def' AS q UNION SELECT 'imp' UNION SELECT 'off'
                      UNION SELECT 'afé' UNION SELECT 'led' UNION SELECT 'ret') t
                      JOIN content_fts ON content_fts MATCH t.q JOIN content c ON c.id = content_fts.rowid""",
    "meta": "SELECT key, value FROM meta",
}


def dump(db: Path, tables=DUMP) -> dict[str, list]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {t: sorted(conn.execute(DUMP[t]).fetchall(), key=repr) for t in tables}
    finally:
        conn.close()


def assert_same_index(a: Path, b: Path, nonempty: bool = False):
    da, db = dump(a), dump(b)
    for table in DUMP:
        assert da[table] or not nonempty, f"{table} is empty in {a}: the comparison would prove nothing"
        diff = set(da[table]) ^ set(db[table])
        assert da[table] == db[table], f"{table} differs between {a.name} and {b.name}: {sorted(diff, key=repr)[:10]}"


def rows_with_ids(db: Path, repo: str) -> dict:
    """A repo's rows including their ids: 'untouched' means not even rewritten."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rid = conn.execute("SELECT id FROM repos WHERE name = ?", (repo,)).fetchone()[0]
        return {
            "repo": conn.execute("SELECT * FROM repos WHERE id = ?", (rid,)).fetchall(),
            "files": conn.execute("SELECT * FROM files WHERE repo_id = ? ORDER BY id", (rid,)).fetchall(),
            "defs": conn.execute("SELECT * FROM defs WHERE repo_id = ? ORDER BY id", (rid,)).fetchall(),
            "refs": conn.execute("SELECT rowid, * FROM refs WHERE repo_id = ? ORDER BY rowid", (rid,)).fetchall(),
        }
    finally:
        conn.close()


def result_of(out: str, repo: str) -> str:
    """The `result` cell of a repo's row in the merge summary table."""
    for line in out.splitlines():
        cells = [c.strip() for c in re.split(r"[│|┃]", line)]
        if len(cells) > 3 and cells[1] == repo:
            return cells[2]
    raise AssertionError(f"no row for {repo} in:\n{out}")


def one_line_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected a one-line message, got {len(lines)} lines:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


# ---------------------------------------------------------------------------- the fixture org, twice


@pytest.fixture(scope="module")
def built():
    """The 5-repo org indexed in one run (A.db) and as 5 shards merged in another order (B.db)."""
    shutil.rmtree(MERGE, ignore_errors=True)
    repos = build_org(MERGE / "src")
    full = MERGE / "A.db"
    r = index(full, *repos.values())
    assert r.returncode == 0, r.stderr
    shards = {}
    for name, path in repos.items():
        shards[name] = MERGE / "shards" / f"{name}.db"
        shards[name].parent.mkdir(exist_ok=True)
        shard(shards[name], path)
    merged = MERGE / "B.db"
    order = list(reversed(REPO_NAMES))
    order = order[1:] + order[:1]            # a different order from the full build's
    r = merge(merged, *(shards[n] for n in order))
    assert r.returncode == 0, r.stdout + r.stderr
    return {"repos": repos, "full": full, "merged": merged, "shards": shards, "merge_output": r.stdout, "order": order}


def test_a_shard_is_a_standalone_index_of_one_repo(built):
    for name, path in built["shards"].items():
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        assert [r[0] for r in conn.execute("SELECT name FROM repos")] == [name]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"   # one file to upload
        conn.close()
        assert not Path(f"{path}-wal").exists()
    r = run_cli("status", "--db", built["shards"]["ledger"])          # usable directly
    assert r.returncode == 0 and "ledger" in r.stdout


def test_merge_summary(built):
    out = built["merge_output"]
    for name in REPO_NAMES:
        assert result_of(out, name) == "added", out
    assert "5 repos merged, 0 skipped, from 5 shard(s)" in out


def test_merged_index_has_the_same_rows_as_a_single_build(built):
    assert_same_index(built["full"], built["merged"], nonempty=True)


def test_merged_index_gives_the_same_search_results(built):
    for query in ("Backoff", "def ", "/retr(y|ies)/", "owner:@acme/payments-team", "type:symbol compute", "café",
                  "repo:ledger file:*.py import", "count:all lang:python"):
        a = run_cli("search", "--db", built["full"], "--json", "--limit", "0", query)
        b = run_cli("search", "--db", built["merged"], "--json", "--limit", "0", query)
        assert a.returncode == b.returncode and a.returncode in (0, 1), (query, a.stderr, b.stderr)
        assert json.loads(a.stdout) == json.loads(b.stdout), query


# ---------------------------------------------------------------------------- LSP answers, A vs B


class Lsp:
    """A minimal stdio JSON-RPC client: enough to ask the same questions of two servers."""

    def __init__(self, db: Path, root: Path):
        self.p = subprocess.Popen([*SERVE, "--db", str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        self.next_id = 0
        init = self.request("initialize", {
            "processId": os.getpid(), "rootUri": root.as_uri(),
            "capabilities": {"general": {"positionEncodings": ["utf-32"]},
                             "textDocument": {"hover": {"contentFormat": ["markdown", "plaintext"]}}},
            "initializationOptions": {"jediBudget": 30, "maxReferences": 10000}})
        assert init["capabilities"].get("positionEncoding") == "utf-32", init
        self.notify("initialized", {})

    def _send(self, msg):
        body = json.dumps(msg).encode()
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.p.stdin.flush()

    def _read(self):
        length = None
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise EOFError("server closed its output")
            if line in (b"\r\n", b"\n"):
                break
            k, _, v = line.decode().partition(":")
            if k.lower() == "content-length":
                length = int(v)
        return json.loads(self.p.stdout.read(length))

    def notify(self, method, params):
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method, params):
        self.next_id += 1
        rid = self.next_id
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        while True:
            msg = self._read()
            if msg.get("id") == rid and "method" not in msg:
                return msg.get("result", {"error": msg.get("error")})
            if "method" in msg and "id" in msg:      # a request from the server (progress, registration)
                self._send({"jsonrpc": "2.0", "id": msg["id"], "result": None})

    def close(self):
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.p.wait(timeout=10)
        except Exception:
            self.p.kill()
            self.p.wait()


_TIMES = re.compile(r"\d{4}-\d\d-\d\dT[\d:]+(\+00:00|Z)?|\b(just now|\d+ (d|h|min) ago)")


def normal(answer):
    """The indexing time differs between the two builds (it is not an answer); nothing else may."""
    return json.loads(_TIMES.sub("<time>", json.dumps(answer, sort_keys=True)))


def comparable(answer):
    """Every answer compared in order: ties in ranking are broken by repo, path and line
    (server/query.py), so the order rows happened to be written in does not show."""
    kind, *_, ans = answer
    return normal(ans)


def questions(db: Path):
    """Every definition name and every stored reference in the index: (uri, line, col, is_definition)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        defs = conn.execute("""SELECT r.root, f.path, d.name_line, d.name_col FROM defs d JOIN files f ON f.id = d.file_id
                               JOIN repos r ON r.id = f.repo_id WHERE d.kind != 'module' ORDER BY 1, 2, 3, 4""").fetchall()
        refs = conn.execute("""SELECT r.root, f.path, x.line, x.col FROM refs x JOIN files f ON f.id = x.file_id
                               JOIN repos r ON r.id = f.repo_id ORDER BY 1, 2, 3, 4""").fetchall()
    finally:
        conn.close()
    return ([(Path(root, p).as_uri(), line, col, True) for root, p, line, col in defs]
            + [(Path(root, p).as_uri(), line, col, False) for root, p, line, col in refs])


def ask_all(db: Path, root: Path, qs) -> list:
    lsp = Lsp(db, root)
    answers = []
    try:
        for uri, line, col, is_def in qs:
            pos = {"textDocument": {"uri": uri}, "position": {"line": line, "character": col}}
            answers.append(("definition", uri, line, col, lsp.request("textDocument/definition", pos)))
            answers.append(("hover", uri, line, col, lsp.request("textDocument/hover", pos)))
            if is_def:
                answers.append(("references", uri, line, col, lsp.request(
                    "textDocument/references", {**pos, "context": {"includeDeclaration": True}})))
        for query in ("Backoff", "compute", "__init__", "ret", "Ledger", "notify", "hash", "café",
                      "repo:payments kind:class", "kind:function owner:@acme/payments-team"):
            answers.append(("workspace/symbol", query, 0, 0, lsp.request("workspace/symbol", {"query": query})))
    finally:
        lsp.close()
    return answers


def test_merged_index_gives_the_same_lsp_answers(built):
    qs = questions(built["full"])
    assert len(qs) > 100
    assert qs == questions(built["merged"])
    root = built["repos"]["ledger"]
    a = ask_all(built["full"], root, qs)
    b = ask_all(built["merged"], root, qs)
    assert sum(1 for *_, ans in a if ans) > len(qs)        # most questions have an answer: the comparison means something
    assert any(k == "definition" and ans and built["repos"]["payments"].as_uri() in json.dumps(ans) and "ledger" in uri
               for k, uri, _, _, ans in a), "no cross-repo definition among the answers"
    diffs = [(x[:4], normal(x[4]), normal(y[4])) for x, y in zip(a, b) if comparable(x) != comparable(y)]
    assert not diffs, f"{len(diffs)} different answers, first: {diffs[:3]}"


# ---------------------------------------------------------------------------- updates


@pytest.fixture
def two(tmp_path):
    """payments + ledger as shards merged into org.db."""
    repos = build_org(tmp_path / "src", names=["payments", "ledger"])
    shards = {n: tmp_path / f"{n}.db" for n in repos}
    for n, p in repos.items():
        shard(shards[n], p)
    org = tmp_path / "org.db"
    r = merge(org, *shards.values())
    assert r.returncode == 0, r.stdout + r.stderr
    return {"repos": repos, "shards": shards, "org": org, "tmp": tmp_path}


def test_newer_shard_replaces_that_repo_only(two):
    repos, org, tmp = two["repos"], two["org"], two["tmp"]
    old_shard = shutil.copy(two["shards"]["payments"], tmp / "payments-old.db")
    ledger_before = rows_with_ids(org, "ledger")
    payments_id = rows_with_ids(org, "payments")["repo"][0][0]
    policy = repos["payments"] / "src/payments/retry/policy.py"
    policy.write_text(policy.read_text() + "\n\ndef jitter(delay):\n    return delay\n")
    commit_all(repos["payments"], "add jitter")
    time.sleep(1.1)                                   # indexed_at has a resolution of one second
    shard(two["shards"]["payments"], repos["payments"])   # the same shard file, updated in place
    r = merge(org, two["shards"]["payments"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert result_of(r.stdout, "payments") == "replaced", r.stdout
    assert rows_with_ids(org, "ledger") == ledger_before      # the other repo is not even rewritten
    after = rows_with_ids(org, "payments")
    assert after["repo"][0][0] == payments_id                 # the repo keeps its id
    assert any(d[3] == "payments.retry.policy.jitter" for d in after["defs"])
    # and the whole index equals a single build of the new state
    full = tmp / "full.db"
    assert index(full, *repos.values()).returncode == 0
    assert_same_index(full, org)

    # the older shard is skipped with a message and changes nothing...
    before = digest(org)
    r = merge(org, old_shard)
    assert r.returncode == 0, r.stderr
    assert result_of(r.stdout, "payments") == "skipped: older" and "older than the index's copy" in r.stdout, r.stdout
    assert "0 repos merged, 1 skipped" in r.stdout
    assert digest(org) == before
    # ... unless forced
    r = merge(org, old_shard, extra=["--force"])
    assert r.returncode == 0 and result_of(r.stdout, "payments") == "replaced", r.stdout
    conn = sqlite3.connect(org)
    assert conn.execute("SELECT count(*) FROM defs WHERE qualname = 'payments.retry.policy.jitter'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM resolved").fetchone()[0] > 0
    conn.close()


def test_same_shard_twice_is_unchanged(two):
    before = digest(two["org"])
    r = merge(two["org"], *two["shards"].values())
    assert r.returncode == 0
    assert "0 repos merged, 2 skipped" in r.stdout and "already in the index" in r.stdout, r.stdout
    assert digest(two["org"]) == before


def test_reader_never_sees_half_a_repo_during_merge(tmp_path):
    repos = build_org(tmp_path / "src", names=["payments"])
    pkg = repos["payments"] / "src/payments/gen"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for i in range(150):
        (pkg / f"m{i}.py").write_text("".join(f"def f{i}_{j}():\n    return {j}\n" for j in range(40)))
    commit_all(repos["payments"], "generated")
    sh, org = tmp_path / "payments.db", tmp_path / "org.db"
    shard(sh, repos["payments"])
    assert merge(org, sh).returncode == 0
    for i in range(150):
        (pkg / f"m{i}.py").write_text("".join(f"def f{i}_{j}_v2():\n    return {j}\n" for j in range(40)))
    commit_all(repos["payments"], "rename all")
    time.sleep(1.1)
    shard(sh, repos["payments"])

    def snapshot(conn):
        return conn.execute("""SELECT count(*), coalesce(sum(d.name LIKE '%\\_v2' ESCAPE '\\'), 0)
                               FROM defs d JOIN files f ON f.id = d.file_id
                               WHERE f.path LIKE 'src/payments/gen/%' AND d.kind = 'function'""").fetchone()

    old = (150 * 40, 0)
    seen, stop = set(), threading.Event()

    def poll():
        conn = sqlite3.connect(f"file:{org}?mode=ro", uri=True, timeout=30)
        while not stop.is_set():
            seen.add(snapshot(conn))
            time.sleep(0.001)
        conn.close()

    t = threading.Thread(target=poll)
    t.start()
    try:
        r = merge(org, sh)
    finally:
        stop.set()
        t.join()
    assert r.returncode == 0, r.stderr
    new = (150 * 40, 150 * 40)
    conn = sqlite3.connect(f"file:{org}?mode=ro", uri=True)
    assert snapshot(conn) == new
    conn.close()
    assert seen <= {old, new}, f"a reader saw a half-merged repo: {sorted(seen - {old, new})}"


# ---------------------------------------------------------------------------- --include / --exclude


def test_include_exclude_at_merge_time(built, tmp_path):
    db = tmp_path / "sub.db"
    r = merge(db, *built["shards"].values(), extra=["--exclude", "broken", "--exclude", "notif*"])
    assert r.returncode == 0, r.stderr
    conn = sqlite3.connect(db)
    assert {n for n, in conn.execute("SELECT name FROM repos")} == {"payments", "ledger", "platform-utils"}
    conn.close()
    assert "3 repos merged, 2 skipped" in r.stdout
    db2 = tmp_path / "p.db"
    r = merge(db2, *built["shards"].values(), extra=["--include", "p*", "--exclude", "platform-*"])
    assert r.returncode == 0, r.stderr
    conn = sqlite3.connect(db2)
    assert {n for n, in conn.execute("SELECT name FROM repos")} == {"payments"}
    conn.close()


def test_include_exclude_at_index_time_equals_merge(built, tmp_path):
    src = MERGE / "src"
    idx = tmp_path / "idx.db"
    r = run_cli("index", "--db", idx, "--max-file-size", 64, "--discover", src, "--include", "p*", "--include", "ledger",
                "--exclude", "platform-*")
    assert r.returncode == 0, r.stderr
    assert "not indexed (--include/--exclude): broken, notifications, platform-utils" in r.stderr
    mrg = tmp_path / "mrg.db"
    r = merge(mrg, *built["shards"].values(), extra=["--include", "p*", "--include", "ledger", "--exclude", "platform-*"])
    assert r.returncode == 0, r.stderr
    assert {row[0] for row in dump(idx, ["repos"])["repos"]} == {"payments", "ledger"}
    assert_same_index(idx, mrg)
    # explicit REPO_DIRs are filtered too; nothing left is an error
    r = run_cli("index", "--db", tmp_path / "none.db", "--exclude", "*", built["repos"]["ledger"])
    assert r.returncode == 2 and "every repository was left out" in one_line_error(r.stderr)


def test_shard_takes_exactly_one_repo(built, tmp_path):
    out = tmp_path / "s.db"
    r = run_cli("index", "--shard", out, built["repos"]["ledger"], built["repos"]["payments"])
    assert r.returncode == 2 and "exactly one repository" in one_line_error(r.stderr)
    assert not out.exists()
    r = run_cli("index", "--shard", out, "--discover", MERGE / "src", "--include", "led*")   # narrowed to one
    assert r.returncode == 0, r.stderr
    assert dump(out, ["repos"])["repos"][0][0] == "ledger"
    r = run_cli("index", "--shard", built["full"], built["repos"]["ledger"])   # a file holding other repos
    assert r.returncode == 2 and "already holds other repositories" in one_line_error(r.stderr)


# ---------------------------------------------------------------------------- bad shards


@pytest.mark.parametrize("kind", ["newer", "random", "truncated", "not-crossnav", "missing"])
def test_bad_shard_is_a_one_line_error_and_changes_nothing(built, tmp_path, kind):
    bad = tmp_path / "bad.db"
    good = built["shards"]["ledger"]
    if kind == "newer":
        shutil.copy(good, bad)
        c = sqlite3.connect(bad)
        c.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
        c.commit()
        c.close()
    elif kind == "random":
        bad.write_bytes(os.urandom(8192))
    elif kind == "truncated":
        data = Path(good).read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif kind == "not-crossnav":
        c = sqlite3.connect(bad)
        c.execute("CREATE TABLE t (x)")
        c.commit()
        c.close()
    org = shutil.copy(built["merged"], tmp_path / "org.db")
    before = digest(Path(org))
    r = merge(org, good, bad)           # the good shard comes first: it must not be merged either
    assert r.returncode == 2, r.stdout + r.stderr
    line = one_line_error(r.stderr)
    assert str(bad) in line
    expect = {"newer": "newer crossnav (schema 999", "random": "not a readable crossnav index",
              "truncated": "shard", "not-crossnav": "not a crossnav index", "missing": "no shard at"}[kind]
    assert expect in line, line
    assert digest(Path(org)) == before
    # a new org index is not even created
    fresh = tmp_path / "fresh.db"
    r = merge(fresh, bad)
    assert r.returncode == 2 and not fresh.exists()


def test_merging_the_org_index_into_itself_is_refused(built):
    r = merge(built["merged"], built["merged"])
    assert r.returncode == 2 and "is the org index itself" in one_line_error(r.stderr)
