"""What every request handler reads from the app: its settings, search service, field registry, remote reader.

`webapp.app.create_app` puts them in `app.extensions`; handlers ask here, so the keys are named once.
"""

from __future__ import annotations

from flask import current_app

from es_search.config import Settings
from es_search.fields import FieldRegistry


def app_settings() -> Settings:
    return current_app.extensions["imgsearch_settings"]


def search_service():
    """The app's one SearchService (built on first use, shared by the worker's threads)."""
    return current_app.extensions["search_service"]()


def field_registry() -> FieldRegistry:
    return current_app.extensions["field_registry"]


def remote_reader():
    return current_app.extensions["remote_reader"]
