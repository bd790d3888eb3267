"""One log line per request, under a request id that the answer echoes in `X-Request-ID`.

A caller's own `X-Request-ID` is kept when it is sane (1 to 128 letters, digits and `._:-`), so one id can
follow a request through a proxy and into this log; anything else is replaced by a fresh id. The line holds
the method, the path (never the query string, which may hold a search a user typed), the status, the time
taken and the name of the API key used; never a header's value, so never the Authorization header or a key.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request

log = logging.getLogger("webapp.requests")
HEADER = "X-Request-ID"
SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_from(incoming: str | None) -> str:
    """The caller's id when it is sane, else a new one."""
    if incoming and SANE_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def install(app: Flask) -> None:
    """Register first, so the id exists before any other check can refuse the request."""
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    g.request_id = request_id_from(request.headers.get(HEADER))
    g.request_started = time.perf_counter()


def _finish(response):
    request_id = getattr(g, "request_id", None) or request_id_from(None)
    response.headers[HEADER] = request_id
    started = getattr(g, "request_started", None)
    elapsed_ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    log.info("request_id=%s method=%s path=%s status=%d ms=%.1f key=%s", request_id, request.method,
             _printable(request.path[:300]), response.status_code, elapsed_ms, getattr(g, "api_key_name", None) or "-")
    return response


def _printable(text: str) -> str:
    # The path is percent-decoded: an encoded line break must not start a forged log line.
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


def configure_logging(level: int = logging.INFO) -> None:
    """Send the request lines to stderr, as gunicorn's workers do not configure Python logging themselves."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
    log.setLevel(level)
