#!/usr/bin/env python3
"""Where the CPU of a first full index goes, against what the ≤ 8× ctags bar allows.

    python benchmarks/budget.py [--dir ~/.cache/crossnav-bench] [--every 1] [--json-out FILE]

On the benchmark corpus's Python files (the files `ctags --languages=Python` reads), in this process,
single-threaded, CPU time (user+sys) of:
  - ctags      `ctags -R --languages=Python` (its wall time is the bar's unit)
  - parse      tree-sitter's parse of every file, nothing else
  - query      parse + one tree-sitter query capturing every identifier, definition name, import and
               attribute (the "raw parse-and-query pass" of issue #2), captures counted in Python
  - extract    crossnav's Python extractor (parse + walk + in-file resolution), as the parser processes run it
then one `crossnav index --languages python` into a fresh database with its main process's CPU and the
parser processes' CPU (getrusage), split by phase (`-v`). From these it prints the CPU a 2-core machine
has within 8× ctags' wall time, and how much of it the parts of a full index take.
`--every N` parses every Nth file only (the rates are per line, so the split stays comparable).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tree_sitter import Parser, Query, QueryCursor

from crossnav.index import lang
from crossnav.index.python import PY_LANGUAGE

QUERY = """
(identifier) @id
(function_definition name: (identifier) @def)
(class_definition name: (identifier) @def)
(import_from_statement) @import
(import_statement) @import
(attribute attribute: (identifier) @attr)
"""


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def python_files(repos: list[Path], every: int) -> list[tuple[Path, Path]]:
    files = []
    for repo in repos:
        for dirpath, dirnames, names in os.walk(repo):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            files += [(repo, Path(dirpath) / n) for n in names if n.endswith((".py", ".pyi"))]
    files.sort()
    return files[::every]


def timed(label: str, fn, datas) -> dict:
    t0 = cpu()
    extra = fn(datas)
    s = cpu() - t0
    print(f"  {label:8} {s:7.1f} CPU-s", file=sys.stderr)
    return {"cpu_s": round(s, 2), **(extra or {})}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=os.environ.get("CROSSNAV_BENCH_DIR", "~/.cache/crossnav-bench"))
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--json-out")
    args = ap.parse_args(argv)
    base = Path(args.dir).expanduser()
    repos = sorted(p for p in (base / "repos").iterdir() if (p / ".git").exists())
    if not repos:
        print(f"no repos under {base / 'repos'}: run `python benchmarks/corpus.py` first", file=sys.stderr)
        return 2
    datas = []
    for repo, path in python_files(repos, args.every):
        data = path.read_bytes()
        if b"\0" not in data[:8192]:
            datas.append((repo, path, data))
    lines = sum(d.count(b"\n") + 1 for _, _, d in datas)
    print(f"{len(datas):,} files, {lines:,} lines (every {args.every})", file=sys.stderr)

    out = {"files": len(datas), "lines": lines, "every": args.every}
    tmp = Path(tempfile.mkdtemp(prefix="crossnav-budget-"))
    try:
        t0, c0 = time.perf_counter(), children_cpu()
        subprocess.run(["ctags", "-R", "--languages=Python", "-f", str(tmp / "tags"), *map(str, repos)], check=True)
        out["ctags"] = {"wall_s": round(time.perf_counter() - t0, 2), "cpu_s": round(children_cpu() - c0, 2)}
        print(f"  ctags    {out['ctags']['cpu_s']:7.1f} CPU-s, {out['ctags']['wall_s']:.1f} s wall (all files)", file=sys.stderr)

        parser = Parser(PY_LANGUAGE)

        def parse(ds):
            for _, _, d in ds:
                parser.parse(d)

        query = Query(PY_LANGUAGE, QUERY)

        def parse_query(ds):
            n = 0
            for _, _, d in ds:
                caps = QueryCursor(query).captures(parser.parse(d).root_node)
                n += sum(len(v) for v in caps.values())
            return {"captures": n}

        py = lang.by_name("python")

        def extract(ds):
            defs = refs = 0
            for repo, path, d in ds:
                f = py.extract(d, lang.Unit(str(path.relative_to(repo)), str(repo), "m", False, {}))
                defs += len(f.defs)
                refs += len(f.refs)
            return {"defs": defs, "refs": refs}

        for label, fn in (("parse", parse), ("query", parse_query), ("extract", extract)):
            out[label] = timed(label, fn, datas)
            out[label]["lines_per_cpu_s"] = round(lines / out[label]["cpu_s"]) if out[label]["cpu_s"] else None

        db = tmp / "index.db"
        r = subprocess.run([sys.executable, str(Path(__file__).with_name("index_cpu.py")), "-q", "-v", "--languages",
                            "python", "--db", str(db), *map(str, repos)], capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout, r.stderr, file=sys.stderr)
            return 1
        phases = next((ln for ln in r.stdout.splitlines() if ln.startswith("time by phase")), "")
        main_s, workers_s, total_s, wall_s = (float(x.rstrip("s")) for x in r.stderr.split()[-7::2])
        out["index"] = {"wall_s": wall_s, "main_cpu_s": main_s, "workers_cpu_s": workers_s, "cpu_s": total_s,
                        "phases": phases}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    scale = args.every   # the parse/query/extract rows ran on 1/every of the files
    budget = 8 * out["ctags"]["wall_s"] * 2
    rows = [
        ("ctags, wall (the bar's unit)", out["ctags"]["wall_s"], "-"),
        ("CPU a 2-core machine has in 8× that", budget, "100 %"),
        ("tree-sitter parse alone", out["parse"]["cpu_s"] * scale, ""),
        ("parse + identifier query (issue #2's ceiling)", out["query"]["cpu_s"] * scale, ""),
        ("crossnav extract (parse + walk + resolution)", out["extract"]["cpu_s"] * scale, ""),
        ("crossnav index: parser processes", out["index"]["workers_cpu_s"], ""),
        ("crossnav index: indexing process (SQLite writes, text and symbol indexes, resolution)", out["index"]["main_cpu_s"], ""),
        ("crossnav index: all", out["index"]["cpu_s"], ""),
    ]
    print(f"\n| Python files of the corpus ({lines * scale:,} lines) | CPU-s | of the budget |\n| --- | ---: | ---: |")
    for name, s, note in rows:
        print(f"| {name} | {s:.1f} | {note or f'{s / budget:.0%}'} |")
    print(f"\ncrossnav index wall {out['index']['wall_s']:.1f} s = {out['index']['wall_s'] / out['ctags']['wall_s']:.1f}× ctags; "
          f"{out['index']['phases']}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
