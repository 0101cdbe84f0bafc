"""Real code from Debian's registry for the per-language tests: a `golang-*-dev` or `librust-*-dev`
package (they ship source trees) unpacked and made into its own git repo, cached between runs.

    repo = deb_repo("golang-github-spf13-cobra-dev", "usr/share/gocode/src/github.com/spf13/cobra", "cobra")

Nothing is installed: `apt-get download` fetches the .deb into the cache and `dpkg-deb -x` unpacks it.
"""
from __future__ import annotations

import glob
import shutil
import subprocess
import tempfile
from pathlib import Path

from orgutil import init_repo
from realcode import CACHE, DownloadFailed


def deb_file(package: str) -> Path:
    """The cached .deb of `package` (downloaded with apt-get on first use)."""
    d = CACHE / "debs"
    d.mkdir(parents=True, exist_ok=True)
    found = sorted(d.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    try:
        out = subprocess.run(["apt-get", "download", package], cwd=d, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DownloadFailed(f"apt-get download {package}: {e}") from e
    found = sorted(d.glob(f"{package}_*.deb"))
    if out.returncode != 0 or not found:
        raise DownloadFailed(f"apt-get download {package} failed ({out.stderr.strip()[-300:]}); "
                             "run `apt-get update` if the package lists are missing")
    return found[-1]


def deb_repo(package: str, subdir: str, name: str, remote: str | None = None) -> Path:
    """A git repo (folder named `name`) holding `subdir` of the unpacked package. `subdir` may be a
    glob (`usr/share/cargo/registry/serde-1.*`); it must match exactly one folder."""
    base = CACHE / "deb-repos" / package
    dest = base / name
    marker = base / ".complete"
    if marker.exists() and (dest / ".git").exists():
        return dest
    deb = deb_file(package)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        matches = [Path(p) for p in glob.glob(str(Path(tmp) / subdir)) if Path(p).is_dir() and not Path(p).is_symlink()]
        if len(matches) != 1:
            raise DownloadFailed(f"{package}: {subdir!r} matched {len(matches)} folders in the package")
        shutil.copytree(matches[0], dest, symlinks=True)
    init_repo(dest, remote)
    marker.touch()
    return dest
