"""Real code from Debian *source* packages (for languages whose binary packages ship no source, e.g.
C#): `apt-get source --download-only` against a private deb-src list kept in the test cache (the
system's apt configuration is not touched), the upstream tarball unpacked unmodified into its own git
repo, cached between runs.

    repo = deb_source_repo("dbus-sharp", "dbus-sharp-0.*")
"""
from __future__ import annotations

import glob
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from orgutil import init_repo
from realcode import CACHE

MIRROR = "deb http://deb.debian.org/debian bookworm main"


class FetchFailed(Exception):
    pass


def _apt() -> list[str]:
    """apt-get options that point every list, cache and source file into the test cache."""
    base = CACHE / "apt-src"
    for d in ("lists/partial", "cache/archives/partial"):
        (base / d).mkdir(parents=True, exist_ok=True)
    src = base / "sources.list"
    line = MIRROR.replace("deb ", "deb-src ", 1) + "\n"
    if not src.exists() or src.read_text() != line:
        src.write_text(line)
    return ["-o", f"Dir::Etc::SourceList={src}", "-o", "Dir::Etc::SourceParts=/nonexistent",
            "-o", f"Dir::State::Lists={base / 'lists'}", "-o", f"Dir::Cache={base / 'cache'}"]


def _run(args, cwd=None, timeout=600):
    try:
        out = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FetchFailed(f"{' '.join(args[:2])}: {e}") from e
    return out


def orig_tarball(package: str) -> Path:
    """The cached upstream tarball of a Debian source package."""
    d = CACHE / "deb-src" / package
    found = sorted(d.glob(f"{package}_*.orig.tar.*"))
    if found:
        return found[-1]
    d.mkdir(parents=True, exist_ok=True)
    apt = _apt()
    if not any((CACHE / "apt-src" / "lists").glob("*Sources*")):
        out = _run(["apt-get", *apt, "update"])
        if out.returncode != 0:
            raise FetchFailed(f"apt-get update (deb-src) failed: {out.stderr.strip()[-300:]}")
    out = _run(["apt-get", *apt, "source", "--download-only", package], cwd=d)
    found = sorted(d.glob(f"{package}_*.orig.tar.*"))
    if out.returncode != 0 or not found:
        raise FetchFailed(f"apt-get source {package} failed: {out.stderr.strip()[-300:]}")
    return found[-1]


def deb_source_repo(package: str, top: str, name: str | None = None) -> Path:
    """A git repo (folder `name`, default the package name) holding the upstream tree `top` (a glob
    for the tarball's top folder) of a Debian source package."""
    name = name or package
    base = CACHE / "deb-src-repos" / package
    dest = base / name
    marker = base / ".complete"
    if marker.exists() and (dest / ".git").exists():
        return dest
    tarball = orig_tarball(package)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        with tarfile.open(tarball) as t:
            t.extractall(tmp, filter="data")
        matches = [p for p in glob.glob(str(Path(tmp) / top)) if Path(p).is_dir()]
        if len(matches) != 1:
            raise FetchFailed(f"{package}: {top!r} matched {len(matches)} folders in {tarball.name}")
        shutil.copytree(matches[0], dest, symlinks=True)
    init_repo(dest)
    marker.touch()
    return dest
