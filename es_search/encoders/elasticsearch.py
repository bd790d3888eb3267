"""Text vectors from the model deployed in Elasticsearch ML (`_infer`), so the app needs no text model of its own.

Images cannot go through `_infer` (the image model stays local). Vectors are L2-normalised like the local
encoder's, so both backends give the same vectors for the same model up to float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from elasticsearch import ConnectionError as ESConnectionError
from elasticsearch import Elasticsearch
from PIL import Image

from es_search.config import Settings
from es_search.errors import EncoderUnavailable, EncoderUnsupported
from es_search.ml.errors import MLUnavailable
from es_search.ml.infer import infer_texts
from es_search.ml.messages import LOCAL_HINT, model_missing_message
from es_search.ml.models import embedding_size, get_model_config
from es_search.vectors import l2_normalise

# Texts per `_infer` call: each is run separately on the ML node, so larger calls only risk the timeout.
MAX_TEXTS_PER_CALL = 16
PROBE_TEXT = "a photo"


class ElasticsearchTextEncoder:
    """Encodes texts with trained model `settings.es_model_id` through `POST _ml/trained_models/<id>/_infer`."""

    def __init__(self, settings: Settings, es: Elasticsearch):
        self._es = es
        self._model_id = settings.es_model_id
        self._url = settings.node_url
        self._timeout = f"{max(1, int(settings.es_request_timeout))}s"
        self._per_call = max(1, min(settings.batch_size, MAX_TEXTS_PER_CALL))
        self._dims: int | None = None

    @property
    def name(self) -> str:
        return self._model_id

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dims(self) -> int:
        """The model's embedding size from its config, or from one probe `_infer` when the config lacks it."""
        if self._dims is None:
            config = self._call(get_model_config, self._es, self._model_id)
            if config is None:
                raise MLUnavailable(model_missing_message(self._model_id))
            self._dims = embedding_size(config) or int(self._infer([PROBE_TEXT]).shape[1])
        return self._dims

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        raise EncoderUnsupported("the Elasticsearch text encoder encodes texts only; images are encoded in the app")

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        parts = [self._infer(list(texts[i:i + self._per_call])) for i in range(0, len(texts), self._per_call)]
        vectors = np.concatenate(parts)
        if self._dims is not None and vectors.shape[1] != self._dims:
            raise MLUnavailable(f"the model {self._model_id!r} returned {vectors.shape[1]}-d vectors, "
                                f"its config says {self._dims}")
        self._dims = vectors.shape[1]
        return l2_normalise(vectors)

    def _infer(self, texts: list[str]) -> np.ndarray:
        return self._call(infer_texts, self._es, self._model_id, [str(t) for t in texts], self._timeout)

    def _call(self, function, *args):
        try:
            return function(*args)
        except ESConnectionError as exc:
            raise EncoderUnavailable(f"cannot reach Elasticsearch at {self._url} to encode text: {exc.message}; "
                                     f"check ES_URL, or {LOCAL_HINT}") from None
