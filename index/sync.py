"""`crossnav sync SOURCE`: fetch a published index into the local cache, atomically.

SOURCE is an http(s) URL (conditional GET with the ETag / Last-Modified of the previous fetch), a
`file://` URL or a plain path (a shared drive; skipped when its size and mtime are unchanged). A name
ending in `.gz` is decompressed while it streams. The download goes to a temporary file next to the
destination, is validated (a crossnav index this version reads, not truncated), converted to a single
self-contained file (rollback journal, no -wal), and only then moved over the destination with
`os.replace`. A running `crossnav serve` keeps reading the old file (its open descriptors) and switches
to the new one on its next request (server/query.py notices the new inode); nothing is restarted.

What the previous fetch saw is kept in a sidecar, `DEST.sync.json`.
"""
from __future__ import annotations

import email.utils
import gzip
import json
import os
import sqlite3
import struct
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from .store import SCHEMA_VERSION, IndexError_, open_reader

CHUNK = 1 << 20
TIMEOUT = 60


class SyncError(Exception):
    """Sync failed; the local index is unchanged. The message says why and what to do."""


@dataclass
class SyncResult:
    status: str            # "updated" | "up-to-date"
    dest: Path
    source: str
    size: int = 0
    repos: int = 0
    seconds: float = 0.0


def sidecar_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sync.json")


def _read_sidecar(dest: Path, source: str) -> dict:
    try:
        data = json.loads(sidecar_path(dest).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    # what we fetched before only counts if it came from the same source and is still in place
    if not isinstance(data, dict) or data.get("source") != source or not dest.exists():
        return {}
    return data


def _write_sidecar(dest: Path, data: dict) -> None:
    side = sidecar_path(dest)
    tmp = side.with_name(f".{side.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, side)


def _is_url(source: str) -> bool:
    return urlparse(source).scheme in ("http", "https")


def _local_path(source: str) -> Path:
    u = urlparse(source)
    if u.scheme == "file":
        return Path(unquote(u.path))
    return Path(source).expanduser()


def sync(source: str, dest: Path, *, force: bool = False) -> SyncResult:
    """Bring `dest` up to date with `source`. Raises SyncError (dest untouched) on any failure."""
    dest = Path(dest).expanduser()
    t0 = time.perf_counter()
    prev = {} if force else _read_sidecar(dest, source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.sync-{os.getpid()}.tmp")
    try:
        if _is_url(source):
            meta = _fetch_http(source, tmp, prev)
        else:
            meta = _fetch_file(source, tmp, prev)
        if meta is None:
            return SyncResult("up-to-date", dest, source, dest.stat().st_size, seconds=time.perf_counter() - t0)
        repos = prepare(tmp)
        publish(tmp, dest)
    except BaseException:
        for p in (tmp, Path(f"{tmp}-journal"), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            try:
                p.unlink()
            except OSError:
                pass
        raise
    _write_sidecar(dest, {"source": source, **meta, "synced_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    return SyncResult("updated", dest, source, dest.stat().st_size, repos, time.perf_counter() - t0)


# ---------------------------------------------------------------------------- fetching

def _copy_stream(src, tmp: Path, gz: bool, expected: int | None = None) -> int:
    n = 0
    with open(tmp, "wb") as out:
        reader = gzip.GzipFile(fileobj=src) if gz else src
        try:
            while True:
                chunk = reader.read(CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                n += len(chunk)
        except (OSError, EOFError, gzip.BadGzipFile) as e:  # truncated gzip, connection reset
            raise SyncError(f"download interrupted or corrupt ({e}); the local index is unchanged, try again") from e
        out.flush()
        os.fsync(out.fileno())
    if expected is not None and not gz and n != expected:
        raise SyncError(f"download incomplete ({n} of {expected} bytes); the local index is unchanged, try again")
    return n


def _fetch_http(url: str, tmp: Path, prev: dict) -> dict | None:
    headers = {"User-Agent": "crossnav-sync", "Accept-Encoding": "identity"}
    if prev.get("etag"):
        headers["If-None-Match"] = prev["etag"]
    if prev.get("last_modified"):
        headers["If-Modified-Since"] = prev["last_modified"]
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=TIMEOUT)
    except urllib.error.HTTPError as e:
        if e.code == 304 and prev:
            return None
        raise SyncError(f"{url}: HTTP {e.code} {e.reason}; the local index is unchanged") from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise SyncError(f"cannot reach {url} ({reason}); the local index is unchanged") from e
    with resp:
        length = resp.headers.get("Content-Length")
        gz = urlparse(url).path.endswith(".gz") or resp.headers.get("Content-Encoding") == "gzip"
        _copy_stream(resp, tmp, gz, int(length) if length and length.isdigit() else None)
        return {"etag": resp.headers.get("ETag"), "last_modified": resp.headers.get("Last-Modified")}


def _fetch_file(source: str, tmp: Path, prev: dict) -> dict | None:
    path = _local_path(source)
    try:
        st = path.stat()
    except OSError as e:
        raise SyncError(f"cannot read {path} ({e.strerror}); check the path or the shared drive") from e
    if prev and prev.get("size") == st.st_size and prev.get("mtime_ns") == st.st_mtime_ns:
        return None
    wal = Path(f"{path}-wal")
    try:
        if not path.name.endswith(".gz") and wal.exists() and wal.stat().st_size > 0:
            copy_index(path, tmp)   # a live WAL-mode index (e.g. CI's build db): a consistent snapshot
        else:
            with open(path, "rb") as f:
                _copy_stream(f, tmp, path.name.endswith(".gz"), None)
    except (OSError, sqlite3.Error) as e:
        raise SyncError(f"cannot read {path} ({e}); the local index is unchanged") from e
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "last_modified": email.utils.formatdate(st.st_mtime, usegmt=True)}


# ---------------------------------------------------------------------------- validation and publishing

def prepare(tmp: Path) -> int:
    """Check the downloaded file is a whole crossnav index this version reads, and turn it into one
    self-contained file in rollback-journal mode (a published WAL-mode file gets a DELETE-mode header),
    so the destination never needs a -wal next to it. Returns the number of repos."""
    with open(tmp, "rb") as f:
        header = f.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise SyncError("the download is not a crossnav index (not an SQLite file); the local index is unchanged")
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    pages, change, valid_for = struct.unpack(">I", header[28:32])[0], header[24:28], header[92:96]
    if change == valid_for and pages and tmp.stat().st_size < pages * page_size:
        raise SyncError(f"the download is truncated ({tmp.stat().st_size} of {pages * page_size} bytes); "
                        "the local index is unchanged, try again")
    try:
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=DELETE").fetchone()
            conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
        reader = open_reader(tmp)
    except IndexError_ as e:
        msg = str(e).replace(str(tmp), "the downloaded index")
        if "newer crossnav" in msg:
            msg += f" (this crossnav reads schema {SCHEMA_VERSION})"
        raise SyncError(msg.split(";")[0] + "; the local index is unchanged") from e
    except sqlite3.DatabaseError as e:
        raise SyncError(f"the download is not a readable crossnav index ({e}); the local index is unchanged") from e
    try:
        return reader.execute("SELECT count(*) FROM repos").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise SyncError(f"the download is not a readable crossnav index ({e}); the local index is unchanged") from e
    finally:
        reader.close()


def publish(tmp: Path, dest: Path) -> None:
    """Move the prepared file over `dest` atomically.

    `dest` may be a locally built index in WAL mode with a DEST-wal beside it. SQLite opens a -wal it
    finds next to a database *by name*, whatever the database's header says, so a stale log of the old
    file must never meet the new file. The old log is checkpointed (its frames go into the old file,
    which readers still have open) and truncated, then DEST-wal and DEST-shm are removed, then the new
    single file is renamed into place. Readers that still hold the old file keep their open descriptors
    (old inode, old -wal/-shm inodes) and move to the new file on their next query."""
    wal, shm = Path(f"{dest}-wal"), Path(f"{dest}-shm")
    if dest.exists() and wal.exists():
        try:
            c = sqlite3.connect(str(dest), timeout=5, isolation_level=None)
            try:
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                c.close()
        except sqlite3.Error:
            pass  # an unreadable old index: it is being replaced anyway
    for p in (wal, shm):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
    os.replace(tmp, dest)
    try:  # make the rename durable
        fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def copy_index(src: Path, dest: Path) -> None:
    """A consistent single-file copy of a (possibly live, WAL-mode) index, for publishing it:
    SQLite's online backup, then the copy is put in rollback-journal mode."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    d = sqlite3.connect(str(tmp))
    try:
        s.backup(d)
        d.execute("PRAGMA journal_mode=DELETE")
    finally:
        d.close()
        s.close()
    os.replace(tmp, dest)

