from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from orgutil import Org, build_org, git, index  # noqa: E402


@pytest.fixture(scope="session")
def org(tmp_path_factory) -> Org:
    """The fixture org as git repos under a tmp dir, indexed once by the real `crossnav index` CLI."""
    root = tmp_path_factory.mktemp("org")
    repos = build_org(root / "src")
    db = root / "org.db"
    result = index(db, *repos.values())
    assert result.returncode == 0, f"crossnav index failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    heads = {name: git(p, "rev-parse", "HEAD").strip() for name, p in repos.items()}
    return Org(root=root, db=db, repos=repos, result=result, heads=heads)


@pytest.fixture
def conn(org):
    c = org.connect()
    yield c
    c.close()
