"""The web gallery and JSON API: `create_app(settings=None, service=None)` builds the Flask application."""

from webapp.app import create_app

__all__ = ["create_app"]
