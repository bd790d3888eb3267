"""One translation of Elasticsearch's failures into the project's errors (es_search.errors).

The client raises `ApiError` subclasses for answers and `TransportError` for no answer; `_msearch` reports
failures per search inside a 200. Both end here, so every caller says the same thing for the same failure.
"""

from __future__ import annotations

from elasticsearch import exceptions as es_exceptions

from es_search.errors import (
    AccessDenied,
    ClusterUnavailable,
    ImageNotFound,
    ImgsearchError,
    IndexMissing,
    QueryError,
)


def missing_index_message(alias: str) -> str:
    return f"no index behind alias {alias!r} yet; ingest images first (`imgsearch ingest DIR` or `make run`)"


def root_reason(error) -> str:
    """The most telling reason in an Elasticsearch error body (its first root cause), at most 300 characters."""
    if isinstance(error, dict):
        error = error.get("error", error)
    if isinstance(error, dict):
        causes = error.get("root_cause") or []
        first = causes[0] if causes and isinstance(causes[0], dict) else error
        return str(first.get("reason") or error.get("reason") or error.get("type") or error)[:300]
    return str(error)[:300]


def error_type(body) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("type", "") if isinstance(error, dict) else ""


def is_access_denied(status: int | None, error) -> bool:
    """Whether an answer (`error`: its body, or the error inside it) is a 403 of the security layer; other
    403s (an index's read-only block) are not about privileges."""
    if isinstance(error, dict) and isinstance(error.get("error"), dict):
        error = error["error"]
    return status == 403 and isinstance(error, dict) and error.get("type") == "security_exception"


def access_denied_message(reason: str, url: str) -> str:
    return (f"Elasticsearch at {url} refused the request: the credentials in use lack a privilege it needs "
            f"({reason}); grant it to their role (docs/devtools.md, section 9) or use other credentials")


def access_denied(exc: es_exceptions.ApiError, url: str) -> AccessDenied:
    """AccessDenied for a 403 answer, with Elasticsearch's reason (the action and the privileges granting it)."""
    reason = root_reason(exc.body) if exc.body else "no reason given: an existence check was refused"
    return AccessDenied(access_denied_message(reason, url))


def translate(exc: Exception, *, url: str, missing: str, image_id: str | None = None) -> ImgsearchError:
    """The project's error for a client exception. `missing` is the message for a missing index; with
    `image_id`, a 404 that is not about the index means that image is not indexed."""
    if isinstance(exc, es_exceptions.NotFoundError):
        if error_type(exc.body) == "index_not_found_exception" or image_id is None:
            return IndexMissing(missing)
        return ImageNotFound(f"no indexed image has id {image_id}")
    if isinstance(exc, es_exceptions.BadRequestError):
        return QueryError(f"Elasticsearch refused the request: {root_reason(exc.body)}")
    if isinstance(exc, es_exceptions.AuthorizationException) and (is_access_denied(403, exc.body) or not exc.body):
        return access_denied(exc, url)  # without a body: a HEAD request (exists), which only says 403
    if isinstance(exc, es_exceptions.ApiError):
        return ClusterUnavailable(f"Elasticsearch answered {exc.meta.status}: {root_reason(exc.body)}")
    # No answer at all: connection refused, timed out, TLS failure.
    return ClusterUnavailable(f"cannot reach Elasticsearch at {url}: {exc}")


def search_error(error, status: int, *, missing: str, url: str = "Elasticsearch") -> ImgsearchError:
    """The project's error for one failed search inside an `_msearch` answer."""
    kind = error.get("type", "") if isinstance(error, dict) else ""
    if is_access_denied(status, error):
        return AccessDenied(access_denied_message(root_reason(error), url))
    if kind == "index_not_found_exception" or status == 404:
        return IndexMissing(missing)
    if status == 400:
        return QueryError(f"Elasticsearch refused the search: {root_reason(error)}")
    return ClusterUnavailable(f"Elasticsearch failed the search ({status}): {root_reason(error)}")
