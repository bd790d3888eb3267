"""The audit log: one JSON line for every change to what a deployment holds or who may reach it: writes through
the API, key changes, watchlist and people changes, snapshots and restores.

A line says when (UTC), who (the key's name, or `cli:<user>` for the command line), which deployment (the
alias), what (`action`), to what (`ids`, at most MAX_IDS of them and how many in all), how it ended
(`outcome`: ok, or the error's code; `status` for HTTP) and the request id that ties it to the request log.
Never a key, a secret or an image.

Where (IMGSEARCH_AUDIT_LOG): a file (DATA_DIR/audit.log by default), appended one whole line per write, so
several workers can share it; `index`: the `<alias>-audit` index; `off`. A line that cannot be written is
reported on the application's log and the action goes on: the audit log never turns a write into a failure.
"""

from __future__ import annotations

import functools
import getpass
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from es_search.config import Settings
from es_search.errors import ImgsearchError

MAX_IDS = 100
log = logging.getLogger(__name__)
_lock = threading.Lock()


def audit_entry(settings: Settings, action: str, *, actor: str | None, ids: Sequence[str] = (), outcome: str = "ok",
                status: int | None = None, request_id: str | None = None, details: dict | None = None) -> dict:
    """The line's fields (pure, but for the clock)."""
    entry = {"time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
             "actor": actor or cli_actor(), "collection": settings.index_alias, "action": action,
             "ids": [str(i) for i in list(ids)[:MAX_IDS]], "id_count": len(ids), "outcome": outcome}
    if status is not None:
        entry["status"] = status
    if request_id:
        entry["request_id"] = request_id
    if details:
        entry["details"] = details
    return entry


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return f"cli:uid-{os.getuid()}"


def audit_target(settings: Settings) -> str | Path | None:
    """Where lines go: a file path, "index", or None (off)."""
    where = (settings.audit_log or "").strip()
    if where.lower() == "off":
        return None
    if where.lower() == "index":
        return "index"
    return Path(where).expanduser() if where else Path(settings.data_dir) / "audit.log"


def audit_index(settings: Settings) -> str:
    return f"{settings.index_alias}-audit"


def record(settings: Settings, action: str, *, es=None, **fields) -> dict | None:
    """Write one line (see the module); returns it, or None when the log is off or could not be written."""
    target = audit_target(settings)
    if target is None:
        return None
    entry = audit_entry(settings, action, **fields)
    try:
        if target == "index":
            if es is None:
                from es_search.client import build_client

                es = build_client(settings)
            es.index(index=audit_index(settings), document=entry)
        else:
            line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
            target.parent.mkdir(parents=True, exist_ok=True)
            with _lock:
                descriptor = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    os.write(descriptor, line)  # one write of a whole line: O_APPEND keeps processes' lines apart
                finally:
                    os.close(descriptor)
    except Exception as exc:  # the audit must not fail the action it records
        log.error("audit: could not record %s: %s", action, exc)
        return None
    return entry


def read_entries(settings: Settings, es=None) -> list[dict]:
    """Every line recorded so far (for tests and `imgsearch audit`-like inspection), oldest first."""
    target = audit_target(settings)
    if target is None:
        return []
    if target == "index":
        es.indices.refresh(index=audit_index(settings))
        hits = es.search(index=audit_index(settings), size=10_000, sort=[{"time": "asc"}])["hits"]["hits"]
        return [hit["_source"] for hit in hits]
    if not Path(target).is_file():
        return []
    return [json.loads(line) for line in Path(target).read_text(encoding="utf-8").splitlines() if line.strip()]


def audited(action: str, ids: Callable[[object], Sequence[str]] = lambda args: ()):
    """A command-line command (`func(args, settings)`) that records its run: `ok`, or the error's code."""
    def wrap(command):
        @functools.wraps(command)
        def run(args, settings: Settings):
            try:
                result = command(args, settings)
            except ImgsearchError as exc:
                record(settings, action, actor=None, ids=list(ids(args)), outcome=exc.code)
                raise
            record(settings, action, actor=None, ids=list(ids(args)), outcome="ok" if not result else f"exit_{result}")
            return result
        return run
    return wrap
