"""The `crossnav` command: `index` builds/updates the shared index, `serve` runs the language server,
`status` shows what the index holds."""
from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path


from .store import IndexError_, default_db_path, open_reader, open_writer

class _Err:
    """The stderr console, created on first use: `crossnav serve` never prints with rich, and an
    editor waits for the server's start (rich's import is a tenth of a second). One message = one
    line, also when piped."""
    _console = None

    def __getattr__(self, name):
        if _Err._console is None:
            from rich.console import Console
            _Err._console = Console(stderr=True, soft_wrap=True)
        return getattr(_Err._console, name)


err = _Err()


def _out(**kw):
    """The stdout console for summary tables. Piped into a log (CI, the platform team's index
    build), rich would assume 80 columns and cut repo names to `reque…`: there it gets 160, or
    $COLUMNS when set."""
    import os
    from rich.console import Console
    width = None
    if not sys.stdout.isatty():
        width = int(os.environ.get("COLUMNS") or 0) or 160
    return Console(width=width, **kw)


def crossnav_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("crossnav")
    except PackageNotFoundError:
        return "0+unknown"


class _VersionAction(argparse.Action):
    """`--version`, looked up only when asked (importlib.metadata is slow to import)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help="show the version"):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"crossnav {crossnav_version()}")
        parser.exit()


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _repo_paths(args) -> list[Path]:
    """The REPO_DIRs given, then every git repo found under each --discover ROOT (raises RepoError)."""
    from .repos import discover
    paths: list[Path] = [Path(p) for p in args.repos]
    for root in args.discover or []:
        found = discover(Path(root).expanduser())
        if not found:
            err.print(f"[yellow]no git repositories found under {root}[/]")
        paths.extend(found)
    return paths


def _named_repos(args, db_path: Path) -> dict[Path, str]:
    """{resolved repo folder: its name in the index}, each folder once (raises RepoError).
    Names come from `--name`, else repos.name_repos: what the index at `db_path` already calls
    that folder, else the folder name with parents added where two repos would share it."""
    from .repos import name_repos
    paths = list(dict.fromkeys(p.expanduser().resolve() for p in _repo_paths(args)))
    if args.name:
        return dict.fromkeys(paths, args.name)
    indexed = _indexed_repos(db_path)
    names = name_repos(paths, indexed)
    shared = Counter(p.name for p in paths if names[p] != p.name and str(p) not in indexed.values())
    for folder in sorted(shared):
        named = ", ".join(sorted(names[p] for p in paths if p.name == folder and names[p] != folder))
        err.print(f"named with parent folders: {named} (more than one clone is called {folder!r}; "
                  "`--name NAME REPO_DIR` sets another name)", highlight=False)
    return names


def _indexed_repos(db_path: Path) -> dict[str, str]:
    """{name: root} of the repos an index file holds, read-only; {} when there is none or it is not an
    index (the writer that opens it next says so)."""
    if not db_path.is_file():
        return {}
    try:
        c = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return dict(c.execute("SELECT name, root FROM repos"))
        finally:
            c.close()
    except sqlite3.Error:
        return {}


def parse_languages(value: str) -> frozenset | None:
    """`--languages python,go` -> the files.language names to index; `all` -> None (every language).
    Accepts the `lang:` names of code search (`py`, `golang`, `ts`, ...)."""
    from . import lang
    if value.strip().lower() == "all":
        return None
    names = lang.search_names()
    out, unknown = set(), []
    for part in filter(None, (p.strip().lower() for p in value.split(","))):
        if part in names:
            out.add(names[part])
        else:
            unknown.append(part)
    if unknown or not out:
        known = ", ".join(sorted({lg.NAME for lg in lang.languages()}))
        what = f"unknown language {', '.join(unknown)}" if unknown else f"no language in {value!r}"
        raise ValueError(f"{what}; use a comma-separated list of {known}, or all")
    return frozenset(out)


def cmd_index(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from .indexer import Indexer
    from .repos import RepoError, open_repo

    db_path = Path(args.db).expanduser() if args.db else default_db_path()
    try:
        names = getattr(args, "named", None) or _named_repos(args, db_path)
        if not names:
            err.print("nothing to index: pass repository folders, or --discover ROOT to find every repo below ROOT")
            return 2
        if args.name and len(names) != 1:
            err.print("[red]error:[/] --name names one repository; pass exactly one REPO_DIR with it")
            return 2
        repos = [open_repo(p, name=name) for p, name in names.items()]
    except RepoError as e:
        err.print(f"[red]error:[/] {e}")
        return 2
    dup = [n for n, c in Counter(r.name for r in repos).items() if c > 1]
    if dup:
        err.print(f"[red]error:[/] two repos would both be called {dup[0]!r} in the index; give one another name "
                  "with --name (one REPO_DIR per run)", highlight=False)
        return 2
    try:
        db = open_writer(db_path)
    except IndexError_ as e:
        err.print(f"[red]error:[/] {e}")
        return 2
    if args.name:
        _rename(db.conn, repos[0])

    t0 = time.perf_counter()
    results = []
    quiet = args.quiet or not err.is_terminal
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err, transient=True, disable=quiet)
    task = {}

    def on_progress(event, name, total=None):
        if event == "repo":
            task["id"] = progress.add_task(name, total=total)
        elif event == "file":
            progress.advance(task["id"])

    # the size limit is remembered in the index, so a later plain `crossnav index` (or an editor's
    # Reindex command) skips the same files
    row = db.conn.execute("SELECT value FROM meta WHERE key = 'max_file_size_kib'").fetchone()
    stored = int(row[0]) if row and row[0].isdigit() and int(row[0]) > 0 else None   # an older crossnav took -5
    max_kib = args.max_file_size if args.max_file_size is not None else stored or 2048
    db.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('max_file_size_kib', ?)", (str(max_kib),))
    # so is the language list (files of languages left out are removed from the index)
    row = db.conn.execute("SELECT value FROM meta WHERE key = 'languages'").fetchone()
    chosen = args.languages if args.languages is not None else row[0] if row else "all"
    try:
        only = parse_languages(chosen)
    except ValueError as e:
        err.print(f"[red]error:[/] --languages: {e}")
        return 2
    if only is None:   # every language: no row (an index built by `crossnav merge` has none either)
        db.conn.execute("DELETE FROM meta WHERE key = 'languages'")
    else:
        db.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('languages', ?)", (chosen,))
    db.conn.commit()
    indexer = Indexer(db, max_file_size=max_kib * 1024, jobs=args.jobs, progress=on_progress, languages=only)
    interrupted = False
    failed = None   # a write SQLite refused (disk full, I/O error): the repo being written is rolled back
    try:
        with progress:
            for res in indexer.index_repos(repos):
                results.append(res)
                if "id" in task:
                    progress.remove_task(task.pop("id"))
                if quiet and not args.quiet:
                    r = results[-1]
                    err.print(f"indexed {r.name}: {r.parsed} parsed, {r.unchanged} unchanged, {r.removed} removed ({r.seconds:.1f}s)")
        indexer.finish(force=args.force_resolve)
    except KeyboardInterrupt:
        interrupted = True
    except sqlite3.Error as e:
        failed = e
    finally:
        indexer.close()
        if interrupted or failed:
            _restore_after_stop(db, indexer)
    elapsed = time.perf_counter() - t0
    _summary(results, elapsed, db_path, args.verbose)
    if only is not None:
        Console(soft_wrap=True).print(f"languages indexed: {', '.join(sorted(only))} (kept for later runs; "
                                      "`--languages all` indexes every language)")
    if args.verbose:
        Console(soft_wrap=True).print("time by phase: " + ", ".join(f"{k} {v:.1f}s" for k, v in indexer.phases.items()))
    if interrupted:
        done = ", ".join(r.name for r in results) or "none"
        err.print(f"[yellow]interrupted[/]: repos finished before the interrupt are saved ({done}); "
                  "the rest keep their previous index. Run the same command again to finish.")
        return 130
    if failed is not None:
        from .store import write_failure_hint
        done = ", ".join(r.name for r in results) or "none"
        err.print(f"[red]error:[/] writing the index failed ({failed}); repos finished before it are saved ({done}), "
                  f"the rest keep their previous index; {write_failure_hint(failed, db_path)}.", highlight=False)
        return 1
    return 0


def _rename(conn, repo) -> None:
    """`--name NEW` for a folder the index holds under another name renames that repo (its rows stay),
    rather than adding the same files a second time under NEW."""
    old = conn.execute("SELECT name FROM repos WHERE root = ? AND name != ?", (str(repo.root), repo.name)).fetchone()
    if old is None or conn.execute("SELECT 1 FROM repos WHERE name = ?", (repo.name,)).fetchone():
        return
    with conn:
        conn.execute("UPDATE repos SET name = ? WHERE name = ?", (repo.name, old[0]))
    err.print(f"renamed {old[0]} to {repo.name} in the index", highlight=False)


def _restore_after_stop(db, indexer) -> None:
    """After Ctrl-C or a failed write: leave no transaction open and put back the indexes a first
    load dropped. If that fails too (the disk is still full), the next writer re-creates them."""
    try:
        if db.conn.in_transaction:
            db.conn.rollback()
        indexer.restore_indexes()
    except sqlite3.Error:
        pass


def _summary(results, elapsed, db_path: Path, verbose: bool):
    from rich.table import Table
    out = _out(soft_wrap=True)
    # definitions and references the index holds for the repo after this run (repo_totals), not only
    # those of the files parsed: an unchanged repo's row once said 0 and read as an empty index
    table = Table(title="crossnav index", show_lines=False)
    for col in ("repo", "files", "parsed", "unchanged", "removed", "definitions", "references", "skipped", "time"):
        table.add_column(col, justify="left" if col == "repo" else "right", overflow="fold" if col == "repo" else "ellipsis")
    skipped: Counter = Counter()
    lines = 0
    for r in results:
        skipped.update(r.skipped)
        lines += r.lines
        table.add_row(r.name, str(r.files), str(r.parsed), str(r.unchanged), str(r.removed),
                      f"{r.total_defs:,}", f"{r.total_refs:,}",
                      str(sum(r.skipped.values())), f"{r.seconds:.1f}s")
    out.print(table)
    rate = f"{lines / elapsed:,.0f} lines/s" if elapsed > 0 and lines else "nothing changed"
    size = db_path.stat().st_size if db_path.exists() else 0
    out.print(f"{len(results)} repos, {sum(r.parsed for r in results)} files parsed ({lines:,} lines) "
              f"in {elapsed:.1f}s, {rate}; database {db_path} ({_size(size)})")
    languages: Counter = Counter()
    for r in results:
        languages.update(r.languages)
    if len(languages) > 1:
        out.print("lines parsed by language: " + ", ".join(f"{name} {n:,}" for name, n in languages.most_common()))
    if skipped:
        out.print("skipped: " + ", ".join(f"{n} {reason}" for reason, n in skipped.most_common()))
    from . import lang
    for name, why in sorted(lang.UNAVAILABLE.items()):
        out.print(f"[yellow]{name} files were not indexed[/]: its grammar did not load ({why}); "
                  "reinstall crossnav (pip install -U crossnav) to get the grammar wheels it pins")
    again = [r.name for r in results if r.reparsed]
    if again:
        out.print(f"parsed every file again in {len(again)} repo(s) ({', '.join(again[:5])}{', ...' if len(again) > 5 else ''}): "
                  "the index was written by another version of crossnav's extractors or grammars", highlight=False)
    warnings = [w for r in results for w in (f"{r.name}: {x}" for x in r.warnings)]
    if warnings:
        shown = warnings if verbose else warnings[:5]
        out.print(f"[yellow]{len(warnings)} warning(s)[/]:")
        for w in shown:
            out.print(f"  {w}")
        if len(shown) < len(warnings):
            out.print(f"  ... {len(warnings) - len(shown)} more (use -v)")
    out.print(f"Attach an editor: run `crossnav serve` as a stdio language server"
              f"{'' if str(db_path) == str(default_db_path()) else f' with --db {db_path}'} (see README, 'Editors').")


def cmd_status(args) -> int:
    from rich.table import Table
    db_path = Path(args.db).expanduser() if args.db else default_db_path()
    try:
        conn = open_reader(db_path)
    except IndexError_ as e:
        err.print(f"[red]error:[/] {e}")
        return 2
    from .freshness import current_head, relation
    out = _out()
    table = Table(title=f"crossnav index {db_path}")
    for col in ("repo", "files", "lines", "definitions", "references", "head", "indexed at", "age", "checkout", "local",
                "packages", "skipped"):
        table.add_column(col, overflow="fold" if col == "repo" else "ellipsis",
                         justify="right" if col in ("files", "lines", "definitions", "references", "skipped") else "left")
    # repo_totals: kept by the writers; an index from before it has no rows until a repo is written again
    held = {}
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'repo_totals'").fetchone():
        held = {rid: (d, n) for rid, d, n in conn.execute("SELECT repo_id, defs, refs FROM repo_totals")}
    for r in conn.execute("""SELECT r.*, (SELECT group_concat(package, ' ') FROM packages p WHERE p.repo_id = r.id) AS pkgs,
                             (SELECT count(*) FROM skipped s WHERE s.repo_id = r.id) AS nskipped FROM repos r ORDER BY name"""):
        defs, refs = (f"{n:,}" for n in held[r["id"]]) if r["id"] in held else ("?", "?")
        local = current_head(r["root"])
        state = relation(r["root"], r["head"], local)
        style = {"same": "green", "ahead": "yellow", "behind": "yellow", "diverged": "red"}.get(state, "dim")
        table.add_row(r["name"], f"{r['files']:,}", f"{r['lines']:,}", defs, refs,
                      (r["head"] or "")[:10], r["indexed_at"] or "",
                      _age(r["indexed_at"]), f"[{style}]{state}[/]", (local or "")[:10] if state != "same" else "",
                      r["pkgs"] or "", str(r["nskipped"]))
    out.print(table)
    n = conn.execute("SELECT (SELECT count(*) FROM defs), (SELECT count(*) FROM refs)").fetchone()
    out.print(f"{n[0]:,} definitions, {n[1]:,} references")
    return 0


def _age(iso: str | None) -> str:
    from .freshness import age
    return age(iso) or ""


# ---------------------------------------------------------------------------- crossnav sync / url

def cmd_sync(args) -> int:
    """Fetch a published index (URL or path) into the local index file, atomically."""
    from .sync import SyncError, sync
    db_path = Path(args.db).expanduser() if args.db else default_db_path()
    try:
        res = sync(args.source, db_path, force=args.force)
    except SyncError as e:
        err.print(f"[red]error:[/] {e}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted; the local index is unchanged")
        return 130
    if res.status == "up-to-date":
        if not args.quiet:
            print(f"{db_path}: up to date with {args.source}")
    elif not args.quiet:
        print(f"{db_path}: updated from {args.source} ({res.repos} repos, {_size(res.size)}, {res.seconds:.1f}s)")
    return 0


def cmd_url(args) -> int:
    """The code-host URL of a local file at a line (PATH, PATH:LINE or PATH:START-END, 1-based)."""
    import os
    import re

    from .freshness import disk_blob
    from .ownership import blob_url
    m = re.fullmatch(r"(.+?)(?::(\d+)(?:[-:](\d+))?)?", args.location)
    path, line, end = m.group(1), int(m.group(2)) if m.group(2) else None, int(m.group(3)) if m.group(3) else None
    db_path = Path(args.db).expanduser() if args.db else default_db_path()
    try:
        conn = open_reader(db_path)
    except IndexError_ as e:
        err.print(f"[red]error:[/] {e}")
        return 2
    absolute = os.path.abspath(os.path.expanduser(path))
    best = None
    for r in conn.execute("SELECT id, name, root, web_url, head, branch FROM repos"):
        root = r["root"].rstrip("/") + "/"
        for p in (absolute, os.path.realpath(absolute)):
            if p.startswith(root) and (best is None or len(root) > len(best[0]["root"]) + 1):
                best = (r, p[len(root):])
    if best is None:
        err.print(f"[red]error:[/] {path} is not inside an indexed repo (see `crossnav status`)")
        return 2
    repo, rel = best
    url = blob_url(repo["web_url"], repo["head"] or repo["branch"] or "HEAD", rel, line, end)
    if url is None:
        err.print(f"[red]error:[/] {repo['name']} has no known code host (no remote when it was indexed)")
        return 2
    row = conn.execute("SELECT blob FROM files WHERE repo_id = ? AND path = ?", (repo["id"], rel)).fetchone()
    if row is not None and os.path.exists(absolute) and disk_blob(absolute) != row["blob"] and line:
        err.print(f"[yellow]note:[/] {rel} changed since it was indexed at {(repo['head'] or '?')[:10]}; "
                  "the line may differ on the code host", highlight=False)
    print(url)
    return 0


def cmd_serve(args) -> int:
    from crossnav.server.server import run
    return run(args)


# ---------------------------------------------------------------------------- crossnav search

def cmd_search(args) -> int:
    """Code search across every indexed repo: grep-like lines (`repo/path:line:col: text`, col a 1-based
    byte offset as in ripgrep's --vimgrep), or --json; exit 0 with results, 1 without, 2 on errors."""
    import json
    import os

    from .querylang import QueryError, parse
    from .search import SearchError, search

    db_path = Path(args.db).expanduser() if args.db else default_db_path()
    query = " ".join(args.query)
    try:
        q = parse(query, regex_mode=args.regex)
    except QueryError as e:
        err.print(f"[red]error:[/] invalid query: {e.message} (column {e.column})", markup=True, highlight=False)
        err.print(e.show(query), markup=False, highlight=False)
        return 2
    try:
        conn = open_reader(db_path)
    except IndexError_ as e:
        err.print(f"[red]error:[/] {e}")
        return 2
    limit = q.count if q.count is not None else args.limit
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    out = sys.stdout
    results, more = [], False
    t0 = time.perf_counter()
    last_file = None
    try:
        for r in search(conn, q, limit=(limit + 1) if limit else None):
            if limit and len(results) >= limit:
                more = True
                break
            results.append(r)
            if args.json:
                continue
            if color and (r.repo, r.path) != last_file:
                last_file = (r.repo, r.path)
                owners = f" · {', '.join(r.owners)}" if r.owners else ""
                out.write(f"\033[2m── {r.repo}/{r.path}{owners}\033[0m\n")
            out.write(_grep_line(r, color) + "\n")
            out.flush()
    except SearchError as e:
        err.print(f"[red]error:[/] {e}", highlight=False)
        return 2
    except BrokenPipeError:
        return 0
    if args.json:
        json.dump({"query": query, "results": [r.as_dict() for r in results], "more": more}, out,
                  ensure_ascii=False, indent=None)
        out.write("\n")
    if more:
        err.print(f"{len(results)} results shown, more not shown: raise --limit or add count:N (count:all for every one)",
                  highlight=False)
    elif color:
        err.print(f"{len(results)} results in {time.perf_counter() - t0:.2f}s", highlight=False)
    return 0 if results else 1


def _grep_line(r, color: bool) -> str:
    if r.kind == "file":
        return f"\033[35m{r.repo}/{r.path}\033[0m" if color else f"{r.repo}/{r.path}"
    col = len(r.text[:r.col].encode("utf-8", "surrogatepass")) + 1
    text = r.text
    if color:
        parts, pos = [], 0
        for s, e in r.ranges:
            if s < pos:
                continue
            parts.append(text[pos:s] + "\033[1;31m" + text[s:e] + "\033[0m")
            pos = e
        text = "".join(parts) + text[pos:]
        head = f"\033[35m{r.repo}/{r.path}\033[0m:\033[32m{r.line + 1}\033[0m:{col}:"
    else:
        head = f"{r.repo}/{r.path}:{r.line + 1}:{col}:"
    if r.kind is not None:   # a definition: its header line, then what it is
        tail = f"  [{r.kind} {r.qualname}, {r.uses} uses]"
        text = text + (f"\033[2m{tail}\033[0m" if color else tail)
    return f"{head} {text}"


# ---------------------------------------------------------------------------- shards: index --shard, merge

def cmd_index_select(args) -> int:
    """`crossnav index` with --include/--exclude (repo-name globs) and --shard OUT.db (one repo into a
    standalone index, e.g. in that repo's CI): choose the repos, then run cmd_index on them."""
    import sqlite3

    from .merge import selected
    from .repos import RepoError

    include, exclude = args.include or [], args.exclude or []
    if not (include or exclude or args.shard):
        return cmd_index(args)
    if args.shard and args.db:
        err.print("[red]error:[/] --shard OUT.db is the index file to write; pass --shard or --db, not both")
        return 2
    out = Path(args.shard).expanduser() if args.shard else Path(args.db).expanduser() if args.db else default_db_path()
    try:
        names = _named_repos(args, out)
    except RepoError as e:
        err.print(f"[red]error:[/] {e}")
        return 2

    kept = [p for p in names if selected(names[p], include, exclude)]
    dropped = sorted(names[p] for p in names if p not in kept)
    if names and not kept:
        err.print(f"[red]error:[/] every repository was left out by --include/--exclude ({', '.join(dropped)}); "
                  "nothing to index", highlight=False)
        return 2
    if dropped:
        err.print(f"not indexed (--include/--exclude): {', '.join(dropped)}", highlight=False)
    args.named = {p: names[p] for p in kept}
    if not args.shard:
        return cmd_index(args)

    if len(kept) != 1:
        listed = ", ".join(sorted(names[p] for p in kept)) or "none"
        err.print(f"[red]error:[/] --shard indexes exactly one repository (got {len(kept)}: {listed}); "
                  "pass one REPO_DIR, or narrow --discover with --include", highlight=False)
        return 2
    if out.exists():   # an earlier shard of the same repo is updated incrementally (a CI cache makes it fast)
        others = sorted(set(_indexed_repos(out)) - {names[kept[0]]})
        if others:
            err.print(f"[red]error:[/] {out} already holds other repositories ({', '.join(others)}); a shard holds "
                      "one repository: pass a new file to --shard", highlight=False)
            return 2
    args.db = str(out)
    rc = cmd_index(args)
    if rc == 0:
        import gc
        gc.collect()   # cmd_index's connection, so that the journal mode can change
        try:   # one self-contained file (no -wal) to upload as a CI artifact
            c = sqlite3.connect(str(out))
            c.execute("PRAGMA journal_mode=DELETE")
            c.close()
        except sqlite3.Error:
            pass
    return rc


def cmd_merge(args) -> int:
    """Merge shards into the org index: validate all, then one transaction per repo, then one derived rebuild."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    import sqlite3

    from .merge import Merger, MergeError, read_shards

    db_path = Path(args.db).expanduser() if args.db else default_db_path()
    t0 = time.perf_counter()
    try:
        candidates = read_shards([Path(s) for s in args.shards], db_path)   # before the org index is opened
    except MergeError as e:
        err.print(f"[red]error:[/] {e}", highlight=False)
        return 2
    try:
        db = open_writer(db_path)
    except IndexError_ as e:
        err.print(f"[red]error:[/] {e}")
        return 2
    quiet = args.quiet or not err.is_terminal
    progress = Progress(TextColumn("[bold]merging {task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err, transient=True, disable=quiet)
    merger = Merger(db, db_path)
    plan = merger.plan(candidates, args.include or [], args.exclude or [], force=args.force)
    task = progress.add_task("", total=len(plan.todo))
    merger.progress = lambda event, name: progress.update(task, description=name)
    results, failure, interrupted = [], None, False
    try:
        with progress:
            for res in merger.merge(plan):
                results.append(res)
                progress.advance(task)
                if quiet and not args.quiet:
                    err.print(f"merged {res.name} from {res.shard}: {res.files} files ({res.seconds:.1f}s)", highlight=False)
        merger.finish()
    except KeyboardInterrupt:
        interrupted = True
    except sqlite3.Error as e:
        failure = e
    finally:
        merger.restore_indexes()
        if failure is not None and results:
            try:   # the repos merged before the failure are kept: make the cross-repo tables match them
                merger.finish()
            except sqlite3.Error:
                pass
    _merge_summary(results + plan.skipped, len(args.shards), time.perf_counter() - t0, db_path)
    if failure is not None:
        done = ", ".join(r.name for r in results) or "none"
        err.print(f"[red]error:[/] merge failed ({failure}); repos merged before it are saved ({done}), "
                  "the rest keep their previous state", highlight=False)
        return 2
    if interrupted:
        done = ", ".join(r.name for r in results) or "none"
        err.print(f"[yellow]interrupted[/]: repos merged before the interrupt are saved ({done}); "
                  "the rest keep their previous state. Run the same command again to finish.", highlight=False)
        return 130
    return 0


def _merge_summary(results, nshards: int, elapsed: float, db_path: Path):
    from rich.table import Table
    out = _out(soft_wrap=True)
    table = Table(title="crossnav merge")
    for col in ("repo", "result", "commit", "indexed at", "files", "definitions", "references", "new texts", "time", "shard"):
        table.add_column(col, justify="right" if col in ("files", "definitions", "references", "new texts", "time") else "left")
    for r in results:
        merged = r.merged
        table.add_row(r.name, r.action if merged else f"skipped: {r.action}", (r.head or "")[:10], r.indexed_at or "",
                      str(r.files) if merged else "", f"{r.defs:,}" if merged else "", f"{r.refs:,}" if merged else "",
                      str(r.texts) if merged else "", f"{r.seconds:.1f}s" if merged else "", r.shard.name)
    out.print(table)
    merged = [r for r in results if r.merged]
    size = db_path.stat().st_size if db_path.exists() else 0
    out.print(f"{len(merged)} repos merged, {len(results) - len(merged)} skipped, from {nshards} shard(s) "
              f"in {elapsed:.1f}s; database {db_path} ({_size(size)})", highlight=False)
    for r in results:
        if not r.merged and r.action != "excluded":
            out.print(f"  {r.name} ({r.shard}): {r.note}", highlight=False)


def _whole(minimum: int):
    """An argparse type: a whole number >= minimum. `--max-file-size -5` was taken, remembered in the
    index, and every later run skipped every file; `--limit -3` showed nothing and said more were hidden."""
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < minimum:
            want = "a whole number above 0" if minimum == 1 else f"a whole number, {minimum} or more"
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return int(text)
    return parse


def _host_port(text: str) -> tuple[str, int]:
    """`HOST:PORT` or `:PORT` (127.0.0.1), checked here: a bad one was a traceback from the socket."""
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port from 1 to 65535, got {text!r}")
    return host or "127.0.0.1", int(port)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crossnav", description="Code navigation across repositories.")
    p.add_argument("--version", action=_VersionAction)
    sub = p.add_subparsers(dest="command", required=True)

    pi = sub.add_parser("index", help="index or update git repositories into the shared SQLite index")
    pi.add_argument("repos", nargs="*", metavar="REPO_DIR", help="repository folders (repo name = folder name)")
    pi.add_argument("--discover", action="append", metavar="ROOT", help="index every git repository found under ROOT")
    pi.add_argument("--name", help="the repo's name in the index (default: its folder name); one REPO_DIR only")
    pi.add_argument("--db", help=f"index file (default: $CROSSNAV_DB or {default_db_path()})")
    pi.add_argument("--max-file-size", type=_whole(1), default=None, metavar="KIB",
                    help="skip files larger than this (default: the index's last setting, else 2048 KiB)")
    pi.add_argument("--languages", metavar="LIST", help="index only these languages, comma-separated "
                    "(python,go,typescript,...; `all` for every one); files of others are removed "
                    "(default: the index's last setting, else all)")
    pi.add_argument("-j", "--jobs", type=_whole(1), default=None, help="parser processes (default: number of cores)")
    pi.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    pi.add_argument("-v", "--verbose", action="store_true", help="list every warning")
    pi.add_argument("--force-resolve", action="store_true", help=argparse.SUPPRESS)
    pi.add_argument("--shard", metavar="OUT.db", help="index exactly one repository into a standalone index "
                    "(a shard, e.g. built in that repo's CI) for `crossnav merge`")
    pi.add_argument("--include", action="append", metavar="GLOB", help="only repos whose name matches (repeatable)")
    pi.add_argument("--exclude", action="append", metavar="GLOB", help="leave out repos whose name matches (repeatable)")
    pi.set_defaults(func=cmd_index_select)

    pm = sub.add_parser("merge", help="merge shards (crossnav index --shard) into the org index",
                        description="Each repo of each shard replaces that repo in the --db index in one transaction; "
                        "a shard older than the index's copy of its repo is skipped unless --force.")
    pm.add_argument("shards", nargs="+", metavar="SHARD", help="shard files (any crossnav index; every repo in it is merged)")
    pm.add_argument("--db", help=f"the org index to update (default: $CROSSNAV_DB or {default_db_path()})")
    pm.add_argument("--include", action="append", metavar="GLOB", help="only repos whose name matches (repeatable)")
    pm.add_argument("--exclude", action="append", metavar="GLOB", help="leave out repos whose name matches (repeatable)")
    pm.add_argument("--force", action="store_true", help="merge shards even if older than the index's copy")
    pm.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    pm.set_defaults(func=cmd_merge)

    ps = sub.add_parser("serve", help="run the language server (stdio by default)")
    ps.add_argument("--db", help="index file (default: $CROSSNAV_DB, initializationOptions.db, or the default path)")
    ps.add_argument("--tcp", metavar="HOST:PORT", type=_host_port, help="listen on TCP instead of stdio")
    ps.add_argument("--stdio", action="store_true", help="use stdio (the default; accepted for editor compatibility)")
    ps.add_argument("--wrap", metavar="CMD", help="run your usual language server CMD (e.g. 'jedi-language-server') "
                    "behind crossnav and merge its answers with crossnav's: one server entry for editors that ask only one")
    ps.add_argument("--log-file", help="write the server log here (default: stderr)")
    ps.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    ps.add_argument("--version", action=_VersionAction)
    ps.set_defaults(func=cmd_serve)

    pst = sub.add_parser("status", help="show the repos in the index")
    pst.add_argument("--db", help="index file")
    pst.set_defaults(func=cmd_status)

    psy = sub.add_parser("sync", help="fetch a published index (URL or path) into the local index file",
                         description="Download SOURCE (http(s) URL with ETag/If-Modified-Since, file:// URL or a path "
                         "on a shared drive; .gz is decompressed) next to the index, check it, and move it into place "
                         "atomically. A running `crossnav serve` switches to it on its next request.")
    psy.add_argument("source", metavar="SOURCE", help="URL or path of the published index")
    psy.add_argument("--db", help=f"local index file to replace (default: $CROSSNAV_DB or {default_db_path()})")
    psy.add_argument("--force", action="store_true", help="fetch even if the source looks unchanged")
    psy.add_argument("-q", "--quiet", action="store_true", help="print nothing unless there is an error")
    psy.set_defaults(func=cmd_sync)

    pu = sub.add_parser("url", help="print the code-host URL of a local file at a line (PATH:LINE)")
    pu.add_argument("location", metavar="PATH[:LINE[-END]]", help="a file in an indexed repo, optionally a 1-based line or range")
    pu.add_argument("--db", help="index file")
    pu.set_defaults(func=cmd_url)

    psr = sub.add_parser("search", help="search code across the indexed repos (content or symbols)",
                         description="Query syntax: terms and \"phrases\" (literal, smart case), /regex/, "
                         "case:yes, repo: -repo: file:/path: -file: lang: owner: type:symbol kind: count:N, "
                         "AND OR NOT ( ). See README, 'Search'.")
    psr.add_argument("query", nargs="+", metavar="QUERY", help="the query (several words are joined with spaces)")
    psr.add_argument("--db", help="index file")
    psr.add_argument("--json", action="store_true", help="one JSON document: {results: [...], more: bool}")
    psr.add_argument("--regex", action="store_true", help="bare terms are regular expressions")
    psr.add_argument("--limit", type=_whole(0), default=100, metavar="N", help="at most N results (default 100; 0: all)")
    psr.set_defaults(func=cmd_search)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
