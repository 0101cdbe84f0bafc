"""`crossnav index`: repos on disk -> rows in the shared SQLite index.

Per repo: list source files with their git blob ids, parse only files whose blob changed
(in worker processes, both cores), then replace that repo's changed rows in one transaction,
so a reader never sees half a repo and an interrupted run leaves the previous index intact.
After all repos, the cross-repo tables (`resolved`, `usage`) are rebuilt in one transaction.

Where the time goes and why it is arranged so (docs/performance.md): repos are listed as the
workers need work; workers stage their rows in SQLite files this process copies with
INSERT ... SELECT (staging.py), so it spends its time on the trigram index of file texts, which it
fills repo by repo while the workers parse; after a first full load it builds the secondary indexes
while a thread resolves targets across repos on its own connection.
"""
from __future__ import annotations

import gc
import json
import os
import re
import shutil
import signal
import sqlite3
import threading
import time
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import content, lang, ownership, resolve, staging, store
from .repos import Repo, blob_id, language_and_module, layout, source_files

DEFAULT_MAX_FILE_SIZE = 2 * 1024 * 1024
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


@dataclass
class RepoResult:
    name: str
    files: int = 0            # source files in the repo after this run
    parsed: int = 0           # files (re)parsed this run
    unchanged: int = 0
    removed: int = 0
    defs: int = 0             # found in the files parsed this run
    refs: int = 0
    total_defs: int = 0       # what the index holds for the repo after this run (repo_totals)
    total_refs: int = 0
    lines: int = 0            # lines parsed this run
    skipped: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)   # lines parsed this run, per language
    warnings: list = field(default_factory=list)
    seconds: float = 0.0
    reparsed: bool = False    # every file parsed again: the index was written by other extraction code


_EXTRACTOR = None


def extractor_version() -> str:
    """A digest of what turns a file into rows: the extractors' code and the grammar wheels'
    versions. A repo's rows record it (meta `extractor:<repo id>`); when it differs, as after an
    upgrade of crossnav or a grammar, that repo's unchanged files are parsed again, so fixes reach
    existing indexes without a rebuild."""
    global _EXTRACTOR
    if _EXTRACTOR is None:
        import hashlib
        import sys
        from importlib.metadata import PackageNotFoundError, version
        from pathlib import Path
        from . import python as _python
        h = hashlib.sha1()
        for path in sorted(Path(lang.__file__).parent.rglob("*.py")) + [Path(_python.__file__)]:
            h.update(path.read_bytes())
        lang.languages()   # every grammar module imported
        for mod in sorted(m for m in sys.modules if m.startswith("tree_sitter")):
            try:
                h.update(f"{mod} {version(mod.replace('_', '-'))}".encode())
            except (PackageNotFoundError, ValueError):
                pass
        _EXTRACTOR = h.hexdigest()[:16]
    return _EXTRACTOR


_stage = None   # in a parser process: where its batches' rows go (staging.py)


def _init_worker(stage_dir: str):
    global _stage
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stage = staging.Stage(stage_dir)
    # extraction allocates a tuple per fact and frees them together: the default collector
    # thresholds ran a collection every 700 allocations, 12% of a parser's time, finding nothing
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)


def parse_file(job):
    """Worker: read, check and extract one file. Returns (path, blob, size, lines, facts|None, skip_reason|None)."""
    root, path, language, module, is_pkg, project, blob, max_size = job
    lg = lang.by_name(language)
    full = os.path.join(root, path)
    try:
        size = os.path.getsize(full)
        if size > max_size:
            return path, blob, size, 0, None, f"larger than {max_size // 1024} KiB"
        with open(full, "rb") as f:
            data = f.read()
    except OSError as e:
        return path, blob, 0, 0, None, f"unreadable ({e.strerror or e})"
    blob = blob or blob_id(data)
    if b"\0" in data[:8192]:
        return path, blob, size, 0, None, "binary"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data = _recode(data) if language == "python" else None
        if data is None:
            return path, blob, size, 0, None, ("not UTF-8 and no valid coding declaration" if language == "python" else "not UTF-8")
    why = lang.skip_reason(lg, path, data)
    if why:
        return path, blob, size, 0, None, why
    facts = lg.extract(data, lang.Unit(path, root, module, is_pkg, project))
    facts.ascii = data.isascii()
    facts.content = content.pack(data)   # code search: the text, stored by _write
    return path, blob, size, data.count(b"\n") + 1, facts, None


def _parse_batch(jobs):
    return stage_batch(_stage, jobs)


def stage_batch(stage: staging.Stage, jobs: list) -> tuple[str, dict, list]:
    """Parse a batch of one repo's files and stage their rows. Returns (stage path, rowid ranges,
    [(path, blob, size, lines, (ascii, errors, defs, refs) | None, skip_reason | None)])."""
    out, staged = [], []
    for job in jobs:
        path, blob, size, lines, facts, reason = parse_file(job)
        if facts is None:
            out.append((path, blob, size, lines, None, reason))
            continue
        staged.append((facts, blob, facts.content))
        out.append((path, blob, size, lines, (facts.ascii, facts.errors, len(facts.defs), len(facts.refs)), None))
    path, ranges = stage.write(jobs[0][0], staged)
    return path, ranges, out


def _recode(data: bytes) -> bytes | None:
    """PEP 263: honour a `# -*- coding: x -*-` line, re-encode as UTF-8 for the parser."""
    for line in data.split(b"\n", 2)[:2]:
        m = _CODING.match(line)
        if m:
            try:
                return data.decode(m.group(1).decode("ascii")).encode("utf-8")
            except (LookupError, UnicodeDecodeError):
                return None
    return None


class Indexer:
    def __init__(self, db, max_file_size: int = DEFAULT_MAX_FILE_SIZE, jobs: int | None = None, progress=None,
                 languages: frozenset | None = None):
        self.db = db
        self.languages = languages   # files.language names to index (None: all); other files are removed
        self.conn = db.conn
        self.max_file_size = max_file_size
        self.jobs = min(jobs or os.cpu_count() or 1, staging.MAX_WRITERS)
        self.progress = progress  # callable(event, **info) for the CLI's progress bar
        self._pool = None
        self._stage_dir = None
        self._local_stage = None
        self.stages = staging.Reader(self.conn)
        self.changed = False
        self.phases: Counter = Counter()   # seconds per phase, for `crossnav index -v`
        self.bulk = self.conn.execute("SELECT NOT EXISTS (SELECT 1 FROM files)").fetchone()[0] == 1
        if self.bulk:
            # file texts get their trigram rows repo by repo, beside the parsers, not in the serial tail
            store.drop_indexes_for_bulk_load(self.conn, defer_fts=False)
            self.conn.commit()
            # nothing is deleted in a first load and every file id is this process's own insert:
            # skip a foreign-key look-up per copied row (restore_indexes turns the checks back on)
            self.conn.execute("PRAGMA foreign_keys=OFF")

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        if self._local_stage is not None:
            self._local_stage.close()
            self._local_stage = None
        if self._stage_dir is not None:
            try:
                self.stages.release(everything=True)
            except Exception:
                pass
            shutil.rmtree(self._stage_dir, ignore_errors=True)
            self._stage_dir = None

    WINDOW = 64  # batches of 8 files in flight: workers stay busy, parsed results never pile up in memory
    BATCH = 8

    def _start(self, pool: bool) -> None:
        if self._stage_dir is None:
            self._stage_dir = staging.make_dir()
        if pool and self._pool is None:
            self._pool = ProcessPoolExecutor(self.jobs, initializer=_init_worker, initargs=(self._stage_dir,))
        elif not pool and self._local_stage is None:
            self._local_stage = staging.Stage(self._stage_dir)
    def plan(self, repo: Repo) -> tuple[RepoResult, dict]:
        """Decide which files of a repo must be parsed (changed blob) and which rows go away."""
        res = RepoResult(repo.name)
        conn = self.conn
        row = conn.execute("SELECT id FROM repos WHERE name = ?", (repo.name,)).fetchone()
        repo_id = row[0] if row else None
        old: dict[str, tuple[int, str]] = {}
        if repo_id is not None:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (f"extractor:{repo_id}",)).fetchone()
            same_code = row is not None and row[0] == extractor_version()
            # a stored blob of None counts as changed: every file when other extraction code wrote the
            # rows (an upgrade), and a file now over the size limit (a smaller --max-file-size)
            old = {p: (fid, b if same_code and (size or 0) <= self.max_file_size else None) for fid, p, b, size in
                   conn.execute("SELECT id, path, blob, size FROM files WHERE repo_id = ?", (repo_id,))}
            res.reparsed = not same_code and bool(old)
        current = source_files(repo)
        if self.languages is not None:
            current = {p: b for p, b in current.items() if lang.for_path(p).NAME in self.languages}
        laid_out = False   # manifests are read only for a repo that changed (an unchanged re-run stays cheap)
        todo = []
        for path, blob in sorted(current.items()):
            prev = old.get(path)
            if prev is not None and blob is not None and prev[1] == blob:
                res.unchanged += 1
                continue
            if prev is not None and blob is None and prev[1] is not None:
                # modified in the work tree: hash it to see if it differs from what we stored
                try:
                    with open(repo.root / path, "rb") as f:
                        if blob_id(f.read()) == prev[1]:
                            res.unchanged += 1
                            continue
                except OSError:
                    pass
            if not laid_out:
                layout(repo, current)
                laid_out = True
            lg, module, is_pkg = language_and_module(repo, path)
            todo.append((str(repo.root), path, lg.NAME, module, is_pkg, repo.projects.get(lg.NAME) or {}, blob, self.max_file_size))
        removed = [p for p in old if p not in current]
        if not laid_out and (removed or repo_id is None):
            layout(repo, current)
            laid_out = True
        stale = [old[p][0] for p in removed] + [old[j[1]][0] for j in todo if j[1] in old]
        res.removed = len(removed)
        return res, {"repo": repo, "repo_id": repo_id, "todo": todo, "stale": stale, "laid_out": laid_out}

    def index_repos(self, repos: list[Repo]):
        """Index repos in order, yielding each RepoResult once its transaction has committed.

        Repos are planned (files listed, changed ones picked) as the worker pool needs more work,
        so parsing starts after the first repo is listed, and workers parse the next repos while
        this process writes the previous one."""
        repos = iter(repos)
        planned: deque = deque()     # (res, plan) not written yet
        pending: deque = deque()     # batches (of one repo's files each) not submitted yet
        inflight: deque = deque()    # submitted batches, in order
        files = 0

        def plan_next() -> bool:
            nonlocal files
            repo = next(repos, None)
            if repo is None:
                return False
            t0 = time.perf_counter()
            res, plan = self.plan(repo)
            res.seconds = time.perf_counter() - t0
            self.phases["list files"] += res.seconds
            todo = plan["todo"]
            plan["batches"] = (len(todo) + self.BATCH - 1) // self.BATCH
            pending.extend(todo[i:i + self.BATCH] for i in range(0, len(todo), self.BATCH))
            files += len(todo)
            planned.append((res, plan))
            return True

        # few files (an unchanged re-run, one small repo) are parsed here, without starting processes
        while files < 64 and plan_next():
            pass
        pool = self.jobs > 1 and files >= 64

        def result():
            self._start(pool)
            if not pool:
                return stage_batch(self._local_stage, pending.popleft())
            while len(inflight) < self.WINDOW:
                if pending:
                    inflight.append(self._pool.submit(_parse_batch, pending.popleft()))
                elif not plan_next():
                    break
            return inflight.popleft().result()

        while planned or plan_next():
            res, plan = planned.popleft()
            t0 = time.perf_counter()
            listing = self.phases["list files"]
            if self.progress:
                self.progress("repo", name=res.name, total=len(plan["todo"]))
            parsed = []
            for _ in range(plan["batches"]):
                batch = result()
                self.stages.see(batch[0])
                parsed.append(batch)
                if self.progress:
                    for _ in batch[2]:
                        self.progress("file", name=res.name)
            t1 = time.perf_counter()
            self.phases["wait for parsers"] += t1 - t0 - (self.phases["list files"] - listing)
            self._write(res, plan, parsed)
            self.phases["write"] += time.perf_counter() - t1
            res.seconds += time.perf_counter() - t0
            yield res

    def index_repo(self, repo: Repo) -> RepoResult:
        return next(iter(self.index_repos([repo])))

    def _write(self, res: RepoResult, plan: dict, batches: list) -> None:
        """Replace one repo's changed rows in a single transaction."""
        repo, repo_id, stale_ids = plan["repo"], plan["repo_id"], plan["stale"]
        conn = self.conn
        own = ownership.read_ownership(repo.root, _web(repo), repo.head or repo.branch)
        res.warnings.extend(own.get("warnings", []))
        self.stages.attach(b[0] for b in batches)
        fts = not content.fts_pending(conn)
        with self.db.atomic():
            if repo_id is None:
                cur = conn.execute("INSERT INTO repos(name, root) VALUES (?, ?)", (repo.name, str(repo.root)))
                repo_id = cur.lastrowid
            held = self._held(repo_id)
            for i in range(0, len(stale_ids), 500):
                chunk = stale_ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                if not self.bulk:   # what the repo held less the rows of the files replaced or removed
                    held = [h - n for h, n in zip(held, self._rows(marks, chunk))]
                conn.execute(f"DELETE FROM files WHERE id IN ({marks})", chunk)
            conn.execute("DELETE FROM skipped WHERE repo_id = ?", (repo_id,))
            texts_from = conn.execute("SELECT coalesce(max(id), 0) FROM content").fetchone()[0]
            for stage_path, ranges, results in batches:
                fids = []
                for path, blob, size, lines, facts, reason in results:
                    if reason is not None:
                        res.skipped[reason] += 1
                        conn.execute("INSERT INTO skipped(repo_id, path, reason) VALUES (?, ?, ?)", (repo_id, path, reason))
                        continue
                    ascii_, errors, ndefs, nrefs = facts
                    lg, module, _ = language_and_module(repo, path)
                    cur = conn.execute(
                        "INSERT INTO files(repo_id, path, language, module, size, blob, lines, ascii, errors) VALUES (?,?,?,?,?,?,?,?,?)",
                        (repo_id, path, lg.NAME, module, size, blob, lines, ascii_, errors))
                    fids.append(cur.lastrowid)
                    res.parsed += 1
                    res.lines += lines
                    res.languages[lg.NAME] += lines
                    res.defs += ndefs
                    res.refs += nrefs
                    if errors:
                        res.warnings.append(f"{path}: {errors} syntax error(s); indexed what parsed")
                if fids:
                    self.stages.copy(stage_path, ranges, fids, repo_id)
                    self.stages.copy_content(stage_path, ranges)   # code search (content.py)
            if fts:   # trigram rows for the texts this repo added (a first full load fills them at the end)
                conn.execute("INSERT INTO content_fts(rowid, text) SELECT id, text FROM content WHERE id > ? ORDER BY id",
                             (texts_from,))
            laid_out = plan.get("laid_out", True)
            if laid_out:   # else nothing changed: the stored packages and dist stand
                conn.execute("DELETE FROM packages WHERE repo_id = ?", (repo_id,))
                conn.executemany("INSERT OR IGNORE INTO packages(repo_id, package, import_root, source) VALUES (?,?,?,?)",
                                 [(repo_id, p, r, s) for p, r, s in repo.packages])
            if res.parsed or stale_ids:
                # cleared by finish(): a run interrupted before it leaves the flag for the next run.
                # Files skipped again (too large, minified, not UTF-8) are re-read every run (the index
                # keeps no blob for them) but change nothing the derived tables are built from.
                conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('derived_stale', '1')")
            res.total_defs, res.total_refs = held[0] + res.defs, held[1] + res.refs
            conn.execute("INSERT OR REPLACE INTO repo_totals(repo_id, defs, refs) VALUES (?, ?, ?)",
                         (repo_id, res.total_defs, res.total_refs))
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (f"extractor:{repo_id}", extractor_version()))
            totals = conn.execute("SELECT count(*), coalesce(sum(lines), 0) FROM files WHERE repo_id = ?", (repo_id,)).fetchone()
            conn.execute(
                "UPDATE repos SET root=?, remote=?, web_url=?, head=?, branch=?, dist=CASE WHEN ? THEN ? ELSE dist END,"
                " indexed_at=?, ownership=?, files=?, lines=? WHERE id=?",
                (str(repo.root), repo.remote, _web(repo), repo.head, repo.branch, laid_out, repo.dist,
                 datetime.now(timezone.utc).isoformat(timespec="seconds"), json.dumps(own), totals[0], totals[1], repo_id))
        res.files = totals[0]
        if res.parsed or stale_ids:
            self.changed = True

    def _held(self, repo_id: int | None) -> list[int]:
        """[definitions, references] the index holds for the repo before this run (repo_totals)."""
        if repo_id is None or self.bulk:   # a first load: nothing is held yet (and there are no indexes)
            return [0, 0]
        row = self.conn.execute("SELECT defs, refs FROM repo_totals WHERE repo_id = ?", (repo_id,)).fetchone()
        # an index written before crossnav kept totals: count the repo once
        return list(row) if row else self._rows("SELECT id FROM files WHERE repo_id = ?", (repo_id,))

    def _rows(self, file_ids: str, params) -> list[int]:
        """[definitions, references] of the files `file_ids` (SQL) selects, through the per-file indexes."""
        return [self.conn.execute(f"SELECT count(*) FROM {t} WHERE file_id IN ({file_ids})", params).fetchone()[0]
                for t in ("defs", "refs")]

    def restore_indexes(self):
        if self.bulk:
            t0 = time.perf_counter()
            store.create_indexes(self.conn)
            if not content.fts_pending(self.conn):   # filled repo by repo: merge its segments into one
                with self.conn:
                    self.conn.execute("INSERT INTO content_fts(content_fts) VALUES ('optimize')")
            self.bulk = False
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.phases["build indexes"] += time.perf_counter() - t0

    def finish(self, force: bool = False) -> tuple[int, int]:
        """Rebuild the cross-repo tables if anything changed this run."""
        stale = self.conn.execute("SELECT 1 FROM meta WHERE key = 'derived_stale'").fetchone()
        needed = self.changed or force or stale
        derived = None
        if self.bulk and needed and self.jobs > 1:
            derived = self._restore_beside_derive()
        else:
            self.restore_indexes()
        with self.db.atomic():   # code search: texts of files indexed before content was stored
            content.backfill(self.conn)
        if not needed:
            return 0, 0
        t0 = time.perf_counter()
        with self.db.atomic():
            if derived is None:
                derived = resolve.derive(self.conn)
            counts = resolve.store_derived(self.conn, derived)
            content.delete_orphans(self.conn)   # code search: texts no file has any more
            self.conn.execute("DELETE FROM meta WHERE key = 'derived_stale'")
        self.phases["resolve across repos"] += time.perf_counter() - t0
        return counts

    def _restore_beside_derive(self) -> tuple[list, list]:
        """After a first full load: build the secondary indexes on this connection while a thread
        computes the cross-repo rows on its own read connection. Both are mostly SQLite and the
        resolver's Python, and SQLite releases the GIL, so the tail uses both cores."""
        self.conn.commit()
        self.conn.execute("PRAGMA journal_mode=WAL")   # the reader beside the index builder
        path = self.conn.execute("PRAGMA database_list").fetchone()[2]
        out = {}

        def work():
            try:
                rc = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                try:
                    # its sorts (DISTINCT targets, uses per target and repo) spill to temp files: the
                    # index builder beside it already holds a 512 MiB page cache
                    rc.execute("PRAGMA cache_size=-65536")
                    out["rows"] = resolve.derive(rc)
                finally:
                    rc.close()
            except BaseException as e:   # re-raised in the indexing thread
                out["error"] = e

        t0 = time.perf_counter()
        thread = threading.Thread(target=work, name="crossnav-derive", daemon=True)
        thread.start()
        try:
            self.restore_indexes()
        finally:
            thread.join()
        self.phases["resolve across repos"] += time.perf_counter() - t0 - self.phases["build indexes"]
        if "error" in out:
            raise out["error"]
        return out["rows"]


def _web(repo: Repo) -> str | None:
    return ownership.web_url_from_remote(repo.remote)
