"""`crossnav serve`'s own options: `--tcp HOST:PORT`, the same language server over a TCP socket (an
editor attaching to a server it did not start), and a bad address, a taken port or an unwritable
`--log-file` as one error line."""
from __future__ import annotations

import json
import socket
import subprocess
import time

import pytest

from orgutil import SERVE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send(sock, msg: dict) -> None:
    body = json.dumps(msg).encode()
    sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def receive(f) -> dict:
    length = None
    while True:
        line = f.readline()
        if not line:
            raise EOFError("server closed the connection")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return json.loads(f.read(length))


def answer(f, id_: int) -> dict:
    while True:   # skip notifications (log messages) until the response to this request
        msg = receive(f)
        if msg.get("id") == id_:
            return msg


def connect(port: int, proc, timeout: float = 20) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server never listened: {proc.stderr.read().decode() if proc.poll() is not None else ''}")
            time.sleep(0.1)


def test_serves_over_tcp(org):
    port = free_port()
    proc = subprocess.Popen([*SERVE, "--db", str(org.db), "--tcp", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        sock = connect(port, proc)
        with sock, sock.makefile("rb") as f:
            send(sock, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                        "params": {"processId": None, "rootUri": org.repos["ledger"].as_uri(), "capabilities": {}}})
            init = answer(f, 1)
            assert init["result"]["capabilities"]["workspaceSymbolProvider"]
            send(sock, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
            send(sock, {"jsonrpc": "2.0", "id": 2, "method": "workspace/symbol", "params": {"query": "Backoff"}})
            symbols = answer(f, 2)["result"]
            hit = [s for s in symbols if s["name"] == "Backoff"]
            assert hit and hit[0]["containerName"].startswith("payments"), symbols
            assert hit[0]["location"]["uri"].endswith("payments/retry/policy.py")
            send(sock, {"jsonrpc": "2.0", "id": 3, "method": "shutdown"})
            assert answer(f, 3)["result"] is None
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.parametrize("address", ["nonsense", "127.0.0.1:99999", "host:", ":0"])
def test_a_bad_address_is_one_line(address):
    r = subprocess.run([*SERVE, "--tcp", address], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "expected HOST:PORT with a port from 1 to 65535" in r.stderr, r.stderr


def test_a_taken_port_is_one_line(org):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([*SERVE, "--db", str(org.db), "--tcp", f"127.0.0.1:{port}"],
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and f"cannot listen on 127.0.0.1:{port}" in lines[0], r.stderr


def test_an_unwritable_log_file_is_one_line(org, tmp_path):
    r = subprocess.run([*SERVE, "--db", str(org.db), "--log-file", str(tmp_path / "missing" / "x.log")],
                       input="", capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "cannot write the log file" in r.stderr, r.stderr
