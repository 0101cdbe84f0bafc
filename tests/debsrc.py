"""Real code from Debian's registry for the per-language tests, each package made into its own git
repo and cached between runs (realcode.unpacked_repo). Nothing is installed, and the machine's apt
configuration is not touched.

Binary packages that ship source trees (`golang-*-dev`, `librust-*-dev`, Ruby gems): `apt-get
download` fetches the .deb into the cache and `dpkg-deb -x` unpacks it.

    repo = deb_repo("golang-github-spf13-cobra-dev", "usr/share/gocode/src/github.com/spf13/cobra", "cobra")

Source packages, for languages whose binary packages ship no source (C, C#): `apt-get source
--download-only` fetches the upstream tarball, unpacked unmodified (Debian's patches not applied).
The machine lists binary packages only, so the source index is fetched into the cache with a private
sources list (`deb-src` beside each Debian `deb` URI of the system's sources, release suites only:
-updates/-security sources are often no longer served) and private lists and archive folders.

    repo = deb_source_repo("zlib", name="zlib")                       (tests/test_lang_c.py)
    repo = deb_source_repo("dbus-sharp", top="dbus-sharp-0.*")        (tests/test_lang_csharp.py)
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from realcode import CACHE, DownloadFailed, extract, one_folder, unpacked_repo

APT = CACHE / "apt-src"           # the private apt state for source packages: sources.list, lists, archives
SOURCE_TARBALLS = CACHE / "deb-src"
LEGACY_TARBALLS = CACHE / "c-debsrc"   # where the C tests kept theirs (moved into SOURCE_TARBALLS on use)


# ---------------------------------------------------------------------------- binary packages


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
    def unpack(tmp: Path) -> Path:
        subprocess.run(["dpkg-deb", "-x", str(deb_file(package)), str(tmp)], check=True)
        return one_folder(tmp, subdir, package)
    return unpacked_repo(CACHE / "deb-repos" / package, name, unpack, remote)


# ---------------------------------------------------------------------------- source packages


def _sources_list() -> Path:
    """The private sources list: a `deb-src` line for each Debian `deb` source of this machine."""
    src = APT / "sources.list"
    if src.exists():
        return src
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
    APT.mkdir(parents=True, exist_ok=True)
    src.write_text("\n".join(lines) + "\n")
    return src


def _apt(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """apt-get with every list, cache and source file in the test cache."""
    for d in ("lists/partial", "cache/archives/partial"):
        (APT / d).mkdir(parents=True, exist_ok=True)
    options = ["-o", f"Dir::Etc::SourceList={_sources_list()}", "-o", "Dir::Etc::SourceParts=/nonexistent",
               "-o", f"Dir::State::Lists={APT / 'lists'}", "-o", f"Dir::Cache={APT / 'cache'}", "-o", "Debug::NoLocking=1"]
    try:
        return subprocess.run(["apt-get", *options, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DownloadFailed(f"apt-get {' '.join(args)}: {e}") from e


def _tarballs(d: Path, package: str) -> list[Path]:
    """The upstream tarballs in `d`, not their detached signatures (`.orig.tar.xz.asc` sorts last)."""
    return sorted(p for p in d.glob(f"{package}_*.orig.tar.*") if not p.name.endswith((".asc", ".sig")))


def orig_tarball(package: str) -> Path:
    """The cached upstream tarball of a Debian source package (downloaded on first use)."""
    d = SOURCE_TARBALLS / package
    legacy = LEGACY_TARBALLS / package
    if not d.exists() and legacy.is_dir():
        SOURCE_TARBALLS.mkdir(parents=True, exist_ok=True)
        os.replace(legacy, d)
    found = _tarballs(d, package)
    if found:
        return found[-1]
    d.mkdir(parents=True, exist_ok=True)
    if not any((APT / "lists").glob("*Sources*")):
        out = _apt("update")
        if out.returncode != 0:
            raise DownloadFailed(f"apt-get update (deb-src) failed: {out.stderr.strip()[-300:]}")
    out = _apt("source", "--download-only", package, cwd=d)
    found = _tarballs(d, package)
    if out.returncode != 0 or not found:
        raise DownloadFailed(f"apt-get source {package} failed: {out.stderr.strip()[-300:]}")
    return found[-1]


def deb_source_repo(package: str, *, name: str | None = None, top: str = "*", remote: str | None = None) -> Path:
    """A git repo (folder `name`, default the package name) holding the upstream tree of a Debian
    source package: the tarball's top folder matching `top` (a glob; the only one by default)."""
    def unpack(tmp: Path) -> Path:
        extract(orig_tarball(package), tmp)
        return one_folder(tmp, top, f"{package} source")
    return unpacked_repo(CACHE / "deb-src-repos" / package, name or package, unpack, remote)
