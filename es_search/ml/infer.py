"""Text vectors from the deployed model: `_infer` documents out, one raw (unnormalised) vector per text back."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from elasticsearch import ApiError, Elasticsearch

from es_search.ml.errors import MLUnavailable
from es_search.ml.messages import explained_error
from es_search.ml.model_id import require_model_id

# The input field eland gives NLP models (`input.field_names`), which `_infer` docs must use.
INFER_FIELD = "text_field"


class InferError(ValueError):
    """An `_infer` response that does not hold one vector per text."""


def infer_docs(texts: Sequence[str]) -> list[dict]:
    """One doc per text: Elasticsearch tokenizes and runs each on its own, so none is cut by another's length."""
    if not texts:
        raise ValueError("no texts to encode")
    return [{INFER_FIELD: str(text)} for text in texts]


def parse_infer_response(body: dict, expected: int) -> np.ndarray:
    """(expected, dims) float32 vectors from `{"inference_results": [{"predicted_value": [...]}, ...]}`.

    A per-document `error` or `warning` entry, a missing vector or ragged sizes raise InferError.
    """
    results = body.get("inference_results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise InferError("the _infer response has no inference_results")
    if len(results) != expected:
        raise InferError(f"asked for {expected} vectors, _infer returned {len(results)} results")
    rows = []
    for i, result in enumerate(results):
        for problem in ("error", "warning"):
            if problem in result:
                detail = result[problem]
                reason = detail.get("reason", detail) if isinstance(detail, dict) else detail
                raise InferError(f"_infer {problem} for text {i}: {reason}")
        value = result.get("predicted_value")
        if not isinstance(value, list) or not value or not all(isinstance(x, (int, float)) for x in value):
            raise InferError(f"_infer result {i} holds no embedding (predicted_value: {str(value)[:80]})")
        rows.append(value)
    if len({len(row) for row in rows}) != 1:
        raise InferError(f"_infer returned vectors of different sizes: {sorted({len(r) for r in rows})}")
    return np.asarray(rows, dtype=np.float32)


def infer_texts(es: Elasticsearch, model_id: str, texts: Sequence[str], timeout: str = "30s") -> np.ndarray:
    """Raw (unnormalised) vectors for `texts` from the deployed model; MLUnavailable with a clear message."""
    require_model_id(model_id)
    docs = infer_docs(texts)
    try:
        body = es.ml.infer_trained_model(model_id=model_id, docs=docs, timeout=timeout).body
    except ApiError as exc:
        raise explained_error(es, exc, model_id) from None
    try:
        return parse_infer_response(body, len(texts))
    except InferError as exc:
        raise MLUnavailable(f"the model {model_id!r} did not return embeddings: {exc}") from None
