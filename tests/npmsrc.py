"""Real code from the npm registry for the TypeScript/JavaScript tests: a package tarball
(`npm pack NAME@VERSION`) unpacked into its own git repo, cached between runs."""
from __future__ import annotations

import subprocess
from pathlib import Path

from realcode import CACHE, DownloadFailed, extract, one_folder, unpacked_repo


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
    def unpack(tmp: Path) -> Path:
        extract(npm_tarball(name, version), tmp)
        return one_folder(tmp, what=f"{name}@{version}")
    return unpacked_repo(CACHE / "npm-repos" / f"{name.lstrip('@').replace('/', '-')}-{version}",
                         repo_name or name.rsplit("/", 1)[-1], unpack, remote)
