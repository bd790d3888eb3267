"""A write request for the key guard's tests: the DELETE of an id that does not exist changes nothing (404
when the guard lets it through), whatever the index holds.
"""

from __future__ import annotations

MISSING_ID = "0" * 64
LET_THROUGH = (200, 404)


def write(client, headers: dict | None = None):
    """One call to a write endpoint (the `writes` blueprint) with `headers`."""
    return client.delete(f"/api/images/{MISSING_ID}", headers=headers or {})


def api_key_header(key: str) -> dict:
    return {"Authorization": f"ApiKey {key}"}
