"""A key entered once in the gallery: `POST /session` checks it and keeps it in the browser's session cookie
(signed with the deployment's secret, HttpOnly so no script reads it, SameSite=Strict so no other site's page
sends it, Secure behind HTTPS); every later page and API call from that browser is made with it, scope
included, as if it came in an Authorization header (webapp/auth.py). `POST /session/end` forgets it.

The secret is IMGSEARCH_SESSION_SECRET, else one made once in DATA_DIR/session-secret (readable by this user
only), so every worker on the machine signs alike; a deployment on several machines sets the setting.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Blueprint, Flask, current_app, redirect, request, session, url_for

from es_search.errors import Unauthenticated

key_session = Blueprint("key_session", __name__)
SESSION_KEY = "api_key"


def install(app: Flask) -> None:
    settings = app.extensions["imgsearch_settings"]
    app.secret_key = (settings.session_secret.get_secret_value() if settings.session_secret
                      else _machine_secret(Path(settings.data_dir) / "session-secret"))
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_SECURE=settings.session_cookie_secure, SESSION_COOKIE_NAME="imgsearch_session")
    app.register_blueprint(key_session)


def _machine_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker made it first
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(32))
    return path.read_text().strip()


def session_key() -> str | None:
    """The key this browser entered, if any."""
    return session.get(SESSION_KEY)


@key_session.post("/session")
def start():
    """Check the key from the form and keep it for this browser; back to where the visitor was."""
    key = (request.form.get("key") or "").strip()
    checked = current_app.extensions["key_checker"]().check(key) if key else None
    if checked is None or not checked.active:
        session.pop(SESSION_KEY, None)
        raise Unauthenticated("the API key is not known, or it was revoked")
    session.clear()
    session[SESSION_KEY] = key
    return redirect(_back(), code=303)


@key_session.post("/session/end")
def end():
    session.clear()
    return redirect(_back(), code=303)


def _back() -> str:
    """Where to go after the form: the page it was on, when it is one of ours."""
    target = request.form.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else url_for("pages.search")
