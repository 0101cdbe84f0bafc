"""jedi for what static resolution cannot know (`client.session.get`, `conn.urlopen(method=...)`).

jedi is not thread-safe, so it runs on one dedicated thread; each request waits at most a
budget and otherwise gives up (the thread finishes in the background and warms jedi's caches).
Its search path holds every indexed repo's import root, ahead of installed packages, so inference
crosses repos too and lands in the indexed code.
"""
from __future__ import annotations

import concurrent.futures
import logging
import os
import sys

log = logging.getLogger(__name__)
_INSTALLED = {"site-packages", "dist-packages"}


class Inference:
    def __init__(self, import_roots: list[str], budget: float = 2.0):
        self.import_roots = [p for p in import_roots if os.path.isdir(p)]
        self.budget = budget
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jedi")
        self._projects: dict[str, object] = {}
        self._sys_path: list[str] | None = None

    def _project(self, root: str):
        import jedi
        p = self._projects.get(root)
        if p is None:
            if self._sys_path is None:
                self._sys_path = self._search_path()
            p = self._projects[root] = jedi.Project(root, sys_path=self._sys_path, smart_sys_path=True,
                                                    load_unsafe_extensions=False)
        return p

    def _search_path(self) -> list[str]:
        """The environment's standard library, then every indexed repo's import root, then its
        site-packages. jedi would put the import roots last (`added_sys_path`), so a package installed
        where the server runs (crossnav's own dependencies: click, rich, attrs ...) hid the indexed repo
        of the same name, a team's fork or the version the company runs."""
        import jedi
        try:
            base = jedi.get_default_environment().get_sys_path()   # $VIRTUAL_ENV's, else this interpreter's
        except Exception as e:  # noqa: BLE001 - a broken $VIRTUAL_ENV: fall back to this process's path
            log.info("jedi found no environment (%s); using this interpreter's path", e)
            base = sys.path
        base = [p for p in base if p]
        installed = [p for p in base if _INSTALLED & set(p.split(os.sep))]
        return [p for p in base if p not in installed] + self.import_roots + installed

    def goto(self, source: str, path: str, root: str, line: int, col: int) -> list[tuple[str, int, int]]:
        """Definitions at (0-based line, code-point column): [(abs path, 0-based line, column)]."""
        def work():
            import jedi
            script = jedi.Script(code=source, path=path, project=self._project(root))
            names = script.goto(line + 1, col, follow_imports=True)
            out = []
            for n in names:
                if n.module_path is None or n.line is None or n.in_builtin_module():
                    continue
                out.append((str(n.module_path), n.line - 1, n.column))
            return out
        fut = self._pool.submit(work)
        try:
            return fut.result(timeout=self.budget)
        except concurrent.futures.TimeoutError:
            log.info("jedi gave no answer within %.1fs at %s:%d:%d", self.budget, path, line + 1, col)
        except Exception as e:  # jedi raises on odd code; never let it take a request down
            log.info("jedi failed at %s:%d:%d: %s", path, line + 1, col, e)
        return []

    def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)
