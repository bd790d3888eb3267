"""What a decode worker does for one new file: read (hash checked) → decode → thumbnail → pixel facts.

Runs in a thread pool ahead of the model; Pillow and hashlib release the GIL for the heavy parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from es_search.config import Settings
from es_search.decode import decode_bytes, working_size
from ingest.enrich import ColorFacts, analysis_image, color_facts, perceptual_hash
from ingest.fingerprint import FileFacts, read_verified
from ingest.thumbnails import write_thumbnail


@dataclass
class PreparedImage:
    """A new file ready for the model: its facts, the working image and everything computed from the pixels."""

    facts: FileFacts
    image: Image.Image
    format: str
    width: int
    height: int
    taken_at: str | None
    colors: ColorFacts
    phash: str
    thumbnail: str
    pixels: np.ndarray | None = None  # model-ready input, when the encoder lets workers preprocess


def prepare_image(facts: FileFacts, settings: Settings, data: bytes | None = None) -> PreparedImage:
    """Decode and enrich one hashed file; raises FileFailure (DecodeError included) with a reason.

    `data`: the bytes when the caller has them already (a downloaded image), else the file is read here.
    """
    if data is None:
        data = read_verified(facts)
    min_side, min_long_side = working_size(settings)
    decoded = decode_bytes(data, max_pixels=settings.max_image_pixels, min_side=min_side, min_long_side=min_long_side)
    del data  # the encoded bytes are not needed past this point; free them before the slow steps
    small = analysis_image(decoded.image)
    thumbnail = write_thumbnail(decoded.image, facts.sha256, settings.thumbnails_dir, settings.thumbnail_size)
    return PreparedImage(
        facts=facts, image=decoded.image, format=decoded.format, width=decoded.width, height=decoded.height,
        taken_at=decoded.taken_at, colors=color_facts(small), phash=perceptual_hash(small),
        thumbnail=thumbnail,
    )
