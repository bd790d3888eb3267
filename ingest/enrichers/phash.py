"""Perceptual hashes of an image, for near-duplicates (es_search/duplicates/) and watchlists (es_search/watchlists/).

- `phash`: the 64-bit DCT hash of the whole picture;
- `phash_trimmed`: the same hash of the picture inside a plain frame, border or letterbox, when it has one.
  A frame shrinks and shifts the picture, which moves its hash far (18 of 64 bits for an 8 % frame on the
  test families); trimmed, the framed copy hashes like its original again.
"""

from __future__ import annotations

import imagehash
from PIL import Image, ImageChops

from ingest.enrichers.base import Enricher
from ingest.enrichers.small import ANALYSIS_SIDE, analysis_image

# A border is plain when each channel varies less than this along it (0-255), JPEG noise included.
BORDER_TOLERANCE = 24
# Less than this share of each side trimmed is no frame; more than this share of the area is no picture left.
MIN_TRIM_SHARE = 0.02
MIN_KEPT_AREA = 0.25


class PerceptualHashEnricher(Enricher):
    name = "phash"
    needs = "small"
    fields = ("phash",)

    def enrich(self, image: Image.Image, original: bytes | None = None) -> dict:
        return {"phash": perceptual_hash(image)}


class TrimmedHashEnricher(Enricher):
    """The hash inside a plain frame; nothing for the many pictures without one (a cheap look at the border
    of a small copy decides, before any full-size work)."""

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
    """The part of `image` inside a plain border of one colour, or None when it has no such border."""
    rgb = image.convert("RGB")
    small = rgb.resize((ANALYSIS_SIDE, ANALYSIS_SIDE), Image.Resampling.BOX)
    if not _plain_ring(small):
        return None
    corner = rgb.getpixel((0, 0))
    difference = ImageChops.difference(rgb, Image.new("RGB", rgb.size, corner)).convert("L")
    box = difference.point(lambda value: 255 if value > BORDER_TOLERANCE else 0).getbbox()
    if box is None:
        return None  # one colour all over: nothing inside
    width, height = rgb.size
    left, top, right, bottom = box
    trimmed_enough = max(left, width - right) >= MIN_TRIM_SHARE * width or \
        max(top, height - bottom) >= MIN_TRIM_SHARE * height
    if not trimmed_enough or (right - left) * (bottom - top) < MIN_KEPT_AREA * width * height:
        return None
    return rgb.crop(box)


def _plain_ring(small: Image.Image) -> bool:
    """Whether the outermost pixels of the small copy are all close to one colour."""
    side = small.size[0]
    ring = [small.getpixel((x, y)) for x in range(side) for y in (0, side - 1)] + \
        [small.getpixel((x, y)) for y in range(1, side - 1) for x in (0, side - 1)]
    return all(max(values) - min(values) <= BORDER_TOLERANCE for values in zip(*ring, strict=True))
