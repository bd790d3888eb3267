"""The project's known failures, each carrying its command-line exit code and its HTTP answer.

One table: the console command ends a known failure with `exit_code` and one line on stderr, the web app
answers `http_status` with `code` and the message. Anything that is not an `ImgsearchError` is a bug: a
traceback for the command line, a logged 500 for the web app. One exception to that: `FileFailure`, at
the end, is a per-file failure that a run reports and goes past.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_CONFIG = 2
EXIT_CLUSTER = 3
EXIT_NODE = 4
EXIT_MODEL = 5
EXIT_SOURCE = 6
EXIT_INTERRUPTED = 130


class ImgsearchError(Exception):
    """Base of every known failure. Subclasses set the three class attributes below."""

    exit_code: int = 1
    http_status: int = 500
    code: str = "error"


class ConfigError(ImgsearchError, ValueError):
    """A setting is missing or has a value we cannot use."""

    exit_code, http_status, code = EXIT_CONFIG, 500, "bad_configuration"


class QueryError(ImgsearchError, ValueError):
    """The request cannot be served as asked; the message says why."""

    exit_code, http_status, code = EXIT_USAGE, 400, "bad_request"


class UploadRejected(QueryError):
    """An image given to search with or to index cannot be used; `reason` is a short code (too_large, corrupt)."""

    def __init__(self, reason: str, message: str, status: int = 400):
        super().__init__(message)
        self.reason = reason
        self.code = reason
        self.http_status = status


class WriteRejected(UploadRejected):
    """A write the API cannot make as asked: `reason` says why (bad_field, derived_field, bad_id, bad_json...)."""


class IndexReadOnly(ImgsearchError):
    """The index refuses writes: a write block (`index.blocks.write`, `read_only`, or the disk watermark's
    `read_only_allow_delete`) is set on it.

    503, not 403 or 409: the request is right and the caller can do nothing about it; the service cannot take
    writes until an operator lifts the block, and clients and load balancers retry or fail over on a 503.
    """

    exit_code, http_status, code = EXIT_CLUSTER, 503, "index_read_only"


class ImageNotFound(ImgsearchError, LookupError):
    """No indexed image has that id."""

    exit_code, http_status, code = EXIT_NOT_FOUND, 404, "not_found"


class ClusterUnavailable(ImgsearchError):
    """Elasticsearch cannot be reached, or refuses the request for a reason that is not ours."""

    exit_code, http_status, code = EXIT_CLUSTER, 503, "elasticsearch_unavailable"


class AccessDenied(ClusterUnavailable):
    """Elasticsearch refused the request (403): the credentials in use lack a privilege it needs. The message
    names the action and the privileges that grant it, as Elasticsearch words them; never the credentials."""

    code = "elasticsearch_access_denied"


class IndexMissing(ImgsearchError):
    """Nothing is indexed yet behind the alias."""

    exit_code, http_status, code = EXIT_CLUSTER, 503, "index_missing"


class SchemaMismatch(ImgsearchError):
    """The field schema asks for a mapping that the existing index cannot take."""

    exit_code, http_status, code = EXIT_CONFIG, 503, "schema_mismatch"


class Unauthenticated(ImgsearchError):
    """A guarded request without a valid API key (missing, malformed, unknown or revoked): 401, `ApiKey` challenge."""

    exit_code, http_status, code = EXIT_USAGE, 401, "unauthenticated"


class Forbidden(ImgsearchError):
    """A valid API key whose scope does not allow the request (a read key on a write endpoint)."""

    exit_code, http_status, code = EXIT_USAGE, 403, "forbidden"


class StudyNotFound(ImgsearchError, LookupError):
    """No indexed image belongs to a study with that Study Instance UID."""

    exit_code, http_status, code = EXIT_NOT_FOUND, 404, "not_found"


class WatchlistNotFound(ImgsearchError, LookupError):
    """No watchlist (or reference image of one) has that name."""

    exit_code, http_status, code = EXIT_NOT_FOUND, 404, "not_found"


class WatchlistExists(QueryError):
    """A watchlist of that name exists already."""

    http_status, code = 409, "watchlist_exists"


class NotUnderReview(QueryError):
    """A release of an image no watchlist flagged or holds."""

    http_status, code = 409, "not_under_review"


class ApiKeyNotFound(ImgsearchError, LookupError):
    """No active API key has the id or name given (`imgsearch apikey revoke`)."""

    exit_code, http_status, code = EXIT_NOT_FOUND, 404, "not_found"


class RegroupNeeded(ImgsearchError):
    """Near-duplicate groups were built with other thresholds: only a full regrouping can change them."""

    exit_code, http_status, code = EXIT_USAGE, 409, "regroup_needed"


class NodeError(ImgsearchError):
    """The local development node cannot be fetched, configured, started or stopped."""

    exit_code, http_status, code = EXIT_NODE, 503, "node_error"


class EncoderUnavailable(ImgsearchError):
    """A model cannot be loaded or reached."""

    exit_code, http_status, code = EXIT_MODEL, 503, "model_unavailable"


class EncoderUnsupported(ImgsearchError):
    """The encoder cannot do this (e.g. a text-only encoder asked for image vectors)."""

    exit_code, http_status, code = EXIT_MODEL, 400, "unsupported"


class SourceUnavailable(ImgsearchError):
    """A whole source of images cannot be listed: no such bucket, access denied, the endpoint is down."""

    exit_code, http_status, code = EXIT_SOURCE, 502, "source_unavailable"


class OriginalUnavailable(ImgsearchError):
    """An image's remote original cannot be served now; `reason` is the FileFailure reason behind it.

    Not found stays 404; a slow remote is a 504; any other failure of the remote is a 502 (bad gateway).
    """

    exit_code = EXIT_SOURCE
    STATUS_BY_REASON = {"not_found": 404, "bad_location": 404, "timeout": 504}

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.code = f"original_{reason}"
        self.http_status = self.STATUS_BY_REASON.get(reason, 502)


class FileFailure(Exception):
    """One file or uploaded image that cannot be used, for a known `reason` code; deliberately not an ImgsearchError.

    It ends no command and answers no request by itself: the ingest reports it and goes on with the next
    file, the upload search turns it into UploadRejected. The decoder raises its subclass `DecodeError`
    (es_search.decode); the ingest's reason codes are listed in `ingest.failures.REASONS`.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
