from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from orgutil import ORG_DB, SESSION_DIR, Org, build_org, git, index  # noqa: E402


@pytest.fixture(scope="session")
def org() -> Org:
    """The fixture org as git repos under SESSION_DIR, indexed once by the real `crossnav index` CLI
    into ORG_DB (the path the LSP tests' server commands name)."""
    repos = build_org(SESSION_DIR / "src")
    result = index(ORG_DB, *repos.values())
    assert result.returncode == 0, f"crossnav index failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    heads = {name: git(p, "rev-parse", "HEAD").strip() for name, p in repos.items()}
    yield Org(root=SESSION_DIR, db=ORG_DB, repos=repos, result=result, heads=heads)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


@pytest.fixture
def conn(org):
    c = org.connect()
    yield c
    c.close()
