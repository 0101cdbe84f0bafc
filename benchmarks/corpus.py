#!/usr/bin/env python3
"""Benchmark corpus: real, unmodified Python from pinned PyPI sdists, one git repo per package.

    python benchmarks/corpus.py [--dir DIR] [--quick] [--skip-download]

Layout under the cache dir (`--dir`, else `$CROSSNAV_BENCH_DIR`, else ~/.cache/crossnav-bench):

    sdists/        the downloaded sdists (kept; a present file is never fetched again)
    repos/NAME/    each sdist unpacked (top folder stripped) into its own git repo with one
                   commit by a fixed author at a fixed date, so heads are identical run to run
    corpus.json    per package: sdist file, sha256, .py files and lines; the total

Downloads use `pip download --no-deps --no-binary NAME NAME==VER` (sdist only for the package
itself; `:all:` would make pip compile build dependencies such as Cython from source). pip prepares an sdist's
metadata, which for packages with compiled build backends (meson-python, scikit-build) means
installing the build toolchain and configuring the build; those are marked `direct` below and are
fetched by their pinned file from the registry's simple index (PEP 691 JSON) instead, checked against its sha256.
Nothing is ever built or run (no setup.py): archives are only unpacked.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# (distribution, version, direct) — well-known, import-linked packages (requests/httpx/flask/boto
# clusters, the scientific stack, the tooling stack), pinned. direct=True: fetch the pinned sdist file
# without pip (pip would configure a compiled build just to read the metadata).
PACKAGES: list[tuple[str, str, bool]] = [
    # HTTP clients
    ("requests", "2.32.3", False),
    ("urllib3", "2.2.2", False),
    ("idna", "3.7", False),
    ("charset-normalizer", "3.3.2", False),
    ("certifi", "2024.6.2", False),
    ("httpx", "0.27.0", False),
    ("httpcore", "1.0.5", False),
    ("h11", "0.14.0", False),
    ("anyio", "4.4.0", False),
    ("sniffio", "1.3.1", False),
    ("aiohttp", "3.9.5", False),
    ("yarl", "1.9.4", False),
    ("multidict", "6.0.5", False),
    # web
    ("Django", "5.0.6", False),
    ("flask", "3.0.3", False),
    ("werkzeug", "3.0.3", False),
    ("jinja2", "3.1.4", False),
    ("markupsafe", "2.1.5", False),
    ("click", "8.1.7", False),
    ("itsdangerous", "2.2.0", False),
    ("tornado", "6.4.1", False),
    ("twisted", "24.3.0", False),
    ("SQLAlchemy", "2.0.31", False),
    ("pydantic", "2.7.4", False),
    ("attrs", "23.2.0", False),
    ("celery", "5.4.0", False),
    ("kombu", "5.3.7", False),
    # AWS
    ("boto3", "1.34.131", False),
    ("botocore", "1.34.131", False),
    ("s3transfer", "0.10.1", False),
    ("python-dateutil", "2.9.0.post0", False),
    ("six", "1.16.0", False),
    ("PyYAML", "6.0.1", False),
    # tooling
    ("pip", "24.1", False),
    ("setuptools", "70.1.0", False),
    ("packaging", "24.1", False),
    ("pytest", "8.2.2", False),
    ("pluggy", "1.5.0", False),
    ("rich", "13.7.1", False),
    ("pygments", "2.18.0", False),
    ("docutils", "0.21.2", False),
    ("sphinx", "7.3.7", False),
    ("jedi", "0.19.1", False),
    ("parso", "0.8.4", False),
    ("black", "24.4.2", False),
    ("mypy", "1.10.0", False),
    ("ipython", "8.25.0", False),
    # scientific
    ("numpy", "1.26.4", True),
    ("scipy", "1.13.1", True),
    ("pandas", "2.2.2", True),
    ("matplotlib", "3.9.0", True),
    ("scikit-learn", "1.5.0", True),
    ("networkx", "3.3", False),
    ("sympy", "1.12.1", False),
    ("astropy", "6.1.0", False),
]

# A small, import-linked subset for smoke runs (--quick).
QUICK = ["requests", "urllib3", "idna", "charset-normalizer", "certifi", "httpx", "httpcore", "h11",
         "anyio", "sniffio", "flask", "werkzeug", "jinja2", "markupsafe", "click", "itsdangerous"]

AUTHOR = {"GIT_AUTHOR_NAME": "crossnav-bench", "GIT_AUTHOR_EMAIL": "bench@crossnav.invalid",
          "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+00:00", "GIT_COMMITTER_NAME": "crossnav-bench",
          "GIT_COMMITTER_EMAIL": "bench@crossnav.invalid", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+00:00"}


def default_dir() -> Path:
    return Path(os.environ.get("CROSSNAV_BENCH_DIR") or "~/.cache/crossnav-bench").expanduser()


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def repo_name(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def selected(quick: bool) -> list[tuple[str, str, bool]]:
    if not quick:
        return list(PACKAGES)
    return [p for p in PACKAGES if p[0] in QUICK]


def find_sdist_name(filename: str, dist: str, ver: str) -> bool:
    want = f"{norm(dist)}-{ver}".lower()
    for ext in (".tar.gz", ".zip", ".tar.bz2", ".tgz"):
        if filename.endswith(ext):
            dname, _, v = filename[: -len(ext)].rpartition("-")
            return f"{norm(dname)}-{v}".lower() == want
    return False


def find_sdist(sdists: Path, dist: str, ver: str) -> Path | None:
    for p in sorted(sdists.glob("*")):
        if find_sdist_name(p.name, dist, ver):
            return p
    return None


def _direct(sdists: Path, dist: str, ver: str) -> Path:
    """The pinned sdist file as listed by the registry's simple index (PEP 691 JSON), checked
    against the sha256 the index gives."""
    req = urllib.request.Request(f"https://pypi.org/simple/{repo_name(dist)}/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        info = json.load(r)
    files = [f for f in info["files"] if f["filename"].endswith((".tar.gz", ".zip"))
             and find_sdist_name(f["filename"], dist, ver)]
    if not files:
        raise RuntimeError(f"{dist}=={ver}: no sdist in the index")
    f = files[0]
    dest = sdists / f["filename"]
    tmp = dest.with_suffix(dest.suffix + ".part")
    h = hashlib.sha256()
    with urllib.request.urlopen(f["url"], timeout=300) as r, open(tmp, "wb") as out:
        while chunk := r.read(1 << 20):
            h.update(chunk)
            out.write(chunk)
    if h.hexdigest() != f["hashes"]["sha256"]:
        tmp.unlink()
        raise RuntimeError(f"{f['filename']}: sha256 mismatch")
    tmp.rename(dest)
    return dest


def download(sdists: Path, dist: str, ver: str, direct: bool) -> Path:
    found = find_sdist(sdists, dist, ver)
    if found:
        return found
    sdists.mkdir(parents=True, exist_ok=True)
    if not direct:
        # --no-binary for this package only: pip still prepares the sdist's metadata, and with
        # `:all:` it would also build every build dependency (Cython...) from source to do so
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", dist, "-q",
               f"{dist}=={ver}", "-d", str(sdists)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        found = find_sdist(sdists, dist, ver)
        if found:
            return found
        print(f"  pip download {dist}=={ver} failed ({out.stderr.strip().splitlines()[-1:] or out.returncode}); "
              "fetching the pinned file directly", file=sys.stderr)
    return _direct(sdists, dist, ver)


def _strip_top(names: list[str]) -> str:
    tops = {n.split("/", 1)[0] for n in names if n}
    return (tops.pop() + "/") if len(tops) == 1 else ""


def unpack(sdist: Path, dest: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
    try:
        if sdist.name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as z:
                prefix = _strip_top(z.namelist())
                for info in z.infolist():
                    rel = info.filename[len(prefix):]
                    if not rel or info.is_dir() or rel.startswith("/") or ".." in rel.split("/"):
                        continue
                    target = tmp / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with z.open(info) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out)
        else:
            with tarfile.open(sdist) as t:
                members = [m for m in t.getmembers() if m.isfile() or m.isdir()]
                prefix = _strip_top([m.name for m in members])
                for m in members:
                    m.name = m.name[len(prefix):]
                members = [m for m in members if m.name and not m.name.startswith("/") and ".." not in m.name.split("/")]
                t.extractall(tmp, members=members, filter="data")
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def git_commit(repo: Path, message: str) -> str:
    env = {**os.environ, **AUTHOR}
    git = ["git", "-c", "core.autocrlf=false", "-c", "core.safecrlf=false", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main",
           "-C", str(repo)]
    subprocess.run(git + ["init", "-q"], check=True, env=env)
    subprocess.run(git + ["add", "-A", "-f", "."], check=True, env=env)  # everything in the sdist, .gitignore or not
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", message], check=True, env=env)
    return subprocess.run(git + ["rev-parse", "HEAD"], check=True, env=env, capture_output=True, text=True).stdout.strip()


def count_py(repo: Path) -> tuple[int, int]:
    files = lines = 0
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for f in filenames:
            if f.endswith(".py"):
                with open(os.path.join(dirpath, f), "rb") as fh:
                    lines += fh.read().count(b"\n")
                files += 1
    return files, lines


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def build(root: Path | None = None, quick: bool = False, skip_download: bool = False, verbose: bool = True) -> dict:
    """Make sure every selected package is downloaded and unpacked as a git repo; return the manifest."""
    root = Path(root or default_dir()).expanduser()
    sdists, repos = root / "sdists", root / "repos"
    repos.mkdir(parents=True, exist_ok=True)
    pkgs = selected(quick)

    def fetch(p):
        dist, ver, direct = p
        if skip_download:
            f = find_sdist(sdists, dist, ver)
            if f is None:
                raise SystemExit(f"--skip-download: {dist}=={ver} is not in {sdists}; run without --skip-download once")
            return f
        return download(sdists, dist, ver, direct)

    with ThreadPoolExecutor(4) as ex:
        files = list(ex.map(fetch, pkgs))

    manifest_path = root / "corpus.json"
    old = {}
    if manifest_path.exists():
        old = {e["name"]: e for e in json.loads(manifest_path.read_text()).get("packages", [])}
    entries = []
    for (dist, ver, _), sdist in zip(pkgs, files):
        name = repo_name(dist)
        dest = repos / name
        prev = old.get(name)
        if not (prev and prev.get("sdist") == sdist.name and (dest / ".git").is_dir() and prev.get("head")):
            if verbose:
                print(f"unpacking {sdist.name} -> {dest}", file=sys.stderr)
            unpack(sdist, dest)
            head = git_commit(dest, f"{dist} {ver} (unmodified sdist {sdist.name})")
            nfiles, nlines = count_py(dest)
            prev = {"name": name, "dist": dist, "version": ver, "sdist": sdist.name, "sha256": sha256(sdist),
                    "head": head, "py_files": nfiles, "py_lines": nlines}
        entries.append(prev)
    allm = {e["name"]: e for e in old.values()}
    allm.update({e["name"]: e for e in entries})
    manifest_path.write_text(json.dumps({"packages": sorted(allm.values(), key=lambda e: e["name"])}, indent=1))
    return {"root": str(root), "repos": [str(repos / e["name"]) for e in entries], "packages": entries,
            "py_files": sum(e["py_files"] for e in entries), "py_lines": sum(e["py_lines"] for e in entries)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", help="cache dir (default $CROSSNAV_BENCH_DIR or ~/.cache/crossnav-bench)")
    ap.add_argument("--quick", action="store_true", help="only the small smoke-run subset")
    ap.add_argument("--skip-download", action="store_true", help="use only sdists already in the cache")
    args = ap.parse_args(argv)
    m = build(Path(args.dir) if args.dir else None, args.quick, args.skip_download)
    w = max(len(e["name"]) for e in m["packages"])
    print(f"{'package':<{w}}  {'version':<12} {'.py files':>9} {'.py lines':>10}")
    for e in sorted(m["packages"], key=lambda e: -e["py_lines"]):
        print(f"{e['name']:<{w}}  {e['version']:<12} {e['py_files']:>9,} {e['py_lines']:>10,}")
    print(f"{len(m['packages'])} packages, {m['py_files']:,} .py files, {m['py_lines']:,} lines of Python "
          f"in {m['root']}/repos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
