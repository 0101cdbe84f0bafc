"""The shared SQLite index: where it lives, its schema, and how to open it safely.

One writer (the indexer) and many readers (language servers) share one file in WAL mode.
The schema is written down in docs/architecture.md; keep the two in step and bump
SCHEMA_VERSION on any incompatible change.
"""
from __future__ import annotations

import itertools
import os
import sqlite3
from pathlib import Path

SCHEMA_VERSION = 2


class IndexError_(Exception):
    """A problem with the index file the user can act on; the message says what to do."""


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/crossnav` (~/.cache/crossnav): the default index and files read from it."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "crossnav"


def default_db_path() -> Path:
    """`$CROSSNAV_DB`, else `$XDG_CACHE_HOME/crossnav/index.db` (~/.cache by default)."""
    env = os.environ.get("CROSSNAV_DB")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "crossnav" / "index.db"


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS repos (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    root TEXT NOT NULL,
    remote TEXT,
    web_url TEXT,
    head TEXT,
    branch TEXT,
    indexed_at TEXT,
    ownership TEXT,
    dist TEXT,
    files INTEGER DEFAULT 0,
    lines INTEGER DEFAULT 0
);
-- what each repo holds, kept by the writers (indexer, merge) so a summary never counts 8M rows;
-- an index written before this table existed gets a repo's row the next time that repo is written
CREATE TABLE IF NOT EXISTS repo_totals (
    repo_id INTEGER PRIMARY KEY REFERENCES repos(id) ON DELETE CASCADE,
    defs INTEGER NOT NULL,
    refs INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS packages (
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    package TEXT NOT NULL,
    import_root TEXT NOT NULL,
    source TEXT,
    PRIMARY KEY (repo_id, package)
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    language TEXT NOT NULL,
    module TEXT,
    size INTEGER,
    blob TEXT,
    lines INTEGER,
    ascii INTEGER DEFAULT 0,
    errors INTEGER DEFAULT 0,
    UNIQUE (repo_id, path)
);
CREATE TABLE IF NOT EXISTS defs (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    repo_id INTEGER NOT NULL,
    qualname TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    container TEXT,
    line INTEGER, col INTEGER, end_line INTEGER, end_col INTEGER,
    name_line INTEGER, name_col INTEGER, name_end_col INTEGER,
    signature TEXT,
    doc TEXT,
    type TEXT
);
CREATE TABLE IF NOT EXISTS refs (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    repo_id INTEGER NOT NULL,
    line INTEGER, col INTEGER, end_col INTEGER,
    name TEXT NOT NULL,
    target TEXT,
    kind TEXT
);
CREATE TABLE IF NOT EXISTS aliases (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    alias TEXT NOT NULL,
    target TEXT NOT NULL,
    star INTEGER DEFAULT 0,
    line INTEGER
);
CREATE TABLE IF NOT EXISTS bases (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    class TEXT NOT NULL,
    base TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS imports (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    package TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS skipped (
    repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS resolved (
    target TEXT PRIMARY KEY,
    canonical TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage (
    qualname TEXT PRIMARY KEY,
    refs INTEGER NOT NULL,
    repos INTEGER NOT NULL
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS defs_fts USING fts5(
    name, content='defs', content_rowid='id', tokenize='trigram', columnsize=0
);
"""

# Code search (index/content.py): file texts by blob and their trigram index.
from . import content as _content  # noqa: E402
SCHEMA += _content.SCHEMA

# Secondary indexes and FTS triggers: dropped during a first full load and built once at the end,
# which is several times faster than maintaining them row by row.
INDEXES = """
CREATE INDEX IF NOT EXISTS packages_package ON packages(package);
CREATE INDEX IF NOT EXISTS defs_qualname ON defs(qualname);
CREATE INDEX IF NOT EXISTS defs_name ON defs(name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS defs_file ON defs(file_id, name_line);
DROP INDEX IF EXISTS refs_target;  -- older indexes had (target) alone: references walked every use to skip the home repo
CREATE INDEX IF NOT EXISTS refs_target_repo ON refs(target, repo_id);
CREATE INDEX IF NOT EXISTS refs_file ON refs(file_id, line);
CREATE INDEX IF NOT EXISTS refs_attr ON refs(name) WHERE kind = 'attr';
CREATE INDEX IF NOT EXISTS aliases_alias ON aliases(alias);
CREATE INDEX IF NOT EXISTS aliases_file ON aliases(file_id);
CREATE INDEX IF NOT EXISTS bases_file ON bases(file_id);
CREATE INDEX IF NOT EXISTS bases_class ON bases(class);
CREATE INDEX IF NOT EXISTS imports_file ON imports(file_id, package);
CREATE INDEX IF NOT EXISTS resolved_canonical ON resolved(canonical);
"""

TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS defs_ai AFTER INSERT ON defs BEGIN
    INSERT INTO defs_fts(rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER IF NOT EXISTS defs_ad AFTER DELETE ON defs BEGIN
    INSERT INTO defs_fts(defs_fts, rowid, name) VALUES ('delete', old.id, old.name);
END;"""



def insert_many(conn: sqlite3.Connection, into: str, width: int, rows) -> None:
    """`INSERT INTO {into} VALUES ...` for many rows of `width` values, 64 rows per statement:
    binding a row costs ~40% less than with one row per statement (the statement runs once)."""
    rows = rows if isinstance(rows, list) else list(rows)
    per = 64
    full = len(rows) // per * per
    row = "(" + ",".join("?" * width) + ")"
    if full:
        chain = itertools.chain.from_iterable
        conn.executemany(f"INSERT INTO {into} VALUES " + ",".join([row] * per),
                         (tuple(chain(rows[i:i + per])) for i in range(0, full, per)))
    if full < len(rows):
        conn.executemany(f"INSERT INTO {into} VALUES {row}", rows[full:])


def _check_version(conn: sqlite3.Connection, path: Path) -> int | None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.OperationalError:
        return None
    except sqlite3.DatabaseError as e:
        raise IndexError_(f"{path} is not a crossnav index ({e}); move it away or pass another --db") from e
    if row is None:
        return None
    version = int(row[0])
    if version > SCHEMA_VERSION:
        raise IndexError_(
            f"{path} was written by a newer crossnav (schema {version}, this one reads {SCHEMA_VERSION}); "
            "upgrade crossnav (pip install -U crossnav) or index into another --db")
    return version


def open_writer(path: Path):
    """Open (creating if needed) the index for writing, in WAL mode with the current schema.

    Returns a sqlite_utils Database (imported here: the server never writes and starts faster)."""
    from sqlite_utils import Database

    path = Path(path)
    _not_a_folder(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=lock_timeout())
        conn.execute("PRAGMA journal_mode=WAL")
    except (OSError, sqlite3.Error) as e:
        raise IndexError_(f"cannot open {path} for writing ({e}); check the path and its permissions or pass another --db") from e
    version = _check_version(conn, path)
    if version is not None and version < SCHEMA_VERSION:
        conn.close()
        raise IndexError_(f"{path} was written by an older crossnav (schema {version}); delete it and run "
                          "`crossnav index` again to rebuild it")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA cache_size=-65536")
    try:
        conn.executescript(SCHEMA)
        create_indexes(conn)
        conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        conn.commit()
    except sqlite3.OperationalError as e:
        conn.close()
        raise IndexError_(f"cannot write {path} ({e}); {write_failure_hint(e, path)}") from e
    return Database(conn)


def _not_a_folder(path: Path) -> None:
    if path.is_dir():
        raise IndexError_(f"{path} is a folder; pass the index file itself (--db / CROSSNAV_DB), e.g. {path / 'index.db'}")


def lock_timeout() -> float:
    """Seconds a writer waits for another writer's transaction (CROSSNAV_LOCK_TIMEOUT, default 30)."""
    try:
        return max(0.0, float(os.environ.get("CROSSNAV_LOCK_TIMEOUT", "30")))
    except ValueError:
        return 30.0


def write_failure_hint(e: sqlite3.Error, path: Path) -> str:
    """What to do after SQLite refused a write: wait for the other writer, or make room."""
    if "locked" in str(e) or "busy" in str(e):
        return (f"it is being written by another process (a second `crossnav index`?) that kept it locked for {lock_timeout():g} s; "
                "run the same command again when it is done (CROSSNAV_LOCK_TIMEOUT sets the wait)")
    import tempfile
    return (f"check the free space in {Path(path).parent} and in the temp folder {tempfile.gettempdir()} (TMPDIR), "
            "then run the same command again")


def open_reader(path: Path) -> sqlite3.Connection:
    """Read-only connection for the server; raises IndexError_ with a next step if unusable."""
    path = Path(path)
    if not path.exists():
        raise IndexError_(f"no index at {path}; run `crossnav index REPO_DIR...` first (or pass --db / set CROSSNAV_DB)")
    _not_a_folder(path)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only=ON")
        version = _check_version(conn, path)
    except sqlite3.DatabaseError as e:
        raise IndexError_(f"{path} is not a readable crossnav index ({e}); re-create it with `crossnav index`") from e
    if version is None:
        raise IndexError_(f"{path} is not a crossnav index; re-create it with `crossnav index`")
    if version < SCHEMA_VERSION:
        raise IndexError_(f"{path} was written by an older crossnav (schema {version}); delete it and run "
                          "`crossnav index` again to rebuild it")
    conn.row_factory = sqlite3.Row
    return conn


_BULK_INDEXES = ("defs_qualname", "defs_name", "defs_file", "refs_target_repo", "refs_file", "refs_attr",
                 "aliases_alias", "aliases_file", "bases_class", "bases_file", "imports_file",
                 "resolved_canonical")


def drop_indexes_for_bulk_load(conn: sqlite3.Connection, defer_fts: bool = True) -> None:
    """Before loading an empty index (nothing to delete yet): drop what is faster to build once at
    the end. `create_indexes` restores them, and every writer open re-creates any that are missing.
    `defer_fts`: the trigram index of file texts is also filled once by `create_indexes` (else the
    caller fills it as it goes: the indexer does, beside its parsers)."""
    for name in _BULK_INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {name}")
    conn.execute("DROP TRIGGER IF EXISTS defs_ai")
    conn.execute("DROP TRIGGER IF EXISTS defs_ad")
    if defer_fts:
        _content.begin_bulk(conn)  # code search: trigram index filled once by create_indexes
    conn.commit()
    # appending to a fresh file: a rollback journal writes each page once, WAL twice (log + checkpoint);
    # still atomic per transaction. Fails harmlessly (stays WAL) if a reader has the file open.
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.OperationalError:
        pass
    conn.execute("PRAGMA cache_size=-524288")
    # the index builds' sorts spill to temporary files: in the OS page cache they cost 30% less CPU
    # than in SQLite's in-memory temp store (all indexes of the 8.8M-line corpus: 14.5 against 20.1 CPU-s)
    conn.execute("PRAGMA temp_store=FILE")


def create_indexes(conn: sqlite3.Connection) -> None:
    """Idempotent: (re)build secondary indexes and the symbol-name FTS table if missing."""
    had_trigger = conn.execute("SELECT 1 FROM sqlite_master WHERE type='trigger' AND name='defs_ai'").fetchone()
    conn.executescript(INDEXES)
    if not had_trigger:
        conn.executescript(TRIGGERS)
        conn.execute("INSERT INTO defs_fts(defs_fts) VALUES ('rebuild')")
    conn.commit()
    _content.build_fts(conn)  # code search: after a first full load (no-op otherwise)
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode=WAL")
