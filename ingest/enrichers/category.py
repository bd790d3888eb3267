"""A zero-shot category: each image vector against the text vectors of 'a photo of {label}'."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from es_search.vectors import l2_normalise
from ingest.enrichers.base import Enricher

CATEGORY_PROMPT = "a photo of {}"
# CLIP's trained logit scale: cosine similarities are multiplied by 100 before the softmax.
CLIP_LOGIT_SCALE = 100.0


class CategoryEnricher(Enricher):
    """(best label, its softmax probability) for each image vector; the label vectors are computed once."""

    name = "category"
    needs = "vector"
    fields = ("category", "category_score")

    def __init__(self, labels: Sequence[str], label_vectors: np.ndarray):
        super().__init__()
        if len(labels) != len(label_vectors) or not len(labels):
            raise ValueError("one vector per label, and at least one label")
        self.labels = list(labels)
        self.label_vectors = l2_normalise(label_vectors)

    @classmethod
    def from_text_encoder(cls, encoder, labels: Sequence[str], prompt: str = CATEGORY_PROMPT) -> CategoryEnricher:
        """Encode the prompts once; `encoder` is anything with `encode_texts(list[str]) -> ndarray`."""
        return cls(labels, encoder.encode_texts([prompt.format(label) for label in labels]))

    def enrich_vectors(self, vectors: np.ndarray) -> list[dict]:
        return [{"category": label, "category_score": score} for label, score in self.score(vectors)]

    def score(self, image_vectors: np.ndarray) -> list[tuple[str, float]]:
        """(best label, its softmax probability) for each row of `image_vectors`."""
        vectors = l2_normalise(image_vectors)
        if vectors.shape[1] != self.label_vectors.shape[1]:
            raise ValueError(f"image vectors have {vectors.shape[1]} dims, label vectors {self.label_vectors.shape[1]}: "
                             "the image and text models must share one space")
        logits = CLIP_LOGIT_SCALE * vectors @ self.label_vectors.T
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        best = probs.argmax(axis=1)
        return [(self.labels[i], round(float(probs[row, i]), 4)) for row, i in enumerate(best)]
