"""The 64-bit perceptual hash of an image, for near-duplicates (es_search/duplicates/)."""

from __future__ import annotations

import imagehash
from PIL import Image

from ingest.enrichers.base import Enricher
from ingest.enrichers.small import analysis_image


class PerceptualHashEnricher(Enricher):
    name = "phash"
    needs = "small"
    fields = ("phash",)

    def enrich(self, image: Image.Image, original: bytes | None = None) -> dict:
        return {"phash": perceptual_hash(image)}


def perceptual_hash(image: Image.Image) -> str:
    """64-bit DCT perceptual hash (imagehash.phash) as 16 hex digits: near-identical pictures share it.

    Taken from the small analysis copy: phash only looks at 32 × 32 pixels, and shrinking a big picture
    with its Lanczos filter costs forty times more than the hash itself.
    """
    return str(imagehash.phash(analysis_image(image)))
