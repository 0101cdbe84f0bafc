"""Emacs + eglot, the docs/editors.md setup, in a real batch Emacs talking to the real `crossnav serve --wrap`.

eglot asks only one server per major mode, so the one `eglot-server-programs` entry is crossnav
wrapping jedi-language-server. tests/emacs_driver.el opens ledger/ledger/core.py, runs M-x eglot,
then xref-find-definitions (M-.), eldoc's hover, the references M-? lists and completion-at-point
(cursor positions computed here from the fixture text), and writes what Emacs got to a JSON file
asserted on here. Needs `emacs` and eglot (Debian/Ubuntu: apt-get install emacs-nox elpa-eglot;
Emacs 29+ ships eglot).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orgutil import find

DRIVER = Path(__file__).resolve().parent / "emacs_driver.el"
JLS = shutil.which("jedi-language-server") or str(Path(sys.executable).with_name("jedi-language-server"))
SILENT = [sys.executable, "-c", "import sys; sys.stdin.buffer.read()"]   # never answers initialize

POLICY = ("payments", "src/payments/retry/policy.py")
CORE = ("ledger", "ledger/core.py")
FEES = ("ledger", "ledger/fees.py")

EMACS = shutil.which("emacs")


def eglot_missing() -> str | None:
    """Why the test cannot run, or None."""
    if EMACS is None:
        return "emacs is not installed (apt-get install emacs-nox elpa-eglot)"
    probe = ('(progn (dolist (d (file-expand-wildcards "/usr/share/emacs/site-lisp/elpa/*"))'
             ' (add-to-list (quote load-path) d)) (require (quote eglot)))')
    try:
        r = subprocess.run([EMACS, "--batch", "-Q", "--eval", probe], capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"emacs does not run: {e}"
    if r.returncode != 0:
        return "eglot is not installed for emacs (apt-get install elpa-eglot, or Emacs 29+)"
    return None


MISSING = eglot_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def pos(org, repo, rel, needle, sub=None, shift=0):
    """(absolute path, 0-based line, code-point column) of `sub` in `needle` in a fixture file."""
    line, col = find(org.path(repo, rel), needle, 0, sub)
    return str(org.path(repo, rel)), line, col + shift


def same_file(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def run_emacs(tmp: Path, org, *, server: list[str] | None = None, cursors: dict | None = None,
              connect_timeout: int = 20, timeout: int = 45) -> dict:
    """Run the driver; its results, with Emacs' output and exit code. Fails (never hangs) on a stuck Emacs."""
    tmp.mkdir(parents=True, exist_ok=True)
    out = tmp / "results.json"
    env = {**os.environ,
           "CROSSNAV_EMACS_OUT": str(out),
           "CROSSNAV_EMACS_FILE": str(org.path(*CORE)),
           "CROSSNAV_EMACS_PYTHON": sys.executable,
           "CROSSNAV_EMACS_DB": str(org.db),
           "CROSSNAV_EMACS_WRAP": JLS,
           "CROSSNAV_EMACS_CURSORS": json.dumps(cursors or {}),
           "CROSSNAV_EMACS_CONNECT_TIMEOUT": str(connect_timeout),
           "CROSSNAV_EMACS_TIMEOUT": str(timeout),
           "CROSSNAV_EMACS_STATE": str(tmp / "emacs.d")}
    env.pop("CROSSNAV_EMACS_SERVER", None)
    if server is not None:
        env["CROSSNAV_EMACS_SERVER"] = json.dumps(server)
    try:
        proc = subprocess.run([EMACS, "--batch", "-Q", "-l", str(DRIVER)], cwd=tmp, env=env, capture_output=True,
                              text=True, timeout=timeout + 15, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"emacs did not exit within {timeout + 15}s:\n{e.stdout}\n{e.stderr}")
    output = proc.stdout + proc.stderr
    assert out.exists(), f"emacs wrote no results (exit {proc.returncode}):\n{output}"
    results = json.loads(out.read_text(encoding="utf-8"))
    results["_output"] = output
    results["_exit"] = proc.returncode
    return results


@pytest.fixture(scope="module")
def emacs(org, tmp_path_factory):
    target = ("pol.compute_delay(attempt)", "compute_delay")
    _, line, col = pos(org, *CORE, *target)
    _, cline, ccol = pos(org, *CORE, "return policy, d1", "policy", shift=len("pol"))   # point after `pol`
    cursors = {"definition": [line, col], "hover": [line, col], "references": [line, col],
               "completion": [cline, ccol]}
    return run_emacs(tmp_path_factory.mktemp("emacs"), org, cursors=cursors)


def result(r, case):
    assert not r["errors"], f"{json.dumps(r['errors'], indent=1)}\nemacs output:\n{r['_output']}"
    assert r["_exit"] == 0, r["_output"]
    assert case in r, f"no {case} result:\n{r['_output']}"
    return r[case]


def test_one_eglot_entry_runs_crossnav_wrapping_jedi(emacs, org):
    c = result(emacs, "connect")
    assert c["server"] == "crossnav+jedi-language-server"
    assert same_file(c["project"], str(org.repos["ledger"]))
    assert c["managed"] is True
    assert c["xref_backend"] == "eglot"       # M-. and M-? go to eglot
    assert c["capf"] is True                  # completion-at-point goes to eglot


def test_xref_find_definitions_jumps_to_other_repo(emacs, org):
    d = result(emacs, "definition")
    f, line, col = pos(org, *POLICY, "def compute_delay", "compute_delay")
    assert d["count"] == 1
    assert same_file(d["file"], f) and (d["line"], d["col"]) == (line, col), d


def test_hover_shows_codeowners(emacs):
    text = result(emacs, "hover")
    assert "payments.retry.policy.compute_delay" in text
    assert "@alice" in text and ".github/CODEOWNERS" in text


def test_references_span_repos(emacs, org):
    refs = result(emacs, "references")
    got = [(str(Path(r["file"]).resolve()), r["line"], r["col"]) for r in refs]
    assert len(got) == len(set(got)), got
    expected = {pos(org, *CORE, "pol.compute_delay(attempt)", "compute_delay"),
                pos(org, *CORE, "retry.policy.compute_delay(", "compute_delay"),
                pos(org, *FEES, "return compute_delay(attempt)", "compute_delay"),
                pos(org, *POLICY, "return compute_delay(", "compute_delay"),
                pos(org, *POLICY, "def compute_delay", "compute_delay")}
    expected = {(str(Path(f).resolve()), line, col) for f, line, col in expected}
    assert expected <= set(got), sorted(got)
    repos = {name for name, root in org.repos.items() for f, _, _ in got
             if f.startswith(str(root.resolve()) + os.sep)}
    assert repos == {"ledger", "payments"}


def test_completion_comes_from_the_wrapped_server(emacs):
    # crossnav has no completion: candidates prove eglot's one server entry forwards to jedi-language-server
    c = result(emacs, "completion")
    assert c["prefix"] == "pol"
    assert "policy" in c["candidates"], c


def test_shutdown_is_clean(emacs):
    assert result(emacs, "shutdown") == {"stopped": True}


def test_silent_server_fails_fast(org, tmp_path):
    """A server that never answers `initialize`: eglot's connect times out, the driver reports it, no hang."""
    t0 = time.monotonic()
    r = run_emacs(tmp_path, org, server=SILENT, connect_timeout=3, timeout=30)
    assert "Timed out after 3 seconds" in r["errors"].get("connect", ""), r
    assert "definition" not in r
    assert time.monotonic() - t0 < 20
