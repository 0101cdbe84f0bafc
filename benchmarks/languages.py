#!/usr/bin/env python3
"""Indexing throughput per language on real code, side by side with universal-ctags on the same files.

    python benchmarks/languages.py [--lang go --lang rust ...] [--md-out FILE] [--json-out FILE]

For each language: real, unmodified packages from the registries this machine reaches (Debian's
golang-*-dev / librust-*-dev / ruby-* source packages, npm tarballs, PyPI sdists), each its own git
repo (fetched and cached by the tests' helpers in ~/.cache/crossnav-tests), then in one run:
  - ctags     `ctags -R --languages=X -f TMP REPO...`: wall and CPU time (single-threaded)
  - index     `crossnav index --db FRESH.db -q REPO...`: wall and CPU of the process tree (both cores)
  - extract   that language's extract() over the same files in this process: lines per CPU-second
Lines are the language's own files (as crossnav routes them), counted as newlines + 1.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from debsrc import deb_repo  # noqa: E402
from debsource import deb_source_repo  # noqa: E402
from csource import deb_source_repo as c_source_repo  # noqa: E402
from npmsrc import npm_repo  # noqa: E402

from crossnav.index import lang  # noqa: E402
from crossnav.index.repos import source_files, open_repo, layout, language_and_module  # noqa: E402


def deb(package, subdir, name):
    return lambda: deb_repo(package, subdir, name)


def npm(name, version, repo_name=None):
    return lambda: npm_repo(name, version, repo_name)


GOSRC = "usr/share/gocode/src"
CARGO = "usr/share/cargo/registry"
CORPORA = {
    "go": ("Go", [
        deb("golang-github-spf13-viper-dev", f"{GOSRC}/github.com/spf13/viper", "viper"),
        deb("golang-github-spf13-cobra-dev", f"{GOSRC}/github.com/spf13/cobra", "cobra"),
        deb("golang-github-spf13-pflag-dev", f"{GOSRC}/github.com/spf13/pflag", "pflag"),
        deb("golang-github-spf13-afero-dev", f"{GOSRC}/github.com/spf13/afero", "afero"),
        deb("golang-github-spf13-cast-dev", f"{GOSRC}/github.com/spf13/cast", "cast"),
        deb("golang-github-sirupsen-logrus-dev", f"{GOSRC}/github.com/sirupsen/logrus", "logrus"),
        deb("golang-github-stretchr-testify-dev", f"{GOSRC}/github.com/stretchr/testify", "testify"),
        deb("golang-github-gin-gonic-gin-dev", f"{GOSRC}/github.com/gin-gonic/gin", "gin"),
        deb("golang-github-prometheus-client-golang-dev", f"{GOSRC}/github.com/prometheus/client_golang", "client_golang"),
        deb("golang-gopkg-yaml.v3-dev", f"{GOSRC}/gopkg.in/yaml.v3", "yaml.v3"),
        deb("golang-golang-x-net-dev", f"{GOSRC}/golang.org/x/net", "net"),
    ]),
    "rust": ("Rust", [
        deb("librust-serde-dev", f"{CARGO}/serde-1*", "serde"),
        deb("librust-serde-json-dev", f"{CARGO}/serde_json-*", "serde_json"),
        deb("librust-syn-dev", f"{CARGO}/syn-1*", "syn"),
        deb("librust-regex-dev", f"{CARGO}/regex-1*", "regex"),
        deb("librust-regex-syntax-dev", f"{CARGO}/regex-syntax-*", "regex-syntax"),
        deb("librust-tokio-dev", f"{CARGO}/tokio-1*", "tokio"),
        deb("librust-clap-dev", f"{CARGO}/clap-4*", "clap"),
    ]),
    "typescript": ("TypeScript", [
        npm("@tanstack/query-core", "5.59.0"),
        npm("@tanstack/react-query", "5.59.0"),
        npm("zod", "3.23.8"),
        npm("@trpc/server", "10.45.2", "trpc-server"),
        npm("@trpc/client", "10.45.2", "trpc-client"),
    ]),
    "javascript": ("JavaScript", [
        npm("express", "4.21.1"),
        npm("body-parser", "1.20.3"),
        npm("axios", "1.7.7"),
        npm("lodash", "4.17.21"),
    ]),
    "java": ("Java", [npm(*lib) for lib in (("react-native", "0.76.9"), ("react-native-screens", "4.4.0"),
                                           ("@react-native-async-storage/async-storage", "2.1.0"),
                                           ("react-native-webview", "13.12.5"), ("react-native-svg", "15.10.1"),
                                           ("react-native-gesture-handler", "2.21.2"),
                                           ("@react-native-community/netinfo", "11.4.1"),
                                           ("react-native-safe-area-context", "4.14.1"))]),
    "kotlin": ("Kotlin", None),      # the same repos as java (react-native's Android code mixes both)
    "ruby": ("Ruby", [
        deb("ruby-rack", "usr/share/rubygems-integration/all/gems/rack-*", "rack"),
        deb("ruby-faraday", "usr/share/rubygems-integration/all/gems/faraday-*", "faraday"),
    ]),
    # C: upstream tarballs of Debian source packages (tests/csource.py); libpng calls zlib
    "c": ("C", [
        lambda: c_source_repo("zlib", "zlib"),
        lambda: c_source_repo("libpng1.6", "libpng"),
    ]),
    # C#: Debian ships no C# source in binary packages; these are source packages (tests/debsource.py)
    "csharp": ("C#", [
        lambda: deb_source_repo("dbus-sharp", "dbus-sharp-0.*"),
        lambda: deb_source_repo("dbus-sharp-glib", "dbus-sharp-glib-0.*"),
    ]),
}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the command's whole process tree)."""
    c0, t0 = _children_cpu(), time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, _children_cpu() - c0


def files_of(repos: list[Path], family: set[str]) -> list[tuple[Path, str]]:
    out = []
    for root in repos:
        for path in sorted(source_files(open_repo(root))):
            lg = lang.for_path(path)
            if lg is not None and lg.NAME in family:
                out.append((root, path))
    return out


def extract_rate(repos: list[Path], files: list[tuple[Path, str]]) -> tuple[int, float]:
    """(lines, lines per CPU-second) of extract() over the files, one core, parse included."""
    by_root: dict = {}
    for root, path in files:
        by_root.setdefault(root, []).append(path)
    lines, cpu = 0, 0.0
    for root, paths in by_root.items():
        repo = open_repo(root)
        layout(repo, paths)
        for path in paths:
            try:
                data = (root / path).read_bytes()
            except OSError:
                continue
            if b"\0" in data[:8192] or len(data) > 2 * 1024 * 1024:
                continue
            lg, module, is_pkg = language_and_module(repo, path)
            unit = lang.Unit(path, str(root), module, is_pkg, repo.projects.get(lg.NAME) or {})
            t0 = time.process_time()
            lg.extract(data, unit)
            cpu += time.process_time() - t0
            lines += data.count(b"\n") + 1
    return lines, (lines / cpu if cpu else 0.0)


def bench(name: str, ctags_lang: str, fetchers: list, crossnav: str, work: Path) -> dict:
    repos = [f() for f in fetchers]
    files = files_of(repos, {name})
    tags = work / f"{name}.tags"
    ctags_wall, ctags_cpu = min((timed(["ctags", "-R", f"--languages={ctags_lang}", "-f", str(tags), *map(str, repos)])
                                 for _ in range(3)), key=lambda t: t[0])
    db = work / f"{name}.db"
    for p in work.glob(f"{name}.db*"):
        p.unlink()
    idx_wall, idx_cpu = timed([crossnav, "index", "--db", str(db), "-q", *map(str, repos)])
    lines, rate = extract_rate(repos, files)
    return {"language": name, "repos": len(repos), "files": len(files), "lines": lines,
            "ctags_s": round(ctags_wall, 2), "ctags_cpu_s": round(ctags_cpu, 2),
            "index_s": round(idx_wall, 2), "index_cpu_s": round(idx_cpu, 2),
            "ratio": round(idx_wall / ctags_wall, 1) if ctags_wall else None,
            "index_lines_per_s": round(lines / idx_wall), "extract_lines_per_cpu_s": round(rate)}


def markdown(rows: list[dict]) -> str:
    out = ["| language | repos | files | lines | ctags | crossnav index (wall / CPU) | ratio | index lines/s | extract lines/CPU-s |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        out.append(f"| {r['language']} | {r['repos']} | {r['files']:,} | {r['lines']:,} | {r['ctags_s']:.2f} s | "
                   f"{r['index_s']:.2f} / {r['index_cpu_s']:.2f} s | {r['ratio']}× | {r['index_lines_per_s']:,} | "
                   f"{r['extract_lines_per_cpu_s']:,} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", action="append", help=f"only these (default: all of {', '.join(CORPORA)})")
    ap.add_argument("--crossnav", default=shutil.which("crossnav", path=os.path.dirname(sys.executable)) or "crossnav")
    ap.add_argument("--md-out")
    ap.add_argument("--json-out")
    args = ap.parse_args(argv)
    names = args.lang or [n for n in CORPORA if lang.by_name(n) is not None]
    rows = []
    with tempfile.TemporaryDirectory(prefix="crossnav-langbench-") as tmp:
        for name in names:
            ctags_lang, fetchers = CORPORA[name]
            fetchers = fetchers if fetchers is not None else CORPORA["java"][1]
            row = bench(name, ctags_lang, fetchers, args.crossnav, Path(tmp))
            print(json.dumps(row), flush=True)
            rows.append(row)
    md = markdown(rows)
    print(md)
    if args.md_out:
        Path(args.md_out).write_text(md + "\n")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
