#!/usr/bin/env python3
"""Code search benchmark: crossnav's trigram index next to ripgrep over the same files, in one run.

    python benchmarks/search.py [--db DB] [--repos DIR] [--queries N] [--seed S] [--json OUT]

The corpus is benchmarks/corpus.py's (55 PyPI sdists as git repos under ~/.cache/crossnav-bench/repos);
the index is built with `crossnav index` into --db when that file does not exist (several minutes).

For each query: crossnav's latency in process (`crossnav.index.search.run`, every result: count:all
for content, the top 20 for symbols; median of 3 runs after one warm-up) and ripgrep's wall time
(`rg --no-ignore --hidden --follow -g '*.py' -g '*.pyi' -n -S [-F]`, median of 3), then the two result sets are compared as
(repo, path, line) over the files both searched: ripgrep also reads files the index skips (over the
size limit, not UTF-8), which are left out and counted.

Queries: selective literals (identifiers defined once or twice in the corpus, sampled from the index
with --seed), common literals, regexes (fixed list), and symbol queries (`type:symbol NAME`).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

from crossnav.index.search import run
from crossnav.index.store import open_reader

BENCH = Path(os.environ.get("CROSSNAV_BENCH_DIR", "~/.cache/crossnav-bench")).expanduser()

REGEXES = [
    r"def test_\w+_timeout",
    r'raise \w+Error\(f"',
    r"^class \w+\(Exception\):",
    r"self\.\w+ = None$",
    r"import (numpy|pandas) as",
    r'@pytest\.mark\.parametrize\("\w+"',
    r"except \(\w+, \w+\) as",
    r'\bwarnings\.warn\(\s*f"',
]
COMMON = ["import os", "return None", "self.assertEqual(", "TODO"]


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100 * (len(v) - 1)))))
    return v[k]


def sample_literals(conn, n, seed):
    """Identifiers defined in 1-2 files (selective), long enough to be meaningful."""
    rows = conn.execute("""SELECT name FROM defs WHERE length(name) BETWEEN 10 AND 40 AND kind IN ('class', 'function', 'method')
                           GROUP BY name HAVING count(DISTINCT file_id) <= 2 ORDER BY name""").fetchall()
    rnd = random.Random(seed)
    return [r[0] for r in rnd.sample(rows, min(n, len(rows)))]


def sample_symbols(conn, n, seed):
    rows = conn.execute("""SELECT DISTINCT name FROM defs WHERE length(name) BETWEEN 6 AND 30
                           AND kind IN ('class', 'function', 'method') ORDER BY name""").fetchall()
    rnd = random.Random(seed + 1)
    return [r[0] for r in rnd.sample(rows, min(n, len(rows)))]


def timed_crossnav(conn, query, limit, runs=3):
    run(conn, query, limit=limit)   # warm-up (page cache, statement cache)
    times, page = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        page = run(conn, query, limit=limit)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), page


def rg_cmd(tree, pattern, fixed):
    return ["rg", "--no-ignore", "--hidden", "--follow", "-g", "*.py", "-g", "*.pyi", "-n", "--no-heading", "--with-filename",
            "-S", *(["-F"] if fixed else []), "-e", pattern, str(tree)]


def timed_rg(tree, pattern, fixed, runs=3):
    times, out = [], b""
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(rg_cmd(tree, pattern, fixed), capture_output=True)
        times.append((time.perf_counter() - t0) * 1000)
        out = p.stdout
    got = set()
    for line in out.decode("utf-8", "replace").splitlines():
        path, ln, _ = line.split(":", 2)
        rel = Path(path).relative_to(tree)
        got.add((rel.parts[0], "/".join(rel.parts[1:]), int(ln)))
    return statistics.median(times), got


def sizes(conn, db: Path):
    corpus = conn.execute("SELECT sum(size), sum(lines), count(*) FROM files").fetchone()
    out = {"corpus_bytes": corpus[0], "corpus_lines": corpus[1], "files": corpus[2], "db_bytes": db.stat().st_size}
    try:
        per = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
        out["content_bytes"] = per.get("content", 0) + per.get("sqlite_autoindex_content_1", 0)
        out["trigram_bytes"] = sum(v for k, v in per.items() if k.startswith("content_fts"))
        out["files_blob_index_bytes"] = per.get("files_blob", 0)
    except sqlite3.Error:
        out["content_bytes"] = conn.execute("SELECT sum(length(text)) FROM content").fetchone()[0]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=str(BENCH / "work" / "search.db"))
    ap.add_argument("--repos", default=str(BENCH / "repos"))
    ap.add_argument("--queries", type=int, default=20, help="sampled selective literals and symbols (each)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", help="write the raw figures here")
    args = ap.parse_args(argv)
    if not shutil.which("rg"):
        ap.error("ripgrep (rg) not found: apt-get install ripgrep")
    db, repos = Path(args.db).expanduser(), Path(args.repos).expanduser()
    repo_dirs = sorted(p for p in repos.iterdir() if (p / ".git").exists())
    if not db.exists():
        print(f"indexing {len(repo_dirs)} repos into {db} ...", file=sys.stderr)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "crossnav.index.cli", "index", "--db", str(db), "-q",
                        *map(str, repo_dirs)], check=True, stdout=subprocess.DEVNULL)
        print(f"  {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    conn = open_reader(db)
    indexed = {(r, p) for r, p in conn.execute("SELECT r.name, f.path FROM files f JOIN repos r ON r.id = f.repo_id")}
    tree = Path(args.repos).expanduser()
    # ripgrep and crossnav read the same folder: the repos themselves
    subprocess.run(rg_cmd(tree, "def ", True), capture_output=True)   # warm the page cache

    groups = {
        "selective literal": [(n, n, True) for n in sample_literals(conn, args.queries, args.seed)],
        "common literal": [(f'"{c}"', c, True) for c in COMMON],
        "regex": [(f"/{r}/", r, False) for r in REGEXES],
    }
    report = {"sizes": sizes(conn, db), "groups": {}, "mismatches": []}
    for group, queries in groups.items():
        rows = []
        for q, pattern, fixed in queries:
            ms, page = timed_crossnav(conn, q + " count:all", 0)
            rg_ms, rg_set = timed_rg(tree, pattern, fixed)
            ours = {(r.repo, r.path, r.line + 1) for r in page.results}
            theirs = {x for x in rg_set if (x[0], x[1]) in indexed}
            skipped = len({(x[0], x[1]) for x in rg_set} - {(x[0], x[1]) for x in theirs})
            same = ours == theirs
            if not same:
                report["mismatches"].append({"query": q, "only_crossnav": sorted(ours - theirs)[:5],
                                             "only_rg": sorted(theirs - ours)[:5]})
            rows.append({"query": q, "ms": ms, "rg_ms": rg_ms, "results": len(ours), "rg_results": len(theirs),
                         "rg_files_not_indexed": skipped, "identical": same})
            print(f"{group:18} {q[:40]:40} {ms:9.1f} ms  rg {rg_ms:8.1f} ms  {len(ours):7} lines  "
                  f"{'same' if same else 'DIFFERENT'}", file=sys.stderr)
        report["groups"][group] = rows
    rows = []
    for name in sample_symbols(conn, args.queries, args.seed):
        ms, page = timed_crossnav(conn, f"type:symbol {name}", 20)
        rows.append({"query": f"type:symbol {name}", "ms": ms, "results": len(page.results),
                     "top": page.results[0].qualname if page.results else None})
        print(f"{'symbol':18} {name[:40]:40} {ms:9.1f} ms", file=sys.stderr)
    report["groups"]["symbol"] = rows
    print(markdown(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0 if not report["mismatches"] else 1


def markdown(r: dict) -> str:
    s = r["sizes"]
    out = [f"Corpus: {s['files']:,} indexed files, {s['corpus_lines']:,} lines, {s['corpus_bytes'] / 2**20:.0f} MiB.",
           "",
           "| queries | n | crossnav P50 | crossnav P95 | ripgrep P50 | ripgrep P95 | faster than rg | identical to rg |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for g, rows in r["groups"].items():
        ms = [x["ms"] for x in rows]
        rg = [x["rg_ms"] for x in rows if "rg_ms" in x]
        faster = sum(1 for x in rows if "rg_ms" in x and x["ms"] < x["rg_ms"])
        same = sum(1 for x in rows if x.get("identical"))
        out.append(f"| {g} | {len(rows)} | {pct(ms, 50):.1f} ms | {pct(ms, 95):.1f} ms | "
                   + (f"{pct(rg, 50):.0f} ms | {pct(rg, 95):.0f} ms | {faster}/{len(rows)} | {same}/{len(rows)} |" if rg
                      else "– | – | – | – |"))
    out += ["",
            f"Index: content (UTF-8 text, one row per distinct blob) {s.get('content_bytes', 0) / 2**20:.1f} MiB, "
            f"trigram index (FTS5 contentless, detail=none) {s.get('trigram_bytes', 0) / 2**20:.1f} MiB "
            f"= {s.get('trigram_bytes', 0) / s['corpus_bytes']:.2f}x the corpus "
            f"({(s.get('trigram_bytes', 0) + s.get('content_bytes', 0) + s.get('files_blob_index_bytes', 0)) / s['corpus_bytes']:.2f}x with the stored text); "
            f"whole database {s['db_bytes'] / 2**20:.0f} MiB."]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
