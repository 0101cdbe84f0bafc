"""`crossnav serve --wrap CMD`: one language server entry that is the user's usual server plus the org.

Helix and eglot ask only the first server that supports a request, so a second server for cross-repo
answers is never asked. Here crossnav sits in front: every message goes to the wrapped server (CMD)
and to crossnav's own server (a `crossnav serve` child), and the answers are merged:

  definition        the wrapped server's answer, unless it is empty, lands in a stub/site-packages, or
                    stays in the requesting file while crossnav lands elsewhere: then crossnav's
  references        both, de-duplicated
  hover             the wrapped server's hover plus crossnav's ownership footer (or crossnav's alone)
  workspace/symbol  both, de-duplicated
  everything else   the wrapped server only (`crossnav.*` commands: crossnav only)

If the wrapped server is missing or dies, crossnav keeps answering and says why (window/showMessage).
Both children negotiate the same position encoding: the wrapped server chooses first.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import shlex
import sys

from pygls.uris import to_fs_path

log = logging.getLogger("crossnav.wrap")

MERGED = {"textDocument/definition", "textDocument/references", "textDocument/hover", "workspace/symbol"}
CHILD_TIMEOUT = 30.0   # initialize and shutdown
MERGE_BUDGET = 3.0     # a merged request answers with what has arrived by then (a slow inner server
                       # must not hold up crossnav's answer; its late answer is dropped)


async def read_message(reader: asyncio.StreamReader) -> dict | None:
    """One LSP message (Content-Length framing), or None at end of stream."""
    length = None
    while True:
        line = await reader.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            if length is not None:
                break
            continue
        name, _, value = line.decode("ascii", "replace").partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
    body = await reader.readexactly(length)
    return json.loads(body)


def frame(msg: dict) -> bytes:
    body = json.dumps(msg, separators=(",", ":")).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class Child:
    """A language server process we talk to over its stdio."""

    def __init__(self, name: str, argv: list[str], proxy: "Proxy"):
        self.name, self.argv, self.proxy = name, argv, proxy
        self.proc: asyncio.subprocess.Process | None = None
        self.alive = False
        self.why_dead: str | None = None
        self._ids = itertools.count(1)

    async def start(self) -> bool:
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 24)
        except (OSError, ValueError) as e:
            self.why_dead = f"could not start `{shlex.join(self.argv)}`: {e}"
            return False
        self.alive = True
        asyncio.get_running_loop().create_task(self._read())
        return True

    def next_id(self) -> int:
        return next(self._ids)

    def send(self, msg: dict) -> None:
        if not self.alive or self.proc is None or self.proc.stdin is None:
            return
        try:
            self.proc.stdin.write(frame(msg))
        except (ConnectionError, RuntimeError) as e:
            self._died(f"{e}")

    async def _read(self):
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            try:
                msg = await read_message(self.proc.stdout)
            except (asyncio.IncompleteReadError, ValueError, ConnectionError) as e:
                log.warning("%s: bad message: %s", self.name, e)
                msg = None
            if msg is None:
                break
            self.proxy.from_child(self, msg)
        code = await self.proc.wait()
        self._died(f"exited with code {code}")

    def _died(self, why: str):
        if not self.alive:
            return
        self.alive = False
        self.why_dead = f"`{shlex.join(self.argv)}` {why}"
        self.proxy.child_died(self)


class Pending:
    """A client request fanned out to one or both children."""

    def __init__(self, client_id, method: str, params, targets: list[Child]):
        self.client_id, self.method, self.params = client_id, method, params
        self.answers: dict[str, dict] = {}
        self.waiting = {c.name for c in targets}
        self.child_ids: dict[str, int] = {}
        self.future: asyncio.Future | None = None   # set when the proxy itself awaits the answer


class Proxy:
    def __init__(self, inner_argv: list[str], crossnav_argv: list[str]):
        self.inner = Child("inner", inner_argv, self)
        self.cross = Child("crossnav", crossnav_argv, self)
        self.pending: dict[tuple[str, int], Pending] = {}       # (child, child id) -> request
        self.by_client_id: dict = {}                            # client id -> Pending
        self.server_requests: dict = {}                         # proxy id -> (child, child's id)
        self._server_ids = itertools.count(1)
        self.writer = None
        self.encoding = "utf-16"
        self.done = asyncio.Event()
        self.timeouts: dict = {}

    # ---- client side ------------------------------------------------------------------
    def to_client(self, msg: dict) -> None:
        self.writer.write(frame(msg))

    def notify_client(self, text: str, kind: int = 2) -> None:
        self.to_client({"jsonrpc": "2.0", "method": "window/showMessage", "params": {"type": kind, "message": text}})
        self.to_client({"jsonrpc": "2.0", "method": "window/logMessage", "params": {"type": kind, "message": text}})

    async def from_client(self, msg: dict) -> None:
        method = msg.get("method")
        if method is None:  # a response to a server->client request
            target = self.server_requests.pop(msg.get("id"), None)
            if target is not None:
                child, child_id = target
                child.send({**msg, "id": child_id})
            return
        if "id" not in msg:
            self.notification(msg)
            return
        if method == "initialize":
            await self.initialize(msg)
            return
        targets = self.targets(method, msg.get("params"))
        if not targets:
            self.to_client({"jsonrpc": "2.0", "id": msg["id"], "error": {
                "code": -32603, "message": f"crossnav --wrap: {self.inner.why_dead or 'no server can answer'}"}})
            return
        p = Pending(msg["id"], method, msg.get("params"), targets)
        self.by_client_id[msg["id"]] = p
        for child in targets:
            cid = child.next_id()
            p.child_ids[child.name] = cid
            self.pending[(child.name, cid)] = p
            child.send({**msg, "id": cid})
        if len(targets) > 1:
            budget = MERGE_BUDGET if method in MERGED else CHILD_TIMEOUT
            self.timeouts[msg["id"]] = asyncio.get_running_loop().call_later(budget, self.expire, p)

    def targets(self, method: str, params) -> list[Child]:
        alive = [c for c in (self.inner, self.cross) if c.alive]
        if method == "workspace/executeCommand" and isinstance(params, dict) and str(params.get("command", "")).startswith("crossnav."):
            return [c for c in alive if c is self.cross]
        if method in MERGED or method == "shutdown":
            return alive
        return [c for c in alive if c is self.inner] or []

    def notification(self, msg: dict) -> None:
        method = msg.get("method")
        if method == "$/cancelRequest":
            p = self.by_client_id.get((msg.get("params") or {}).get("id"))
            if p is not None:
                for name, cid in p.child_ids.items():
                    child = self.inner if name == "inner" else self.cross
                    child.send({**msg, "params": {"id": cid}})
            return
        for child in (self.inner, self.cross):
            child.send(msg)
        if method == "exit":
            asyncio.get_running_loop().call_later(0.5, self.done.set)

    async def initialize(self, msg: dict) -> None:
        params = dict(msg.get("params") or {})
        opts = params.get("initializationOptions") if isinstance(params.get("initializationOptions"), dict) else {}
        inner_params = {**params, "initializationOptions": {k: v for k, v in opts.items() if k != "crossnav"} or None}
        inner_result = None
        if await self.inner.start():
            inner_result = await self.request(self.inner, "initialize", inner_params)
            if inner_result is None:
                self.inner.why_dead = self.inner.why_dead or f"`{shlex.join(self.inner.argv)}` did not answer initialize"
        caps = (inner_result or {}).get("capabilities") or {}
        self.encoding = caps.get("positionEncoding") or "utf-16"
        general = dict((params.get("capabilities") or {}).get("general") or {})
        general["positionEncodings"] = [self.encoding]
        cross_params = {**params, "capabilities": {**(params.get("capabilities") or {}), "general": general},
                        "initializationOptions": opts.get("crossnav") if isinstance(opts.get("crossnav"), dict) else None}
        cross_result = None
        if await self.cross.start():
            cross_result = await self.request(self.cross, "initialize", cross_params)
        result = merge_initialize(inner_result, cross_result, self.encoding)
        self.to_client({"jsonrpc": "2.0", "id": msg["id"], "result": result})
        if inner_result is None:
            self.notify_client(f"crossnav: {self.inner.why_dead}; answering cross-repo requests only", 1)

    async def request(self, child: Child, method: str, params) -> dict | None:
        """A request the proxy itself makes (initialize): wait for the answer."""
        fut = asyncio.get_running_loop().create_future()
        cid = child.next_id()
        p = Pending(None, method, params, [child])
        p.future = fut
        self.pending[(child.name, cid)] = p
        child.send({"jsonrpc": "2.0", "id": cid, "method": method, "params": params})
        try:
            answer = await asyncio.wait_for(fut, CHILD_TIMEOUT)
        except asyncio.TimeoutError:
            return None
        return answer.get("result") if "error" not in answer else None

    # ---- children side ------------------------------------------------------------------
    def from_child(self, child: Child, msg: dict) -> None:
        if "method" in msg and "id" in msg:  # server -> client request
            pid = f"{child.name}-{next(self._server_ids)}"
            self.server_requests[pid] = (child, msg["id"])
            self.to_client({**msg, "id": pid})
        elif "method" in msg:
            self.to_client(msg)
        else:
            p = self.pending.pop((child.name, msg.get("id")), None)
            if p is not None:
                self.answer(p, child.name, msg)

    def answer(self, p: Pending, name: str, msg: dict) -> None:
        p.answers[name] = msg
        p.waiting.discard(name)
        if p.future is not None:
            if not p.future.done():
                p.future.set_result(msg)
            return
        if not p.waiting:
            self.finish(p)

    def expire(self, p: Pending) -> None:
        if p.waiting and p.answers:
            log.info("%s: answering without %s (no answer in time)", p.method, ", ".join(sorted(p.waiting)))
            for name, cid in p.child_ids.items():
                if name in p.waiting:
                    self.pending.pop((name, cid), None)
            p.waiting.clear()
            self.finish(p)
        elif p.waiting:  # nobody has answered yet: wait for the first answer
            self.timeouts[p.client_id] = asyncio.get_running_loop().call_later(0.2, self.expire, p)

    def finish(self, p: Pending) -> None:
        self.by_client_id.pop(p.client_id, None)
        t = self.timeouts.pop(p.client_id, None)
        if t is not None:
            t.cancel()
        inner, cross = p.answers.get("inner"), p.answers.get("crossnav")
        if p.method in MERGED:
            result = merge(p.method, p.params, _result(inner), _result(cross))
            self.to_client({"jsonrpc": "2.0", "id": p.client_id, "result": result})
        else:
            only = inner or cross or {"error": {"code": -32603, "message": "no answer"}}
            self.to_client({**only, "id": p.client_id})

    def child_died(self, child: Child) -> None:
        for key, p in list(self.pending.items()):
            if key[0] == child.name:
                del self.pending[key]
                self.answer(p, child.name, {"result": None})
        if child is self.inner and not self.done.is_set():
            self.notify_client(f"crossnav: {child.why_dead}; still answering cross-repo requests", 1)

    # ---- run ------------------------------------------------------------------------------
    async def run(self, reader: asyncio.StreamReader, writer) -> None:
        self.writer = writer
        reading = asyncio.get_running_loop().create_task(self._client_loop(reader))
        await self.done.wait()
        reading.cancel()
        for child in (self.inner, self.cross):
            if child.proc is not None and child.proc.returncode is None:
                try:
                    child.proc.terminate()
                except ProcessLookupError:
                    pass

    async def _client_loop(self, reader):
        while True:
            try:
                msg = await read_message(reader)
            except (asyncio.IncompleteReadError, ValueError) as e:
                log.warning("bad message from the client: %s", e)
                continue
            if msg is None:
                self.done.set()
                return
            await self.from_client(msg)


def _result(msg: dict | None):
    if not msg or "error" in msg:
        return None
    return msg.get("result")


def _locations(result) -> list[dict]:
    if result is None:
        return []
    items = result if isinstance(result, list) else [result]
    out = []
    for it in items:
        if isinstance(it, dict) and "targetUri" in it:  # LocationLink
            out.append({"uri": it["targetUri"], "range": it.get("targetSelectionRange") or it.get("targetRange")})
        elif isinstance(it, dict) and "uri" in it:
            out.append(it)
    return out


def _key(loc: dict):
    r = loc.get("range") or {}
    s = r.get("start") or {}
    return loc.get("uri"), s.get("line"), s.get("character")


# Where other language servers find a dependency: an installed or downloaded copy, not the team's repo.
_INSTALLED = ("site-packages", "typeshed", "/node_modules/", "/pkg/mod/", "/.cargo/registry/", "/vendor/", "/.m2/repository/",
              "/.gradle/caches/", "/.nuget/packages/", "/gems/")


def _weak(loc: dict, requesting_uri: str | None) -> bool:
    """A definition answer that is no real answer: a stub, an installed or downloaded copy (a module
    cache, node_modules, the Cargo registry, a jar), or the requesting file."""
    uri = loc.get("uri", "")
    if not uri.startswith("file:"):
        return True       # jdt://, jar:, zipfile:: a decompiled class inside a dependency
    path = to_fs_path(uri) or ""
    return (path.endswith((".pyi", ".d.ts")) or any(p in path for p in _INSTALLED) or uri == requesting_uri)


def merge(method: str, params, inner, cross):
    if method == "textDocument/definition":
        uri = ((params or {}).get("textDocument") or {}).get("uri")
        inner_locs, cross_locs = _locations(inner), _locations(cross)
        if inner_locs and not all(_weak(loc, uri) for loc in inner_locs):
            return inner
        if cross_locs and any(loc.get("uri") != uri for loc in cross_locs):
            return cross
        return inner if inner_locs else cross
    if method == "textDocument/references" or method == "workspace/symbol":
        out, seen = [], set()
        for item in (inner or []) + (cross or []):
            loc = item.get("location", item) if isinstance(item, dict) else {}
            k = (_key(loc), item.get("name") if isinstance(item, dict) else None)
            if k not in seen:
                seen.add(k)
                out.append(item)
        return out
    if method == "textDocument/hover":
        if not inner:
            return cross
        if not cross:
            return inner
        footer = _hover_text(cross).partition("\n---\n")[2].strip()
        if not footer:
            return inner
        return {**inner, "contents": {"kind": "markdown", "value": _hover_text(inner).rstrip() + "\n\n---\n\n" + footer}}
    return inner if inner is not None else cross


def _hover_text(hover: dict) -> str:
    c = hover.get("contents")
    if isinstance(c, dict):
        return c.get("value", "")
    if isinstance(c, list):
        return "\n\n".join(x if isinstance(x, str) else x.get("value", "") for x in c)
    return c or ""


def merge_initialize(inner: dict | None, cross: dict | None, encoding: str) -> dict:
    caps = dict((inner or {}).get("capabilities") or {})
    ccaps = (cross or {}).get("capabilities") or {}
    for key in ("definitionProvider", "referencesProvider", "hoverProvider", "workspaceSymbolProvider"):
        if ccaps.get(key) and not caps.get(key):
            caps[key] = True
    if not inner:
        caps = dict(ccaps)
    commands = list((caps.get("executeCommandProvider") or {}).get("commands") or [])
    for c in (ccaps.get("executeCommandProvider") or {}).get("commands") or []:
        if c not in commands:
            commands.append(c)
    if commands:
        caps["executeCommandProvider"] = {"commands": commands}
    caps["positionEncoding"] = encoding
    inner_name = ((inner or {}).get("serverInfo") or {}).get("name")
    version = ((cross or {}).get("serverInfo") or {}).get("version", "")
    return {"capabilities": caps, "serverInfo": {"name": f"crossnav+{inner_name}" if inner_name else "crossnav",
                                                 "version": version}}


def run_wrapped(command: str, crossnav_args: list[str]) -> int:
    """Entry point for `crossnav serve --wrap CMD`: stdio to the editor, two children."""
    inner = shlex.split(command)
    cross = [sys.executable, "-m", "crossnav.index.cli", "serve", *crossnav_args]

    async def main():
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 24)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, os.fdopen(sys.stdout.fileno(), "wb", 0))
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        await Proxy(inner, cross).run(reader, writer)

    asyncio.run(main())
    return 0
