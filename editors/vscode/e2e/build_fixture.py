"""Build the test suite's fixture org (tests/orgutil.py: five Python repos) and the Go fixture org
(tests/fixtures/go-org: four repos) into DEST/src, index them with the real CLI into DEST/org.db, and
print {"db", "repos": {name: path}, "heads": {name: commit}} as JSON.

Run it with a Python that has crossnav installed: `python build_fixture.py DEST`."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[3] / "tests"
sys.path.insert(0, str(TESTS))
import orgutil  # noqa: E402

shutil.rmtree(orgutil.SESSION_DIR, ignore_errors=True)  # made at import time for pytest sessions; not used here


def main(dest: Path) -> int:
    repos = orgutil.build_org(dest / "src")
    for src in sorted((TESTS / "fixtures" / "go-org").iterdir()):   # a second language, another team's repos
        if src.is_dir():
            shutil.copytree(src, dest / "src" / src.name)
            orgutil.init_repo(dest / "src" / src.name)
            repos[src.name] = dest / "src" / src.name
    db = dest / "org.db"
    result = orgutil.index(db, *repos.values())
    if result.returncode != 0:
        print(f"crossnav index failed ({result.returncode}):\n{result.stdout}\n{result.stderr}", file=sys.stderr)
        return 1
    heads = {name: orgutil.git(p, "rev-parse", "HEAD").strip() for name, p in repos.items()}
    print(json.dumps({"db": str(db), "repos": {n: str(p) for n, p in repos.items()}, "heads": heads}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: build_fixture.py DEST")
    sys.exit(main(Path(sys.argv[1]).resolve()))
