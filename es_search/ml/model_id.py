"""The rules a trained model id must follow, checked before any request so the error names the setting."""

from __future__ import annotations

import re

# Elasticsearch's rule for trained model ids.
MODEL_ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9_\-.]{0,62}[a-z0-9])?$")


def require_model_id(model_id: str) -> str:
    """`model_id` when it is not blank; a blank one would make the typed client list every model instead."""
    if not model_id or not model_id.strip():
        raise ValueError("the Elasticsearch model id is empty; set IMGSEARCH_ES_MODEL_ID")
    return model_id


def check_model_id(model_id: str) -> str:
    """`model_id` when Elasticsearch would accept it for a new model (the upload checks before tracing)."""
    if not MODEL_ID_PATTERN.match(model_id or ""):
        raise ValueError(f"{model_id!r} is not a valid Elasticsearch model id: lowercase letters, digits, '-', '_' "
                         "and '.', starting and ending with a letter or digit, at most 64 characters")
    return model_id
