"""An index of planted documents under a schema of business fields: each document's vector and fields given,
so a test knows every right answer in advance (ranking signals, understood queries)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from elasticsearch import helpers

from es_search.index import ensure_index


def planted_index(es, base_settings, folder: Path, schema: list[dict], documents: dict[str, tuple[list, dict]],
                  dims: int, prefix: str):
    """Settings for a new index (alias `<prefix>-…`, `folder` its data folder) holding `documents`
    (id → (vector, fields)) under `schema`; the caller deletes the index."""
    (folder / "schema.json").write_text(json.dumps(schema))
    settings = base_settings.with_overrides(index_alias=f"{prefix}-{uuid.uuid4().hex[:10]}", data_dir=folder,
                                            fields_file=folder / "schema.json")
    ensure_index(es, settings, dims)
    helpers.bulk(es, [{"_index": settings.index_alias, "_id": doc_id, "_source": dict(
        sha256=doc_id, file_name=f"{doc_id[:8]}.jpg", image_embedding=vector, **fields)}
        for doc_id, (vector, fields) in documents.items()], refresh="wait_for")
    return settings
