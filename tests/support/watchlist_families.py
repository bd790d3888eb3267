"""Families of every reference image, made with Pillow: the copies a watchlist must catch (resized,
recompressed, cropped by 3 % and by 10 % a side, colour-shifted, watermarked, mirrored, in a white frame),
and unrelated pictures it must not."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

from tests.support.image_families import original, variant

VARIANTS = ("resized", "recompressed", "cropped", "cropped10", "shifted", "watermarked", "mirrored", "framed")


def copy_of(image: Image.Image, kind: str) -> tuple[Image.Image, int]:
    """A copy of `image` made as `kind` says, and the JPEG quality to save it at."""
    width, height = image.size
    if kind == "cropped10":
        return image.crop((width // 10, height // 10, width - width // 10, height - height // 10)), 90
    if kind == "mirrored":
        return ImageOps.mirror(image), 90
    if kind == "framed":
        margin = width // 12
        framed = Image.new("RGB", (width + 2 * margin, height + 2 * margin), (250, 250, 250))
        framed.paste(image, (margin, margin))
        return framed, 90
    copied, options = variant(image, kind)
    return copied, options.get("quality", 90)


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def write_watchlist_families(root: Path, references: int, unrelated: int, first_seed: int = 500) -> dict:
    """references/ (the originals), copies/<family>/<variant>.jpg and unrelated/ under `root`.
    Returns {"references": [paths], "copies": {reference path: [paths]}, "unrelated": [paths]}."""
    written: dict = {"references": [], "copies": {}, "unrelated": []}
    for folder in ("references", "copies", "unrelated"):
        (root / folder).mkdir(parents=True)
    for number in range(references):
        base = original(first_seed + number)
        reference = root / "references" / f"known{number}.jpg"
        reference.write_bytes(jpeg_bytes(base, 95))
        family = root / "copies" / f"family{number}"
        family.mkdir()
        written["references"].append(reference)
        written["copies"][reference] = []
        for kind in VARIANTS:
            path = family / f"{kind}.jpg"
            path.write_bytes(jpeg_bytes(*copy_of(base, kind)))
            written["copies"][reference].append(path)
    for number in range(unrelated):
        path = root / "unrelated" / f"other{number}.jpg"
        path.write_bytes(jpeg_bytes(original(first_seed + 5000 + number)))
        written["unrelated"].append(path)
    return written
