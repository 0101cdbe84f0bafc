"""`crossnav serve`: a pygls language server answering from the shared index.

A request goes: LSP position -> code points -> the symbol under the cursor (by extracting the
live buffer with the same code the indexer runs) -> its canonical qualified name -> rows in
SQLite -> locations converted back to the client's position encoding. When static resolution
has no answer, jedi infers (bounded in time), then a ranked name search answers, marked approximate.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import from_fs_path, to_fs_path

from crossnav.index import freshness, lang, ownership
from crossnav.index.repos import blob_id
from crossnav.index.store import IndexError_, default_db_path

from .inference import Inference
from .query import Index, Loc

log = logging.getLogger("crossnav.server")

SYMBOL_KINDS = {
    "class": types.SymbolKind.Class, "function": types.SymbolKind.Function, "method": types.SymbolKind.Method,
    "property": types.SymbolKind.Property, "attribute": types.SymbolKind.Field,
    "variable": types.SymbolKind.Variable, "constant": types.SymbolKind.Constant,
    "module": types.SymbolKind.Module, "parameter": types.SymbolKind.Variable,
    "namespace": types.SymbolKind.Namespace, "package": types.SymbolKind.Package, "struct": types.SymbolKind.Struct,
    "interface": types.SymbolKind.Interface, "trait": types.SymbolKind.Interface, "enum": types.SymbolKind.Enum,
    "enum_member": types.SymbolKind.EnumMember, "union": types.SymbolKind.Struct, "record": types.SymbolKind.Class,
    "object": types.SymbolKind.Object, "type": types.SymbolKind.TypeParameter, "constructor": types.SymbolKind.Constructor,
    "macro": types.SymbolKind.Function, "field": types.SymbolKind.Field,
}


# `crossOnly` may name languages (files.language values) beside true/false: the ones whose own
# language server already answers inside the repo. Editors send these names before every language
# module has landed, so they are known here whatever the registry holds.
CROSS_ONLY_LANGUAGES = frozenset({"python", "go", "typescript", "javascript", "java", "kotlin", "rust", "csharp",
                                  "ruby", "c", "cpp"})


@dataclass
class Settings:
    db: str | None = None
    cross_only: bool | frozenset = False   # True, False, or the languages it applies to
    max_references: int = 1000
    max_symbols: int = 100
    jedi_budget: float = 2.0
    clone_roots: list = None   # folders holding this machine's clones (also $CROSSNAV_CLONE_ROOTS)


@dataclass
class Context:
    """What the server knows about one open document.

    When the text is exactly what was indexed (same blob id), the symbol under the cursor is
    read from the index; otherwise the live text is extracted (once per version)."""
    path: str
    repo: object | None      # RepoRow
    relpath: str | None
    module: str
    is_pkg: bool
    source: str
    file_id: int | None
    in_sync: bool            # the buffer matches the indexed blob
    lang: object = None      # the language module (index/lang)
    project: dict = None     # that language's project() of the repo
    _facts: object = None

    @property
    def facts(self):
        if self._facts is None:
            root = self.repo.root if self.repo else os.path.dirname(self.path)
            unit = lang.Unit(self.relpath or os.path.basename(self.path), root, self.module, self.is_pkg, self.project or {})
            self._facts = self.lang.extract(self.source.encode("utf-8", "surrogatepass"), unit)
        return self._facts


@dataclass
class Found:
    qualname: str | None     # canonical qualified name, when known
    name: str
    kind: str | None         # def kind when known
    approximate: bool = False
    via: str = "index"       # index | jedi | name-search


class CrossnavProtocol(LanguageServerProtocol):
    """pygls drops a request whose params do not deserialize, leaving the client waiting forever;
    answer it with InvalidParams instead."""

    def structure_message(self, data):
        try:
            return super().structure_message(data)
        except JsonRpcException:
            if isinstance(data, dict) and "id" in data and "method" in data:
                err = JsonRpcInvalidParams(f"invalid params for {data.get('method')}")
                self._send_response(data["id"], error=types.ResponseError(code=err.code, message=err.message))
            return _Ignored()


class _Ignored:
    """Stands in for a message already answered; pygls skips it (wrong jsonrpc version)."""
    jsonrpc = "ignored"


class CrossnavServer(LanguageServer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = Settings()
        self.index: Index | None = None
        self.index_error: str | None = None
        self.inference: Inference | None = None
        self._ctx_cache: dict = {}
        self._drift_told: set = set()    # (path, live blob) already logged as re-anchored
        self._live_facts: dict = {}      # live blob -> extracted facts, for re-anchoring definitions
        self._projects: dict = {}        # (repo id, language) -> project(), for extracting live buffers

    # ---- index ------------------------------------------------------------------------
    def db_path(self) -> Path:
        return Path(self.settings.db).expanduser() if self.settings.db else default_db_path()

    def open_index(self) -> Index | None:
        if self.index is not None:
            return self.index
        try:
            self.index = Index(self.db_path(), clone_roots=self.settings.clone_roots)
            self.index_error = None
            log.info("reading index %s (%d repos)", self.db_path(), len(self.index.repos()))
        except IndexError_ as e:
            if self.index_error != str(e):
                self.index_error = str(e)
                log.warning("%s", e)
            return None
        return self.index

    def jedi(self) -> Inference:
        if self.inference is None:
            self.inference = Inference(self.index.import_roots() if self.index else [], self.settings.jedi_budget)
        return self.inference

    # ---- documents ----------------------------------------------------------------------
    def project(self, repo, lg) -> dict:
        """A language's view of an indexed repo's manifests, computed here from the indexed file list
        (a buffer's relative imports and config-driven paths need it); {} when not on this machine."""
        key = (repo.id, repo.root, lg.NAME)
        if key not in self._projects:
            paths = [r[0] for r in self.index.q("SELECT path FROM files WHERE repo_id = ? AND language = ?", (repo.id, lg.NAME))]
            try:
                self._projects[key] = lg.project(repo.root, paths) if os.path.isdir(repo.root) else {}
            except Exception:  # noqa: BLE001 - broken manifests: answer with what the index has
                log.exception("reading %s manifests of %s", lg.NAME, repo.name)
                self._projects[key] = {}
        return self._projects[key]

    def context(self, uri: str) -> tuple[object, Context] | None:
        path = to_fs_path(uri)
        lg = lang.for_path(path) if path else None
        if lg is None:
            return None
        try:
            doc = self.workspace.get_text_document(uri)
            source = doc.source
        except (OSError, UnicodeDecodeError):
            return None
        key = (uri, doc.version, hash(source))
        cached = self._ctx_cache.get(uri)
        if cached and cached[0] == key:
            return doc, cached[1]
        index = self.open_index()
        found = index.repo_for_path(path) if index else None
        repo, rel, file_id, in_sync, project = None, None, None, False, {}
        if found:
            repo, rel = found
            project = self.project(repo, lg)
            row = index.file_row(repo.id, rel)
            module, is_pkg = lg.module_of(project, rel)
            if row is not None:
                module, file_id = row["module"] or module, row["id"]
                in_sync = blob_id(source.encode("utf-8", "surrogatepass")) == row["blob"]
        else:
            module, is_pkg = lg.module_of({}, os.path.basename(path))
        ctx = Context(path, repo, rel, module, is_pkg, source, file_id, in_sync, lg, project)
        self._ctx_cache[uri] = (key, ctx)
        if len(self._ctx_cache) > 16:
            self._ctx_cache.pop(next(iter(self._ctx_cache)))
        return doc, ctx

    def symbol_at(self, doc, ctx: Context, pos: types.Position):
        """('def', def tuple) or ('ref', ref tuple) under the cursor, or None."""
        sp = doc.position_from_client_units(pos)
        line, ch = sp.line, sp.character
        if ctx.in_sync and self.index is not None:
            d = self.index.def_at(ctx.file_id, line, ch)
            refs = self.index.refs_at(ctx.file_id, line, ch)
            if d is not None:
                return _use_over_def(d, refs)
            exact = [r for r in refs if r[1] <= ch < r[2]]
            return ("ref", (exact or refs)[0]) if refs else None
        for d in ctx.facts.defs:
            if d[8] == line and d[9] <= ch <= d[10] and d[2] != "module":
                return _use_over_def(d, [r for r in ctx.facts.refs if r[0] == line and r[1] <= ch <= r[2]])
        best = None
        for r in ctx.facts.refs:
            if r[0] == line and r[1] <= ch <= r[2]:
                if r[1] <= ch < r[2]:
                    return "ref", r
                best = ("ref", r)
        return best

    def resolve(self, doc, ctx: Context, pos: types.Position, allow_infer: bool = True) -> tuple[Found | None, list[Loc]]:
        """The symbol under the cursor and where it is defined."""
        index = self.index
        hit = self.symbol_at(doc, ctx, pos)
        name = None
        if hit and index:
            what, t = hit
            if what == "def":
                qual, name, kind = t[0], t[1], t[2]
                locs = self.def_locations(qual)
                if not locs:  # file not indexed yet: the live buffer is the truth
                    locs = [Loc(ctx.repo.name if ctx.repo else "", os.path.dirname(ctx.path), os.path.basename(ctx.path),
                                t[8], t[9], t[8], t[10])]
                return Found(qual, name, kind), locs
            name, target = t[3], t[4]
            canon = index.canonical(target)
            if canon:
                locs = self.def_locations(canon, _call_arity(doc.lines, t[0], t[2]))
                if locs:
                    return Found(canon, name, self.kind_of(canon)), locs
        if not allow_infer:
            return (Found(None, name, None) if name else None), []
        sp = doc.position_from_client_units(pos)
        if hit is None and not _on_word(doc, sp.line, sp.character):
            return None, []   # blank, punctuation: jedi would parse the whole buffer to say nothing (1.4 s in a 436 KiB file)
        root = ctx.repo.root if ctx.repo else os.path.dirname(ctx.path)
        if self.index is not None and ctx.lang.NAME == "python":
            for path, line, col in self.jedi().goto(doc.source, ctx.path, root, sp.line, sp.character):
                if os.path.realpath(path) == os.path.realpath(ctx.path) and hit and hit[0] == "ref" and line == hit[1][0]:
                    continue  # jedi stopped at our own (unresolvable) import
                qual, kind, loc = self.def_at(path, line, col)
                if loc is None:
                    loc = Loc("", os.path.dirname(path), os.path.basename(path), line, col, line, col + len(name or ""))
                return Found(qual, name or "", kind, via="jedi"), [loc]
        if name and hit and index:
            locs = self.approximate(ctx, name)
            if locs:
                log.info("approximate definition for %r: name match", name)
                return Found(None, name, None, approximate=True, via="name-search"), locs
        return (Found(None, name, None) if name else None), []

    def def_locations(self, qualname: str, arity: int | None = None) -> list[Loc]:
        """Where a qualified name is defined: the best definition, plus others only where they are as
        good (a conditional second definition). Copies in repos that do not provide the package
        (vendored, forked) give way to the providing repo, and declarations (a C prototype) to a
        definition with a body, so an editor jumps instead of opening a list. Overloads share a
        qualified name: from a call with `arity` arguments, those with as many parameters come first."""
        rows = self.index.defs(qualname, limit=5 if arity is None else 20)
        if rows:
            best = rows[0]
            rows = [r for r in rows if (r["provides"] or not best["provides"] or r["rid"] == best["rid"])
                    and _declaration_only(r) <= _declaration_only(best) and r["aux"] <= best["aux"]]
            if arity is not None and len(rows) > 1:
                rows.sort(key=lambda r: _param_count(r["signature"], r["name"]) != arity)
        locs = [Loc(r["repo"], r["root"], r["path"], r["name_line"], r["name_col"], r["name_line"], r["name_end_col"], bool(r["ascii"]))
                for r in rows]
        return self.reanchor(locs, qualname)

    # ---- honest freshness: positions in files that changed since they were indexed ---------
    def live_source(self, path: str) -> str | None:
        """The text the user sees: the open buffer (unsaved edits included), else the file on disk."""
        if self._workspace_ready():
            doc = self.workspace.text_documents.get(from_fs_path(path))
            if doc is not None:
                return doc.source
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "surrogateescape")
        except OSError:
            return None

    def drift(self, loc: Loc):
        """(file row, live text) when the file at `loc` differs from the indexed blob (a newer checkout,
        uncommitted or unsaved edits); None when it is what was indexed or is not on this machine."""
        if self.index is None or not loc.repo:
            return None
        repo = self.index.repo_by_name(loc.repo)
        path = os.path.join(repo.root, loc.path) if repo is not None else loc.abspath  # this machine's clone
        row = self.index.file_row(repo.id, loc.path) if repo is not None else None
        if row is None or not row["blob"]:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        doc = self.workspace.text_documents.get(from_fs_path(path)) if self._workspace_ready() else None
        if doc is None and st.st_size == row["size"] and st.st_mtime < _epoch(repo.indexed_at):
            return None  # same size and untouched since it was indexed: no need to read and hash it
        if doc is not None:
            live_blob = blob_id(doc.source.encode("utf-8", "surrogatepass"))
        else:
            live_blob = freshness.disk_blob(path)
        if live_blob is None or live_blob == row["blob"]:
            return None
        text = self.live_source(path)
        return (row, live_blob, text) if text is not None else None

    def reanchor(self, locs: list[Loc], qualname: str | None = None) -> list[Loc]:
        """Follow indexed positions into the live text of files that changed since indexing: a
        definition by its qualified name in the live file (extracted like the indexer does), a use by
        the diff of the indexed and live texts, else the name nearest the old line."""
        if not locs or self.index is None:
            return locs
        out, seen = [], {}
        for loc in locs:
            key = loc.abspath
            if key not in seen:
                seen[key] = self.drift(loc)
            d = seen[key]
            if d is None:
                out.append(loc)
                continue
            row, live_blob, text = d
            moved = self._reanchor_one(loc, qualname, row, text)
            out.append(moved or loc)
            if (key, live_blob) not in self._drift_told:
                self._drift_told.add((key, live_blob))
                repo = self.index.repo_by_name(loc.repo)
                sha = (repo.head or "?")[:10] if repo else "?"
                msg = (f"position re-anchored: {loc.repo}/{loc.path} changed since indexed commit {sha}"
                       if moved else f"position may be stale: {loc.repo}/{loc.path} changed since indexed commit {sha}")
                log.info("%s", msg)
                try:
                    self.window_log_message(types.LogMessageParams(type=types.MessageType.Info, message=f"crossnav: {msg}"))
                except Exception:  # noqa: BLE001 - no client to tell (tests, shutdown)
                    pass
        return out

    def _reanchor_one(self, loc: Loc, qualname: str | None, row, text: str) -> Loc | None:
        lines = text.split("\n")
        ascii_ = text.isascii()
        old = self.index.indexed_text(row["blob"])
        old_lines = old.split("\n") if old is not None else None
        name = None
        if old_lines is not None and 0 <= loc.line < len(old_lines) and loc.end_line == loc.line:
            name = old_lines[loc.line][loc.col:loc.end_col]
        if not name or not name.isidentifier():
            name = qualname.rpartition(".")[2] if qualname else None
        map_line = freshness.map_line(old, text, loc.line) if old is not None else None
        near = map_line if map_line is not None else loc.line
        if qualname:  # a definition: the live file's own definition of that qualname
            fkey = (row["module"], hash(text), len(text))
            facts = self._live_facts.get(fkey)
            lg = lang.for_path(loc.path)
            if facts is None and lg is not None:
                repo = self.index.repo_by_name(loc.repo)
                project = self.project(repo, lg) if repo is not None else {}
                unit = lang.Unit(loc.path, loc.root, row["module"] or "", lg.module_of(project, loc.path)[1], project)
                try:
                    facts = lg.extract(text.encode("utf-8", "surrogateescape"), unit)
                except Exception:  # noqa: BLE001 - a file the parser cannot read: fall back to text search
                    facts = None
                if len(self._live_facts) > 32:
                    self._live_facts.clear()
                self._live_facts[fkey] = facts
            if facts is not None:
                cands = [d for d in facts.defs if d[0] == qualname]
                if cands:
                    d = min(cands, key=lambda d: abs(d[8] - near))
                    return Loc(loc.repo, loc.root, loc.path, d[8], d[9], d[8], d[10], ascii_)
        if not name:
            return None
        if map_line is not None and 0 <= map_line < len(lines) and lines[map_line][loc.col:loc.col + len(name)] == name:
            return Loc(loc.repo, loc.root, loc.path, map_line, loc.col, map_line, loc.col + len(name), ascii_)
        hit = freshness.find_name(lines, name, near, definition=bool(qualname))
        if hit is None:
            return None
        return Loc(loc.repo, loc.root, loc.path, hit[0], hit[1], hit[0], hit[1] + len(name), ascii_)

    def kind_of(self, qualname: str) -> str | None:
        rows = self.index.defs(qualname, limit=1)
        return rows[0]["kind"] if rows else None

    def def_at(self, path: str, line: int, col: int):
        """The indexed definition whose name starts at (path, line, col), for mapping jedi's answers."""
        found = self.index.repo_for_path(path)
        if not found:
            return None, None, None
        repo, rel = found
        rows = self.index.q(
            """SELECT d.qualname, d.kind, d.name_line, d.name_col, d.name_end_col FROM defs d JOIN files f ON f.id = d.file_id
               WHERE f.repo_id = ? AND f.path = ? AND d.name_line = ? ORDER BY abs(d.name_col - ?) LIMIT 1""",
            (repo.id, rel, line, col))
        if not rows:
            return None, None, Loc(repo.name, repo.root, rel, line, col, line, col)
        r = rows[0]
        return r["qualname"], r["kind"], Loc(repo.name, repo.root, rel, r["name_line"], r["name_col"], r["name_line"], r["name_end_col"])

    def approximate(self, ctx: Context, name: str) -> list[Loc]:
        """Ranked name search: same repo, then packages this file imports, then the most used."""
        family = {lg.NAME for lg in lang.languages() if lg.PREFIX == ctx.lang.PREFIX}  # TS finds JS, C++ finds C
        rows = [r for r in self.index.defs_by_name(name) if r["language"] in family]
        imported = ctx.facts.imports

        def rank(r):
            q = r["qualname"]
            return (0 if ctx.repo and r["rid"] == ctx.repo.id else 1,
                    0 if q.split(".")[0] in imported or any(q.startswith(p) for p in imported if ":" in p) else 1, -r["uses"])
        rows = sorted(rows, key=rank)[:5]
        return [Loc(r["repo"], r["root"], r["path"], r["name_line"], r["name_col"], r["name_line"], r["name_end_col"], bool(r["ascii"])) for r in rows]

    # ---- LSP conversion -----------------------------------------------------------------
    def to_lsp(self, loc: Loc) -> types.Location:
        enc = self.workspace.position_encoding if self._workspace_ready() else types.PositionEncodingKind.Utf16
        path = self.index.local_path(loc) if self.index is not None else loc.abspath
        text = "" if loc.ascii else _line_text(path, loc.line)
        start = _units(text, loc.col, enc)
        end = _units(text, loc.end_col, enc) if loc.end_line == loc.line else loc.end_col
        return types.Location(uri=from_fs_path(path),
                              range=types.Range(start=types.Position(line=loc.line, character=start),
                                                end=types.Position(line=loc.end_line, character=end)))

    def to_lsp_many(self, locs: list[Loc]) -> list[dict]:
        """Many locations as plain LSP JSON (references can be thousands: skip attrs objects and
        stat each file once)."""
        enc = self.workspace.position_encoding if self._workspace_ready() else types.PositionEncodingKind.Utf16
        out = []
        files: dict[str, tuple] = {}
        for loc in locs:
            entry = files.get(loc.abspath)
            if entry is None:
                path = self.index.local_path(loc) if self.index is not None else loc.abspath
                entry = files[loc.abspath] = (from_fs_path(path), () if loc.ascii else _lines_of(path))
            uri, lines = entry
            text = lines[loc.line] if 0 <= loc.line < len(lines) else ""
            start = loc.col if loc.ascii else _units(text, loc.col, enc)
            end = _units(text, loc.end_col, enc) if loc.end_line == loc.line else loc.end_col
            out.append({"uri": uri, "range": {"start": {"line": loc.line, "character": start},
                                              "end": {"line": loc.end_line, "character": end}}})
        return out

    def _workspace_ready(self) -> bool:
        try:
            self.workspace
            return True
        except RuntimeError:
            return False

    def filter_cross(self, ctx: Context, locs: list[Loc]) -> list[Loc]:
        """Drop the file's own repo's locations when crossOnly applies to the file's language."""
        only = self.settings.cross_only
        if ctx.repo is None or not (only is True or (isinstance(only, frozenset) and ctx.lang.NAME in only)):
            return locs
        return [loc for loc in locs if loc.repo != ctx.repo.name]

    def set_cross_only(self, value, source: str) -> None:
        """Apply a client's `crossOnly`; a value that is not true, false or a list of language names is
        ignored (the previous setting stays) and the client's log says why."""
        parsed, problem = parse_cross_only(value)
        if problem:
            _ignored(self, f"{source}: {problem}")
        if parsed is not None:
            self.settings.cross_only = parsed
            log.info("crossOnly: %s", sorted(parsed) if isinstance(parsed, frozenset) else parsed)


def parse_cross_only(value) -> tuple[bool | frozenset | None, str | None]:
    """(setting, problem): `true`/`false` as they are (null: false); a list of language names as the set of
    files.language values (a `lang:` alias such as "golang" or "py" is accepted); None for a value to
    ignore. Unknown names are dropped with a problem message, the others kept."""
    if isinstance(value, bool):
        return value, None
    if value is None:   # JSON null: the default, as before lists were accepted
        return False, None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        return None, (f"ignoring crossOnly={value!r}: expected true, false or a list of language names "
                      f"({', '.join(sorted(CROSS_ONLY_LANGUAGES))})")
    aliases = lang.search_names()
    names, unknown = set(), []
    for v in value:
        name = aliases.get(v.strip().lower(), v.strip().lower())
        if name in CROSS_ONLY_LANGUAGES or lang.by_name(name) is not None:
            names.add(name)
        else:
            unknown.append(v)
    problem = None
    if unknown:
        problem = (f"ignoring unknown language{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                   f"in crossOnly (known: {', '.join(sorted(CROSS_ONLY_LANGUAGES))})")
    return frozenset(names), problem


def _declaration_only(r) -> bool:
    """A definition row whose full range is its name: a declaration without a body (query.py orders these last)."""
    return (r["line"], r["col"], r["end_line"], r["end_col"]) == (r["name_line"], r["name_col"], r["name_line"], r["name_end_col"])


@lru_cache(maxsize=32)   # only non-ASCII files are read (the index flags ASCII ones): keep memory flat
def _file_lines(path: str, mtime: float) -> tuple[str, ...]:
    try:
        with open(path, "rb") as f:
            return tuple(f.read().decode("utf-8", "replace").split("\n"))
    except OSError:
        return ()


def _lines_of(path: str) -> tuple[str, ...]:
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return ()
    return _file_lines(path, mtime)


def _line_text(path: str, line: int) -> str:
    lines = _lines_of(path)
    return lines[line] if 0 <= line < len(lines) else ""


def _units(text: str, col: int, enc) -> int:
    prefix = text[:col]
    if prefix.isascii():
        return col
    if enc == types.PositionEncodingKind.Utf8:
        return len(prefix.encode("utf-8"))
    if enc == types.PositionEncodingKind.Utf32:
        return col
    return len(prefix.encode("utf-16-le")) // 2


def _ago(iso: str | None) -> str:
    a = freshness.age(iso)
    return "unknown" if a is None else "just now" if a == "now" else f"{a} ago"


@lru_cache(maxsize=4096)
def _epoch(iso: str | None) -> float:
    """Seconds since the epoch of an ISO time (the repo's indexed_at); 0 when unknown (always hash)."""
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else 0.0
    except ValueError:
        return 0.0


server = CrossnavServer("crossnav", "0.1.0", protocol_cls=CrossnavProtocol)


@server.feature(types.INITIALIZE)
def initialize(ls: CrossnavServer, params: types.InitializeParams):
    opts = params.initialization_options or {}
    if isinstance(opts, dict):
        if isinstance(opts.get("db"), str) and opts["db"]:
            ls.settings.db = opts["db"]
        elif opts.get("db") is not None:
            _ignored(ls, f"ignoring initializationOptions.db={opts['db']!r}: expected the index file's path")
        if isinstance(opts.get("cloneRoots"), list):
            ls.settings.clone_roots = [str(p) for p in opts["cloneRoots"]]
        if "crossOnly" in opts:
            ls.set_cross_only(opts["crossOnly"], "initializationOptions")
        for key, attr, typ in (("maxReferences", "max_references", int),
                               ("maxSymbols", "max_symbols", int), ("jediBudget", "jedi_budget", float)):
            if key in opts:
                # a number above 0 (`maxReferences: -1` listed one location, `maxSymbols: 0` none)
                try:
                    value = typ(opts[key])
                except (TypeError, ValueError):
                    value = None
                if value is None or isinstance(opts[key], bool) or not value > 0:
                    _ignored(ls, f"ignoring initializationOptions.{key}={opts[key]!r}: expected a number above 0")
                else:
                    setattr(ls.settings, attr, value)
    if ls.open_index() is None and ls.index_error:
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=f"crossnav: {ls.index_error}"))


def _ignored(ls: CrossnavServer, problem: str) -> None:
    """A malformed setting keeps its default; the server's log and the client's say so."""
    log.warning("%s", problem)
    ls.window_log_message(types.LogMessageParams(type=types.MessageType.Warning, message=f"crossnav: {problem}"))


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(ls: CrossnavServer, params: types.DidChangeConfigurationParams):
    settings = params.settings if isinstance(params.settings, dict) else {}
    cfg = settings.get("crossnav", settings)
    if isinstance(cfg, dict) and "crossOnly" in cfg:
        ls.set_cross_only(cfg["crossOnly"], "workspace/didChangeConfiguration")


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
@server.thread()
def definition(ls: CrossnavServer, params: types.DefinitionParams):
    got = ls.context(params.text_document.uri)
    if got is None or ls.open_index() is None:
        return None
    doc, ctx = got
    t0 = time.perf_counter()
    found, locs = ls.resolve(doc, ctx, params.position)
    locs = ls.filter_cross(ctx, locs)
    log.debug("definition %s:%d:%d via %s -> %s (%.1f ms)", ctx.relpath, params.position.line, params.position.character,
              found.via if found else "-", locs[:1], (time.perf_counter() - t0) * 1000)
    return [ls.to_lsp(loc) for loc in locs] or None


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
@server.thread()
def references(ls: CrossnavServer, params: types.ReferenceParams):
    got = ls.context(params.text_document.uri)
    if got is None or ls.open_index() is None:
        return None
    doc, ctx = got
    found, defs = ls.resolve(doc, ctx, params.position)
    if found is None or not found.qualname:
        return None
    limit = ls.settings.max_references
    locs, truncated = ls.index.references(found.qualname, found.kind, limit)
    locs = ls.reanchor(locs)
    if params.context.include_declaration:
        locs = defs + [loc for loc in locs if loc not in defs]
    locs = ls.filter_cross(ctx, locs)
    if truncated:   # shown, not only logged: a list cut at the limit looks complete otherwise
        ls.window_show_message(types.ShowMessageParams(
            type=types.MessageType.Warning,
            message=f"crossnav: more than {limit} references to {found.qualname}; showing the first {limit}, "
                    "other repos' first (raise the maxReferences setting for more)"))
    result = ls.to_lsp_many(locs)
    token = params.partial_result_token
    if token is not None and len(result) > 500:
        for i in range(0, len(result), 500):  # first page reaches the client before the rest is sent
            ls.progress(types.ProgressParams(token=token, value=result[i:i + 500]))
        return []
    return result


@server.feature(types.TEXT_DOCUMENT_HOVER)
@server.thread()
def hover(ls: CrossnavServer, params: types.HoverParams):
    got = ls.context(params.text_document.uri)
    if got is None or ls.open_index() is None:
        return None
    doc, ctx = got
    found, locs = ls.resolve(doc, ctx, params.position)
    if found is None or not locs:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=hover_text(ls, found, locs[0])))


_OPEN, _CLOSE = "([{", ")]}"


def _call_arity(lines, line: int, col: int) -> int | None:
    """Arguments of the call whose callee name ends at (line, col) in the live text: `f(a, g(b, c))`
    -> 2; None when no `(` follows the name."""
    text = "".join(lines[line:line + 30])[col:] if 0 <= line < len(lines) else ""
    i = len(text) - len(text.lstrip())
    if not text[i:i + 1] == "(":
        return None
    return _count_items(text, i)


def _param_count(signature: str | None, name: str) -> int | None:
    """Parameters in a definition's signature line: `void write(String s, int off, int len)` -> 3."""
    if not signature:
        return None
    at = signature.find(name + "(")
    if at < 0:
        return None
    return _count_items(signature, at + len(name), angle=True)


def _count_items(text: str, start: int, angle: bool = False) -> int | None:
    """Comma-separated items between the `(` at `start` and its `)`, skipping nested brackets and
    strings (and `<...>` in a signature, where `Map<K, V>` is one parameter)."""
    depth, items, quote, seen = 0, 0, None, False
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'`":
            quote, seen = ch, True
        elif ch in _OPEN or (angle and ch == "<"):
            depth += 1
            if depth > 1:
                seen = True
        elif ch in _CLOSE or (angle and ch == ">" and depth > 1):
            depth -= 1
            if depth == 0:
                return items + 1 if seen else 0
        elif ch == "," and depth == 1:
            items += 1
        elif not ch.isspace() and depth >= 1:
            seen = True
        i += 1
    return None


def _use_over_def(d, refs):
    """('def', d), unless the identifier under the cursor also uses another symbol (`refs`: the uses
    covering the cursor): a Go embedded field (`struct { pkg.T }`) is a field named T and a use of the
    type pkg.T, and going to the definition from it means going to the type, as gopls does; a C++
    conversion operator's name `operator ::testing::Matcher<T>` holds a use of Matcher."""
    for r in refs:
        if r[0] == d[8] and r[4] and r[4] != d[0] and d[9] <= r[1] and r[2] <= d[10]:
            return "ref", r
    return "def", d


def _on_word(doc, line: int, ch: int) -> bool:
    """Is the cursor on or just after an identifier character of the live text?"""
    lines = doc.lines
    if not 0 <= line < len(lines):
        return False
    text = lines[line]
    return any(0 <= i < len(text) and (text[i].isalnum() or text[i] == "_") for i in (ch, ch - 1))


def hover_text(ls: CrossnavServer, found: Found, loc: Loc) -> str:
    index = ls.index
    row = None
    if found.qualname:
        rows = [r for r in index.defs(found.qualname, limit=5) if r["path"] == loc.path and r["root"] == loc.root] \
            or index.defs(found.qualname, limit=1)
        row = rows[0] if rows else None
    parts = []
    if row is not None:
        sig = row["signature"] or (f"{row['kind']} {row['qualname']}")
        lg = lang.for_path(row["path"])
        parts.append(f"```{lg.FENCE if lg else ''}\n{sig}\n```")
        if row["doc"]:
            parts.append(row["doc"])
    else:
        parts.append(f"`{found.name}`")
    footer = []
    repo = index.repo_by_name(loc.repo) if loc.repo else None
    where = f"{loc.path}:{loc.line + 1}"
    if repo is not None:
        url = ownership.blob_url(repo.web_url, repo.head or repo.branch or "HEAD", loc.path, loc.line + 1)
        where = f"[{where}]({url})" if url else where
        footer.append(f"**{repo.name}** · `{found.qualname or found.name}` · {where}")
        owner = ownership.owners_for(repo.ownership, loc.path)
        if owner and owner.get("owners"):
            rule = f" (`{owner['rule']}`)" if owner.get("rule") else ""
            line = f" line {owner['line']}" if owner.get("line") else ""
            footer.append(f"Owners: {', '.join(owner['owners'])} — from {owner['source']}{line}{rule}")
        catalog = repo.ownership.get("catalog") or {}
        contributing = repo.ownership.get("contributing") or {}
        extras = []
        if contributing.get("url"):
            extras.append(f"Contribute: [{contributing.get('path', 'CONTRIBUTING')}]({contributing['url']})")
        if catalog.get("lifecycle"):
            extras.append(f"Lifecycle: {catalog['lifecycle']}")
        if extras:
            footer.append(" · ".join(extras))
    else:
        footer.append(where)
    if found.qualname:
        n, m = index.usage(found.qualname)
        footer.append(f"Used in {n} place{'s' if n != 1 else ''} across {m} repo{'s' if m != 1 else ''}")
    if repo is not None:
        footer.append(f"Index: {(repo.head or 'no commit')[:10]}, indexed {_ago(repo.indexed_at)}")
        footer.extend(_freshness_notes(ls, repo, loc))
    if found.approximate:
        footer.append("_approximate: matched by name, not by import resolution_")
    return "\n\n".join(parts) + "\n\n---\n\n" + "  \n".join(footer)


def _freshness_notes(ls: CrossnavServer, repo, loc: Loc) -> list[str]:
    """Hover warnings when positions may drift: the checkout moved past the indexed commit, or the
    target file differs from what was indexed (uncommitted or unsaved edits)."""
    notes = []
    local = freshness.current_head(repo.root) if os.path.isdir(repo.root) else None
    if local and repo.head and local != repo.head:
        rel = freshness.relation(repo.root, repo.head, local)
        state = {"ahead": "is ahead of", "behind": "is behind", "diverged": "has diverged from"}.get(rel, "differs from")
        notes.append(f"⚠ {repo.name} checkout {state} the index (indexed {repo.head[:10]}, local {local[:10]})")
    if ls.drift(loc) is not None:
        notes.append(f"⚠ {loc.path} changed since indexed (positions re-anchored in the live file)")
    return notes


@server.feature(types.WORKSPACE_SYMBOL)
@server.thread()
def workspace_symbol(ls: CrossnavServer, params: types.WorkspaceSymbolParams):
    if ls.open_index() is None:
        return []
    if FILTERS.search(params.query):
        return _filtered_symbols(ls, params.query)
    out = []
    for r in ls.index.search(params.query, ls.settings.max_symbols):
        loc = Loc(r["repo"], r["root"], r["path"], r["name_line"], r["name_col"], r["name_line"], r["name_end_col"], bool(r["ascii"]))
        out.append(types.SymbolInformation(
            name=r["name"], kind=SYMBOL_KINDS.get(r["kind"], types.SymbolKind.Variable),
            location=ls.to_lsp(loc), container_name=f"{r['repo']} · {r['container'] or ''}".rstrip(" ·")))
    return out


FILTERS = re.compile(r"(?:^|\s)-?(?:repo|file|path|lang|owner|kind|type|count|case):")


def filtered_symbols(ls: CrossnavServer, query: str) -> list:
    """Definitions for a symbol query with the search filters (`repo:payments kind:class Backoff`):
    the query language's symbol mode, so editors' symbol pickers narrow the way `crossnav search`
    does. A malformed query finds nothing (it is logged)."""
    from crossnav.index.querylang import QueryError
    from crossnav.index.search import SearchError, run as run_search
    try:
        return run_search(ls.index._conn(), "type:symbol " + query, limit=ls.settings.max_symbols, budget=5.0).results
    except (QueryError, SearchError) as e:
        log.info("symbol query %r: %s", query, e)
        return []


def _filtered_symbols(ls: CrossnavServer, query: str) -> list:
    out = []
    for r in filtered_symbols(ls, query):
        loc = Loc(r.repo, r.root, r.path, r.line, r.col, r.line, r.end_col, r.ascii)
        container = (r.qualname or "").rpartition(".")[0]
        out.append(types.SymbolInformation(
            name=r.name or r.text, kind=SYMBOL_KINDS.get(r.kind, types.SymbolKind.Variable),
            location=ls.to_lsp(loc), container_name=f"{r.repo} · {container}".rstrip(" ·")))
    return out


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
@server.thread()
def document_symbol(ls: CrossnavServer, params: types.DocumentSymbolParams):
    got = ls.context(params.text_document.uri)
    if got is None:
        return None
    doc, ctx = got
    nodes: dict[str, types.DocumentSymbol] = {}
    roots: list[types.DocumentSymbol] = []
    if ctx.in_sync and ls.index is not None:   # the buffer is what was indexed: no need to extract it again
        defs = ls.index.file_defs(ctx.file_id)
    else:
        defs = ctx.facts.defs
    for d in defs:
        qual, name, kind, container = d[0], d[1], d[2], d[3]
        if kind in ("module", "parameter"):
            continue
        from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange
        rng = doc.range_to_client_units(ServerTextRange(ServerTextPosition(d[4], d[5]), ServerTextPosition(d[6], d[7])))
        sel = doc.range_to_client_units(ServerTextRange(ServerTextPosition(d[8], d[9]), ServerTextPosition(d[8], d[10])))
        sym = types.DocumentSymbol(name=name, kind=SYMBOL_KINDS.get(kind, types.SymbolKind.Variable), range=rng,
                                   selection_range=sel, detail=d[11] if kind not in ("variable", "constant", "attribute") else None,
                                   children=[])
        if qual in nodes:
            continue
        nodes[qual] = sym
        parent = nodes.get(container)
        (parent.children if parent is not None else roots).append(sym)
    return roots


def run(args) -> int:
    level = logging.WARNING - 10 * min(args.verbose, 2)
    try:
        handler = logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(sys.stderr)
    except OSError as e:   # the editor shows this line as the reason the server stopped
        print(f"crossnav serve: error: cannot write the log file {args.log_file} ({e.strerror or e}); "
              "pass another --log-file", file=sys.stderr)
        return 2
    logging.basicConfig(level=level, handlers=[handler], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from . import commands  # noqa: F401  registers the crossnav.* workspace/executeCommand handlers
    if getattr(args, "wrap", None):
        from .wrap import run_wrapped
        child = (["--db", args.db] if args.db else []) + (["--log-file", args.log_file] if args.log_file else []) \
            + ["-v"] * args.verbose
        return run_wrapped(args.wrap, child)
    if args.db:
        server.settings.db = args.db
    db = server.db_path()
    if db.exists():
        try:
            Index(db)
        except IndexError_ as e:  # unusable file: say so once, rather than answer nothing forever
            print(f"crossnav serve: error: {e}", file=sys.stderr)
            return 2
    from crossnav.index.cli import crossnav_version
    server.version = crossnav_version()
    if args.tcp:
        host, port = args.tcp
        try:
            server.start_tcp(host, port)
        except OSError as e:   # port taken, unknown host: one line, not a traceback
            print(f"crossnav serve: error: cannot listen on {host}:{port} ({e.strerror or e}); "
                  "pick another --tcp HOST:PORT", file=sys.stderr)
            return 2
    else:
        server.start_io()
    return 0
