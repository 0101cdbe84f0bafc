"""Parsed rows on their way from the parser processes into the index, without Python per row.

Each parser process appends the rows of the files it extracted to its own SQLite file (a *stage*:
the index's per-file tables plus `k`, the file's place in its batch) and hands back only a small
summary per file and the rowid range each table grew by. The indexing process ATTACHes the stage
and copies a batch with one `INSERT ... SELECT` per table inside the repo's transaction, giving
`k` its file id. Before this, every row was pickled in the worker, unpickled and re-tupled in the
indexing process, and bound through `executemany`: most of that process's time.

A stage is in WAL mode: the parser appends (each batch one transaction) while the indexer reads
earlier batches. A parser starts a new stage file at a repo boundary once its file is large, so a
repo's batches sit in at most one stage per parser (ATTACH works only between transactions and
SQLite allows 10); the indexer detaches and deletes a stage when its parser has moved on.
Stages live in a `crossnav-stage-*` folder under TMPDIR naming its indexing process; a run killed
before it could delete its folder leaves it behind, and the next run removes it (`sweep`).
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time

# (table, staged columns): the index table's columns after file_id/repo_id, in insert order
TABLES = (
    ("defs", ("qualname", "name", "kind", "container", "line", "col", "end_line", "end_col",
              "name_line", "name_col", "name_end_col", "signature", "doc", "type")),
    ("refs", ("line", "col", "end_col", "name", "target", "kind")),
    ("aliases", ("alias", "target", "star", "line")),
    ("bases", ("class", "base")),
    ("imports", ("package",)),
    ("content", ("blob", "text")),
)
WITH_REPO_ID = {"defs", "refs"}    # index tables that also carry repo_id
ROTATE_BYTES = 64 << 20            # start a new stage file at the next repo boundary beyond this
MAX_WRITERS = 8                    # a repo's batches sit in one stage per writer; SQLite ATTACHes at most 10


PREFIX = "crossnav-stage-"
OWNER = "owner.pid"
STALE_SECONDS = 24 * 3600   # a stage folder with no owner file (or an unreadable one) is left this long


def make_dir() -> str:
    """A new stage folder, after removing those a killed run left (`kill -9`, power loss: its
    `finally` never ran). Each folder names its indexing process, so a live run's is never touched."""
    sweep()
    path = tempfile.mkdtemp(prefix=PREFIX)
    with open(os.path.join(path, OWNER), "w") as f:
        f.write(str(os.getpid()))
    return path


def sweep(parent: str | None = None) -> list[str]:
    """Remove stage folders whose indexing process is gone. Returns the folders removed."""
    parent = parent or tempfile.gettempdir()
    removed = []
    try:
        names = [n for n in os.listdir(parent) if n.startswith(PREFIX)]
    except OSError:
        return removed
    for name in names:
        path = os.path.join(parent, name)
        try:
            with open(os.path.join(path, OWNER)) as f:
                alive = _alive(int(f.read().strip()))
        except (OSError, ValueError):
            try:
                alive = time.time() - os.stat(path).st_mtime < STALE_SECONDS
            except OSError:
                continue
        if not alive:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's process
        return True
    return True


class Stage:
    """The writing side, one per parser process (or the indexing process itself for small runs)."""

    def __init__(self, directory: str):
        self.directory = directory
        self.seq = 0
        self.conn = None
        self.path = None
        self.root = None        # repo of the last batch: rotate only between repos
        self.last = {}          # table -> last rowid written

    def _open(self):
        if self.conn is not None:
            self.conn.close()
        self.seq += 1
        self.path = os.path.join(self.directory, f"{os.getpid()}-{self.seq}.db")
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        for table, cols in TABLES:
            conn.execute(f"CREATE TABLE {table} (k INTEGER, {', '.join(cols)})")
        self.conn = conn
        self.last = {table: 0 for table, _ in TABLES}

    def write(self, root: str, files: list) -> tuple[str, dict]:
        """Stage the rows of one batch; `files` = [(facts, blob, packed text)] in batch order.
        Returns (stage path, {table: (first rowid, last rowid)})."""
        if self.conn is None or (root != self.root and _size(self.path) > ROTATE_BYTES):
            self._open()
        self.root = root
        # one flat parameter list per table, `k` first in each row
        flat = {table: [] for table, _ in TABLES}
        for k, (f, blob, text) in enumerate(files):
            for table, rows in (("defs", f.defs), ("refs", f.refs), ("aliases", f.aliases), ("bases", f.bases)):
                out = flat[table]
                add, extend = out.append, out.extend
                for row in rows:
                    add(k)
                    extend(row)
            out = flat["imports"]
            for p in f.imports:
                out += (k, p)
            if text is not None:
                flat["content"] += (k, blob, text)
        ranges = {}
        conn = self.conn
        conn.execute("BEGIN")
        for table, cols in TABLES:
            n = _insert(conn, table, len(cols) + 1, flat[table])
            first = self.last[table] + 1
            self.last[table] += n
            ranges[table] = (first, self.last[table])
        conn.execute("COMMIT")
        return self.path, ranges

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Reader:
    """The indexing side: ATTACHes stages to the index connection and copies batches out of them."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.attached: dict[str, str] = {}     # stage path -> schema name
        self.latest: dict[str, int] = {}       # writer pid -> newest stage seq seen
        self._free = [f"stage{i}" for i in range(9, -1, -1)]

    def see(self, path: str) -> None:
        """A batch result names its stage: remember each writer's newest file."""
        pid, seq = _pid_seq(path)
        if seq > self.latest.get(pid, 0):
            self.latest[pid] = seq

    def attach(self, paths) -> None:
        """Before a repo's transaction (SQLite cannot ATTACH inside one)."""
        self.release()
        for path in dict.fromkeys(paths):
            if path not in self.attached:
                name = self._free.pop()
                self.conn.execute("ATTACH DATABASE ? AS " + name, (path,))
                self.attached[path] = name

    def release(self, everything: bool = False) -> None:
        """Detach and delete stages whose writer has moved on to a newer file (all: at the end)."""
        if self.conn.in_transaction:
            return
        for path, name in list(self.attached.items()):
            pid, seq = _pid_seq(path)
            if everything or seq < self.latest.get(pid, 0):
                self.conn.execute("DETACH DATABASE " + name)
                del self.attached[path]
                self._free.append(name)
                for suffix in ("", "-wal", "-shm"):
                    try:
                        os.remove(path + suffix)
                    except OSError:
                        pass

    def copy(self, path: str, ranges: dict, fids: list[int], repo_id: int) -> None:
        """Copy one batch's rows into the index tables (not content), `k` -> fids[k]."""
        schema = self.attached[path]
        conn = self.conn
        for k0, k1, f0 in _runs(fids):
            for table, cols in TABLES:
                if table == "content":
                    continue
                lo, hi = ranges[table]
                if lo > hi:
                    continue
                names = ", ".join(cols)
                if table in WITH_REPO_ID:
                    conn.execute(f"INSERT INTO main.{table}(file_id, repo_id, {names}) SELECT ? + k, ?, {names} "
                                 f"FROM {schema}.{table} WHERE rowid BETWEEN ? AND ? AND k BETWEEN ? AND ?",
                                 (f0 - k0, repo_id, lo, hi, k0, k1))
                else:
                    conn.execute(f"INSERT INTO main.{table}(file_id, {names}) SELECT ? + k, {names} "
                                 f"FROM {schema}.{table} WHERE rowid BETWEEN ? AND ? AND k BETWEEN ? AND ?",
                                 (f0 - k0, lo, hi, k0, k1))

    def copy_content(self, path: str, ranges: dict) -> None:
        """File texts of one batch, once per blob across the index (content.py)."""
        lo, hi = ranges["content"]
        if lo <= hi:
            self.conn.execute(f"INSERT OR IGNORE INTO main.content(blob, text) SELECT blob, text "
                              f"FROM {self.attached[path]}.content WHERE rowid BETWEEN ? AND ?", (lo, hi))


ROWS_PER_INSERT = 64   # multi-row VALUES: binding cost per row is ~40% lower than one row per statement


def _insert(conn: sqlite3.Connection, table: str, width: int, flat: list) -> int:
    """Insert rows given as one flat list of `width` values per row; returns the row count."""
    n = len(flat) // width
    chunk = width * ROWS_PER_INSERT
    full = n // ROWS_PER_INSERT * chunk
    row = "(" + ",".join("?" * width) + ")"
    if full:
        conn.executemany(f"INSERT INTO {table} VALUES " + ",".join([row] * ROWS_PER_INSERT),
                         (flat[i:i + chunk] for i in range(0, full, chunk)))
    if full < len(flat):
        conn.executemany(f"INSERT INTO {table} VALUES {row}", (flat[i:i + width] for i in range(full, len(flat), width)))
    return n


def _size(path: str) -> int:
    """Bytes of a stage with its write-ahead log (where rows sit until a checkpoint)."""
    size = 0
    for suffix in ("", "-wal"):
        try:
            size += os.path.getsize(path + suffix)
        except OSError:
            pass
    return size


def _pid_seq(path: str) -> tuple[str, int]:
    pid, _, seq = os.path.basename(path)[:-3].partition("-")
    return pid, int(seq)


def _runs(fids: list[int]):
    """(first k, last k, first file id) of each run of consecutive file ids (normally one)."""
    start = 0
    for i in range(1, len(fids) + 1):
        if i == len(fids) or fids[i] != fids[i - 1] + 1:
            yield start, i - 1, fids[start]
            start = i
