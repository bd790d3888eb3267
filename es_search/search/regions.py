"""Search by a region: the part of an image a user marked ("find this product, this sign, this lesion").

A box is `x,y,w,h`, relative to the image (0..1 each), as the image page's drag and the OCR lines give it.
Pure: parsing, and cropping a decoded image; the search encodes the crop like any uploaded image.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from es_search.errors import QueryError

# Rounding slack for boxes drawn to the edge (x + w may come out as 1.0000001).
EDGE = 1e-6


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    def to_param(self) -> str:
        return ",".join(f"{v:.4f}".rstrip("0").rstrip(".") or "0" for v in (self.x, self.y, self.w, self.h))

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in an image of width × height."""
        left, top = round(self.x * width), round(self.y * height)
        return left, top, min(width, round((self.x + self.w) * width)), min(height, round((self.y + self.h) * height))


def parse_box(raw: str) -> Box:
    """`x,y,w,h` (relative: 0 ≤ x, y < 1; 0 < w, h ≤ 1; inside the image) → Box; QueryError otherwise."""
    parts = str(raw).split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(v == v and abs(v) != float("inf") for v in values):
        raise QueryError(f"box must be x,y,w,h: four numbers relative to the image (0..1), got {raw!r}")
    x, y, w, h = values
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1 and x + w <= 1 + EDGE and y + h <= 1 + EDGE):
        raise QueryError(f"box {raw!r} is not inside the image: 0 <= x, y < 1, 0 < w, h <= 1, x + w and y + h <= 1")
    return Box(x, y, min(w, 1 - x), min(h, 1 - y))


def crop(image: Image.Image, box: Box) -> Image.Image:
    """The region of a decoded image, at least one pixel each way (the model scales any region to its input:
    a tiny one searches by little, but it is what was asked)."""
    left, top, right, bottom = box.pixels(*image.size)
    left, top = min(left, image.width - 1), min(top, image.height - 1)
    return image.crop((left, top, max(right, left + 1), max(bottom, top + 1)))
