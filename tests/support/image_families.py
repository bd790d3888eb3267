"""Families of near-duplicate images, made with Pillow: an original and its resized, recompressed,
slightly cropped, colour-shifted and watermarked copies; plus unrelated originals.

Originals are drawn shapes on a plain background, so each has real structure for the perceptual hash.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

VARIANTS = ("original", "resized", "recompressed", "cropped", "shifted", "watermarked")


def original(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        x0, y0 = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        width, height = (int(v) for v in rng.integers(60, 300, 2))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x0, y0, x0 + width, y0 + height], fill=colour)
    return image


def variant(image: Image.Image, kind: str) -> tuple[Image.Image, dict]:
    """A near-copy of `image` and the save options for it."""
    width, height = image.size
    if kind == "resized":
        return image.resize((width // 2, height // 2), Image.Resampling.LANCZOS), {"quality": 90}
    if kind == "recompressed":
        return image, {"quality": 35}
    if kind == "cropped":
        margin_x, margin_y = int(width * 0.03), int(height * 0.03)
        return image.crop((margin_x, margin_y, width - margin_x, height - margin_y)), {"quality": 90}
    if kind == "shifted":
        return ImageEnhance.Color(ImageEnhance.Brightness(image).enhance(1.1)).enhance(1.2), {"quality": 90}
    if kind == "watermarked":
        marked = image.copy()
        ImageDraw.Draw(marked).text((width - 130, height - 30), "(c) imgsearch", fill=(255, 255, 255))
        return marked, {"quality": 90}
    return image, {"quality": 95}


def write_families(root: Path, families: int, unrelated: int, first_seed: int = 100) -> dict[str, list[Path]]:
    """`families` folders of near-copies and one folder of unrelated images under `root`.
    Returns {family name: its files}, the unrelated ones under "unrelated" (each its own family)."""
    written: dict[str, list[Path]] = {}
    for number in range(families):
        folder = root / f"family{number}"
        folder.mkdir(parents=True)
        base = original(first_seed + number)
        written[folder.name] = [_save(folder / f"{kind}.jpg", *variant(base, kind)) for kind in VARIANTS]
    folder = root / "unrelated"
    folder.mkdir(parents=True)
    written["unrelated"] = [_save(folder / f"other{n}.jpg", original(first_seed + 1000 + n), {"quality": 90})
                            for n in range(unrelated)]
    return written


def _save(path: Path, image: Image.Image, options: dict) -> Path:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    path.write_bytes(buffer.getvalue())
    return path
