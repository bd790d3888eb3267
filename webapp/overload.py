"""Expensive requests, per client, at a bounded rate (es_search/limits.py): image searches and uploads, a
compound query that carries an image, a region search, and every write. Past the client's rate: 429 with
Retry-After, before any of the work is done. The client is its API key when it sends one (keys are people
and applications), else its address. The model's own bound (503 when too many wait) is in the search service.
"""

from __future__ import annotations

from flask import Flask, current_app, request

from es_search.apikeys import hash_key
from es_search.limits import RateLimited, TokenBuckets
from webapp.auth import WRITE_BLUEPRINT, session_header

IMAGE_ENDPOINTS = frozenset({"api.search_image", "pages.search_image", "api.search_faces", "pages.search_faces"})
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_expensive() -> bool:
    """Whether this request will run the image model or write: the requests one client could flood with."""
    if request.endpoint in IMAGE_ENDPOINTS:
        return True
    if request.blueprint == WRITE_BLUEPRINT and request.method in MUTATING:
        return True
    if request.endpoint == "api.search_compound":
        return b"image_base64" in request.get_data(cache=True)
    return request.endpoint in ("api.similar", "pages.search") and bool(request.args.get("box"))


def client_of() -> str:
    """The client a rate belongs to: its key (hashed: the key itself is kept nowhere), else its address."""
    header = request.headers.get("Authorization") or session_header() or ""
    if header.strip():
        return "key:" + hash_key(header.strip())[:24]
    return "address:" + (request.remote_addr or "unknown")


def install(app: Flask) -> None:
    settings = app.extensions["imgsearch_settings"]
    app.extensions["expensive_buckets"] = {
        "key": TokenBuckets(settings.key_expensive_rate, settings.key_expensive_burst),
        "address": TokenBuckets(settings.expensive_rate, settings.expensive_burst)}
    app.before_request(limit_expensive)


def limit_expensive() -> None:
    if not is_expensive():
        return
    client = client_of()
    buckets = current_app.extensions["expensive_buckets"][client.partition(":")[0]]
    wait = buckets.take(client)
    if wait is not None:
        raise RateLimited(f"too many expensive requests (image searches, uploads, writes) from this "
                          f"{client.partition(':')[0]}: at most {buckets.rate:g} a second; try again shortly",
                          retry_after=wait)
