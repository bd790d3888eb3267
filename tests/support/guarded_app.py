"""A write endpoint for the key guard's tests, whether or not the real `writes` blueprint is in the app yet.

The guard (webapp/auth.py) asks for a write key on every endpoint of the blueprint named `writes`. Until the
write API is there, a test-only blueprint of that name stands in for it; once it is, a DELETE of an id that
does not exist is a write that changes nothing (200/404 when let through).
"""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify

MISSING_ID = "0" * 64
LET_THROUGH = (200, 404)


def with_write_endpoint(app: Flask) -> Flask:
    if "writes" not in app.blueprints:
        stand_in = Blueprint("writes", __name__)
        stand_in.add_url_rule(f"/images/{MISSING_ID}", "delete_image", lambda: jsonify({"result": "ok"}),
                              methods=["DELETE"])
        app.register_blueprint(stand_in, url_prefix="/api")
    return app


def write(client, headers: dict | None = None):
    """One call to a write endpoint with `headers`."""
    return client.delete(f"/api/images/{MISSING_ID}", headers=headers or {})


def api_key_header(key: str) -> dict:
    return {"Authorization": f"ApiKey {key}"}
