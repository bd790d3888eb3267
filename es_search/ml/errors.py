"""The ML failure, and what an Elasticsearch error response says whatever its shape.

Error bodies come as `{"error": {"type", "reason", "root_cause"}}`, as `{"error": "text"}` (a node without the
ML plugin: "no handler found") or as plain text from a proxy; `parse_failure` reads all three.
"""

from __future__ import annotations

from dataclasses import dataclass

from elasticsearch import ApiError

from es_search.errors import EncoderUnavailable


class MLUnavailable(EncoderUnavailable):
    """The cluster cannot encode text: no ML, a licence without it, no such model, or no started deployment."""


@dataclass(frozen=True)
class ApiFailure:
    """What an Elasticsearch error response says, whatever its shape."""

    status: int
    type: str | None
    reason: str

    @property
    def no_handler(self) -> bool:
        """The endpoint does not exist: the cluster has no ML plugin, or ML is disabled."""
        return "no handler found" in self.reason

    @property
    def licence(self) -> bool:
        return self.status == 403 and "license" in self.reason.lower()


def parse_failure(status: int, body) -> ApiFailure:
    """Error type and reason from `{"error": {"type", "reason", "root_cause"}}`, `{"error": "text"}` or text."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            root = (error.get("root_cause") or [{}])[0]
            return ApiFailure(status, error.get("type") or root.get("type"),
                              str(error.get("reason") or root.get("reason") or error))
        return ApiFailure(status, None, str(error))
    return ApiFailure(status, None, str(body or f"HTTP {status}"))


def failure_of(exc: ApiError) -> ApiFailure:
    return parse_failure(exc.meta.status, exc.body)
