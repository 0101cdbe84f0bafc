"""`crossnav merge`: shards (indexes built separately, typically one repo each in that repo's CI by
`crossnav index --shard OUT.db REPO`) -> one org index.

A shard is an ordinary crossnav index, so it is validated like any index (same schema version, a
readable SQLite file) before anything is written. Then each selected repo is copied in ONE transaction
of the org index (WAL: readers see the old repo or the new one, never half): its old rows are deleted
(files cascade to defs/refs/aliases/bases/imports), the repo row is updated in place (its id is kept)
or added, files get new ids (a temp table maps shard ids to org ids), the per-file tables are copied
re-keyed, and file texts the org does not hold yet are added with their trigram rows. Everything is
INSERT ... SELECT from the ATTACHed shard: no Python per row. After all shards, the cross-repo tables
(`resolved`, `usage`) are rebuilt once, exactly as the indexer does, so a merged index answers the same
as a single build of the same repos.

A shard whose repo is older than the org's copy (`repos.indexed_at`) is skipped, as is one identical to
it (same commit and time), unless `force`.
"""
from __future__ import annotations

import fnmatch
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import content, resolve, store


class MergeError(Exception):
    """A problem with a shard or the org index the user can act on; one line, says what to do."""


def selected(name: str, include=(), exclude=()) -> bool:
    """Repo-name filter shared by `index` and `merge`: any --include GLOB must match (if given),
    no --exclude GLOB may match. Globs are fnmatch patterns, case-sensitive (`payments-*`, `*-legacy`)."""
    if include and not any(fnmatch.fnmatchcase(name, g) for g in include):
        return False
    return not any(fnmatch.fnmatchcase(name, g) for g in exclude)


@dataclass
class ShardRepo:
    shard: Path
    repo_id: int           # id inside the shard
    name: str
    head: str | None
    indexed_at: str | None
    files: int


@dataclass
class MergeResult:
    name: str
    shard: Path
    action: str            # added | replaced | older | unchanged | superseded | excluded
    head: str | None = None
    indexed_at: str | None = None
    note: str = ""
    files: int = 0
    defs: int = 0
    refs: int = 0
    texts: int = 0         # file texts new to the org index
    seconds: float = 0.0

    @property
    def merged(self) -> bool:
        return self.action in ("added", "replaced")


@dataclass
class Plan:
    todo: list = field(default_factory=list)       # [(ShardRepo, org repo id | None)]
    skipped: list = field(default_factory=list)    # [MergeResult]


def read_shard(path: Path) -> list[ShardRepo]:
    """Validate one shard (exists, a crossnav index of this schema version, not corrupt) and list its repos."""
    rebuild = "rebuild it with `crossnav index --shard OUT.db REPO_DIR`"
    if not path.is_file():
        raise MergeError(f"no shard at {path}; {rebuild}")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
    except sqlite3.Error as e:
        raise MergeError(f"cannot open shard {path} ({e})") from e
    try:
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            row = None      # no meta table: some other SQLite file
        if row is None:
            raise MergeError(f"shard {path} is not a crossnav index; {rebuild}")
        version = int(row[0])
        if version > store.SCHEMA_VERSION:
            raise MergeError(f"shard {path} was written by a newer crossnav (schema {version}, this one reads "
                             f"{store.SCHEMA_VERSION}); upgrade crossnav (pip install -U crossnav) to merge it")
        if version < store.SCHEMA_VERSION:
            raise MergeError(f"shard {path} was written by an older crossnav (schema {version}); {rebuild} "
                             "using this crossnav")
        check = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if check != "ok":
            raise MergeError(f"shard {path} is corrupt ({check}); {rebuild}")
        rows = conn.execute("SELECT id, name, head, indexed_at, files FROM repos ORDER BY id").fetchall()
    except (sqlite3.DatabaseError, ValueError) as e:
        raise MergeError(f"shard {path} is not a readable crossnav index ({e}); {rebuild}") from e
    finally:
        conn.close()
    if not rows:
        raise MergeError(f"shard {path} holds no repositories; {rebuild}")
    return [ShardRepo(path, r["id"], r["name"], r["head"], r["indexed_at"], r["files"] or 0) for r in rows]


def read_shards(shards: list[Path], org_path: Path) -> list[ShardRepo]:
    """Validate every shard before anything is written: one unusable shard stops the merge."""
    out: list[ShardRepo] = []
    for path in shards:
        path = Path(path).expanduser()
        if _same_file(path, Path(org_path)):
            raise MergeError(f"{path} is the org index itself; pass shards built with `crossnav index --shard`")
        out.extend(read_shard(path))
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


class Merger:
    """Merges shards into an open org index (a sqlite_utils Database from store.open_writer)."""

    def __init__(self, db, db_path: Path, progress=None):
        self.db = db
        self.conn = db.conn
        self.db_path = Path(db_path)
        self.progress = progress        # callable(event, name) for the CLI
        self.changed = False
        self.bulk = False
        self.phases: dict[str, float] = {}

    # ------------------------------------------------------------------ planning

    def plan(self, candidates: list[ShardRepo], include=(), exclude=(), force: bool = False) -> Plan:
        """Choose what to merge from validated shards (`read_shards`): filtered by name, the newest
        shard per repo, and only repos newer than the org's copy (unless force)."""
        plan = Plan()
        newest: dict[str, ShardRepo] = {}
        for c in candidates:
            if not selected(c.name, include, exclude):
                plan.skipped.append(MergeResult(c.name, c.shard, "excluded", c.head, c.indexed_at,
                                                "excluded by --include/--exclude"))
                continue
            prev = newest.get(c.name)
            if prev is None or (c.indexed_at or "") >= (prev.indexed_at or ""):   # ties: the later argument
                if prev is not None:
                    plan.skipped.append(MergeResult(prev.name, prev.shard, "superseded", prev.head, prev.indexed_at,
                                                    "a newer shard of the same repo is in this merge"))
                newest[c.name] = c
            else:
                plan.skipped.append(MergeResult(c.name, c.shard, "superseded", c.head, c.indexed_at,
                                                "a newer shard of the same repo is in this merge"))
        for c in newest.values():
            row = self.conn.execute("SELECT id, head, indexed_at FROM repos WHERE name = ?", (c.name,)).fetchone()
            if row is not None and not force:
                org_head, org_at = row[1], row[2] or ""
                if (c.indexed_at or "") < org_at:
                    plan.skipped.append(MergeResult(c.name, c.shard, "older", c.head, c.indexed_at,
                                                    f"older than the index's copy (indexed {org_at}, commit "
                                                    f"{(org_head or '-')[:10]}); --force merges it anyway"))
                    continue
                if (c.indexed_at or "") == org_at and c.head == org_head:
                    plan.skipped.append(MergeResult(c.name, c.shard, "unchanged", c.head, c.indexed_at,
                                                    "already in the index"))
                    continue
            plan.todo.append((c, row[0] if row is not None else None))
        return plan

    # ------------------------------------------------------------------ merging

    def merge(self, plan: Plan):
        """Merge the planned repos, yielding each MergeResult once its transaction has committed."""
        conn = self.conn
        if plan.todo and conn.execute("SELECT NOT EXISTS (SELECT 1 FROM files)").fetchone()[0] == 1:
            # an empty org index: indexes and trigram rows are built once at the end (like a first index run)
            self.bulk = True
            store.drop_indexes_for_bulk_load(conn)
            conn.commit()
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS merge_fmap (old INTEGER PRIMARY KEY, new INTEGER NOT NULL)")
        conn.commit()
        attached = None
        try:
            for c, org_id in plan.todo:
                if attached != c.shard:
                    if attached is not None:
                        conn.execute("DETACH DATABASE s")
                    conn.execute("ATTACH DATABASE ? AS s", (c.shard.resolve().as_uri() + "?mode=ro",))
                    attached = c.shard
                if self.progress:
                    self.progress("repo", c.name)
                t0 = time.perf_counter()
                res = self._merge_repo(c, org_id)
                res.seconds = time.perf_counter() - t0
                self.changed = True
                yield res
        finally:
            if conn.in_transaction:
                conn.rollback()
            if attached is not None:
                conn.execute("DETACH DATABASE s")

    def _cols(self, table: str, drop=()) -> list[str]:
        return [r[1] for r in self.conn.execute(f"PRAGMA main.table_info({table})") if r[1] not in drop]

    def _merge_repo(self, c: ShardRepo, org_id: int | None) -> MergeResult:
        conn = self.conn
        res = MergeResult(c.name, c.shard, "replaced" if org_id is not None else "added", c.head, c.indexed_at)
        repo_cols = self._cols("repos", drop=("id", "name"))
        file_cols = self._cols("files", drop=("id", "repo_id"))
        with self.db.atomic():
            if org_id is None:
                cur = conn.execute(f"INSERT INTO main.repos(name, {', '.join(repo_cols)}) "
                                   f"SELECT name, {', '.join(repo_cols)} FROM s.repos WHERE id = ?", (c.repo_id,))
                rid = cur.lastrowid
            else:
                rid = org_id
                conn.execute("DELETE FROM main.files WHERE repo_id = ?", (rid,))   # cascades to per-file tables
                conn.execute("DELETE FROM main.packages WHERE repo_id = ?", (rid,))
                conn.execute("DELETE FROM main.skipped WHERE repo_id = ?", (rid,))
                conn.execute(f"UPDATE main.repos SET ({', '.join(repo_cols)}) = "
                             f"(SELECT {', '.join(repo_cols)} FROM s.repos WHERE id = ?) WHERE id = ?", (c.repo_id, rid))
            # files, in shard order, then the shard id -> org id map
            conn.execute(f"INSERT INTO main.files(repo_id, {', '.join(file_cols)}) "
                         f"SELECT ?, {', '.join(file_cols)} FROM s.files WHERE repo_id = ? ORDER BY id", (rid, c.repo_id))
            conn.execute("DELETE FROM temp.merge_fmap")
            cur = conn.execute("""INSERT INTO temp.merge_fmap(old, new)
                                  SELECT sf.id, f.id FROM s.files sf JOIN main.files f ON f.repo_id = ? AND f.path = sf.path
                                  WHERE sf.repo_id = ?""", (rid, c.repo_id))
            res.files = cur.rowcount
            # per-file tables, re-keyed; rowid order kept (ties in the server's ranking follow it)
            for table in ("defs", "refs", "aliases", "bases", "imports"):
                cols = self._cols(table, drop=("id", "file_id", "repo_id"))
                has_repo = "repo_id" in self._cols(table)
                target = ["file_id"] + (["repo_id"] if has_repo else []) + cols
                source = ["m.new"] + (["?"] if has_repo else []) + [f"t.{x}" for x in cols]
                cur = conn.execute(
                    f"INSERT INTO main.{table}({', '.join(target)}) SELECT {', '.join(source)} "
                    f"FROM s.{table} t JOIN temp.merge_fmap m ON m.old = t.file_id ORDER BY t.rowid",
                    (rid,) if has_repo else ())
                if table == "defs":
                    res.defs = cur.rowcount
                elif table == "refs":
                    res.refs = cur.rowcount
            conn.execute("INSERT OR REPLACE INTO main.repo_totals(repo_id, defs, refs) VALUES (?, ?, ?)",
                         (rid, res.defs, res.refs))
            # which extraction code wrote the rows (indexer.extractor_version) travels with them
            conn.execute("DELETE FROM main.meta WHERE key = ?", (f"extractor:{rid}",))
            conn.execute("INSERT INTO main.meta(key, value) SELECT ?, value FROM s.meta WHERE key = ?",
                         (f"extractor:{rid}", f"extractor:{c.repo_id}"))
            for table in ("packages", "skipped"):
                cols = self._cols(table, drop=("repo_id",))
                conn.execute(f"INSERT OR IGNORE INTO main.{table}(repo_id, {', '.join(cols)}) "
                             f"SELECT ?, {', '.join(cols)} FROM s.{table} WHERE repo_id = ? ORDER BY rowid", (rid, c.repo_id))
            # file texts the org index does not hold yet (one row per blob across all repos) + trigram rows
            start = conn.execute("SELECT coalesce(max(id), 0) FROM main.content").fetchone()[0]
            cur = conn.execute("""INSERT OR IGNORE INTO main.content(blob, text)
                                  SELECT c.blob, c.text FROM s.content c
                                  WHERE c.blob IN (SELECT blob FROM s.files WHERE repo_id = ? AND blob IS NOT NULL)
                                  ORDER BY c.id""", (c.repo_id,))
            res.texts = cur.rowcount
            if res.texts and not content.fts_pending(conn):
                conn.execute("INSERT INTO main.content_fts(rowid, text) "
                             "SELECT id, CAST(text AS TEXT) FROM main.content WHERE id > ?", (start,))
            conn.execute("INSERT OR IGNORE INTO main.meta(key, value) "
                         "SELECT key, value FROM s.meta WHERE key = 'max_file_size_kib'")
            # cleared by finish(): an interrupted merge leaves the flag for the next run
            conn.execute("INSERT OR REPLACE INTO main.meta(key, value) VALUES ('derived_stale', '1')")
        return res

    # ------------------------------------------------------------------ the end

    def restore_indexes(self):
        if self.bulk:
            t0 = time.perf_counter()
            store.create_indexes(self.conn)
            self.bulk = False
            self.phases["build indexes"] = self.phases.get("build indexes", 0) + time.perf_counter() - t0

    def finish(self) -> tuple[int, int]:
        """Rebuild the cross-repo tables once, if anything was merged (or an earlier run left them stale)."""
        self.restore_indexes()
        stale = self.conn.execute("SELECT 1 FROM meta WHERE key = 'derived_stale'").fetchone()
        if not (self.changed or stale):
            return 0, 0
        t0 = time.perf_counter()
        with self.db.atomic():
            counts = resolve.rebuild_derived(self.conn)
            content.delete_orphans(self.conn)
            self.conn.execute("DELETE FROM meta WHERE key = 'derived_stale'")
        self.phases["resolve across repos"] = time.perf_counter() - t0
        return counts
