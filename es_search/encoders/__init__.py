"""Encoders chosen by configuration: `build_image_encoder(settings)` and `build_text_encoder(settings, es)`.

Image backends (`IMGSEARCH_IMAGE_BACKEND`): torch → LocalEncoder; onnx-fp32 / onnx-int8 → OnnxImageEncoder.
Text backends (`IMGSEARCH_TEXT_BACKEND`): local → LocalEncoder; elasticsearch → the model deployed in
Elasticsearch ML (`ElasticsearchTextEncoder` in `es_search/encoders/elasticsearch.py`); auto → Elasticsearch
when `es_search.ml.deployment.deployment_started(es, settings.es_model_id)` says the deployment is started, else local.

Local and ONNX encoders are cached per process, so the web app and the ingest load each model once.
"""

from __future__ import annotations

import threading

from es_search.config import Settings
from es_search.encoders.base import Encoder, EncoderUnavailable, EncoderUnsupported

__all__ = [
    "Encoder", "EncoderUnavailable", "EncoderUnsupported", "build_image_encoder", "build_text_encoder",
    "clear_encoder_cache",
]

_CACHE: dict[tuple, Encoder] = {}
_CACHE_LOCK = threading.RLock()  # re-entrant: an ONNX encoder builds its cached text encoder inside


def build_image_encoder(settings: Settings) -> Encoder:
    """The encoder for images (and, through the same object, texts) for `settings.image_backend`."""
    if settings.image_backend == "torch":
        return _local_encoder(settings)
    if settings.image_backend in ("onnx-fp32", "onnx-int8"):
        key = ("onnx", settings.image_backend, settings.image_model, settings.text_model, settings.device,
               str(settings.data_dir), settings.batch_size, settings.text_max_length, settings.text_quantize,
               settings.text_runtime)
        return _cached(key, lambda: _onnx_encoder(settings))
    raise EncoderUnavailable(f"unknown image backend {settings.image_backend!r}")


def build_text_encoder(settings: Settings, es=None) -> Encoder:
    """The encoder for search texts for `settings.text_backend`; `es` is needed for elasticsearch/auto.

    Building an `auto` encoder asks Elasticsearch once whether the deployment is started: build it once
    at start-up (web app, CLI command), not per request.
    """
    backend = settings.text_backend
    if backend == "local":
        # The image encoder encodes texts too (ONNX delegates them to the local text model), and knows `dims`
        # without loading a second copy of the image model.
        return build_image_encoder(settings)
    if backend == "elasticsearch":
        if es is None:
            from es_search.client import build_client

            es = build_client(settings)
        return _elasticsearch_text_encoder(settings, es)
    if backend == "auto":
        if es is not None and _deployment_started(es, settings.es_model_id):
            return _elasticsearch_text_encoder(settings, es)
        return build_image_encoder(settings)
    raise EncoderUnavailable(f"unknown text backend {backend!r}")


def clear_encoder_cache() -> None:
    """Forget cached encoders (tests; loaded torch models stay cached in `loading`)."""
    with _CACHE_LOCK:
        _CACHE.clear()


# --------------------------------------------------------------------------- helpers


def _cached(key: tuple, make) -> Encoder:
    with _CACHE_LOCK:
        encoder = _CACHE.get(key)
        if encoder is None:
            encoder = _CACHE[key] = make()
        return encoder


def _local_encoder(settings: Settings) -> Encoder:
    from es_search.encoders.local import LocalEncoder

    key = ("local", settings.image_model, settings.text_model, settings.device, settings.batch_size,
           settings.text_max_length, settings.text_quantize, settings.text_runtime, str(settings.data_dir))
    return _cached(key, lambda: LocalEncoder(settings))


def _onnx_encoder(settings: Settings) -> Encoder:
    from es_search.encoders.onnx import OnnxImageEncoder

    return OnnxImageEncoder(settings, text_encoder=_local_encoder(settings))


def _elasticsearch_text_encoder(settings: Settings, es) -> Encoder:
    from es_search.encoders.elasticsearch import ElasticsearchTextEncoder

    return ElasticsearchTextEncoder(settings, es)


def _deployment_started(es, model_id: str) -> bool:
    """Whether `model_id` is deployed and started in Elasticsearch; False when that cannot be told."""
    from es_search.ml.deployment import deployment_started

    try:
        return bool(deployment_started(es, model_id))
    except Exception:  # "auto" means: use Elasticsearch when it plainly works, otherwise run the model here
        return False
