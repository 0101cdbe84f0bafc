#!/usr/bin/env python3
"""How crossnav scales with the number of repos: index size, indexing time, sync time and LSP
latency for N synthetic repos that import each other (docs/deployment.md, "What scale this design holds").

    python benchmarks/scale.py [--dir DIR] [--sizes 100,1000] [--positions 100] [--json-out FILE]

Each synthetic repo `svcNNNN` (a git repo with a GitHub remote and a CODEOWNERS file) has a src-layout
package with models (classes with methods, docstrings, annotations), a client that imports the models
of 3-5 other repos (earlier ones: a DAG) and the shared `corelib` repo everyone uses (its symbols have
references in every repo, the worst case for find-references), an API module and a test, about 330
lines in all. The numbers are measured with benchmarks/run.py's LSP client (one request in flight,
timed from write to response) on sampled resolved positions and symbol queries.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

CORELIB = {
    "pyproject.toml": '[project]\nname = "corelib"\n',
    "CODEOWNERS": "* @acme/platform\n",
    "src/corelib/__init__.py": '"""Shared platform library."""\nfrom .http import Client, Response\nfrom .config import settings\n',
    "src/corelib/http.py": '''"""A small HTTP client every service uses."""
from dataclasses import dataclass


@dataclass
class Response:
    """What a call returned."""
    status: int
    body: bytes = b""

    def ok(self) -> bool:
        """True for 2xx."""
        return 200 <= self.status < 300

    def json(self) -> dict:
        """The body as JSON."""
        import json
        return json.loads(self.body or b"{}")


class Client:
    """HTTP client with retries and tracing."""

    def __init__(self, base_url: str, timeout: float = 5.0):
        self.base_url = base_url
        self.timeout = timeout

    def get(self, path: str) -> Response:
        """GET path."""
        return Response(200)

    def post(self, path: str, payload: dict) -> Response:
        """POST payload as JSON."""
        return Response(201)
''',
    "src/corelib/config.py": '''"""Configuration loading."""


class Settings:
    """Process-wide settings from the environment."""

    def get(self, key: str, default: str = "") -> str:
        """One setting."""
        import os
        return os.environ.get(key, default)


settings = Settings()
''',
}


def service_files(i: int, deps: list[int]) -> dict[str, str]:
    n = f"svc{i:04d}"
    cls = [f"Record{i}", f"Batch{i}", f"Query{i}", f"Event{i}", f"Account{i}"]
    models = [f'"""Data model of service {i}."""\nfrom __future__ import annotations\n\nfrom dataclasses import dataclass, field\n']
    for c in cls:
        models.append(f'''

@dataclass
class {c}:
    """A {c.lower()} of service {i}: identifiers, payload and audit fields."""
    id: int
    name: str = ""
    tags: list[str] = field(default_factory=list)
    version: int = 1

    def validate(self) -> bool:
        """Whether the {c.lower()} can be stored."""
        return bool(self.name) and self.version > 0

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {{"id": self.id, "name": self.name, "tags": list(self.tags), "version": self.version}}

    @classmethod
    def from_dict(cls, data: dict) -> "{c}":
        """Build one from `to_dict` output."""
        return cls(data["id"], data.get("name", ""), list(data.get("tags", [])), data.get("version", 1))

    def bump(self) -> "{c}":
        """The next version."""
        return {c}(self.id, self.name, list(self.tags), self.version + 1)
''')
    client = [f'"""Calls to the services {n} depends on."""\nfrom corelib import Client, settings\nfrom corelib.http import Response\n']
    for d in deps:
        client.append(f"from svc{d:04d}.models import Record{d}, Batch{d}\n")
        client.append(f"import svc{d:04d}.api as api{d}\n")
    client.append(f'\n_http = Client(settings.get("SVC{i}_URL", "http://svc{i}"))\n')
    for d in deps:
        client.append(f'''

def fetch_record_{d}(record_id: int) -> Record{d}:
    """Load a record from service {d}."""
    resp: Response = _http.get(f"/svc{d}/records/{{record_id}}")
    if not resp.ok():
        raise LookupError(record_id)
    rec = Record{d}.from_dict(resp.json())
    rec.validate()
    return rec


def push_batch_{d}(batch: Batch{d}) -> bool:
    """Send a batch to service {d}."""
    resp = _http.post("/svc{d}/batches", batch.to_dict())
    return resp.ok() and api{d}.health()["ok"]
''')
    api = [f'''"""HTTP handlers of service {i}."""
from .models import {", ".join(cls)}
from . import client


def health() -> dict:
    """Liveness probe."""
    return {{"ok": True, "service": "{n}"}}


def create(data: dict) -> dict:
    """Create a {cls[0].lower()}."""
    rec = {cls[0]}.from_dict(data)
    if not rec.validate():
        raise ValueError("invalid")
    return rec.to_dict()


def search(q: {cls[2]}) -> list[dict]:
    """Search {cls[0].lower()}s."""
    return [q.to_dict()]
''']
    for d in deps[:2]:
        api.append(f'''

def mirror_{d}(record_id: int) -> dict:
    """Copy a record from service {d}."""
    return client.fetch_record_{d}(record_id).bump().to_dict()
''')
    test = f'''from {n}.api import create, health
from {n}.models import {cls[0]}


def test_health():
    assert health()["ok"]


def test_create():
    assert create({cls[0]}(1, "x").to_dict())["id"] == 1
'''
    return {
        "pyproject.toml": f'[project]\nname = "{n}"\n',
        "CODEOWNERS": f"* @acme/team-{i % 40}\nsrc/{n}/api.py @acme/api-guild\n",
        f"src/{n}/__init__.py": f'"""Service {i}."""\nfrom .models import {cls[0]}\n',
        f"src/{n}/models.py": "".join(models),
        f"src/{n}/client.py": "".join(client),
        f"src/{n}/api.py": "".join(api),
        "tests/test_api.py": test,
    }


def generate(root: Path, n: int, seed: int = 7) -> int:
    """N repos (corelib + n-1 services) under root; returns total lines."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    lines = 0
    for i in range(n):
        if i == 0:
            name, files = "corelib", CORELIB
        else:
            pool = list(range(max(1, i - 200), i))
            deps = sorted(rng.sample(pool, min(len(pool), rng.randint(3, 5))))
            name, files = f"svc{i:04d}", service_files(i, deps)
        repo = root / name
        if (repo / ".git").exists():
            lines += sum(t.count("\n") for t in files.values())
            continue
        for rel, text in files.items():
            p = repo / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
            lines += text.count("\n")
        subprocess.run(f"git init -q -b main && git remote add origin git@github.com:acme/{name}.git && "
                       "git add -A && git commit -q -m initial", shell=True, cwd=repo, env=GIT_ENV, check=True)
    return lines


def measure(work: Path, n: int, positions: int, crossnav: str) -> dict:
    src = work / f"repos-{n}"
    t0 = time.perf_counter()
    lines = generate(src, n)
    gen_s = time.perf_counter() - t0
    db = work / f"scale-{n}.db"
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    bench.log(f"{n} repos generated ({lines:,} lines, {gen_s:.0f}s); indexing")
    idx = bench.timed([crossnav, "index", "--db", str(db), "-q", "--discover", str(src)])
    rerun = bench.timed([crossnav, "index", "--db", str(db), "-q", "--discover", str(src)])
    size = bench.db_size(db)
    # publishing and syncing the result: a consistent single-file copy, then `crossnav sync` from a path
    from crossnav.index.sync import copy_index
    pub = work / f"pub-{n}.db"
    t1 = time.perf_counter()
    copy_index(db, pub)
    publish_s = time.perf_counter() - t1
    dest = work / f"synced-{n}.db"
    for p in (dest, Path(f"{dest}.sync.json")):
        p.unlink(missing_ok=True)
    sync = bench.timed([crossnav, "sync", "-q", "--db", str(dest), str(pub)])
    bench.log(f"indexed in {idx['wall_s']:.0f}s, db {size / 2**20:.0f} MiB; LSP run")
    pos = bench.sample_positions(db, positions, seed=1)
    queries = bench.sample_queries(db, max(30, positions // 2), seed=1)
    lsp = bench.lsp_bench(crossnav, db, pos, queries, work)
    return {"repos": n, "lines": lines, "generate_s": gen_s, "index": idx, "rerun": rerun, "db_bytes": size,
            "publish_copy_s": publish_s, "sync": sync, "positions": len(pos), "queries": len(queries),
            "latency": lsp["latency"], "answered": lsp["answered"], "errors": lsp["errors"][:5],
            "server_vmhwm_mb": lsp["server_vmhwm_mb"], "first_answer_ms": lsp["first_answer_ms"],
            "references_per_answer_max": lsp["references_per_answer_max"]}


def table(results: list[dict]) -> str:
    rows = ["| repos | lines | index wall | re-run | db size | sync (file) | def P50/P95 | refs P50/P95 | hover P95 | symbol P50/P95 | server RSS |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        lat = r["latency"]

        def pp(k):
            return f"{lat[k]['p50_ms']:.1f} / {lat[k]['p95_ms']:.1f} ms" if lat[k]["p50_ms"] is not None else "-"
        rows.append(f"| {r['repos']:,} | {r['lines']:,} | {r['index']['wall_s']:.0f} s | {r['rerun']['wall_s']:.1f} s | "
                    f"{r['db_bytes'] / 2**20:.0f} MiB | {r['sync']['wall_s']:.1f} s | {pp('definition (repeat)')} | "
                    f"{pp('references')} | {lat['hover']['p95_ms']:.1f} ms | {pp('workspace/symbol')} | "
                    f"{r['server_vmhwm_mb']:.0f} MB |")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=os.path.expanduser("~/.cache/crossnav-bench/scale"))
    ap.add_argument("--sizes", default="100,1000")
    ap.add_argument("--positions", type=int, default=100)
    ap.add_argument("--json-out")
    ap.add_argument("--clean", action="store_true", help="regenerate the repos")
    args = ap.parse_args(argv)
    work = Path(args.dir)
    if args.clean:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    crossnav = shutil.which("crossnav") or str(Path(sys.executable).parent / "crossnav")
    results = [measure(work, int(n), args.positions, crossnav) for n in args.sizes.split(",")]
    out = json.dumps(results, indent=1, default=str)
    if args.json_out:
        Path(args.json_out).write_text(out)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
