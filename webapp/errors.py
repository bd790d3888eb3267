"""Known failures → an HTTP status, a short code and a message a person can act on. Never a traceback."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from werkzeug.exceptions import HTTPException

from es_search.errors import ImgsearchError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorReport:
    status: int
    code: str
    message: str

    def to_dict(self) -> dict:
        return {"error": {"status": self.status, "code": self.code, "message": self.message}}


def describe_error(exc: BaseException) -> ErrorReport:
    """How to answer for `exc`: known failures carry their status and code (es_search.errors); unknown
    exceptions become a 500 whose details go to the log only."""
    if isinstance(exc, ImgsearchError):
        return ErrorReport(exc.http_status, exc.code, str(exc))
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
