"""Real C code from Debian's registry: a *source* package's upstream tarball (`apt-get source
--download-only`), unpacked unmodified (Debian's patches not applied) into its own git repo, cached.

The machine's apt configuration lists binary packages only, so the source index is fetched into the
cache with a private sources list (`deb-src` beside each `deb` URI and suite of the system's
deb822 sources, the release suite only: -updates/-security sources are often no longer served)
and private lists directory: nothing under /etc or /var/lib/apt changes.

    repo = deb_source_repo("zlib", "zlib")   (tests/test_lang_c.py)
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from orgutil import init_repo
from realcode import CACHE, DownloadFailed

APT = CACHE / "c-apt"          # private to these tests: its own lists and sources


def _apt_options() -> list[str]:
    lists = APT / "lists"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    src = APT / "sources.list"
    if not src.exists():
        lines = []
        for f in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")) + [Path("/etc/apt/sources.list")]:
            if not f.exists():
                continue
            text = f.read_text(errors="replace")
            for block in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.+)$", block, re.M))
                if "deb" not in fields.get("Types", "").split() or "debian" not in fields.get("URIs", ""):
                    continue
                key = fields.get("Signed-By", "/usr/share/keyrings/debian-archive-keyring.gpg").strip()
                for uri in fields["URIs"].split():
                    for suite in fields.get("Suites", "").split():
                        if "-" not in suite:   # the release itself: its sources stay downloadable
                            lines.append(f"deb-src [signed-by={key}] {uri} {suite} {fields.get('Components', 'main')}")
            for m in re.finditer(r"^deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)$", text if f.suffix != ".sources" else "", re.M):
                if "-" not in m.group(3):
                    lines.append(f"deb-src {m.group(1) or ''}{m.group(2)} {m.group(3)} {m.group(4)}")
        if not lines:
            raise DownloadFailed("no Debian apt sources on this machine to derive deb-src lines from")
        src.write_text("\n".join(lines) + "\n")
    return ["-o", f"Dir::Etc::SourceList={src}", "-o", "Dir::Etc::SourceParts=/nonexistent",
            "-o", f"Dir::State::Lists={lists}", "-o", "Debug::NoLocking=1"]


def _apt(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["apt-get", *_apt_options(), *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DownloadFailed(f"apt-get {' '.join(args)}: {e}") from e


def orig_tarball(package: str) -> Path:
    """The cached upstream tarball of a Debian source package."""
    d = CACHE / "c-debsrc" / package
    found = sorted(d.glob("*.orig.tar.*")) if d.exists() else []
    if found:
        return found[0]
    d.mkdir(parents=True, exist_ok=True)
    if not any((APT / "lists").glob("*Sources*")):
        out = _apt("update")
        if out.returncode != 0:
            raise DownloadFailed(f"apt-get update (deb-src) failed: {out.stderr.strip()[-300:]}")
    out = _apt("source", "--download-only", package, cwd=d)
    found = sorted(d.glob("*.orig.tar.*"))
    if out.returncode != 0 or not found:
        raise DownloadFailed(f"apt-get source {package} failed: {out.stderr.strip()[-300:]}")
    return found[0]


def deb_source_repo(package: str, name: str, remote: str | None = None) -> Path:
    """A git repo (folder `name`) holding the unpacked upstream tarball of `package`."""
    base = CACHE / "c-debsrc-repos" / package
    dest = base / name
    marker = base / ".complete"
    if marker.exists() and (dest / ".git").exists():
        return dest
    tgz = orig_tarball(package)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        with tarfile.open(tgz) as t:
            t.extractall(tmp, filter="data")
        top = [p for p in Path(tmp).iterdir() if p.is_dir()]
        if len(top) != 1:
            raise DownloadFailed(f"{tgz.name}: unexpected tarball layout")
        shutil.copytree(top[0], dest, symlinks=True)
    init_repo(dest, remote)
    marker.touch()
    return dest
