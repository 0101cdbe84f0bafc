"""File contents for code search: the UTF-8 text per git blob, and a trigram index over it.

    content      one row per distinct blob (identical files across repos are stored once); the text
                 is stored as UTF-8 bytes, uncompressed: verifying candidates is the cost of a search, and
                 zlib decompression measured at 250 MB/s was 3/4 of it (docs/performance.md, "Search")
    content_fts  FTS5, tokenize='trigram', contentless (content=''), detail='none': for each trigram
                 only the list of content rows holding it, which is all that candidate selection
                 needs; exact matches are then found by reading the candidates.

The indexer's workers prepare the text (`pack`) and stage it (staging.py); the indexer copies it and adds
the trigram rows of new texts inside the repo transaction (a first full load merges the segments at the
end). A merge into an empty index fills the trigram index once at the end (`build_fts`); orphaned rows
(no file has the blob any more) are removed by `delete_orphans` during the derived rebuild.
"""
from __future__ import annotations

import os
import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS content (
    id INTEGER PRIMARY KEY,
    blob TEXT NOT NULL UNIQUE,
    text BLOB NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS content_fts USING fts5(
    text, content='', tokenize='trigram', detail='none'
);
CREATE INDEX IF NOT EXISTS files_blob ON files(blob);
"""

def pack(data: bytes) -> bytes:
    """UTF-8 bytes -> the stored form (the bytes themselves, see the module doc)."""
    return bytes(data)


def unpack(stored: bytes) -> str:
    return bytes(stored).decode("utf-8", "surrogateescape")


def content_rows(blob: str, data: bytes) -> tuple[str, bytes]:
    """(blob, stored text): what `insert` stores for one file's UTF-8 bytes."""
    return blob, pack(data)


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def insert(conn: sqlite3.Connection, blob: str, packed: bytes, *, fts: bool = True) -> None:
    """Store one blob's text once; index its trigrams unless the caller fills the index later."""
    cur = conn.execute("INSERT OR IGNORE INTO content(blob, text) VALUES (?, ?)", (blob, packed))
    if cur.rowcount == 1 and fts:
        conn.execute("INSERT INTO content_fts(rowid, text) VALUES (?, ?)", (cur.lastrowid, unpack(packed)))


def fts_pending(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT value FROM meta WHERE key = 'content_fts_from'").fetchone()
    return row is not None


def begin_bulk(conn: sqlite3.Connection) -> None:
    """First full load: rows from here on are indexed by `build_fts` at the end (one pass, fewer merges)."""
    start = conn.execute("SELECT coalesce(max(id), 0) FROM content").fetchone()[0]
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('content_fts_from', ?)", (str(start),))


def build_fts(conn: sqlite3.Connection) -> int:
    """Index every content row added since `begin_bulk` (also after an interrupted load). Idempotent."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'content_fts_from'").fetchone()
    if row is None:
        return 0
    start = int(row[0])
    with conn:
        # the stored UTF-8 bytes go to the tokenizer as they are (the same text `insert` gives it)
        n = conn.execute("INSERT INTO content_fts(rowid, text) SELECT id, text FROM content WHERE id > ? ORDER BY id",
                         (start,)).rowcount
        conn.execute("INSERT INTO content_fts(content_fts) VALUES ('optimize')")
        conn.execute("DELETE FROM meta WHERE key = 'content_fts_from'")
    return n


def delete_orphans(conn: sqlite3.Connection) -> int:
    """Remove content no file points at any more (caller owns the transaction)."""
    rows = conn.execute("""SELECT c.id, c.text FROM content c
                           WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.blob = c.blob)""").fetchall()
    pending_from = None
    row = conn.execute("SELECT value FROM meta WHERE key = 'content_fts_from'").fetchone()
    if row is not None:
        pending_from = int(row[0])
    for cid, packed in rows:
        if pending_from is None or cid <= pending_from:
            conn.execute("INSERT INTO content_fts(content_fts, rowid, text) VALUES ('delete', ?, ?)", (cid, unpack(packed)))
        conn.execute("DELETE FROM content WHERE id = ?", (cid,))
    return len(rows)


def backfill(conn: sqlite3.Connection) -> int:
    """Files indexed before content search existed (or whose content is missing): read them from disk
    when their blob still matches, so search covers every indexed file. Caller commits."""
    from .indexer import _recode
    from .repos import blob_id
    missing = conn.execute("""SELECT f.blob, r.root, f.path FROM files f JOIN repos r ON r.id = f.repo_id
                              WHERE f.blob IS NOT NULL
                              AND NOT EXISTS (SELECT 1 FROM content c WHERE c.blob = f.blob)""").fetchall()
    n = 0
    for blob, root, path in missing:
        try:
            with open(os.path.join(root, path), "rb") as f:
                data = f.read()
        except OSError:
            continue
        if blob_id(data) != blob:
            continue
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            data = _recode(data)
            if data is None:
                continue
        insert(conn, blob, pack(data), fts=not fts_pending(conn))
        n += 1
    return n
