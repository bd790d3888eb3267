"""Perceptual hashes of an image, for near-duplicates (es_search/duplicates/) and watchlists (es_search/watchlists/).

- `phash`: the 64-bit DCT hash of the whole picture;
- `phash_trimmed`: the same hash of the picture inside a plain frame, border or letterbox, when it has one.
  A frame shrinks and shifts the picture, which moves its hash far (18 of 64 bits for an 8 % frame on the
  test families); trimmed, the framed copy hashes like its original again.
"""

from __future__ import annotations

import imagehash
import numpy as np
from PIL import Image

from ingest.enrichers.base import Enricher
from ingest.enrichers.small import analysis_image

# A border is plain when each channel varies less than this along it (0-255), JPEG noise included.
BORDER_TOLERANCE = 24
# Less than this share of each side trimmed is no frame; more than this share of the area is no picture left.
MIN_TRIM_SHARE = 0.02
MIN_KEPT_AREA = 0.25
# The border is looked for on a copy about this wide: precise enough for a 32 × 32 hash, and cheap.
FRAME_LOOK_SIDE = 256


class PerceptualHashEnricher(Enricher):
    name = "phash"
    needs = "small"
    fields = ("phash",)

    def enrich(self, image: Image.Image, original: bytes | None = None) -> dict:
        return {"phash": perceptual_hash(image)}


class TrimmedHashEnricher(Enricher):
    """The hash inside a plain frame; nothing for the many pictures without one (a look at the outer ring of
    a copy about 256 pixels wide decides)."""

    name = "phash_trimmed"
    needs = "image"
    fields = ("phash_trimmed",)

    def enrich(self, image: Image.Image, original: bytes | None = None) -> dict:
        inner = inside_frame(image)
        return {"phash_trimmed": perceptual_hash(inner)} if inner is not None else {}


def perceptual_hash(image: Image.Image) -> str:
    """64-bit DCT perceptual hash (imagehash.phash) as 16 hex digits: near-identical pictures share it.

    Taken from the small analysis copy: phash only looks at 32 × 32 pixels, and shrinking a big picture
    with its Lanczos filter costs forty times more than the hash itself.
    """
    return str(imagehash.phash(analysis_image(image)))


def inside_frame(image: Image.Image) -> Image.Image | None:
    """The part of `image` inside a plain border of one colour, or None when it has no such border.

    Looked for, and cut, on a copy about FRAME_LOOK_SIDE pixels wide (Pillow's integer `reduce`, cheap): ample
    for a hash of 32 × 32, and a picture without a plain outer ring, nearly all of them, costs that copy alone.
    """
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    factor = max(1, max(rgb.size) // FRAME_LOOK_SIDE)
    small = rgb.reduce(factor) if factor > 1 else rgb
    pixels = np.asarray(small, dtype=np.int16)
    ring = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if int((ring.max(axis=0) - ring.min(axis=0)).max()) > BORDER_TOLERANCE:
        return None
    inside = np.abs(pixels - pixels[0, 0]).max(axis=2) > BORDER_TOLERANCE
    rows, columns = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if not len(rows):
        return None  # one colour all over: nothing inside
    height, width = inside.shape
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    trimmed_enough = max(left, width - right) >= MIN_TRIM_SHARE * width or \
        max(top, height - bottom) >= MIN_TRIM_SHARE * height
    if not trimmed_enough or (right - left) * (bottom - top) < MIN_KEPT_AREA * width * height:
        return None
    return small.crop((int(left), int(top), int(right), int(bottom)))
