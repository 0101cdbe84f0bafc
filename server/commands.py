"""`workspace/executeCommand` handlers for the editor plugins: index status and freshness, owners,
code host links, symbol and code search, reindexing. They answer from the same index and helpers as
the LSP features in server.py; importing this module registers them on `server`."""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from crossnav.index import freshness, ownership

from .query import Loc
from .server import FILTERS, CrossnavServer, _units, filtered_symbols, server


_current_head = freshness.current_head   # (kept for callers of the old name)


def _arg(args, key, default=None):
    """Command arguments arrive as [ {..} ] from most clients; accept a bare dict too."""
    for a in args:
        if isinstance(a, dict) and key in a:
            return a[key]
    return default


@server.command("crossnav.status")
def status(ls: CrossnavServer, *args):
    """Index freshness for editors' status items: db path, and per repo the indexed commit, when,
    and whether the checked-out commit has moved on since (`stale`)."""
    if ls.open_index() is None:
        return {"db": str(ls.db_path()), "error": ls.index_error, "repos": []}
    repos = []
    for r in ls.index.repos():
        head = _current_head(r.root)
        repos.append({"name": r.name, "root": r.root, "head": r.head, "branch": r.branch, "indexedAt": r.indexed_at,
                      "currentHead": head, "stale": bool(head and r.head and head != r.head),
                      "checkout": freshness.relation(r.root, r.head, head) if head else
                      ("not cloned" if not os.path.isdir(r.root) else "unknown")})
    try:
        mtime = datetime.fromtimestamp(ls.db_path().stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    except OSError:
        mtime = None
    return {"db": str(ls.db_path()), "dbModified": mtime, "repos": repos}


def _file_arg(ls: CrossnavServer, args):
    """(uri, repo, repo-relative path) of the `uri` argument, or None outside every indexed repo."""
    uri = _arg(args, "uri")
    path = to_fs_path(uri) if isinstance(uri, str) else None
    if not path or ls.open_index() is None:
        return None
    found = ls.index.repo_for_path(path)
    return (uri, *found) if found else None


@server.command("crossnav.owners")
def owners(ls: CrossnavServer, *args):
    """Who owns a file (and the symbol at a position, when given): for 'Show owners' commands."""
    got = _file_arg(ls, args)
    if got is None:
        return None
    uri, repo, rel = got
    line = _arg(args, "line")
    symbol = None
    if isinstance(line, int) and isinstance(_arg(args, "character"), int):
        got = ls.context(uri)
        if got is not None:
            doc, ctx = got
            f, locs = ls.resolve(doc, ctx, types.Position(line=line, character=_arg(args, "character")), allow_infer=False)
            if f and f.qualname and locs:
                loc = locs[0]
                target = ls.index.repo_by_name(loc.repo)
                symbol = {"qualname": f.qualname, "repo": loc.repo, "path": loc.path, "line": loc.line,
                          **_ownership_summary(target, loc.path)}
    return {"repo": repo.name, "path": rel, **_ownership_summary(repo, rel), "symbol": symbol}


def _ownership_summary(repo, rel: str) -> dict:
    if repo is None:
        return {}
    own = ownership.owners_for(repo.ownership, rel) or {}
    catalog = repo.ownership.get("catalog") or {}
    return {"owners": own.get("owners", []), "source": own.get("source"), "sourceLine": own.get("line"),
            "rule": own.get("rule"), "contributing": (repo.ownership.get("contributing") or {}).get("url"),
            "lifecycle": catalog.get("lifecycle"), "system": catalog.get("system"),
            "webUrl": ownership.blob_url(repo.web_url, repo.head or repo.branch or "HEAD", rel)}


@server.command("crossnav.webUrl")
def web_url(ls: CrossnavServer, *args):
    """The code host URL of a file at a line, or a line range with `endLine` (0-based, like `line`)
    (`Open in code host`), or None without a known remote."""
    got = _file_arg(ls, args)
    if got is None:
        return None
    _, repo, rel = got
    line = _arg(args, "line")
    end = _arg(args, "endLine")
    url = ownership.blob_url(repo.web_url, repo.head or repo.branch or "HEAD", rel,
                             line + 1 if isinstance(line, int) else None,
                             end + 1 if isinstance(end, int) and isinstance(line, int) and end > line else None)
    return {"url": url, "repo": repo.name, "path": rel}


@server.command("crossnav.openInCodeHost")
async def open_in_code_host(ls: CrossnavServer, *args):
    """Ask the editor to open the code host page of a file at a line (range): `window/showDocument`
    with `external`, for clients without a plugin. Returns {url, opened}."""
    answer = web_url(ls, *args)
    if not answer or not answer.get("url"):
        return {"url": None, "opened": False, "error": "no known code host for this repo (no git remote)"}
    window = ls.client_capabilities.window if ls.client_capabilities else None
    if not (window and window.show_document and window.show_document.support):
        return {"url": answer["url"], "opened": False}
    result = await ls.window_show_document_async(types.ShowDocumentParams(uri=answer["url"], external=True))
    return {"url": answer["url"], "opened": bool(result and result.success)}


@server.command("crossnav.search")
def search(ls: CrossnavServer, *args):
    """Symbol search with qualified names and kinds, for pickers (workspace/symbol mixes in other servers)."""
    query = _arg(args, "query", args[0] if args and isinstance(args[0], str) else "")
    limit = _arg(args, "limit", ls.settings.max_symbols)
    if not isinstance(query, str) or ls.open_index() is None:
        return []
    out = []
    if FILTERS.search(query):  # `repo:payments kind:class Backoff`: the search filters, as in workspace/symbol
        for r in filtered_symbols(ls, query):
            loc = Loc(r.repo, r.root, r.path, r.line, r.col, r.line, r.end_col, r.ascii)
            out.append({"name": r.name, "qualname": r.qualname, "kind": r.kind, "repo": r.repo, "path": r.path,
                        "uses": r.uses or 0, **ls.to_lsp_many([loc])[0]})
        return out
    for r in ls.index.search(query, int(limit) if isinstance(limit, int) else ls.settings.max_symbols):
        loc = Loc(r["repo"], r["root"], r["path"], r["name_line"], r["name_col"], r["name_line"], r["name_end_col"], bool(r["ascii"]))
        lsp = ls.to_lsp_many([loc])[0]
        out.append({"name": r["name"], "qualname": r["qualname"], "kind": r["kind"], "repo": r["repo"],
                    "path": r["path"], "uses": r["uses"], **lsp})
    return out


@server.command("crossnav.find")
@server.thread()
def find(ls: CrossnavServer, *args):
    """Code search with the query language (index/querylang.py): {query, limit} -> {results: [{repo, path, uri,
    range, line (0-based), text, owner, owners, kind?, qualname?, uses?}], more}; a bad query gives
    {results: [], more: false, error, column}."""
    from crossnav.index.querylang import QueryError
    from crossnav.index.search import SearchError, run as run_search
    query = _arg(args, "query", args[0] if args and isinstance(args[0], str) else "")
    limit = _arg(args, "limit", ls.settings.max_symbols)
    limit = limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else ls.settings.max_symbols
    if not isinstance(query, str):
        return {"results": [], "more": False, "error": "query must be a string", "column": 1}
    if ls.open_index() is None:
        return {"results": [], "more": False, "error": ls.index_error}
    try:
        page = run_search(ls.index._conn(), query, limit=min(limit, 10000), budget=10.0)
    except QueryError as e:
        return {"results": [], "more": False, "error": e.message, "column": e.column}
    except SearchError as e:
        return {"results": [], "more": False, "error": str(e)}
    enc = ls.workspace.position_encoding if ls._workspace_ready() else types.PositionEncodingKind.Utf16
    out = []
    for r in page.results:
        start = r.col if r.ascii else _units(r.text, r.col, enc)
        end = r.end_col if r.ascii else _units(r.text, r.end_col, enc)
        item = {"repo": r.repo, "path": r.path, "uri": from_fs_path(os.path.join(r.root, r.path)),
                "range": {"start": {"line": r.line, "character": start}, "end": {"line": r.line, "character": end}},
                "line": r.line, "text": r.text, "owner": r.owners[0] if r.owners else None, "owners": r.owners}
        if r.kind is not None:
            item.update({"kind": r.kind, "name": r.name, "qualname": r.qualname, "uses": r.uses})
        out.append(item)
    return {"results": out, "more": page.more}


@server.command("crossnav.reindex")
async def reindex(ls: CrossnavServer, *args):
    """Run `crossnav index` on the indexed repos (or the named ones) with work-done progress.

    The server only reads; the index is written by the same command a user runs, in a child process."""
    import asyncio
    import uuid
    if ls.open_index() is None:
        return {"ok": False, "error": ls.index_error}
    names = _arg(args, "repos")
    repos = [r for r in ls.index.repos() if not names or r.name in names]
    if not repos:
        return {"ok": False, "error": "no matching repos in the index"}
    cmd = [sys.executable, "-m", "crossnav.index.cli", "index", "--db", str(ls.db_path()), *[r.root for r in repos]]
    token = str(uuid.uuid4())
    progress = bool(ls.client_capabilities.window and ls.client_capabilities.window.work_done_progress)
    if progress:
        await ls.work_done_progress.create_async(token)
        ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title="crossnav: reindexing", percentage=0,
                                                                       message=f"{len(repos)} repos"))
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    done = 0
    lines = []
    assert proc.stderr is not None
    async for raw in proc.stderr:
        line = raw.decode("utf-8", "replace").rstrip()
        lines.append(line)
        if line.startswith("indexed "):
            done += 1
            if progress:
                ls.work_done_progress.report(token, types.WorkDoneProgressReport(
                    message=line[len("indexed "):], percentage=int(100 * done / len(repos))))
    out, _ = await proc.communicate()
    rc = proc.returncode
    if progress:
        ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message="done" if rc == 0 else f"failed ({rc})"))
    summary = [line for line in out.decode("utf-8", "replace").splitlines() if " repos, " in line]
    return {"ok": rc == 0, "exitCode": rc, "repos": done, "summary": summary[0] if summary else "",
            "errors": [line for line in lines if "error" in line][:5]}
