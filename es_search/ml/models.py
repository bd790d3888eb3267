"""Trained model configs: read one (absent is an answer, not an error), read its embedding size, delete one."""

from __future__ import annotations

from elasticsearch import ApiError, Elasticsearch

from es_search.ml.messages import explained_error
from es_search.ml.model_id import require_model_id


def parse_model_config(config_body: dict, model_id: str) -> dict | None:
    """The trained model config of `model_id` from `GET _ml/trained_models/<id>`, or None."""
    for config in config_body.get("trained_model_configs") or []:
        if config.get("model_id") == model_id:
            return config
    return None


def embedding_size(config: dict) -> int | None:
    """`inference_config.text_embedding.embedding_size` (set by eland for Elasticsearch 8.8 and later)."""
    text_embedding = (config.get("inference_config") or {}).get("text_embedding") or {}
    size = text_embedding.get("embedding_size")
    return int(size) if isinstance(size, int) and size > 0 else None


def get_model_config(es: Elasticsearch, model_id: str) -> dict | None:
    """The trained model's config (with `fully_defined`), or None when there is no such model."""
    require_model_id(model_id)
    try:
        response = es.options(ignore_status=404).ml.get_trained_models(model_id=model_id,
                                                                      include="definition_status")
    except ApiError as exc:
        raise explained_error(es, exc, model_id) from None
    if response.meta.status == 404:
        return None
    return parse_model_config(response.body, model_id)


def delete_model(es: Elasticsearch, model_id: str) -> None:
    """Stop any deployment and delete the model, both forced; a model or deployment already gone is fine."""
    require_model_id(model_id)
    # 404: nothing to stop or delete; 409 on stop: no deployment is running.
    quiet = es.options(ignore_status=(404, 409))
    try:
        quiet.ml.stop_trained_model_deployment(model_id=model_id, force=True)
        quiet.ml.delete_trained_model(model_id=model_id, force=True)
    except ApiError as exc:
        raise explained_error(es, exc, model_id) from None
