"""Faces: each face's box, score, quality and descriptor, and how many there are (es_search/faces).

A heavy enricher with a pool of its own (IMGSEARCH_FACES_WORKERS threads). Faces are found on the file's
bytes decoded at the engine's detection size (the working image is too small for faces in a group photo);
without bytes (an upload already decoded), on the working image. The faces are grouped into people after
the run (es_search/faces/store.py), when every face of the run can be matched against the others.
"""

from __future__ import annotations

from PIL import Image

from es_search.decode import decode_bytes
from es_search.faces.engine import DETECT_SIDE, document_fields, shared_face_engine
from ingest.enrichers.base import Enricher


class FacesEnricher(Enricher):
    name = "faces"
    needs = "image"
    cost = "heavy"
    wants_original = True
    fields = ("faces", "people_count", "people")

    def __init__(self, *, workers: int = 1, timeout: float | None = None, max_pixels: int = 40_000_000):
        super().__init__()
        self.workers, self.timeout, self.max_pixels = workers, timeout, max_pixels
        self.engine = shared_face_engine()

    def _load(self) -> None:
        self.engine.load()

    def enrich(self, image: Image.Image, original: bytes | None = None) -> dict:
        if original is not None:
            image = decode_bytes(original, max_pixels=self.max_pixels, min_side=0, min_long_side=DETECT_SIDE).image
        return document_fields(self.engine.faces(image))
