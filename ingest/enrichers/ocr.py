"""Text inside images: has_text, ocr_text and ocr_lines, from es_search/ocr (PP-OCRv4).

A heavy enricher: it runs in a pool of its own (IMGSEARCH_OCR_WORKERS threads) while the encoder works.
In `auto` mode the gate looks at the working image the decode stage made anyway and only the images it
lets through are decoded again at the reader's size and read; in `on` mode every image is read.
"""

from __future__ import annotations

from PIL import Image

from es_search.ocr.engine import shared_engine
from es_search.ocr.lines import document_fields
from ingest.enrichers.base import Enricher


class OcrEnricher(Enricher):
    name = "ocr"
    needs = "image"
    cost = "heavy"
    wants_original = True
    fields = ("has_text", "ocr_text", "ocr_lines")

    def __init__(self, mode: str, *, workers: int = 1, timeout: float | None = None, max_pixels: int = 40_000_000):
        super().__init__()
        if mode not in ("auto", "on"):
            raise ValueError(f"an OCR enricher reads in auto or on mode, not {mode!r}")
        self.mode, self.workers, self.timeout, self.max_pixels = mode, workers, timeout, max_pixels
        self.engine = shared_engine()

    def _load(self) -> None:
        self.engine.load()

    def enrich(self, image: Image.Image, original: bytes | None = None) -> dict:
        lines = self.engine.read_file(image, original, self.max_pixels, gate=self.mode == "auto")
        return {"has_text": False} if lines is None else document_fields(lines)
