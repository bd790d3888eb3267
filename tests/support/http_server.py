"""A real HTTP server on loopback whose routes misbehave on request: for the tests and for bench/.

Stdlib only, no pytest: `bench/` imports it too. Threaded (one thread per connection, HTTP/1.1 keep-alive),
so concurrent fetches really overlap and latency is paid in parallel, as from a real image host.

    with ScriptedHTTPServer() as server:
        url = server.add("/a.jpg", Route(body=data, latency=0.05))
        server.add("/flaky.jpg", Route(body=data, fail_times=2, fail_status=503))
        server.hits("/flaky.jpg")  # how many requests that path has had

A route answers, in this order: `drop_times` requests have their connection closed without an answer;
then `fail_times` requests get `fail_status` (with `Retry-After` when given); then `truncate_times` requests get
the status and headers but only half the body before the connection closes; then every request gets
`redirect_to` (a 3xx) or `status` with `body`. `latency` delays every answer. `stall` sends the headers and
half the body, then nothing until the server stops. `content_length=False` sends the body chunked, with no
length announced; `declared_length` announces a length other than the true one.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    latency: float = 0.0
    drop_times: int = 0
    fail_times: int = 0
    fail_status: int = 503
    truncate_times: int = 0
    retry_after: str | None = None
    redirect_to: str | None = None
    redirect_status: int = 302
    stall: bool = False
    content_length: bool = True
    declared_length: int | None = None


class ScriptedHTTPServer:
    """The server; `start()`/`stop()` or use it as a context manager. Routes may be added while it runs."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: tuple[str, str] | None = None):
        """`tls`: (certificate, key) files to serve https instead of http."""
        self._routes: dict[str, Route] = {}
        self._hits: dict[str, int] = {}
        self._headers: dict[str, list[dict[str, str]]] = {}
        self.connections = 0  # connections accepted so far: shows whether clients keep them alive
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._server = _Server((host, port), _Handler)
        self._server.owner = self
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host}:{port}" if ":" not in host else f"{self.scheme}://[{host}]:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, route: Route) -> str:
        """Serve `route` at `path` (query strings are ignored when matching); returns its URL."""
        with self._lock:
            self._routes[path] = route
            self._hits[path] = 0
        return self.url(path)

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits.get(path, 0)

    def request_headers(self, path: str) -> list[dict[str, str]]:
        """The headers of every request `path` has had, oldest first."""
        with self._lock:
            return list(self._headers.get(path, []))

    def start(self) -> ScriptedHTTPServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedHTTPServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _take(self, path: str, headers: dict[str, str]) -> tuple[Route | None, int]:
        """The route for `path` and how many requests it had before this one."""
        with self._lock:
            route = self._routes.get(path)
            seen = self._hits.get(path, 0)
            if route is not None:
                self._hits[path] = seen + 1
                self._headers.setdefault(path, []).append(headers)
            return route, seen


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the benchmark opens many connections at once
    owner: ScriptedHTTPServer

    def handle_error(self, request, client_address):
        # Connections that a route drops, or that a client closes at its size cap, end in OSError: expected.
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without this, Nagle and delayed ACKs add ~40 ms to each
        # answer on a kept-alive connection, latency no real image host has.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        owner = self.server.owner
        with owner._lock:
            owner.connections += 1

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass  # quiet: tests read hits(), not logs

    def do_GET(self):  # noqa: N802 - the stdlib's name
        owner = self.server.owner
        route, seen = owner._take(self.path.split("?", 1)[0], dict(self.headers.items()))
        if route is None:
            return self._answer(404, b"no such route", "text/plain")
        if route.latency:
            time.sleep(route.latency)
        if seen < route.drop_times:
            self.close_connection = True
            self.connection.shutdown(2)  # SHUT_RDWR: the client sees the connection drop, no answer
            return None
        if seen < route.drop_times + route.fail_times:
            extra = {"Retry-After": route.retry_after} if route.retry_after is not None else {}
            return self._answer(route.fail_status, b"try again", "text/plain", extra)
        if seen < route.drop_times + route.fail_times + route.truncate_times:
            return self._answer(route.status, route.body[: len(route.body) // 2], route.content_type,
                                route.headers, declared_length=len(route.body))
        if route.redirect_to is not None:
            return self._answer(route.redirect_status, b"", "text/plain", {"Location": route.redirect_to})
        if route.stall:
            return self._stall(route)
        if not route.content_length:
            return self._chunked(route)
        return self._answer(route.status, route.body, route.content_type, route.headers, route.declared_length)

    def _answer(self, status: int, body: bytes, content_type: str, headers: dict | None = None,
                declared_length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(declared_length if declared_length is not None else len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            self.close_connection = True
        if declared_length is not None and declared_length != len(body):
            self.close_connection = True

    def _chunked(self, route: Route) -> None:
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for start in range(0, len(route.body), 16 * 1024):
                piece = route.body[start:start + 16 * 1024]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client stopped reading (a size cap): fine
            self.close_connection = True

    def _stall(self, route: Route) -> None:
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        try:
            self.wfile.write(route.body[: len(route.body) // 2])
            self.wfile.flush()
        except OSError:
            pass
        self.server.owner.stopping.wait()
        self.close_connection = True
