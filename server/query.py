"""Read side of the shared index: every SQL the language server runs lives here.

Connections are read-only and per thread (sqlite3 objects are not shareable); each call checks
`PRAGMA data_version`, so answers follow the indexer's commits without a restart.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from crossnav.index import content
from crossnav.index.lang import STRONG
from crossnav.index.resolve import SqlResolver
from crossnav.index.store import default_cache_dir, open_reader

_STRONG_SQL = ",".join(f"'{k}'" for k in sorted(STRONG))
# A definition whose full range is exactly its name is a declaration without a body (a C prototype,
# an in-class C++ method declaration): the definitions with a body of that qualname come first.
_DECLARATION_LAST = "(d.line = d.name_line AND d.col = d.name_col AND d.end_line = d.name_line AND d.end_col = d.name_end_col)"
# A definition in a repo's tests or examples (zstd's examples/roundtrip.c stub of ZSTD_isError, zlib's
# test/minigzip.c typedef of gzFile) gives way to the library's own of the same qualified name.
AUX_DIRS = ("test", "tests", "testing", "example", "examples", "demo", "demos", "sample", "samples", "benchmarks")
_AUXILIARY = "(" + " OR ".join(f"('/' || f.path) GLOB '*/{d}/*'" for d in AUX_DIRS) + ")"

MEMBER_KINDS = {"method", "attribute", "property", "field"}


@dataclass(frozen=True)
class RepoRow:
    id: int
    name: str
    root: str
    remote: str | None
    web_url: str | None
    head: str | None
    branch: str | None
    indexed_at: str | None
    ownership: dict


@dataclass(frozen=True)
class Loc:
    """A place in an indexed file; columns are code points (converted at the LSP boundary)."""
    repo: str
    root: str
    path: str
    line: int
    col: int
    end_line: int
    end_col: int
    ascii: bool = False      # the file is pure ASCII: columns need no conversion, no file read

    @property
    def abspath(self) -> str:
        return os.path.join(self.root, self.path)


def _within(path: Path, folder: Path) -> bool:
    """`path` names something inside `folder` once `..` and absolute parts are applied."""
    folder = os.path.normpath(os.path.abspath(folder))
    return os.path.normpath(os.path.abspath(path)).startswith(folder + os.sep)


def _norm_remote(remote: str | None) -> str | None:
    """`git@github.com:acme/x.git` and `https://github.com/acme/x` name the same repo."""
    if not remote:
        return None
    r = remote.strip().lower().removesuffix(".git").rstrip("/")
    r = r.split("://", 1)[-1].split("@", 1)[-1]
    return r.replace(":", "/", 1) if "/" in r else r


def _git_remote(path: str) -> str | None:
    """origin's URL from .git/config without running git (called for every clone under the roots)."""
    try:
        text = open(os.path.join(path, ".git", "config"), encoding="utf-8", errors="replace").read()
    except OSError:
        return None
    section = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == '[remote "origin"]' and line.replace(" ", "").startswith("url="):
            return line.split("=", 1)[1].strip()
    return None


class Index:
    def __init__(self, path: Path, files_dir: Path | None = None, clone_roots: list[str] | None = None):
        self.path = Path(path)
        # folders holding this machine's clones; an index built elsewhere (CI, a synced file) names
        # other paths, so repos are found here by folder name or git remote
        env = [p for p in os.environ.get("CROSSNAV_CLONE_ROOTS", "").split(os.pathsep) if p]
        self.clone_roots = [os.path.expanduser(p) for p in (clone_roots or []) + env]
        # where files of repos not cloned on this machine are written, read-only, from the index
        self.files_dir = Path(files_dir) if files_dir else default_cache_dir() / "files"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._version = None
        open_reader(self.path).close()  # fail early with a message the user can act on

    # ---- connection and freshness -------------------------------------------------------
    def _file_id(self):
        try:
            st = os.stat(self.path)
            return st.st_dev, st.st_ino
        except OSError:
            return None

    def _conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        ident = self._file_id()
        if c is not None and ident != self._local.ident and ident is not None:
            # the file was replaced (a synced index moved into place): reopen on the new file
            c.close()
            c = None
            with self._lock:
                self._repos.cache_clear()
                self.file_row.cache_clear()
        if c is None:
            self._local.ident = ident
            c = self._local.conn = open_reader(self.path)
            self._local.resolver = SqlResolver(c)
            self._local.version = None
        v = c.execute("PRAGMA data_version").fetchone()[0]
        if self._local.version is not None and v != self._local.version:
            self._local.resolver.clear()
            with self._lock:
                self._repos.cache_clear()
                self.file_row.cache_clear()
        self._local.version = v
        return c

    def q(self, sql: str, args=()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, args).fetchall()

    @property
    def resolver(self) -> SqlResolver:
        self._conn()
        return self._local.resolver

    # ---- repos and files ---------------------------------------------------------------
    @lru_cache(maxsize=1)
    def _repos(self) -> tuple[RepoRow, ...]:
        rows = self.q("SELECT id, name, root, remote, web_url, head, branch, indexed_at, ownership FROM repos")
        local = self._local_clones() if any(not os.path.isdir(r["root"]) for r in rows) else {}
        out = []
        for r in rows:
            root = r["root"]
            if not os.path.isdir(root):
                root = local.get(("remote", _norm_remote(r["remote"]))) or self._clone_named(r["name"]) or root
            out.append(RepoRow(r["id"], r["name"], root, r["remote"], r["web_url"], r["head"], r["branch"],
                               r["indexed_at"], json.loads(r["ownership"] or "{}")))
        return tuple(out)

    def _clone_named(self, name: str) -> str | None:
        """The clone at CLONE_ROOT/<repo name> (`common`, or `teamA/common` for a name with parents)."""
        for base in self.clone_roots:
            path = os.path.join(base, name)
            if _within(Path(path), Path(base)) and os.path.exists(os.path.join(path, ".git")):
                return path
        return None

    def _local_clones(self) -> dict:
        """Git work trees directly under the clone roots, keyed by remote."""
        found: dict = {}
        for base in self.clone_roots:
            try:
                entries = sorted(os.scandir(base), key=lambda e: e.name)
            except OSError:
                continue
            for e in entries:
                if not (e.is_dir() and os.path.exists(os.path.join(e.path, ".git"))):
                    continue
                remote = _git_remote(e.path)
                if remote:
                    found.setdefault(("remote", _norm_remote(remote)), e.path)
        return found

    def repos(self) -> tuple[RepoRow, ...]:
        self._conn()
        return self._repos()

    def repo_by_name(self, name: str) -> RepoRow | None:
        return next((r for r in self.repos() if r.name == name), None)

    def repo_for_path(self, path: str) -> tuple[RepoRow, str] | None:
        """The indexed repo holding this absolute path (deepest root wins), and the repo-relative path;
        also for copies materialised from the index (`files_dir/<repo>/<commit>/<path>`)."""
        files_root = str(self.files_dir).rstrip("/") + "/"
        if path.startswith(files_root):
            tail = path[len(files_root):]   # <repo>/<commit>/<path>; a repo's name may hold '/' (teamA/common)
            repo = max((r for r in self.repos() if tail.startswith(r.name + "/")), key=lambda r: len(r.name), default=None)
            rel = tail[len(repo.name) + 1:].partition("/")[2] if repo is not None else ""
            return (repo, rel) if rel else None
        best = None
        real = os.path.realpath(path)
        for r in self.repos():
            root = r.root.rstrip("/") + "/"
            for p in (path, real):
                if p.startswith(root) and (best is None or len(r.root) > len(best[0].root)):
                    best = (r, p[len(root):])
        return best

    def local_path(self, loc: Loc) -> str:
        """A path the editor can open for a location: the clone when it is on this machine, else a
        read-only copy of the indexed text under files_dir/<repo>/<commit>/ (written once)."""
        path = loc.abspath
        if os.path.exists(path):
            return path
        repo = self.repo_by_name(loc.repo)
        if repo is None:
            return path
        if repo.root != loc.root and os.path.exists(os.path.join(repo.root, loc.path)):
            return os.path.join(repo.root, loc.path)   # this machine's clone, found under the clone roots
        target = self.files_dir / repo.name / (repo.head or "HEAD")[:12] / loc.path
        if not _within(target, self.files_dir):   # a crafted index ('../' in a name or path) writes nowhere else
            return path
        if target.exists():
            return str(target)
        try:
            rows = self.q("""SELECT c.text FROM files f JOIN content c ON c.blob = f.blob
                             WHERE f.repo_id = ? AND f.path = ?""", (repo.id, loc.path))
        except sqlite3.OperationalError:  # an index written before file texts were stored
            rows = []
        if not rows:
            return path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(content.unpack(rows[0][0]), encoding="utf-8", errors="surrogateescape")
        tmp.chmod(0o444)
        os.replace(tmp, target)
        return str(target)

    def indexed_text(self, blob: str) -> str | None:
        """The text of a file as it was indexed (code search stores it once per blob), or None."""
        try:
            rows = self.q("SELECT text FROM content WHERE blob = ?", (blob,))
        except sqlite3.OperationalError:  # an index written before file texts were stored
            return None
        return content.unpack(rows[0][0]) if rows else None

    @lru_cache(maxsize=4096)
    def file_row(self, repo_id: int, path: str):
        rows = self.q("SELECT id, module, blob, size FROM files WHERE repo_id = ? AND path = ?", (repo_id, path))
        return rows[0] if rows else None

    # a defs row as the extractor's tuple
    DEF_TUPLE = ("qualname, name, kind, container, line, col, end_line, end_col, name_line, name_col, name_end_col, "
                 "signature, doc, type")

    def def_at(self, file_id: int, line: int, col: int):
        """The definition whose identifier covers (line, col) in an indexed file, as the extractor's tuple."""
        rows = self.q(f"""SELECT {self.DEF_TUPLE} FROM defs
                          WHERE file_id = ? AND name_line = ? AND name_col <= ? AND name_end_col >= ? AND kind != 'module'""",
                      (file_id, line, col, col))
        return tuple(rows[0]) if rows else None

    def file_defs(self, file_id: int) -> list[tuple]:
        """An indexed file's definitions in the extractor's order, as its tuples."""
        return [tuple(r) for r in self.q(f"SELECT {self.DEF_TUPLE} FROM defs WHERE file_id = ? ORDER BY id", (file_id,))]

    def refs_at(self, file_id: int, line: int, col: int) -> list[tuple]:
        """Stored uses covering (line, col), as the extractor's tuples."""
        return [tuple(r) for r in self.q(
            "SELECT line, col, end_col, name, target, kind FROM refs WHERE file_id = ? AND line = ? AND col <= ? AND end_col >= ?",
            (file_id, line, col, col))]

    def import_roots(self) -> list[str]:
        """Absolute import roots of every indexed repo (for jedi's sys.path)."""
        roots = {r.id: r.root for r in self.repos()}   # this machine's clones, when found elsewhere
        out = []
        for r in self.q("SELECT DISTINCT repo_id, import_root FROM packages WHERE instr(package, ':') = 0"):   # Python's
            root = roots.get(r["repo_id"])
            if root:
                out.append(os.path.join(root, r["import_root"]) if r["import_root"] else root)
        return list(dict.fromkeys(out))

    def packages_of_repo(self, repo_id: int) -> list[str]:
        return [r[0] for r in self.q("SELECT package FROM packages WHERE repo_id = ?", (repo_id,))]

    # ---- symbols -----------------------------------------------------------------------
    def canonical(self, target: str | None) -> str | None:
        if not target:
            return None
        rows = self.q("SELECT canonical FROM resolved WHERE target = ?", (target,))
        if rows:
            return rows[0][0]
        return self.resolver.canonical(target)

    def defs(self, qualname: str, limit: int = 20) -> list[sqlite3.Row]:
        """Definitions of a qualified name, the repo that provides its top-level package first."""
        return self.q(
            f"""SELECT d.*, f.path, f.ascii, r.name AS repo, r.root, r.id AS rid,
                      EXISTS(SELECT 1 FROM packages p WHERE p.repo_id = r.id AND (p.package = ?1
                             OR substr(?1, 1, length(p.package) + 1) IN (p.package || '.', p.package || '/'))) AS provides,
                      {_AUXILIARY} AS aux
               FROM defs d JOIN files f ON f.id = d.file_id JOIN repos r ON r.id = d.repo_id
               WHERE d.qualname = ?1 ORDER BY provides DESC, aux, d.kind IN ({_STRONG_SQL}) DESC,
               {_DECLARATION_LAST}, r.name, f.path, d.id LIMIT ?2""", (qualname, limit))

    def defs_by_name(self, name: str, limit: int = 50) -> list[sqlite3.Row]:
        return self.q(
            """SELECT d.*, f.path, f.ascii, f.id AS fid, f.language, r.name AS repo, r.root, r.id AS rid, coalesce(u.refs, 0) AS uses
               FROM defs d JOIN files f ON f.id = d.file_id JOIN repos r ON r.id = d.repo_id
               LEFT JOIN usage u ON u.qualname = d.qualname
               WHERE d.name = ? AND d.kind != 'parameter' ORDER BY uses DESC, r.name, f.path, d.name_line LIMIT ?""", (name, limit))

    def usage(self, qualname: str) -> tuple[int, int]:
        rows = self.q("SELECT refs, repos FROM usage WHERE qualname = ?", (qualname,))
        return (rows[0][0], rows[0][1]) if rows else (0, 0)

    def references(self, qualname: str, kind: str | None, limit: int) -> tuple[list[Loc], bool]:
        """Every stored use of the symbol or of any name that resolves to it (aliases, re-exports).

        Members (methods, attributes, fields) are also reached through receivers whose type the index
        cannot know (`self._h11_state.next_event()`): unresolved attribute uses of that name count when
        the file imports the symbol's package (Python: its top-level package; other languages: an
        imported package that prefixes the qualified name) or lies in its repo.
        """
        targets = [r[0] for r in self.q("SELECT target FROM resolved WHERE canonical = ?", (qualname,))]
        if qualname not in targets:
            targets.append(qualname)
        home = [r["repo_id"] for r in self.q("SELECT DISTINCT repo_id FROM defs WHERE qualname = ?", (qualname,))]
        out: list[Loc] = []
        seen = set()
        # Other repos first, then the home repo, each stopping at the limit without sorting all
        # matches (a module like numpy has 10^5 uses); the page is sorted afterwards.
        # as IN lists, so each (target, repo) pair is one seek in refs_target_repo: a `NOT IN` filter
        # walked every use of the target (500,000 for a C macro used all over its own repo)
        others = [r.id for r in self.repos() if r.id not in home]
        parts = (f"x.repo_id IN ({','.join(map(str, others))})", f"x.repo_id IN ({','.join(map(str, home))})") \
            if home else ("1",)
        for where_repo in parts:
            sql = f"""SELECT x.line, x.col, x.end_col, f.path, f.ascii, r.name AS repo, r.root
                     FROM refs x JOIN files f ON f.id = x.file_id JOIN repos r ON r.id = x.repo_id
                     WHERE x.target IN ({{}}) AND x.kind != 'alias' AND {where_repo} LIMIT ?"""
            for i in range(0, len(targets), 500):
                if len(out) > limit:
                    break
                chunk = targets[i:i + 500]
                for row in self.q(sql.format(",".join("?" * len(chunk))), (*chunk, limit + 1 - len(out))):
                    self._add(out, seen, row)
        if kind in MEMBER_KINDS:
            name = qualname.rpartition(".")[2]
            top = qualname.split(".")[0]
            rows = self.q(
                f"""SELECT x.line, x.col, x.end_col, f.path, f.ascii, r.name AS repo, r.root
                   FROM refs x JOIN files f ON f.id = x.file_id JOIN repos r ON r.id = x.repo_id
                   LEFT JOIN resolved s ON s.target = x.target
                   WHERE x.name = ? AND x.kind = 'attr' AND s.canonical IS NULL
                     AND (x.repo_id IN ({','.join('?' * len(home)) or 'NULL'})
                          OR EXISTS (SELECT 1 FROM imports i WHERE i.file_id = x.file_id AND (i.package = ?
                                     OR instr(i.package, ':') AND substr(?, 1, length(i.package) + 1) IN (i.package || '.', i.package || '/'))))
                   LIMIT ?""", (name, *home, top, qualname, limit + 1))
            for row in rows:
                self._add(out, seen, row)
        truncated = len(out) > limit
        out = out[:limit]
        home_roots = {r.root for r in self.repos() if r.id in home}
        out.sort(key=lambda loc: (loc.root in home_roots, loc.repo, loc.path, loc.line, loc.col))
        return out, truncated

    @staticmethod
    def _add(out, seen, row):
        key = (row["root"], row["path"], row["line"], row["col"])
        if key not in seen:
            seen.add(key)
            out.append(Loc(row["repo"], row["root"], row["path"], row["line"], row["col"], row["line"], row["end_col"],
                           bool(row["ascii"])))

    CANDIDATES = 1000  # per tier, before ranking: a name like `__init__` has 10^4 definitions

    def search(self, query: str, limit: int = 100) -> list[sqlite3.Row]:
        """workspace/symbol: exact name, then prefix, then substring (trigram), then fuzzy (letters in
        order); within a tier the most used first. Each tier picks at most CANDIDATES definitions by
        index order before anything is joined or sorted, which keeps the worst case flat."""
        rank_sql = """SELECT d.qualname, d.name, d.kind, d.container, d.name_line, d.name_col, d.name_end_col,
                             f.path, f.ascii, r.name AS repo, r.root, coalesce(u.refs, 0) AS uses, {rank} AS rank
                      FROM (SELECT id FROM defs WHERE {where} AND kind NOT IN ('parameter', 'module') LIMIT {cap}) c
                      JOIN defs d ON d.id = c.id JOIN files f ON f.id = d.file_id JOIN repos r ON r.id = d.repo_id
                      LEFT JOIN usage u ON u.qualname = d.qualname
                      ORDER BY {order}, {declast}, r.name, f.path, d.name_line LIMIT ?"""
        rows: list = []
        seen: set = set()

        def tier(rank, where, order, args):
            if len(rows) >= limit:
                return
            sql = rank_sql.format(rank=rank, where=where, order=order, cap=self.CANDIDATES, declast=_DECLARATION_LAST)
            for r in self.q(sql, (*args, limit)):
                key = (r["qualname"], r["repo"])
                if key not in seen:
                    seen.add(key)
                    rows.append(r)

        q = query.strip()
        if not q:
            return []
        esc = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        tier("CASE WHEN d.name = ? THEN 0 ELSE 1 END", "name = ? COLLATE NOCASE", "rank, uses DESC", (q, q))
        tier("2", "name LIKE ? ESCAPE '\\'", "uses DESC, length(d.name)", (esc + "%",))
        if len(q) >= 3:
            fts = '"' + q.replace('"', '""') + '"'
            tier("3", "id IN (SELECT rowid FROM defs_fts WHERE defs_fts MATCH ?)", "uses DESC, length(d.name)", (fts,))
        if len(rows) < 10 and 2 <= len(q) <= 16 and q.replace("_", "").isalnum():
            # fuzzy: the letters in order, first letter anchored ("PMgr" -> PoolManager)
            pattern = esc[0] + "".join("%" + ch for ch in q[1:].replace("_", "\\_")) + "%"
            tier("4", "name LIKE ? ESCAPE '\\'", "length(d.name), uses DESC", (pattern,))
        return rows[:limit]

    def file_imports(self, file_id: int) -> set[str]:
        return {r[0] for r in self.q("SELECT package FROM imports WHERE file_id = ?", (file_id,))}
