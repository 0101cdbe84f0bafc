"""Real code from the npm registry for the TypeScript/JavaScript tests: a package tarball
(`npm pack NAME@VERSION`) unpacked into its own git repo, cached between runs."""
from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from orgutil import init_repo
from realcode import CACHE, DownloadFailed


def npm_tarball(name: str, version: str) -> Path:
    d = CACHE / "npm"
    d.mkdir(parents=True, exist_ok=True)
    stem = name.lstrip("@").replace("/", "-")
    want = d / f"{stem}-{version}.tgz"
    if want.exists():
        return want
    try:
        out = subprocess.run(["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", str(d)],
                             capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DownloadFailed(f"npm pack {name}@{version}: {e}") from e
    if out.returncode != 0 or not want.exists():
        raise DownloadFailed(f"npm pack {name}@{version} failed: {out.stderr.strip()[-300:]}")
    return want


def npm_repo(name: str, version: str, repo_name: str | None = None, remote: str | None = None) -> Path:
    """A git repo holding the unpacked package (npm's `package/` folder), named `repo_name`
    (default: the package name without scope)."""
    repo_name = repo_name or name.rsplit("/", 1)[-1]
    base = CACHE / "npm-repos" / f"{name.lstrip('@').replace('/', '-')}-{version}"
    dest = base / repo_name
    marker = base / ".complete"
    if marker.exists() and (dest / ".git").exists():
        return dest
    tgz = npm_tarball(name, version)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        with tarfile.open(tgz) as t:
            t.extractall(tmp, filter="data")
        top = [p for p in Path(tmp).iterdir() if p.is_dir()]
        if len(top) != 1:
            raise DownloadFailed(f"{name}@{version}: unexpected tarball layout")
        shutil.copytree(top[0], dest, symlinks=True)
    init_repo(dest, remote)
    marker.touch()
    return dest
