"""Decode stage, in the decode workers: read (hash-checked) → decode → thumbnail → the pixel enrichers.

Runs in a thread pool ahead of the model; Pillow and hashlib release the GIL for the heavy parts. Light
enrichers run here, on the small analysis copy or the working image; heavy ones (`cost = "heavy"`) are
handed to a pool of their own and joined when the document is built, so they overlap the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from es_search.config import Settings
from es_search.decode import decode_bytes, working_size
from es_search.device_decode import DeviceJpegDecoder
from es_search.dicom.decode import is_dicom, is_dicom_name
from es_search.errors import FileFailure
from ingest.enrichers.base import Enricher
from ingest.enrichers.small import analysis_image
from ingest.fingerprint import FileFacts, read_verified
from ingest.thumbnails import thumbnail_relpath, write_thumbnail

# Enrichers that would read patient data out of a DICOM image's pixels.
PRIVATE_IN_DICOM = frozenset({"ocr", "faces"})


# Runs a heavy enricher on an image elsewhere: (enricher, image, the file's bytes or None) → its fields' future.
Submit = Callable[[Enricher, Image.Image, bytes | None], Future]


@dataclass
class PreparedImage:
    """A new content ready for the model: its facts, the working image and what was computed from the pixels."""

    facts: FileFacts
    image: Image.Image
    format: str
    width: int
    height: int
    taken_at: str | None
    thumbnail: str | None  # None: withheld (a DICOM image with burned-in annotations)
    fresh_thumbnail: bool = False  # this run wrote it (so a content that fails to index takes it away again)
    fields: dict = field(default_factory=dict)  # from the light pixel enrichers
    pending: list[tuple[Enricher, Future]] = field(default_factory=list)  # heavy enrichers under way
    pixels: np.ndarray | None = None  # model-ready input, when the encoder lets workers preprocess


def prepare_image(facts: FileFacts, settings: Settings, data: bytes | None = None,
                  enrichers: Sequence[Enricher] = (), submit: Submit | None = None,
                  jpeg_decoder: DeviceJpegDecoder | None = None) -> PreparedImage:
    """Decode and enrich one content; raises FileFailure (DecodeError included) with a reason.

    `data`: the bytes when the caller has them already (a download, an upload), else the file is read here.
    `enrichers`: those needing pixels ("small" or "image"); heavy ones go to `submit` when given.
    `jpeg_decoder`: JPEG pixels decoded on the GPU (es_search/device_decode.py), else by Pillow.
    """
    if data is None:
        data = read_verified(facts)
    if is_dicom_name(facts.path) and not is_dicom(data):
        raise FileFailure("not_dicom", "named as a DICOM file, but it is not one (no DICM preamble)")
    min_side, min_long_side = working_size(settings)
    secret = settings.dicom_pseudonym_key.get_secret_value() if settings.dicom_pseudonym_key else None
    decoded = decode_bytes(data, max_pixels=settings.max_image_pixels, min_side=min_side, min_long_side=min_long_side,
                           dicom_secret=secret, jpeg_decoder=jpeg_decoder)
    if not any(enricher.wants_original for enricher in enrichers):
        del data  # the encoded bytes are not needed past this point; free them before the slow steps
    fresh = not (Path(settings.thumbnails_dir) / thumbnail_relpath(facts.sha256)).is_file()
    withheld = decoded.burned_in and not settings.dicom_burned_in_thumbnails
    thumbnail = None if withheld else write_thumbnail(decoded.image, facts.sha256, settings.thumbnails_dir,
                                                      settings.thumbnail_size)
    prepared = PreparedImage(facts=facts, image=decoded.image, format=decoded.format, width=decoded.width,
                             height=decoded.height, taken_at=decoded.taken_at, thumbnail=thumbnail,
                             fresh_thumbnail=fresh and not withheld, fields=dict(decoded.fields))
    if decoded.format == "DICOM":
        # Text read in a medical image is mostly its annotations (names, ids, dates), and faces in it are a
        # patient's: neither is looked for (docs/dicom.md).
        enrichers = [enricher for enricher in enrichers if enricher.name not in PRIVATE_IN_DICOM]
    small = None
    for enricher in enrichers:
        image = decoded.image
        if enricher.needs == "small":
            small = small or analysis_image(decoded.image)
            image = small
        if enricher.cost == "heavy" and submit is not None:
            prepared.pending.append((enricher, submit(enricher, image, data if enricher.wants_original else None)))
        else:
            enricher.load()
            prepared.fields.update(enricher.enrich(image, data if enricher.wants_original else None))
    return prepared
