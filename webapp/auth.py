"""The API-key guard: one before_request check that decides, per endpoint, which key a request needs.

- the `writes` blueprint (every write route): a write key, always;
- every other page and /api endpoint: a read key when IMGSEARCH_REQUIRE_READ_KEY is true, else nothing;
- the operator's endpoints (/metrics, /livez, /readyz) and static files: nothing, ever.

A write key passes a read check. A key with a filter (`imgsearch apikey create --filter department=radiology`)
limits everything its requests read and write to the images inside it (es_search/visibility.py): the
scope is entered here and left when the request ends.

The key comes as `Authorization: ApiKey <key>`, or from the gallery's key session (webapp/key_session.py). A
missing or malformed header, or an unknown or revoked key, is a 401 with a `WWW-Authenticate: ApiKey`
challenge (app.py adds it to every 401); a valid key of too small a scope is a 403. The header and the key
are never logged, and no answer repeats them.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app, g, request

from es_search.apikeys import KeyChecker, scope_fields
from es_search.errors import Forbidden, Unauthenticated
from es_search.visibility import end_scope, scope_to

WRITE_BLUEPRINT = "writes"
OPEN_BLUEPRINTS = frozenset({"probes", "metrics", "key_session"})
OPEN_ENDPOINTS = frozenset({"static"})
SCHEME = "ApiKey"


def needed_scope(blueprint: str | None, endpoint: str | None, require_read_key: bool) -> str | None:
    """"write", "read" or None (no key needed) for a request routed to `blueprint`/`endpoint`.
    Requests that matched no route (404, 405) are checked like reads, so they reveal no more than a search."""
    if blueprint == WRITE_BLUEPRINT:
        return "write"
    if blueprint in OPEN_BLUEPRINTS or endpoint in OPEN_ENDPOINTS:
        return None
    return "read" if require_read_key else None


def presented_key(header: str | None) -> str:
    """The key in an `Authorization: ApiKey <key>` header; Unauthenticated when there is none."""
    scheme, _, key = (header or "").strip().partition(" ")
    if not header:
        raise Unauthenticated(f"this endpoint needs an API key: send `Authorization: {SCHEME} <key>`")
    if scheme.lower() != SCHEME.lower() or not key.strip():
        raise Unauthenticated(f"the Authorization header must be `{SCHEME} <key>`")
    return key.strip()


def install(app: Flask) -> None:
    """Guard every request of `app`; the key checker (and its cache) is made once per process, on first use."""
    lock = threading.Lock()
    holder: dict = {}

    def checker() -> KeyChecker:
        if "checker" not in holder:
            with lock:
                if "checker" not in holder:
                    service = app.extensions["search_service"]()
                    holder["checker"] = KeyChecker(service.es, app.extensions["imgsearch_settings"])
        return holder["checker"]

    app.extensions["key_checker"] = checker
    app.before_request(check_request_key)
    app.teardown_request(leave_scope)


def has_valid_key() -> bool:
    """Whether this request carries an active API key (any scope); a bad header is just no key here."""
    if getattr(g, "api_key_name", None):
        return True
    header = request.headers.get("Authorization")
    if not header:
        return False
    try:
        key = current_app.extensions["key_checker"]().check(presented_key(header))
    except Unauthenticated:
        return False
    return key is not None and key.active


def check_request_key() -> None:
    settings = current_app.extensions["imgsearch_settings"]
    scope = needed_scope(request.blueprint, request.endpoint, settings.require_read_key)
    header = request.headers.get("Authorization") or session_header()
    if scope is None:
        if header and request.blueprint not in OPEN_BLUEPRINTS and request.endpoint not in OPEN_ENDPOINTS:
            _limit_to_key(header)  # a scoped key sees its part even where no key is needed
        return
    key = current_app.extensions["key_checker"]().check(presented_key(header))
    if key is None or not key.active:
        raise Unauthenticated("the API key is not known, or it was revoked")
    if not key.allows(scope):
        raise Forbidden(f"the API key {key.name!r} has the {key.scope} scope; this endpoint needs a {scope} key")
    g.api_key_name = key.name  # for the request log: the key's name, never the key
    _enter_scope(key)


def session_header() -> str | None:
    """A key the visitor entered in the gallery (webapp/key_session.py), as the header would carry it."""
    from webapp.key_session import session_key

    key = session_key()
    return f"{SCHEME} {key}" if key else None


def _limit_to_key(header: str) -> None:
    """On an open endpoint: a valid scoped key still limits what the request sees; any other header is
    ignored, as no key was needed."""
    try:
        key = current_app.extensions["key_checker"]().check(presented_key(header))
    except Unauthenticated:
        return
    if key is not None and key.active:
        g.api_key_name = key.name
        _enter_scope(key)


def _enter_scope(key) -> None:
    """The key's filter becomes what this request sees and writes (es_search/visibility.py), until it ends."""
    if key.filter:
        g.scope_token = scope_to(scope_fields(key, current_app.extensions["field_registry"]))


def leave_scope(error=None) -> None:
    token = g.pop("scope_token", None)
    if token is not None:
        end_scope(token)
