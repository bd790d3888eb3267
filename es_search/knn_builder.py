"""The `knn` clause that encodes and searches in one request: `query_vector_builder` runs a deployed text model.

Pure functions only: they build request bodies and never call Elasticsearch. The search service uses them
when text is encoded in the cluster (IMGSEARCH_TEXT_BACKEND=elasticsearch, or auto with a started deployment).
"""

from __future__ import annotations

import copy

# Elasticsearch refuses num_candidates above this.
MAX_NUM_CANDIDATES = 10_000


def text_embedding_vector_builder(model_id: str, text: str) -> dict:
    """`query_vector_builder` value: run trained model `model_id` on `text` and use its output as the query vector."""
    if not model_id or not model_id.strip():
        raise ValueError("a model id is needed to build the query vector in Elasticsearch")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the text to search for is empty")
    return {"text_embedding": {"model_id": model_id, "model_text": text}}


def knn_with_text(*, field: str, model_id: str, text: str, k: int, num_candidates: int,
                  filter: dict | list | None = None, similarity: float | None = None,
                  boost: float | None = None) -> dict:
    """A complete `knn` clause whose query vector Elasticsearch computes from `text` with `model_id`."""
    _check_sizes(k, num_candidates)
    clause: dict = {"field": field, "k": k, "num_candidates": num_candidates,
                    "query_vector_builder": text_embedding_vector_builder(model_id, text)}
    if filter:
        clause["filter"] = filter
    if similarity is not None:
        clause["similarity"] = similarity
    if boost is not None:
        clause["boost"] = boost
    return clause


def with_query_vector_builder(knn: dict, model_id: str, text: str) -> dict:
    """A copy of an existing `knn` clause (built with `query_vector`) that encodes `text` in Elasticsearch instead.

    Everything else — field, k, num_candidates, filter, similarity, boost — stays as the caller built it,
    so the search service keeps one knn builder and swaps only where the vector comes from.
    """
    if "field" not in knn:
        raise ValueError("knn clause has no field")
    clause = copy.deepcopy(knn)
    clause.pop("query_vector", None)
    clause["query_vector_builder"] = text_embedding_vector_builder(model_id, text)
    return clause


def _check_sizes(k: int, num_candidates: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not k <= num_candidates <= MAX_NUM_CANDIDATES:
        raise ValueError(f"num_candidates must be between k ({k}) and {MAX_NUM_CANDIDATES}, got {num_candidates}")
