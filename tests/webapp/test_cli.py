"""`imgsearch web` (webapp/cli.py) as an operator runs it: real gunicorn workers against the real node.

Metrics add up over the workers (prometheus-client's multiprocess mode) and a dead worker's live gauges are
dropped; each request is logged with its id and no key; SIGTERM lets a request in flight finish.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from es_search.apikeys import create_key, keys_index
from tests.webapp.test_metrics import sample

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebServer:
    """`python -m es_search.cli web` in a subprocess, its output in a file, ready once /readyz says so."""

    def __init__(self, settings, data_dir: Path, workers: int):
        self.port = free_port()
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"web-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "IMGSEARCH_", "PROMETHEUS_"))}
        env.update({"ES_URL": settings.node_url, "IMGSEARCH_INDEX_ALIAS": settings.index_alias,
                    "IMGSEARCH_DATA_DIR": str(data_dir), "IMGSEARCH_IMAGE_MODEL": settings.image_model,
                    "IMGSEARCH_TEXT_MODEL": settings.text_model})
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "es_search.cli", "web", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(workers)], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, headers: dict | None = None):
        request = urllib.request.Request(self.url(path), headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, *texts: str, seconds: float = 60) -> str:
        """The log once it holds every text (a worker's lines reach the file when it writes them)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            output = self.output()
            if all(text in output for text in texts):
                return output
            time.sleep(0.05)
        raise AssertionError(f"the log never showed {texts}:\n{self.output()}")

    def wait_for_requests_in_progress(self, count: int, seconds: float = 60) -> None:
        """Until the workers answer `count` requests besides this scrape (the in-progress gauge)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if sample(self.get("/metrics")[2].decode(), "imgsearch_http_requests_in_progress") - 1 >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"never {count} requests in progress:\n{self.output()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"never ready:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        self.log.close()


@pytest.fixture(scope="module")
def server(gallery, tmp_path_factory):
    running = WebServer(gallery.settings, tmp_path_factory.mktemp("web") / "data", workers=2)
    yield running
    running.stop()


def metrics_folder(data_dir: Path) -> Path:
    folders = list((data_dir / "metrics").glob("web-*"))
    assert len(folders) == 1, folders
    return folders[0]


def test_metrics_add_up_over_the_workers_and_survive_a_dead_worker(server, gallery):
    image_id = gallery.id_of("red_apple.jpg")
    before = server.get("/metrics")[2].decode()
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: server.get(f"/api/images/{image_id}")[0], range(16)))
    assert statuses == [200] * 16
    labels = {"route": "/api/images/<image_id>", "method": "GET", "status": "200"}
    after = server.get("/metrics")[2].decode()
    assert sample(after, "imgsearch_http_requests_total", **labels) \
        - sample(before, "imgsearch_http_requests_total", **labels) == 16
    assert sample(after, "imgsearch_model_loaded", model="text") == 1.0  # every worker warmed its model
    folder = metrics_folder(server.data_dir)
    live = sorted(folder.glob("gauge_livemin_*.db"))
    assert len(live) == 2, live
    # A worker killed outright: gunicorn starts another, its live gauge goes, its counts stay.
    dead_pid = int(live[0].stem.rsplit("_", 1)[1])
    os.kill(dead_pid, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while live[0].exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not live[0].exists()
    server._wait_ready()
    final = server.get("/metrics")[2].decode()
    assert sample(final, "imgsearch_http_requests_total", **labels) == sample(after, "imgsearch_http_requests_total",
                                                                              **labels)


def test_each_request_is_logged_with_its_id_and_no_key(server, es, gallery):
    key = create_key(es, gallery.settings, name="log-check", scope="read")
    try:
        status, headers, _ = server.get("/api/search?q=red", {"Authorization": f"ApiKey {key}",
                                                             "X-Request-ID": "trace-7f3a"})
        assert status == 200 and headers["X-Request-ID"] == "trace-7f3a"
        status, headers, _ = server.get("/livez")
        generated = headers["X-Request-ID"]
        output = server.wait_for_output("request_id=trace-7f3a method=GET path=/api/search status=200",
                                        f"request_id={generated} method=GET path=/livez status=200")
        assert key not in output and "ApiKey" not in output
    finally:
        es.indices.delete(index=keys_index(gallery.settings), ignore_unavailable=True)


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_sigterm_lets_the_request_in_flight_finish(gallery, tmp_path):
    server = WebServer(gallery.settings, tmp_path / "data", workers=1)
    try:
        boundary = "imgsearchboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.png\"\r\n"
                f"Content-Type: image/png\r\n\r\n").encode() + png_bytes() + f"\r\n--{boundary}--\r\n".encode()
        head = (f"POST /api/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\nX-Request-ID: in-flight-1\r\n"
                "Connection: close\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as connection:
            connection.sendall(head + body[: len(body) // 2])
            server.wait_for_requests_in_progress(1)  # the worker is reading the body: the request is in flight
            server.process.send_signal(signal.SIGTERM)
            server.wait_for_output("Handling signal: term")  # gunicorn has passed SIGTERM on to the worker
            assert server.process.poll() is None  # still waiting for the request
            connection.sendall(body[len(body) // 2:])
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line.startswith(b"HTTP/1.1 200"), answer[:500]
        assert b"X-Request-ID: in-flight-1" in rest
        assert "hits" in json.loads(rest.split(b"\r\n\r\n", 1)[1])
        assert server.process.wait(timeout=60) == 0
        assert "request_id=in-flight-1 method=POST path=/api/search/image status=200" in server.output()
        assert not list((tmp_path / "data" / "metrics").glob("web-*"))  # its metrics folder went with it
    finally:
        server.stop()
