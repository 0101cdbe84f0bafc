"""Index-level tests: run the real `crossnav index` CLI and assert exact facts in the SQLite file."""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from crossnav.index import ownership
from orgutil import CLI, MAX_FILE_KIB, build_org, commit_all, find, git, index, init_repo, run_cli


# ---------------------------------------------------------------------------- helpers


def repo_id(conn, name):
    row = conn.execute("SELECT id FROM repos WHERE name = ?", (name,)).fetchone()
    assert row is not None, f"repo {name} not in index"
    return row[0]


def defs_by_qualname(conn, qualname):
    return conn.execute(
        """SELECT d.*, f.path, r.name AS repo FROM defs d JOIN files f ON f.id = d.file_id
           JOIN repos r ON r.id = d.repo_id WHERE d.qualname = ?""", (qualname,)).fetchall()


def one_def(conn, qualname):
    rows = defs_by_qualname(conn, qualname)
    assert len(rows) == 1, f"{qualname}: expected one definition, got {[dict(r) for r in rows]}"
    return rows[0]


def refs_at(conn, repo, path, line, col):
    return conn.execute(
        """SELECT x.*, s.canonical FROM refs x JOIN files f ON f.id = x.file_id JOIN repos r ON r.id = f.repo_id
           LEFT JOIN resolved s ON s.target = x.target
           WHERE r.name = ? AND f.path = ? AND x.line = ? AND x.col = ?""", (repo, path, line, col)).fetchall()


def ownership_of(conn, repo):
    row = conn.execute("SELECT ownership FROM repos WHERE name = ?", (repo,)).fetchone()
    return json.loads(row[0])


def copy_db(src: Path, dst: Path) -> Path:
    """Consistent copy of a WAL database (the backup API includes the WAL's committed pages)."""
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    d = sqlite3.connect(dst)
    s.backup(d)
    s.close()
    d.close()
    return dst


def one_line_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected a one-line message, got {len(lines)} lines:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


# ---------------------------------------------------------------------------- the CLI run


def test_cli_summary(org):
    out = org.result.stdout
    m = re.search(r"(\d+) repos, (\d+) files parsed", out)
    assert m, out
    assert (int(m[1]), int(m[2])) == (5, 19)
    # the three unreadable files are counted by reason
    assert "1 binary" in out
    assert f"1 larger than {MAX_FILE_KIB} KiB" in out
    assert "1 not UTF-8 and no valid coding declaration" in out


def test_tables_keep_repo_names_whole_in_a_log(org, tmp_path):
    """Piped into a log, rich assumed 80 columns and printed `platf…` for platform-utils."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update(NO_COLOR="1", TERM="dumb")
    names = {"platform-utils", "notifications"}
    for args in (["index", "--db", tmp_path / "log.db", *(org.repos[n] for n in sorted(names))],
                 ["status", "--db", org.db]):
        r = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        cells = {ln.split("│")[1].strip() for ln in r.stdout.splitlines() if ln.startswith("│")}
        assert names <= cells, r.stdout
        assert "…" not in r.stdout, r.stdout


def table_rows(out: str) -> dict[str, dict[str, str]]:
    """A rich table printed by the CLI: {repo: {column: cell}}."""
    lines = out.splitlines()
    head = next(ln for ln in lines if ln.startswith("┃"))
    cols = [c.strip() for c in head.split("┃")[1:-1]]
    rows = [[c.strip() for c in ln.split("│")[1:-1]] for ln in lines if ln.startswith("│")]
    return {r[0]: dict(zip(cols, r)) for r in rows}


def held(db: Path) -> dict[str, tuple[str, str]]:
    """Per repo, the definitions and references the index really holds, as the tables print them."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {name: (f"{d:,}", f"{r:,}") for name, d, r in conn.execute(
            """SELECT name, (SELECT count(*) FROM defs d JOIN files f ON f.id = d.file_id WHERE f.repo_id = r.id),
                      (SELECT count(*) FROM refs x JOIN files f ON f.id = x.file_id WHERE f.repo_id = r.id)
               FROM repos r""")}
    finally:
        conn.close()


def test_summary_and_status_count_what_the_index_holds(org, tmp_path):
    """An unchanged repo's row said `0` definitions and `0` references, as if its index were empty.
    Now every run's summary, and `crossnav status`, show what the index holds per repo, kept up to date
    through changed and deleted files, and counted once for an index written before crossnav kept totals."""
    ledger = tmp_path / "ledger"
    shutil.copytree(org.repos["ledger"], ledger)
    db = tmp_path / "totals.db"
    repos = (ledger, org.repos["payments"])

    def check(result, parsed):
        assert result.returncode == 0, result.stderr
        rows, truth = table_rows(result.stdout), held(db)
        assert {n: (r["definitions"], r["references"]) for n, r in rows.items()} == truth
        assert parsed is None or rows["ledger"]["parsed"] == str(parsed)
        status = table_rows(run_cli("status", "--db", db).stdout)
        assert {n: (r["definitions"], r["references"]) for n, r in status.items()} == truth
        return truth

    first = check(index(db, *repos), parsed=None)
    assert first["ledger"][0] != "0" and first["ledger"][1] != "0"
    assert check(index(db, *repos), parsed=0) == first                 # unchanged: the same totals, nothing parsed
    # a changed file and a deleted one: the totals follow
    fees = ledger / "ledger" / "fees.py"
    fees.write_text(fees.read_text(encoding="utf-8") + "\n\ndef waived(fee):\n    return fee_delay(fee) * 0\n",
                    encoding="utf-8")
    gone = next(p for p in sorted((ledger / "ledger").glob("*.py")) if p.name not in ("fees.py", "__init__.py"))
    gone.unlink()
    changed = check(index(db, *repos), parsed=1)
    assert changed["ledger"] != first["ledger"] and changed["payments"] == first["payments"]
    # an index written before crossnav kept totals: status shows "?" until the repo is written again
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE repo_totals")
    assert {r["definitions"] for r in table_rows(run_cli("status", "--db", db).stdout).values()} == {"?"}
    check(index(db, *repos), parsed=0)


def test_a_failed_write_is_one_line_and_loses_nothing(org, tmp_path):
    """Disk full mid-index (here: a file size limit, so SQLite's writes really fail) printed a traceback.
    Now: one error line that says what to check, the repos written before stay, the rest keep their
    previous state, and the same command finishes the job once there is room."""
    import resource
    import signal
    db = tmp_path / "full.db"
    assert index(db, org.repos["ledger"]).returncode == 0
    before = sqlite3.connect(db).execute("SELECT count(*) FROM defs").fetchone()[0]
    limit = 64 * 1024   # the write-ahead log of the next repo's transaction outgrows this

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
    r = subprocess.run([*CLI, "index", "--db", str(db), str(org.repos["payments"]), str(org.repos["platform-utils"])],
                       capture_output=True, text=True, env=env, timeout=120, preexec_fn=small_disk)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(line) == 1 and "writing the index failed" in line[0] and "free space" in line[0], r.stderr
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    names = {n for (n,) in conn.execute("SELECT name FROM repos")}
    assert "ledger" in names and "platform-utils" not in names
    assert conn.execute("SELECT count(*) FROM defs WHERE repo_id = (SELECT id FROM repos WHERE name='ledger')"
                        ).fetchone()[0] == before
    conn.close()
    again = index(db, org.repos["payments"], org.repos["platform-utils"])
    assert again.returncode == 0, again.stderr
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert {n for (n,) in conn.execute("SELECT name FROM repos")} == {"ledger", "payments", "platform-utils"}


@pytest.mark.parametrize("flag", ["--max-file-size", "-j"])
@pytest.mark.parametrize("value", ["-5", "0", "big"])
def test_size_and_jobs_must_be_positive(org, tmp_path, flag, value):
    """`--max-file-size -5` was taken and remembered: every later run skipped every file."""
    db = tmp_path / "x.db"
    r = run_cli("index", "--db", db, flag, value, org.repos["ledger"])
    assert r.returncode == 2 and "expected a whole number above 0" in r.stderr, r.stderr
    assert not db.exists()


def test_a_bad_remembered_size_limit_is_ignored(org, tmp_path):
    db = tmp_path / "x.db"
    assert index(db, org.repos["ledger"]).returncode == 0
    files = sqlite3.connect(db).execute("SELECT count(*) FROM files").fetchone()[0]
    with sqlite3.connect(db) as conn:   # what an older crossnav stored for `--max-file-size -5`
        conn.execute("UPDATE meta SET value = '-5' WHERE key = 'max_file_size_kib'")
    r = run_cli("index", "--db", db, org.repos["ledger"])
    assert r.returncode == 0 and "larger than" not in r.stdout, r.stdout
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM files").fetchone()[0] == files
    assert conn.execute("SELECT value FROM meta WHERE key = 'max_file_size_kib'").fetchone()[0] == "2048"


@pytest.mark.parametrize("command", ["index", "status"])
def test_a_folder_as_db_says_so(org, tmp_path, command):
    r = run_cli(command, "--db", tmp_path, *([org.repos["ledger"]] if command == "index" else []))
    assert r.returncode == 2
    assert "is a folder; pass the index file itself" in one_line_error(r.stderr)


def test_a_locked_index_is_one_line(org, tmp_path):
    """A second writer (another `crossnav index` in its transaction) held the lock past the wait:
    that was a traceback from open_writer."""
    db = tmp_path / "locked.db"
    assert index(db, org.repos["ledger"]).returncode == 0
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = run_cli("index", "--db", db, org.repos["payments"], env={"CROSSNAV_LOCK_TIMEOUT": "0.5"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.returncode == 2
    line = one_line_error(r.stderr)
    assert "being written by another process" in line and "locked for 0.5 s" in line, line
    assert index(db, org.repos["payments"]).returncode == 0   # and once it is free, the same command works


def test_cli_warns_about_broken_yaml_and_syntax_errors(org):
    out = org.result.stdout
    assert re.search(r"broken: catalog-info\.yaml: not valid YAML \(line \d+\)", out), out
    assert "broken: brokenpkg/partial.py: 1 syntax error(s)" in out
    # the other repos have well-formed metadata: no warnings for them
    for repo in ("payments", "ledger", "platform-utils", "notifications"):
        assert f"  {repo}: " not in out


def test_repo_rows(conn, org):
    rows = {r["name"]: r for r in conn.execute("SELECT * FROM repos")}
    assert set(rows) == {"payments", "ledger", "platform-utils", "notifications", "broken"}
    assert rows["payments"]["remote"] == "git@github.com:acme/payments.git"
    assert rows["payments"]["web_url"] == "https://github.com/acme/payments"
    assert rows["payments"]["dist"] == "payments"
    assert rows["ledger"]["web_url"] == "https://gitlab.example.com/acme/finance/ledger"
    assert rows["broken"]["remote"] is None and rows["broken"]["web_url"] is None
    for name, row in rows.items():
        assert row["head"] == org.heads[name]
        assert row["branch"] == "main"
        assert Path(row["root"]) == org.repos[name].resolve()
    files = {name: n for name, n in conn.execute(
        "SELECT r.name, count(f.id) FROM repos r LEFT JOIN files f ON f.repo_id = r.id GROUP BY r.name")}
    assert files == {"payments": 3, "ledger": 6, "platform-utils": 4, "notifications": 2, "broken": 4}
    assert {name: rows[name]["files"] for name in rows} == files


def test_files_and_modules(conn):
    got = {(r["repo"], r["path"]): r["module"] for r in conn.execute(
        "SELECT r.name AS repo, f.path, f.module FROM files f JOIN repos r ON r.id = f.repo_id")}
    assert got == {
        ("payments", "src/payments/__init__.py"): "payments",
        ("payments", "src/payments/retry/__init__.py"): "payments.retry",
        ("payments", "src/payments/retry/policy.py"): "payments.retry.policy",
        ("ledger", "ledger/__init__.py"): "ledger",
        ("ledger", "ledger/core.py"): "ledger.core",
        ("ledger", "ledger/fees.py"): "ledger.fees",
        ("ledger", "ledger/models.py"): "ledger.models",
        ("ledger", "ledger/reports/__init__.py"): "ledger.reports",
        ("ledger", "ledger/reports/summary.py"): "ledger.reports.summary",
        ("platform-utils", "acme/utils/__init__.py"): "acme.utils",
        ("platform-utils", "acme/utils/strings.py"): "acme.utils.strings",
        ("platform-utils", "acme/crypto/hashing.py"): "acme.crypto.hashing",
        ("platform-utils", "acme/legacy/compat.py"): "acme.legacy.compat",
        ("notifications", "acme/notify/__init__.py"): "acme.notify",
        ("notifications", "acme/notify/email.py"): "acme.notify.email",
        ("broken", "brokenpkg/__init__.py"): "brokenpkg",
        ("broken", "brokenpkg/good.py"): "brokenpkg.good",
        ("broken", "brokenpkg/latin.py"): "brokenpkg.latin",
        ("broken", "brokenpkg/partial.py"): "brokenpkg.partial",
    }


def test_packages_including_namespace_packages(conn):
    got = {(r["repo"], r["package"], r["import_root"]) for r in conn.execute(
        "SELECT r.name AS repo, p.package, p.import_root FROM packages p JOIN repos r ON r.id = p.repo_id")}
    assert got == {
        ("payments", "payments", "src"),
        ("ledger", "ledger", ""),
        # PEP 420: no acme/__init__.py in either repo, both contribute to the namespace `acme`
        ("platform-utils", "acme", ""),
        ("notifications", "acme", ""),
        ("broken", "brokenpkg", ""),
    }


# ---------------------------------------------------------------------------- definitions


def test_class_definition(conn, org):
    d = one_def(conn, "payments.retry.policy.Backoff")
    policy = org.path("payments", "src/payments/retry/policy.py")
    assert (d["repo"], d["path"], d["kind"], d["name"]) == ("payments", "src/payments/retry/policy.py", "class", "Backoff")
    assert (d["name_line"], d["name_col"], d["name_end_col"]) == (5, 6, 13)
    assert (d["name_line"], d["name_col"]) == find(policy, "class Backoff", sub="Backoff")
    assert (d["line"], d["col"]) == (5, 0)
    assert d["end_line"] == find(policy, "self.attempts = 0")[0]
    assert d["container"] == "payments.retry.policy"
    assert d["signature"] == "class Backoff:"
    assert d["doc"] == "Exponential backoff between payment retries."


@pytest.mark.parametrize("qualname,kind,needle,sub", [
    ("payments.retry.policy", "module", None, None),
    ("payments.retry.policy.MAX_ATTEMPTS", "constant", "MAX_ATTEMPTS = 5", "MAX_ATTEMPTS"),
    ("payments.retry.policy.Backoff.__init__", "method", "def __init__", "__init__"),
    ("payments.retry.policy.Backoff.__init__.base", "parameter", "base: float = 0.5, factor", "base"),
    ("payments.retry.policy.Backoff.__init__.cap", "parameter", "cap: float = 30.0):\n        self", "cap"),
    ("payments.retry.policy.Backoff.delay", "method", "def delay", "delay"),
    ("payments.retry.policy.Backoff.reset", "method", "def reset", "reset"),
    ("payments.retry.policy.Backoff.base", "attribute", "self.base = base", "base"),
    ("payments.retry.policy.compute_delay", "function", "def compute_delay", "compute_delay"),
    ("payments.retry.policy.compute_delay.factor", "parameter", "factor: float = 2.0, cap: float = 30.0) -> float", "factor"),
])
def test_payments_definitions(conn, org, qualname, kind, needle, sub):
    d = one_def(conn, qualname)
    assert d["kind"] == kind
    assert d["path"] == "src/payments/retry/policy.py"
    if needle is None:
        assert (d["name_line"], d["name_col"]) == (0, 0)
    else:
        line, col = find(org.path("payments", "src/payments/retry/policy.py"), needle, sub=sub)
        assert (d["name_line"], d["name_col"], d["name_end_col"]) == (line, col, col + len(sub))


def test_signatures_and_docstrings(conn):
    f = one_def(conn, "payments.retry.policy.compute_delay")
    assert f["signature"] == ("def compute_delay(attempt: int, base: float = 0.5, factor: float = 2.0, "
                              "cap: float = 30.0) -> float:")
    assert f["doc"] == "Delay in seconds for one attempt, capped at `cap`."
    m = one_def(conn, "payments.retry.policy.Backoff.delay")
    assert m["signature"] == "def delay(self, attempt: int) -> float:"
    assert m["doc"] == "Seconds to wait before retry number `attempt`."
    mod = one_def(conn, "payments.retry.policy")
    assert mod["doc"] == "Retry policies for outgoing payment calls."


def test_no_definition_for_imports_or_unresolvable_names(conn):
    assert defs_by_qualname(conn, "payments.retry.Backoff") == []     # a re-export, not a definition
    assert defs_by_qualname(conn, "missing_thirdparty.Widget") == []
    assert defs_by_qualname(conn, "ledger.core.BO") == []


# ---------------------------------------------------------------------------- aliases and resolution


def test_reexport_alias(conn):
    rows = conn.execute("""SELECT a.target, a.star, a.line, f.path FROM aliases a JOIN files f ON f.id = a.file_id
                           WHERE a.alias = 'payments.retry.Backoff'""").fetchall()
    assert [tuple(r) for r in rows] == [("payments.retry.policy.Backoff", 0, 1, "src/payments/retry/__init__.py")]
    resolved = dict(conn.execute("SELECT target, canonical FROM resolved").fetchall())
    assert resolved["payments.retry.Backoff"] == "payments.retry.policy.Backoff"
    assert resolved["ledger.core.BO"] == "payments.retry.policy.Backoff"       # module-level alias in ledger
    assert resolved["ledger.core.pol"] == "payments.retry.policy"


def test_star_import_alias(conn):
    rows = conn.execute("SELECT alias, target, star FROM aliases WHERE star = 1").fetchall()
    assert [tuple(r) for r in rows] == [("ledger.fees", "payments.retry.policy", 1)]


LEDGER_REFS = [
    # (repo, path, needle, sub, nth, canonical, kind)
    ("ledger", "ledger/core.py", "as pol\n", "pol", 0, "payments.retry.policy", "alias"),
    ("ledger", "ledger/core.py", "import Backoff as BO", "Backoff", 0, "payments.retry.policy.Backoff", "import"),
    ("ledger", "ledger/core.py", "import Backoff as BO", "BO", 0, "payments.retry.policy.Backoff", "alias"),
    ("ledger", "ledger/core.py", "from payments import retry", "retry", 0, "payments.retry", "import"),
    ("ledger", "ledger/core.py", "class PatientBackoff(BO)", "BO", 0, "payments.retry.policy.Backoff", "name"),
    ("ledger", "ledger/core.py", "self.delay(attempt)", "delay", 0, "payments.retry.policy.Backoff.delay", "attr"),
    ("ledger", "ledger/core.py", "policy = BO(base=1.0", "BO", 0, "payments.retry.policy.Backoff", "name"),
    ("ledger", "ledger/core.py", "BO(base=1.0", "base", 0, "payments.retry.policy.Backoff.__init__.base", "kwarg"),
    ("ledger", "ledger/core.py", "cap=60.0", "cap", 0, "payments.retry.policy.Backoff.__init__.cap", "kwarg"),
    ("ledger", "ledger/core.py", "pol.compute_delay(attempt)", "compute_delay", 0, "payments.retry.policy.compute_delay", "attr"),
    ("ledger", "ledger/core.py", "retry.policy.compute_delay(", "retry", 0, "payments.retry", "name"),
    ("ledger", "ledger/core.py", "retry.policy.compute_delay(", "policy", 0, "payments.retry.policy", "attr"),
    ("ledger", "ledger/core.py", "retry.policy.compute_delay(", "compute_delay", 0, "payments.retry.policy.compute_delay", "attr"),
    ("ledger", "ledger/core.py", "factor=3.0", "factor", 0, "payments.retry.policy.compute_delay.factor", "kwarg"),
    ("ledger", "ledger/core.py", "pol.MAX_ATTEMPTS", "MAX_ATTEMPTS", 0, "payments.retry.policy.MAX_ATTEMPTS", "attr"),
    ("ledger", "ledger/core.py", "from .models import Entry", "Entry", 0, "ledger.models.Entry", "import"),
    ("ledger", "ledger/core.py", "entry: Entry", "Entry", 0, "ledger.models.Entry", "name"),
    ("ledger", "ledger/fees.py", "return compute_delay(attempt)", "compute_delay", 0, "payments.retry.policy.compute_delay", "name"),
    ("ledger", "ledger/fees.py", "+ MAX_ATTEMPTS", "MAX_ATTEMPTS", 0, "payments.retry.policy.MAX_ATTEMPTS", "name"),
    ("ledger", "ledger/reports/summary.py", "from ..models import Entry", "Entry", 0, "ledger.models.Entry", "import"),
    ("ledger", "ledger/reports/summary.py", "from ..core import post", "post", 0, "ledger.core.post", "import"),
    ("ledger", "ledger/reports/summary.py", "from .. import fees", "fees", 0, "ledger.fees", "import"),
    ("ledger", "ledger/reports/summary.py", "amount=10", "amount", 0, "ledger.models.make_entry.amount", "kwarg"),
    ("ledger", "ledger/reports/summary.py", "fees.fee_delay(1)", "fee_delay", 0, "ledger.fees.fee_delay", "attr"),
    ("ledger", "ledger/reports/summary.py", "    post(entry)", "post", 0, "ledger.core.post", "name"),
    ("payments", "src/payments/retry/policy.py", "return compute_delay(", "compute_delay", 0, "payments.retry.policy.compute_delay", "name"),
    # namespace package across repos; the line has non-ASCII text before the use (columns are code points)
    ("notifications", "acme/notify/email.py", "slug = slugify(label)", "slugify", 0, "acme.utils.strings.slugify", "name"),
    ("notifications", "acme/notify/email.py", "strings.slugify(title)", "slugify", 0, "acme.utils.strings.slugify", "attr"),
    ("notifications", "acme/notify/email.py", "from acme.utils import strings", "strings", 0, "acme.utils.strings", "import"),
]


@pytest.mark.parametrize("repo,path,needle,sub,nth,canonical,kind", LEDGER_REFS,
                         ids=[f"{c[1].rsplit('/', 1)[-1]}:{c[2][:28]}:{c[3]}" for c in LEDGER_REFS])
def test_reference_resolved(conn, org, repo, path, needle, sub, nth, canonical, kind):
    line, col = find(org.path(repo, path), needle, nth, sub)
    rows = refs_at(conn, repo, path, line, col)
    assert len(rows) == 1, f"no single ref at {path}:{line}:{col}: {[dict(r) for r in rows]}"
    r = rows[0]
    assert r["name"] == sub
    assert r["end_col"] == col + len(sub)
    assert r["kind"] == kind
    assert r["canonical"] == canonical, dict(r)
    # and the canonical name is a real definition somewhere in the index
    assert defs_by_qualname(conn, canonical)


@pytest.mark.parametrize("config,folder", [
    ('[tool.maturin]\npython-source = "python"\nmodule-name = "fastcore._fastcore"\n', "python"),   # pydantic-core
    ('[tool.pdm.build]\npackage-dir = "lib"\n', "lib"),
    ('[tool.hatch.build.targets.wheel]\nsources = ["code"]\n', "code"),
    ('[tool.hatch.build.targets.wheel.sources]\n"code" = ""\n', "code"),
    ('[tool.scikit-build]\nwheel.packages = ["pysrc/fastcore"]\n', "pysrc"),
])
def test_build_backends_name_the_import_root(tmp_path, config, folder):
    """A held-out eval on pydantic -> pydantic-core found 383 of 704 cases lost: maturin's
    `python-source = "python"` was not read, so the repo provided a package `python`, not `fastcore`."""
    from crossnav.index import python
    (tmp_path / folder / "fastcore").mkdir(parents=True)
    (tmp_path / folder / "fastcore" / "__init__.py").write_text("")
    (tmp_path / folder / "fastcore" / "core_schema.py").write_text("def int_schema():\n    pass\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "fastcore"\n' + config)
    p = python.project(str(tmp_path), [])
    assert p["import_roots"] == [folder, ""]
    assert p["packages"] == [("fastcore", folder, "config")]
    assert python.module_of(p, f"{folder}/fastcore/core_schema.py") == ("fastcore.core_schema", False)


def test_a_class_body_reads_a_name_before_binding_it():
    """`Connection = Connection` in a class body (celery's AMQP class re-exports kombu's classes so):
    the right-hand name is the imported class, since the body runs top to bottom; after the line,
    the class attribute. Found by a held-out eval on celery -> kombu (8 of 754 cases)."""
    from crossnav.index import python
    src = (b"from kombu import Connection, Producer as _Producer\n"
           b"\n"
           b"class AMQP:\n"
           b"    Connection = Connection\n"
           b"    Producer = _Producer\n"
           b"    early = Later\n"
           b"    Later = Connection\n"
           b"\n"
           b"    def connect(self):\n"
           b"        return Connection(), self.Connection()\n")
    facts = python.extract(src, "celery.app.amqp")
    refs = {(r[0], r[1]): (r[3], r[4]) for r in facts.refs if r[5] in ("name", "attr")}
    assert refs[(3, 17)] == ("Connection", "kombu.Connection")        # right of `Connection = Connection`
    assert refs[(4, 15)] == ("_Producer", "kombu.Producer")
    assert refs[(5, 12)] == ("Later", None)                            # above its binding: not the class's
    assert refs[(6, 12)] == ("Connection", "celery.app.amqp.AMQP.Connection")   # below: the class attribute
    assert refs[(9, 15)] == ("Connection", "kombu.Connection")         # a method body skips the class
    assert refs[(9, 34)] == ("Connection", "celery.app.amqp.AMQP.Connection")
    types = {d[0]: d[13] for d in facts.defs}
    assert types["celery.app.amqp.AMQP.Connection"] == "kombu.Connection"


def test_a_local_given_several_values_has_the_one_assigned_above_the_read():
    """sphinx: `contnode: Node | None` is used as a Node, and only further down reassigned
    `contnode = nodes.Text(...)`; a read between the two is Node's (the last assignment in the function
    used to decide every read). Found by a held-out eval on sphinx -> docutils."""
    from crossnav.index import python
    src = (b"from docutils import nodes\n"
           b"from docutils.nodes import Node\n"
           b"\n"
           b"def make_xref(contnode: Node | None):\n"
           b"    title = contnode.astext()\n"
           b"    contnode = nodes.Text(title)\n"
           b"    contnode.astext()\n"
           b"    for _ in range(2):\n"
           b"        contnode = nodes.Element()\n"
           b"    return contnode.walk()\n")
    refs = {(r[0], r[1]): r[4] for r in python.extract(src, "sphinx.domains").refs if r[5] == "attr"}
    assert refs[(4, 21)] == "docutils.nodes.Node().astext"
    assert refs[(6, 13)] == "docutils.nodes.Text().astext"
    assert refs[(9, 20)] == "docutils.nodes.Element().walk"


def test_non_ascii_columns_are_code_points(conn, org):
    # `    label = "é😀"; slug = slugify(label)`: slugify starts at code point 25 (byte 29, UTF-16 unit 26)
    line, col = find(org.path("notifications", "acme/notify/email.py"), "slugify(label)", sub="slugify")
    assert (line, col) == (6, 25)
    assert [r["end_col"] for r in refs_at(conn, "notifications", "acme/notify/email.py", 6, 25)] == [32]
    d = one_def(conn, "brokenpkg.latin.café_name")
    assert (d["name_line"], d["name_col"], d["name_end_col"]) == (5, 4, 13)


def test_unresolved_import_is_stored(conn, org):
    path = org.path("ledger", "ledger/core.py")
    for needle, sub, kind in (("import Widget", "Widget", "import"), ("gadget = Widget()", "Widget", "name")):
        line, col = find(path, needle, sub=sub)
        rows = refs_at(conn, "ledger", "ledger/core.py", line, col)
        assert len(rows) == 1
        assert rows[0]["target"] == "missing_thirdparty.Widget"
        assert rows[0]["kind"] == kind
        assert rows[0]["canonical"] is None
    resolved = dict(conn.execute("SELECT target, canonical FROM resolved"))
    assert "missing_thirdparty.Widget" in resolved and resolved["missing_thirdparty.Widget"] is None
    imports = {r[0] for r in conn.execute(
        "SELECT package FROM imports i JOIN files f ON f.id = i.file_id WHERE f.path = 'ledger/core.py'")}
    assert imports == {"payments", "missing_thirdparty", "ledger"}


def test_inheritance_recorded(conn):
    rows = conn.execute("SELECT class, base FROM bases").fetchall()
    assert ("ledger.core.PatientBackoff", "payments.retry.Backoff") in [tuple(r) for r in rows]


def test_usage_counts(conn):
    usage = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT qualname, refs, repos FROM usage")}
    # compute_delay: ledger/core.py x2, ledger/fees.py x1, payments policy.py x1 (imports are not uses)
    assert usage["payments.retry.policy.compute_delay"] == (4, 2)
    # Backoff: `class PatientBackoff(BO)` and `BO(...)` in ledger
    assert usage["payments.retry.policy.Backoff"] == (2, 1)
    # slugify: notifications x2, platform-utils (shout) x1
    assert usage["acme.utils.strings.slugify"] == (3, 2)


def test_fts_finds_substrings(conn):
    names = {r[0] for r in conn.execute(
        "SELECT d.name FROM defs_fts JOIN defs d ON d.id = defs_fts.rowid WHERE defs_fts MATCH '\"ackof\"'")}
    assert names == {"Backoff", "PatientBackoff"}


# ---------------------------------------------------------------------------- files that cannot be parsed


def test_skipped_files_with_reasons(conn):
    rows = {(r[0], r[1]) for r in conn.execute(
        "SELECT s.path, s.reason FROM skipped s JOIN repos r ON r.id = s.repo_id WHERE r.name = 'broken'")}
    assert rows == {
        ("brokenpkg/blob.py", "binary"),
        ("brokenpkg/legacy.py", "not UTF-8 and no valid coding declaration"),
        ("brokenpkg/huge.py", f"larger than {MAX_FILE_KIB} KiB"),
    }
    assert conn.execute("SELECT count(*) FROM skipped").fetchone()[0] == 3
    paths = {r[0] for r in conn.execute("SELECT path FROM files")}
    assert not paths & {"brokenpkg/blob.py", "brokenpkg/legacy.py", "brokenpkg/huge.py"}
    assert not conn.execute("SELECT 1 FROM defs WHERE name LIKE 'generated_%' OR name = 'summer'").fetchall()


def test_latin1_file_with_coding_cookie_is_indexed(conn):
    d = one_def(conn, "brokenpkg.latin.GREETING")
    assert d["kind"] == "constant"
    assert d["signature"] == 'GREETING = "héllo"'
    assert one_def(conn, "brokenpkg.latin")["doc"] == "Café helpers, stored as Latin-1."


def test_partially_parsable_file(conn, org):
    f = conn.execute("SELECT errors FROM files WHERE path = 'brokenpkg/partial.py'").fetchone()
    assert f["errors"] >= 1
    path = org.path("broken", "brokenpkg/partial.py")
    for qual, kind, needle, sub in (
        ("brokenpkg.partial.before_error", "function", "def before_error", "before_error"),
        ("brokenpkg.partial.StillHere", "class", "class StillHere", "StillHere"),
        ("brokenpkg.partial.StillHere.method", "method", "def method", "method"),
    ):
        d = one_def(conn, qual)
        assert d["kind"] == kind
        assert (d["name_line"], d["name_col"]) == find(path, needle, sub=sub)
    line, col = find(path, "return before_error(1)", sub="before_error")
    assert refs_at(conn, "broken", "brokenpkg/partial.py", line, col)[0]["canonical"] == "brokenpkg.partial.before_error"


# ---------------------------------------------------------------------------- ownership stored per repo


def test_payments_ownership(conn, org):
    own = ownership_of(conn, "payments")
    assert own["codeowners"]["path"] == ".github/CODEOWNERS"     # not the root CODEOWNERS
    assert not any("@acme/wrong-team" in r["owners"] for r in own["codeowners"]["rules"])
    hit = ownership.owners_for(own, "src/payments/retry/policy.py")
    assert hit["owners"] == ["@alice", "@acme/reliability"]
    assert (hit["source"], hit["line"]) == (".github/CODEOWNERS", 4)
    hit = ownership.owners_for(own, "src/payments/retry/__init__.py")
    assert (hit["owners"], hit["line"]) == (["@acme/reliability"], 3)
    hit = ownership.owners_for(own, "src/payments/__init__.py")
    assert (hit["owners"], hit["line"]) == (["@acme/payments-team"], 2)
    assert ownership.owners_for(own, "docs/guide.md")["owners"] == ["@acme/docs"]
    cat = own["catalog"]
    assert (cat["owner"], cat["lifecycle"], cat["name"]) == ("group:payments-team", "production", "payments")
    assert cat["links"] == [{"title": "Runbook", "url": "https://wiki.example.com/payments/runbook"}]
    assert cat["line"] == 13
    assert own["contributing"] == {
        "path": "CONTRIBUTING.md",
        "url": f"https://github.com/acme/payments/blob/{org.heads['payments']}/CONTRIBUTING.md"}
    assert own["warnings"] == []


def test_ledger_gitlab_sections(conn, org):
    own = ownership_of(conn, "ledger")
    assert own["codeowners"]["path"] == ".gitlab/CODEOWNERS"
    sections = {s["name"]: s for s in own["codeowners"]["sections"]}
    assert set(sections) == {"Backend", "Docs"}
    assert sections["Docs"]["optional"] is True and sections["Backend"]["optional"] is False
    hit = ownership.owners_for(own, "ledger/core.py")
    assert set(hit["owners"]) == {"@acme/finance", "@acme/backend"}
    assert hit["section"] == "Backend" and hit["line"] == 5
    hit = ownership.owners_for(own, "ledger/reports/summary.py")
    assert "@carol" in hit["owners"] and "@acme/backend" not in hit["owners"]
    assert hit["line"] == 6
    hit = ownership.owners_for(own, "README.md")
    assert "@acme/tech-writers" in hit["owners"] and hit["section"] == "Docs"
    assert own["contributing"]["url"] == (
        f"https://gitlab.example.com/acme/finance/ledger/-/blob/{org.heads['ledger']}/docs/CONTRIBUTING.md")


def test_platform_owners_files_inheritance(conn):
    own = ownership_of(conn, "platform-utils")
    assert own["codeowners"] is None
    assert set(own["owners_files"]) == {"", "acme/utils", "acme/crypto", "acme/legacy"}
    hit = ownership.owners_for(own, "acme/utils/strings.py")
    assert hit["owners"] == ["carol", "dave", "platform-lead@example.com", "bob"]
    assert hit["source"] == "acme/utils/OWNERS" and hit["inherited_from"] == ["OWNERS"]
    hit = ownership.owners_for(own, "acme/crypto/hashing.py")       # options: no_parent_owners
    assert hit["owners"] == ["frank"] and hit["inherited_from"] == []
    hit = ownership.owners_for(own, "acme/legacy/compat.py")        # set noparent
    assert hit["owners"] == ["grace@example.com"] and hit["inherited_from"] == []
    hit = ownership.owners_for(own, "setup.py")
    assert hit["owners"] == ["platform-lead@example.com", "bob"] and hit["source"] == "OWNERS"
    assert own["innersource"]["owner"] == "platform-team"


def test_innersource_only_owner(conn):
    own = ownership_of(conn, "notifications")
    hit = ownership.owners_for(own, "acme/notify/email.py")
    assert hit["owners"] == ["heidi", "ivan"] and hit["source"] == "innersource.json"


def test_broken_catalog_is_a_warning(conn):
    own = ownership_of(conn, "broken")
    assert own["catalog"] is None
    assert any(w.startswith("catalog-info.yaml: not valid YAML") for w in own["warnings"])


# ---------------------------------------------------------------------------- incremental indexing


@pytest.fixture
def small_org(tmp_path):
    repos = build_org(tmp_path / "src", names=["payments", "ledger"])
    db = tmp_path / "small.db"
    r = index(db, *repos.values())
    assert r.returncode == 0, r.stderr
    return repos, db


def files_rows(db):
    c = sqlite3.connect(db)
    rows = {(r[0], r[1]): (r[2], r[3]) for r in c.execute(
        "SELECT r.name, f.path, f.id, f.blob FROM files f JOIN repos r ON r.id = f.repo_id")}
    c.close()
    return rows


def parsed_count(result) -> int:
    m = re.search(r"(\d+) repos, (\d+) files parsed", result.stdout)
    assert m, result.stdout
    return int(m[2])


def test_reindex_unchanged_parses_nothing(small_org):
    repos, db = small_org
    before = files_rows(db)
    r = index(db, *repos.values())
    assert r.returncode == 0, r.stderr
    assert parsed_count(r) == 0
    assert "indexed payments: 0 parsed, 3 unchanged, 0 removed" in r.stderr
    assert "indexed ledger: 0 parsed, 6 unchanged, 0 removed" in r.stderr
    assert files_rows(db) == before


def test_rows_from_other_extraction_code_are_parsed_again(small_org):
    """Fixes to an extractor (or a new grammar wheel) reach an existing index: a repo whose rows were
    written by other extraction code has every file parsed again, once, and the summary says why."""
    repos, db = small_org
    c = sqlite3.connect(db)
    keys = dict(c.execute("SELECT key, value FROM meta WHERE key LIKE 'extractor:%'"))
    assert len(keys) == 2 and len(set(keys.values())) == 1           # one per repo, the same code
    c.execute("UPDATE meta SET value = 'older' WHERE key = ?", (f"extractor:{repo_id(c, 'ledger')}",))
    c.execute("DELETE FROM meta WHERE key = ?", (f"extractor:{repo_id(c, 'payments')}",))  # before the key existed
    c.commit()
    defs = c.execute("SELECT count(*) FROM defs").fetchone()[0]
    c.close()
    r = index(db, *repos.values())
    assert r.returncode == 0, r.stderr
    assert "indexed payments: 3 parsed, 0 unchanged, 0 removed" in r.stderr
    assert "indexed ledger: 6 parsed, 0 unchanged, 0 removed" in r.stderr
    assert "parsed every file again in 2 repo(s) (payments, ledger)" in r.stdout
    c = sqlite3.connect(db)
    assert dict(c.execute("SELECT key, value FROM meta WHERE key LIKE 'extractor:%'")) == keys
    assert c.execute("SELECT count(*) FROM defs").fetchone()[0] == defs     # replaced, not added twice
    c.close()
    r = index(db, *repos.values())
    assert parsed_count(r) == 0 and "parsed every file again" not in r.stdout


def test_a_smaller_size_limit_drops_files_already_indexed(small_org):
    """`--max-file-size` is remembered and applies to the whole index: lowering it removed nothing
    before (unchanged blobs were kept whatever their size), so the index disagreed with its setting."""
    repos, db = small_org
    ledger = repos["ledger"]
    (ledger / "ledger" / "tables.py").write_text("".join(f"RATE_{i} = {i}\n" for i in range(400)))   # ~5 KiB
    commit_all(ledger, "rate tables")
    assert index(db, *repos.values()).returncode == 0
    c = sqlite3.connect(db)
    big = {p for p, size in c.execute("SELECT path, size FROM files") if size > 1024}
    c.close()
    assert "ledger/tables.py" in big
    r = index(db, *repos.values(), extra=("--max-file-size", "1"))
    assert r.returncode == 0, r.stderr
    c = sqlite3.connect(db)
    assert not big & {p for (p,) in c.execute("SELECT path FROM files")}
    assert big <= {p for p, why in c.execute("SELECT path, reason FROM skipped") if why == "larger than 1 KiB"}
    assert c.execute("SELECT count(*) FROM files WHERE size > 1024").fetchone()[0] == 0
    c.close()


def test_languages_option_limits_and_is_remembered(tmp_path):
    repo = tmp_path / "mixed"
    (repo / "tool").mkdir(parents=True)
    (repo / "tool" / "cli.py").write_text("def main():\n    return 1\n")
    (repo / "tool" / "fast.go").write_text("package tool\n\nfunc Fast() int { return 1 }\n")
    init_repo(repo)
    db = tmp_path / "langs.db"

    def languages():
        c = sqlite3.connect(db)
        try:
            return sorted(r[0] for r in c.execute("SELECT DISTINCT language FROM files"))
        finally:
            c.close()

    assert index(db, repo).returncode == 0
    assert languages() == ["go", "python"]
    r = index(db, repo, extra=("--languages", "py"))   # a code-search name is accepted
    assert r.returncode == 0, r.stderr
    assert languages() == ["python"]
    assert "languages indexed: python" in r.stdout
    c = sqlite3.connect(db)
    assert c.execute("SELECT count(*) FROM defs WHERE qualname LIKE 'go:%'").fetchone()[0] == 0
    c.close()
    assert index(db, repo).returncode == 0   # a plain run keeps the last setting
    assert languages() == ["python"]
    assert index(db, repo, extra=("--languages", "all")).returncode == 0
    assert languages() == ["go", "python"]
    bad = index(db, repo, extra=("--languages", "python,cobol"))
    assert bad.returncode == 2
    assert "unknown language cobol" in bad.stderr and "python" in bad.stderr
    assert languages() == ["go", "python"]   # nothing changed


def test_stage_folders_of_killed_runs_are_swept(small_org, tmp_path):
    """A run killed with SIGKILL leaves its stage folder (rows on their way into the index) in TMPDIR;
    the next run removes it, never a live run's, and leaves none of its own."""
    repos, db = small_org
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen(["sleep", "60"])
    try:
        for name, pid in (("crossnav-stage-dead", dead.pid), ("crossnav-stage-live", live.pid)):
            (tmp / name).mkdir()
            (tmp / name / "owner.pid").write_text(str(pid))
            (tmp / name / f"{pid}-1.db").write_bytes(b"\0" * 4096)
        (repos["payments"] / "src/payments/new_module.py").write_text("X = 1\n")   # something to parse
        r = run_cli("index", "--db", db, *repos.values(), env={"TMPDIR": str(tmp)})
        assert r.returncode == 0, r.stderr
        assert sorted(p.name for p in tmp.iterdir()) == ["crossnav-stage-live"]
    finally:
        live.kill()
        live.wait()


def test_references_seek_each_repo_of_a_target(small_org):
    """References list other repos' uses first without walking the home repo's: the query seeks
    (target, repo) pairs. An index written before refs_target_repo existed gets it on the next run."""
    from crossnav.server.query import Index
    repos, db = small_org
    c = sqlite3.connect(db)
    c.execute("DROP INDEX refs_target_repo")
    c.execute("CREATE INDEX refs_target ON refs(target)")   # what older versions wrote
    c.commit()
    c.close()
    assert index(db, *repos.values()).returncode == 0
    c = sqlite3.connect(db)
    names = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "refs_target_repo" in names and "refs_target" not in names
    qual = c.execute("SELECT qualname FROM defs WHERE name = 'Backoff' AND kind = 'class'").fetchone()[0]
    c.close()
    idx = Index(db)
    statements = []
    idx._conn().set_trace_callback(statements.append)
    locs, truncated = idx.references(qual, "class", 100)
    assert locs and not truncated
    ref_sql = [s for s in statements if "FROM refs x" in s]
    assert ref_sql
    for sql in ref_sql:   # the other repos' part and the home repo's
        plan = " ".join(r[3] for r in sqlite3.connect(db).execute("EXPLAIN QUERY PLAN " + sql))
        assert "refs_target_repo (target=? AND repo_id=?)" in plan, plan


def test_reindex_after_modify_delete_rename(small_org):
    repos, db = small_org
    before = files_rows(db)
    policy = repos["payments"] / "src/payments/retry/policy.py"
    policy.write_text(policy.read_text() + "\n\ndef jitter(delay):\n    return delay * 1.1\n")
    commit_all(repos["payments"], "add jitter")
    git(repos["ledger"], "rm", "-q", "ledger/fees.py")
    git(repos["ledger"], "mv", "ledger/reports/summary.py", "ledger/reports/overview.py")
    commit_all(repos["ledger"], "drop fees, rename summary")

    r = index(db, *repos.values())
    assert r.returncode == 0, r.stderr
    assert parsed_count(r) == 2                      # policy.py and the renamed file
    assert "indexed payments: 1 parsed, 2 unchanged, 0 removed" in r.stderr
    assert "indexed ledger: 1 parsed, 4 unchanged, 2 removed" in r.stderr
    after = files_rows(db)
    assert set(after) == (set(before) - {("ledger", "ledger/fees.py"), ("ledger", "ledger/reports/summary.py")}) \
        | {("ledger", "ledger/reports/overview.py")}
    for key in after:                                 # untouched files keep their rows
        if key not in {("payments", "src/payments/retry/policy.py"), ("ledger", "ledger/reports/overview.py")}:
            assert after[key] == before[key]
    assert after[("payments", "src/payments/retry/policy.py")][1] != before[("payments", "src/payments/retry/policy.py")][1]

    c = sqlite3.connect(db)
    c.row_factory = sqlite3.Row
    d = one_def(c, "payments.retry.policy.jitter")
    assert (d["name_line"], d["name_col"]) == find(policy, "def jitter", sub="jitter")
    assert defs_by_qualname(c, "ledger.fees.fee_delay") == []
    assert defs_by_qualname(c, "ledger.reports.summary.summarize") == []
    assert one_def(c, "ledger.reports.overview.summarize")["path"] == "ledger/reports/overview.py"
    # no rows point at deleted files
    for table in ("defs", "refs", "aliases", "imports", "bases"):
        assert c.execute(f"SELECT count(*) FROM {table} WHERE file_id NOT IN (SELECT id FROM files)").fetchone()[0] == 0
    # derived tables were rebuilt: the star import is gone, refs from the renamed file still resolve
    assert c.execute("SELECT count(*) FROM aliases WHERE star = 1").fetchone()[0] == 0
    usage = dict(c.execute("SELECT qualname, refs FROM usage"))
    assert usage["payments.retry.policy.compute_delay"] == 3
    line, col = find(repos["ledger"] / "ledger/reports/overview.py", "    post(entry)", sub="post")
    rows = refs_at(c, "ledger", "ledger/reports/overview.py", line, col)
    assert [r["canonical"] for r in rows] == ["ledger.core.post"]
    c.close()


def test_reindex_sees_uncommitted_work_tree_changes(small_org):
    repos, db = small_org
    models = repos["ledger"] / "ledger/models.py"
    models.write_text(models.read_text().replace("def make_entry(", "def build_entry("))
    r = index(db, *repos.values())
    assert r.returncode == 0, r.stderr
    assert parsed_count(r) == 1
    c = sqlite3.connect(db)
    c.row_factory = sqlite3.Row
    assert defs_by_qualname(c, "ledger.models.make_entry") == []
    assert one_def(c, "ledger.models.build_entry")["name_line"] == find(models, "def build_entry")[0]
    c.close()
    r = index(db, *repos.values())                    # still dirty, but nothing changed since
    assert parsed_count(r) == 0


# ---------------------------------------------------------------------------- errors the user can act on


@pytest.fixture
def newer_db(org, tmp_path):
    db = copy_db(org.db, tmp_path / "newer.db")
    c = sqlite3.connect(db)
    c.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    c.commit()
    c.close()
    return db


PLAIN_ENV = {k: v for k, v in os.environ.items() if k != "COLUMNS"}   # a plain pipe, as in CI logs


def schema_version(db):
    c = sqlite3.connect(db)
    try:
        return c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    finally:
        c.close()


def test_newer_schema_refused_by_index(org, newer_db):
    r = subprocess.run([*CLI, "index", "--db", str(newer_db), str(org.repos["payments"])],
                       capture_output=True, text=True, timeout=60, env=PLAIN_ENV)
    assert r.returncode != 0
    line = one_line_error(r.stderr)
    assert "newer" in line and "999" in line and str(newer_db) in line
    assert schema_version(newer_db) == "999"          # the refused run did not touch the file


def test_newer_schema_refused_by_serve(newer_db):
    r = subprocess.run([*CLI, "serve", "--db", str(newer_db)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60, env=PLAIN_ENV)
    assert r.returncode != 0, f"serve started on a newer-schema index (rc 0); stderr={r.stderr!r}"
    line = one_line_error(r.stderr)
    assert "newer" in line and "999" in line
    assert schema_version(newer_db) == "999"


def test_missing_path_exits_2(tmp_path):
    missing = tmp_path / "no-such-repo"
    r = run_cli("index", "--db", tmp_path / "x.db", missing)
    assert r.returncode == 2
    line = one_line_error(r.stderr)
    assert str(missing) in line and "does not exist" in line
    assert not (tmp_path / "x.db").exists()


def test_non_git_directory_exits_2(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "mod.py").write_text("x = 1\n")
    r = run_cli("index", "--db", tmp_path / "x.db", plain)
    assert r.returncode == 2
    line = one_line_error(r.stderr)
    assert "not a git repository" in line


def test_corrupt_db_is_a_clear_error(org, tmp_path):
    db = tmp_path / "corrupt.db"
    junk = os.urandom(8192)
    db.write_bytes(junk)
    for args in (["index", "--db", db, org.repos["payments"]], ["status", "--db", db]):
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        line = one_line_error(r.stderr)
        assert str(db) in line
        assert "not a database" in line or "not a crossnav index" in line or "not a readable crossnav index" in line
    assert db.read_bytes() == junk                     # never "repaired" by overwriting


def test_clones_that_share_a_folder_name_are_told_apart_by_their_parents(tmp_path):
    """GitLab groups: `platform/common` and `payments/common` cloned side by side under ~/src. Each gets
    a name with its parent folder, a repo the index already holds keeps its name run after run, and a
    clone whose old folder is gone (moved) takes over its name."""
    src = tmp_path / "src"
    for team, pkg in (("platform", "alpha"), ("payments", "beta")):
        repo = src / team / "common"
        (repo / pkg).mkdir(parents=True)
        (repo / pkg / "__init__.py").write_text(f"def {pkg}_helper():\n    return 1\n")
        init_repo(repo)

    def names(db):
        return dict(sqlite3.connect(db).execute("SELECT name, root FROM repos"))

    def defined_in(db, name):
        return {r[0] for r in sqlite3.connect(db).execute(
            "SELECT d.qualname FROM defs d JOIN repos r ON r.id = d.repo_id WHERE r.name = ?", (name,))}

    fresh = tmp_path / "fresh.db"
    r = run_cli("index", "--db", fresh, "--discover", src)
    assert r.returncode == 0, r.stderr
    assert names(fresh) == {"platform/common": str(src / "platform" / "common"),
                            "payments/common": str(src / "payments" / "common")}
    assert "named with parent folders: payments/common, platform/common" in r.stderr
    assert defined_in(fresh, "payments/common") == {"beta", "beta.beta_helper"}
    assert defined_in(fresh, "platform/common") == {"alpha", "alpha.alpha_helper"}
    # the same folder twice (named and discovered) is one repo, and filters see the final names
    r = run_cli("index", "--db", fresh, "--include", "payments/*", "--discover", src, src / "payments" / "common")
    assert r.returncode == 0, r.stderr
    assert "not indexed (--include/--exclude): platform/common" in r.stderr
    assert "indexed payments/common: 0 parsed, 1 unchanged, 0 removed" in r.stderr

    db = tmp_path / "index.db"
    assert run_cli("index", "--db", db, src / "platform" / "common").returncode == 0
    assert list(names(db)) == ["common"]
    for _ in range(2):   # the indexed clone keeps its name; the newcomer is told apart, the same way each run
        r = run_cli("index", "--db", db, "--discover", src)
        assert r.returncode == 0, r.stderr
        assert names(db) == {"common": str(src / "platform" / "common"),
                             "payments/common": str(src / "payments" / "common")}
    assert "indexed common: 0 parsed, 1 unchanged, 0 removed" in r.stderr

    moved = tmp_path / "elsewhere" / "common"
    moved.parent.mkdir()
    (src / "platform" / "common").rename(moved)
    r = run_cli("index", "--db", db, moved)
    assert r.returncode == 0, r.stderr
    assert names(db)["common"] == str(moved)
    assert defined_in(db, "common") == {"alpha", "alpha.alpha_helper"}
    assert "named with parent folders" not in r.stderr
    # --name for an indexed folder renames it: its rows stay, nothing is indexed twice
    r = run_cli("index", "--db", db, "--name", "platform/common", moved)
    assert r.returncode == 0, r.stderr
    assert "renamed common to platform/common in the index" in r.stderr
    assert "indexed platform/common: 0 parsed, 1 unchanged, 0 removed" in r.stderr
    assert names(db) == {"platform/common": str(moved), "payments/common": str(src / "payments" / "common")}
    assert defined_in(db, "platform/common") == {"alpha", "alpha.alpha_helper"}


def test_status_lists_repos(org):
    r = run_cli("status", "--db", org.db)
    assert r.returncode == 0, r.stderr
    for name in ("payments", "ledger", "platform-utils", "notifications", "broken"):
        assert name in r.stdout
    defs = sqlite3.connect(org.db).execute("SELECT count(*) FROM defs").fetchone()[0]
    assert f"{defs:,} definitions" in r.stdout


def test_minified_and_generated_files_are_skipped_with_a_reason(tmp_path):
    """A bundle's one huge line adds nothing anyone navigates: skipped and counted, the rest indexed."""
    from orgutil import init_repo
    repo = tmp_path / "web"
    repo.mkdir()
    (repo / "vendor.min.js").write_text("function a(){return 1}\n")
    (repo / "bundle.js").write_text("var x=" + "1+" * 40000 + "1;\n")
    (repo / "app.js").write_text("export function ok() { return 1 }\n")
    init_repo(repo)
    db = tmp_path / "web.db"
    res = run_cli("index", "--db", str(db), str(repo))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "1 minified (.min.js)" in out and "1 minified or generated" in out
    with sqlite3.connect(db) as c:
        assert [r[0] for r in c.execute("SELECT path FROM files")] == ["app.js"]
        assert sorted(r[0] for r in c.execute("SELECT path FROM skipped")) == ["bundle.js", "vendor.min.js"]
