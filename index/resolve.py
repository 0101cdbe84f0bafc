"""Turn a file-local target (`h11.Data`, `urllib3.PoolManager.urlopen`, `Retry(total`) into the
qualified name of the definition it denotes, across every indexed repo.

Rules, in order (docs/architecture.md, "Resolution"):
  1. an alias (`from .x import y` in a package makes `pkg.y` an alias) is followed; the extractor
     drops aliases that a later definition replaces, so an alias that coexists with a definition
     is an import whose `except ImportError:` fallback that definition is;
  2. else a class/function/method/module definition with that exact name;
  3. else a variable/attribute/parameter definition with that name;
  4. else the parent is resolved and the last component looked up under it, through the
     parent's class bases (a module's too: Ruby mixins), then the parent's star aliases
     (`from m import *`; for C# and Ruby also the scope a type or namespace is written in, where
     a bare prefix such as `cs:` is the global namespace);
  5. `callee(kw` (a keyword argument) resolves the callee, then its parameter `kw`
     (for a class: `__init__`'s parameter, or a field of that name);
  6. `x()` is the value of calling x: an instance of class x, or what function x is annotated
     to return; a member of a variable/attribute/parameter/property is looked up in the class of
     its recorded value type (`defs.type`).
The same code serves the indexer (in-memory tables) and the server (SQLite look-ups).
"""
from __future__ import annotations

import sqlite3
import threading
from functools import lru_cache

from .lang import CLASS_LIKE, SCOPES, STRONG, VALUE

# named types have members too: Go's `type Mode int` has methods, a type alias has its target's
TYPE_LIKE = CLASS_LIKE | {"type"}
MAX_DEPTH = 24
_OPEN = 1 << 30        # no cycle pending
_STEP_BUDGET = 20000   # look-ups per canonical() before provisional answers are remembered anyway


class Resolver:
    """Subclasses provide the four look-ups; `canonical` does the rest, memoised."""

    def kind(self, qual: str) -> str | None: ...
    def aliases(self, qual: str) -> list[str]: ...
    def stars(self, module: str) -> list[str]: ...
    def bases(self, cls: str) -> list[str]: ...
    def type_of(self, qual: str) -> str | None: ...

    def __init__(self):
        self._memo: dict[str, str | None] = {}
        self._path: dict[str, int] = {}   # names being resolved right now -> their depth on the path
        self._low = _OPEN                  # the shallowest path entry a cycle in this branch went back to
        self._steps = 0                    # look-ups in the current canonical() call
        self._lock = threading.Lock()      # the server's threads share one resolver and its walk state

    def canonical(self, target: str | None) -> str | None:
        if not target:
            return None
        with self._lock:
            self._steps, self._low = 0, _OPEN
            return self._resolve(target, 0, frozenset())

    def _resolve(self, q: str, depth: int, seen: frozenset) -> str | None:
        if q in self._memo:
            return self._memo[q]
        if q in seen:
            self._low = min(self._low, self._path[q])
            return None
        if depth > MAX_DEPTH:
            self._low = -1
            return None
        self._steps += 1
        self._path[q] = depth
        outer, self._low = self._low, _OPEN
        result = self._resolve_uncached(q, depth, seen | {q})
        del self._path[q]
        # A "not found" that a cycle back to an outer name cut short is only provisional (it depends
        # on where the walk started): remember it once the walk is back at that name, as for strongly
        # connected components, unless the walk is already long (then keep it: bounded time).
        if result is not None or self._low >= depth or self._steps > _STEP_BUDGET:
            self._memo[q] = result
        self._low = min(outer, self._low if self._low < depth else _OPEN)
        return result

    def _value_class(self, q, depth, seen):
        """The class whose members a resolved name's value has, or None. A named type (kind `type`)
        with no recorded target has its own members (Go's `type Mode int`); one that names another
        type (a C typedef) has that type's members, through chains of aliases
        (`png_structrp` -> `png_struct` -> `struct png_struct_def`)."""
        for _ in range(8):
            k = self.kind(q)
            if k in CLASS_LIKE:
                return q
            if k not in VALUE and k != "type":
                return None
            t = self.type_of(q)
            if not t:
                return q if k == "type" else None
            r = self._resolve(t, depth + 1, seen)
            if r is None or r == q or self.kind(r) not in TYPE_LIKE:
                return q if k == "type" else None
            q = r
        return None

    def _resolve_uncached(self, q, depth, seen):
        if q.endswith("()"):
            c = self._resolve(q[:-2], depth + 1, seen)
            if c is None:
                return None
            k = self.kind(c)
            if k in TYPE_LIKE:
                return c
            if k in ("function", "method", "property"):
                t = self.type_of(c)
                return self._resolve(t, depth + 1, seen) if t else None
            return None
        if "(" in q and ")" not in q.rpartition("(")[2]:
            callee, _, kw = q.rpartition("(")
            c = self._resolve(callee, depth + 1, seen)
            if c is None:
                return None
            if self.kind(c) in TYPE_LIKE:
                for owner in self._mro(c, depth, seen):
                    for cand in (f"{owner}.__init__.{kw}", f"{owner}.{kw}"):
                        if self.kind(cand) in ("parameter", "attribute"):
                            return cand
                return None
            cand = f"{c}.{kw}"
            return cand if self.kind(cand) == "parameter" else None
        for t in self.aliases(q):
            r = self._resolve(t, depth + 1, seen)
            if r is not None:
                return r
        if self.kind(q) is not None:
            return q
        parent, dot, last = q.rpartition(".")
        if not dot:
            return None
        p = self._resolve(parent, depth + 1, seen)
        if p is None:
            return None
        if p != parent:
            r = self._resolve(f"{p}.{last}", depth + 1, seen)
            if r is not None:
                return r
        pk = self.kind(p)
        if pk in TYPE_LIKE or pk in SCOPES:
            for b in self._mro(p, depth, seen)[1:]:   # class bases; a Ruby module's included modules
                cand = f"{b}.{last}"
                if self.kind(cand) is not None:
                    return cand
            # `from m import *`; for C#/Ruby also the lexically enclosing scope of a type or namespace
            for s in self.stars(p):
                r = self._resolve(s + last if s.endswith(":") else f"{s}.{last}", depth + 1, seen)
                if r is not None:
                    return r
        else:
            cls = self._value_class(p, depth, seen)
            if cls is not None:
                for b in self._mro(cls, depth, seen):
                    cand = f"{b}.{last}"
                    if self.kind(cand) is not None:
                        return cand
        return None

    def _mro(self, cls, depth, seen):
        """The class and its resolved bases, depth first, without repeats."""
        out, todo = [], [cls]
        while todo and len(out) < 32:
            c = todo.pop(0)
            if c in out:
                continue
            out.append(c)
            for b in self.bases(c):
                r = self._resolve(b, depth + 1, seen)
                if r is not None and (self.kind(r) in TYPE_LIKE or self.kind(r) in SCOPES):
                    todo.append(r)
        return out


class MemoryResolver(Resolver):
    """Whole-index tables in dicts: used once per index run to rebuild `resolved`."""

    def __init__(self, conn: sqlite3.Connection):
        super().__init__()
        self._kinds: dict[str, str] = {}
        self._types: dict[str, str] = {}
        for q, k, t in conn.execute("SELECT qualname, kind, type FROM defs"):
            if self._kinds.get(q) not in STRONG:
                self._kinds[q] = k
            if t and q not in self._types:
                self._types[q] = t
        self._aliases: dict[str, list[str]] = {}
        self._stars: dict[str, list[str]] = {}
        for a, t, star in conn.execute("SELECT alias, target, star FROM aliases"):
            (self._stars if star else self._aliases).setdefault(a, []).append(t)
        # the same star is stated by every file of a C# namespace or Ruby module: look each up once
        self._stars = {a: list(dict.fromkeys(ts)) for a, ts in self._stars.items()}
        self._bases: dict[str, list[str]] = {}
        for c, b in conn.execute("SELECT class, base FROM bases"):
            self._bases.setdefault(c, []).append(b)

    def kind(self, qual):
        return self._kinds.get(qual)

    def aliases(self, qual):
        return self._aliases.get(qual, ())

    def stars(self, module):
        return self._stars.get(module, ())

    def bases(self, cls):
        return self._bases.get(cls, ())

    def type_of(self, qual):
        return self._types.get(qual)


class SqlResolver(Resolver):
    """Look-ups straight from SQLite with small caches: the server's resolver (flat memory)."""

    def __init__(self, conn: sqlite3.Connection):
        super().__init__()
        self.conn = conn
        self.kind = lru_cache(maxsize=65536)(self._kind)
        self.aliases = lru_cache(maxsize=65536)(self._aliases)
        self.stars = lru_cache(maxsize=8192)(self._stars)
        self.bases = lru_cache(maxsize=8192)(self._bases)
        self.type_of = lru_cache(maxsize=65536)(self._type_of)

    def _kind(self, qual):
        kinds = [r[0] for r in self.conn.execute("SELECT kind FROM defs WHERE qualname = ? LIMIT 8", (qual,))]
        for k in kinds:
            if k in STRONG:
                return k
        return kinds[0] if kinds else None

    def _aliases(self, qual):
        return tuple(r[0] for r in self.conn.execute("SELECT target FROM aliases WHERE alias = ? AND star = 0", (qual,)))

    def _stars(self, module):
        return tuple(r[0] for r in self.conn.execute("SELECT DISTINCT target FROM aliases WHERE alias = ? AND star = 1", (module,)))

    def _bases(self, cls):
        return tuple(r[0] for r in self.conn.execute("SELECT base FROM bases WHERE class = ?", (cls,)))

    def _type_of(self, qual):
        row = self.conn.execute("SELECT type FROM defs WHERE qualname = ? AND type IS NOT NULL LIMIT 1", (qual,)).fetchone()
        return row[0] if row else None

    def clear(self):
        """Forget cached answers (the index changed on disk)."""
        self._memo.clear()
        for f in (self.kind, self.aliases, self.stars, self.bases, self.type_of):
            f.cache_clear()


def derive(conn: sqlite3.Connection) -> tuple[list, list]:
    """(`resolved` rows, `usage` rows) from the per-file tables. Only reads, so the indexer runs it
    on its own connection in a thread while it builds indexes on another (SQLite releases the GIL).

    `usage` counts, per canonical symbol, the uses (not imports or import aliases) of every target
    that resolves to it, and the distinct repos they are in."""
    resolver = MemoryResolver(conn)
    # one pass over refs gives both the targets to resolve and the uses per target and repo (after a
    # first load it runs before refs has an index: each pass is a sort of every row)
    counts = conn.execute(
        "SELECT target, repo_id, sum(kind NOT IN ('import', 'alias')) FROM refs WHERE target IS NOT NULL"
        " GROUP BY target, repo_id").fetchall()
    targets = {r[0] for r in counts}
    targets.update(r[0] for r in conn.execute("SELECT DISTINCT alias FROM aliases WHERE star = 0"))
    canonical = resolver.canonical
    # resolve in set order, as always: the memo keeps answers computed under a cycle cut-off, so the
    # order can change answers (sorted order broke a Ruby nesting case); sort only for the insert
    resolved = [(t, canonical(t)) for t in targets]
    resolved.sort()
    canon = dict(resolved)
    uses: dict[str, int] = {}
    repos: dict[str, set] = {}
    for target, repo_id, n in counts:
        c = canon[target]
        if c is None or not n:
            continue
        if c in uses:
            uses[c] += n
            repos[c].add(repo_id)
        else:
            uses[c] = n
            repos[c] = {repo_id}
    usage = [(c, n, len(repos[c])) for c, n in sorted(uses.items())]
    return resolved, usage


def store_derived(conn: sqlite3.Connection, derived: tuple[list, list]) -> tuple[int, int]:
    """Replace `resolved` and `usage` with `derive`'s rows; caller owns the transaction."""
    resolved, usage = derived
    from .store import insert_many
    conn.execute("DELETE FROM resolved")
    insert_many(conn, "resolved(target, canonical)", 2, resolved)
    conn.execute("DELETE FROM usage")
    insert_many(conn, "usage(qualname, refs, repos)", 3, usage)
    return len(resolved), sum(1 for _, c in resolved if c)


def rebuild_derived(conn: sqlite3.Connection) -> tuple[int, int]:
    """Recompute `resolved` (every stored target -> canonical) and `usage`; caller owns the transaction."""
    return store_derived(conn, derive(conn))
