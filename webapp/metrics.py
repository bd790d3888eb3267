"""`/metrics` in Prometheus's text format: requests by route template and status, their latency, time spent
encoding (text and image) and in Elasticsearch, and whether each model is loaded.

Under gunicorn every worker is a process of its own, so the figures are kept in prometheus-client's
multiprocess mode: `imgsearch web` (webapp/cli.py) points PROMETHEUS_MULTIPROC_DIR at a fresh folder before
any worker starts, each worker writes its figures there, and a scrape answered by any worker adds up all of
them. prometheus-client chooses that mode when it is first imported, so nothing here imports it before
`instruments()` is called in a worker (never at module import, which happens in gunicorn's master first).

Labels stay bounded: a route is its URL rule (`/api/images/<image_id>`, never the id), a request that matched
none is `unmatched`, an unknown method is `OTHER`, and an Elasticsearch call is named by its API (`_msearch`).
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable
from types import SimpleNamespace

from elastic_transport import Urllib3HttpNode
from flask import Blueprint, Flask, Response, g, request

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

metrics = Blueprint("metrics", __name__)


@functools.cache
def instruments() -> SimpleNamespace:
    """The process's metrics, made once (prometheus-client refuses a second metric of the same name)."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry()
    made = SimpleNamespace(
        registry=registry,
        requests=Counter("imgsearch_http_requests", "HTTP requests answered, by route template, method and "
                         "status", ["route", "method", "status"], registry=registry),
        latency=Histogram("imgsearch_http_request_duration_seconds", "Time to answer a request, by route "
                          "template and method", ["route", "method"], buckets=REQUEST_BUCKETS, registry=registry),
        encoding=Histogram("imgsearch_encode_duration_seconds", "Time spent in a model's encode call, by input "
                           "kind (text or image)", ["kind"], buckets=REQUEST_BUCKETS, registry=registry),
        elasticsearch=Histogram("imgsearch_elasticsearch_request_duration_seconds", "Time spent in one HTTP "
                                "request to Elasticsearch, by API", ["operation"], buckets=REQUEST_BUCKETS,
                                registry=registry),
        # livemin: 1 only when every live worker has the model (a scrape may be answered by any of them).
        loaded=Gauge("imgsearch_model_loaded", "1 when the model is loaded in every live worker, else 0",
                     ["model"], multiprocess_mode="livemin", registry=registry),
        # livesum: the requests being answered right now, over every live worker (a queue building up shows).
        # Per watchlist and policy: new images (write API) that matched, whatever became of them.
        watchlist_matches=Counter("imgsearch_watchlist_matches", "Images written through the API that matched a "
                                  "watchlist, by list and policy", ["watchlist", "policy"], registry=registry),
        in_progress=Gauge("imgsearch_http_requests_in_progress", "Requests being answered now",
                          multiprocess_mode="livesum", registry=registry),
    )
    for model in ("text", "image"):
        made.loaded.labels(model).set(0)
    return made


def install(app: Flask) -> None:
    instruments()
    app.before_request(_start)
    app.after_request(_count)
    app.teardown_request(_end)
    app.register_blueprint(metrics)


@metrics.get("/metrics")
def exposition():
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = instruments().registry
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def route_label(rule: str | None) -> str:
    """A route by its URL rule, converters left out (`/api/images/<doc_id:image_id>` → `/api/images/<image_id>`)."""
    return re.sub(r"<\w+:(\w+)>", r"<\1>", rule) if rule else "unmatched"


def method_label(method: str) -> str:
    return method if method in METHODS else "OTHER"


def operation_label(target: str) -> str:
    """An Elasticsearch request's API: the first path segment starting with `_` (index names never do)."""
    path = target.split("?", 1)[0]
    return next((part for part in path.split("/") if part.startswith("_")), "index")


def _start() -> None:
    g.metrics_started = time.perf_counter()
    instruments().in_progress.inc()


def _end(error=None) -> None:
    if getattr(g, "metrics_started", None) is not None:  # teardown also runs for requests refused before _start
        instruments().in_progress.dec()


def _count(response):
    route = route_label(request.url_rule.rule if request.url_rule is not None else None)
    method = method_label(request.method)
    made = instruments()
    made.requests.labels(route, method, str(response.status_code)).inc()
    started = getattr(g, "metrics_started", None)
    if started is not None:
        made.latency.labels(route, method).observe(time.perf_counter() - started)
    return response


class TimedEncoder:
    """An encoder whose encode calls are timed; everything else (dims, names) is the wrapped encoder's."""

    def __init__(self, inner, kind: str):
        self._inner = inner
        self._kind = kind

    def encode_texts(self, *args, **kwargs):
        with instruments().encoding.labels("text").time():
            return self._inner.encode_texts(*args, **kwargs)

    def encode_images(self, *args, **kwargs):
        with instruments().encoding.labels("image").time():
            return self._inner.encode_images(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


def timed_factory(kind: str, build: Callable) -> Callable:
    """An encoder factory for SearchService: `build(settings)`, timed, and counted as loaded once built."""

    def factory(settings):
        encoder = TimedEncoder(build(settings), kind)
        instruments().loaded.labels(kind).set(1)
        return encoder

    return factory


class TimedNode(Urllib3HttpNode):
    """The client's usual HTTP node, timing each request it sends (retries on another node count apart)."""

    def perform_request(self, method: str, target: str, *args, **kwargs):
        with instruments().elasticsearch.labels(operation_label(target)).time():
            return super().perform_request(method, target, *args, **kwargs)


def count_watchlist_match(watchlist: str, policy: str) -> None:
    """One new image matched `watchlist` (the write API's screen calls this)."""
    instruments().watchlist_matches.labels(watchlist, policy).inc()
