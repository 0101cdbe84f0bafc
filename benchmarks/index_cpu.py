"""`crossnav index ARGS` in this process, then its CPU and its parser processes' CPU (getrusage).

    python benchmarks/index_cpu.py -q -v --db FRESH.db ~/.cache/crossnav-bench/repos/*

prints the index summary and `time by phase` (-v) as usual, then one line on stderr:
`CPU main 146.36s workers 176.86s total 323.21s wall 188.68s`. CPU seconds are far less sensitive
than wall time to other work on the machine, and the split shows which side a change moved work to.
"""
import resource
import sys
import time

from crossnav.index.cli import main

t0 = time.perf_counter()
try:
    rc = main(["index"] + sys.argv[1:])
except SystemExit as e:
    rc = e.code
wall = time.perf_counter() - t0
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
main_s, workers_s = me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime
print(f"CPU main {main_s:.2f}s workers {workers_s:.2f}s total {main_s + workers_s:.2f}s wall {wall:.2f}s", file=sys.stderr)
sys.exit(rc or 0)
