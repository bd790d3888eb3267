"""Known failures → an HTTP status, a short code and a message a person can act on. Never a traceback."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from werkzeug.exceptions import HTTPException

from es_search.client import ClusterUnavailable
from es_search.encoders.base import EncoderUnavailable, EncoderUnsupported
from es_search.query import QueryError
from es_search.search import ImageNotFound, IndexMissing, UploadRejected

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorReport:
    status: int
    code: str
    message: str

    def to_dict(self) -> dict:
        return {"error": {"status": self.status, "code": self.code, "message": self.message}}


def describe_error(exc: BaseException) -> ErrorReport:
    """How to answer for `exc`; unknown exceptions become a 500 whose details go to the log only."""
    if isinstance(exc, UploadRejected):
        return ErrorReport(exc.status, exc.reason, str(exc))
    if isinstance(exc, QueryError):
        return ErrorReport(400, "bad_request", str(exc))
    if isinstance(exc, ImageNotFound):
        return ErrorReport(404, "not_found", str(exc))
    if isinstance(exc, IndexMissing):
        return ErrorReport(503, "index_missing", str(exc))
    if isinstance(exc, ClusterUnavailable):
        return ErrorReport(503, "elasticsearch_unavailable", str(exc))
    if isinstance(exc, EncoderUnsupported):
        return ErrorReport(400, "unsupported", str(exc))
    if isinstance(exc, EncoderUnavailable):
        return ErrorReport(503, "model_unavailable", str(exc))
    if isinstance(exc, HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return ErrorReport(exc.code or 500, code, _http_message(exc))
    log.exception("unexpected error", exc_info=exc)
    return ErrorReport(500, "internal_error", "something went wrong on our side; the server log has the details")


def _http_message(exc: HTTPException) -> str:
    if exc.code == 413:
        return "the request is larger than the upload limit"
    if exc.code == 404:
        return "no such page, image or file"
    if exc.code == 405:
        return "this address does not take that method"
    return exc.description or exc.name
