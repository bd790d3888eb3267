"""The web app as the benchmarks run it: `imgsearch web` (gunicorn) on a free loopback port, started with
extra environment, ready once /api/health answers, stopped at the end. Shared by bench/search.py and
bench/load.py.

The server's log goes to a temporary file, not a pipe: nobody reads a pipe during a run, and a full one
(a request log line per request under load) would stall the server.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import IO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(connection: http.client.HTTPConnection, path: str) -> dict:
    """GET `path`; its JSON body, or RuntimeError when the answer is not a 200."""
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}: {body[:300]!r}")
    return json.loads(body)


@dataclass
class WebServer:
    """A running `imgsearch web` on a loopback port."""

    process: subprocess.Popen
    port: int
    log_file: IO[str]

    def log_tail(self, chars: int = 2000) -> str:
        self.log_file.seek(0)
        return self.log_file.read()[-chars:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_file.close()


def start_web(env: dict[str, str], workers: int = 1, timeout: float = 300) -> WebServer:
    """`imgsearch web` with `workers` gunicorn workers, `env` over this process's environment; returns once
    /api/health answers 200 (each worker loads its text model before it takes requests)."""
    port = free_port()
    command = [sys.executable, "-m", "es_search.cli", "web", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    print(f"  API: starting gunicorn on port {port} ({workers} worker(s))", file=sys.stderr, flush=True)
    log_file = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
    process = subprocess.Popen(command, env={**os.environ, **env, "IMGSEARCH_WEB_WORKERS": str(workers)},
                               stdout=subprocess.DEVNULL, stderr=log_file, text=True)
    server = WebServer(process, port, log_file)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            break
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            get_json(probe, "/api/health")
            return server
        except (OSError, http.client.HTTPException, RuntimeError):
            time.sleep(1)
        finally:
            probe.close()
    tail = server.log_tail()
    server.stop()
    raise RuntimeError(f"gunicorn {'exited' if process.poll() is not None else 'did not answer in time'}: {tail}")
