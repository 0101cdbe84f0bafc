"""jedi for what static resolution cannot know (`client.session.get`, `conn.urlopen(method=...)`).

jedi is not thread-safe, so it runs on one dedicated thread; each request waits at most a
budget and otherwise gives up (the thread finishes in the background and warms jedi's caches).
Its search path is every indexed repo's import root, so inference crosses repos too.
"""
from __future__ import annotations

import concurrent.futures
import logging
import os

log = logging.getLogger(__name__)


class Inference:
    def __init__(self, import_roots: list[str], budget: float = 2.0):
        self.import_roots = [p for p in import_roots if os.path.isdir(p)]
        self.budget = budget
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jedi")
        self._projects: dict[str, object] = {}

    def _project(self, root: str):
        import jedi
        p = self._projects.get(root)
        if p is None:
            p = self._projects[root] = jedi.Project(root, added_sys_path=self.import_roots, smart_sys_path=True,
                                                    load_unsafe_extensions=False)
        return p

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
