"""`imgsearch model ...` is defined in `es_search.cli_model`; this name stays in es_search.cli's
COMMAND_MODULES until the command line becomes a package."""

from __future__ import annotations

from es_search.cli_model import register

__all__ = ["register"]
