"""A real HTTP server on 127.0.0.1 for download tests: a route table, hit counts, slow routes.

Use it through :func:`serving`, which also keeps proxies out of the way (the tests
never contact any address but 127.0.0.1)::

    @pytest.fixture
    def server(monkeypatch):
        with serving(monkeypatch) as srv:
            yield srv
"""

from __future__ import annotations

import collections
import contextlib
import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Route", "LocalServer", "Request", "serving"]

#: The longest a gated answer waits for its gate (a test that forgets to open it still ends).
GATE_TIMEOUT = 300.0
_PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


@dataclass
class Route:
    body: bytes
    mode: str = "ok"  # "ok", "corrupt", "truncate", "fail-then-ok", "always-500"
    failures: int = 0  # for "fail-then-ok": how many 500s before success
    #: Slow mode: the body goes out in pieces of ``chunk_size`` bytes with ``chunk_delay``
    #: seconds before each one (so a download stays in flight for a while).
    chunk_size: int = 1 << 16
    chunk_delay: float = 0.0
    #: Gated mode: the answer waits (at most ``GATE_TIMEOUT`` s) until the test sets this.
    gate: threading.Event | None = None


@dataclass
class Request:
    """One GET the server answered: its path, when it arrived and when its answer ended."""

    path: str
    started: float  # time.time()
    finished: float | None = None  # None while in flight or if the client went away
    completed: bool = False  # the whole body was sent


class LocalServer:
    """A ThreadingHTTPServer on 127.0.0.1 with a route table and a request counter."""

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.hits: collections.Counter[str] = collections.Counter()
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):
                record = Request(self.path, time.time())
                with server.lock:
                    server.hits[self.path] += 1
                    count = server.hits[self.path]
                    server.requests.append(record)
                try:
                    self._answer(count)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client went away (killed, timed out)
                else:
                    record.completed = True
                finally:
                    record.finished = time.time()

            def _answer(self, count):
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if route.mode == "always-500" or (
                    route.mode == "fail-then-ok" and count <= route.failures
                ):
                    self.send_error(500, "Internal Server Error")
                    return
                if route.gate is not None:
                    route.gate.wait(GATE_TIMEOUT)
                body = route.body
                if route.mode == "corrupt":  # right length, wrong content
                    body = bytes(b ^ 0xA5 for b in body)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if route.mode == "truncate":
                    self.send_header("Content-Length", str(len(body) + 5000))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if route.chunk_delay <= 0:
                    self.wfile.write(body)
                    return
                self.wfile.flush()  # the headers now, the body slowly
                for start in range(0, len(body), max(1, route.chunk_size)):
                    time.sleep(route.chunk_delay)
                    self.wfile.write(body[start : start + route.chunk_size])
                    self.wfile.flush()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        assert host == "127.0.0.1"
        self.base = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def add(self, path: str, body: bytes, mode: str = "ok", failures: int = 0, *,
            chunk_size: int = 1 << 16, chunk_delay: float = 0.0,
            gate: threading.Event | None = None) -> str:
        self.routes[path] = Route(body, mode, failures, chunk_size, chunk_delay, gate)
        return self.base + path

    def add_slow(self, path: str, body: bytes, seconds: float, chunks: int = 20,
                 gate: threading.Event | None = None) -> str:
        """A route whose body takes about ``seconds`` to arrive, in ``chunks`` pieces."""
        size = max(1, -(-len(body) // chunks))
        pieces = max(1, -(-len(body) // size))
        return self.add(path, body, chunk_size=size, chunk_delay=seconds / pieces, gate=gate)

    def serve_files(self, paths, prefix: str, seconds: float = 0.0, chunks: int = 20,
                    gate: threading.Event | None = None) -> str:
        """Serve each file at ``prefix/NAME`` (each taking about ``seconds``, each behind
        ``gate`` if given); return the base URL, ``prefix/``."""
        for path in paths:
            body = path.read_bytes()
            if seconds > 0:
                self.add_slow(f"{prefix}/{path.name}", body, seconds, chunks, gate)
            else:
                self.add(f"{prefix}/{path.name}", body, gate=gate)
        return self.url(prefix + "/")

    def url(self, path: str) -> str:
        return self.base + path

    def completed(self) -> collections.Counter[str]:
        """Per path, how many answers were sent to the end (the client did not go away)."""
        with self.lock:
            return collections.Counter(r.path for r in self.requests if r.completed)

    @property
    def total_hits(self) -> int:
        with self.lock:
            return sum(self.hits.values())

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@contextlib.contextmanager
def serving(monkeypatch) -> Iterator[LocalServer]:
    """A started :class:`LocalServer`, with no proxy in the environment (child processes too)."""
    for var in _PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    srv = LocalServer()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
