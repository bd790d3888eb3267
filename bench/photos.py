"""The shapes of users' pictures, generated for the benchmarks: phone and camera JPEGs, screenshots, progressive files.

Each shape is made of smooth gradients, a few flat shapes and sensor-like noise, so the files weigh what real
ones do (a 12-megapixel phone picture is 2–3 MB here; the noise is what the entropy decoder has to chew on).
Half of the phone and camera pictures carry an EXIF orientation of 6 (held sideways) and a capture date, as
phones write them. Sets are cached under the data folder by shape and count: a 24-megapixel set takes a minute
to make, and the second run of a comparison must read the very same bytes.

    make_photos(folder, count, "12mp")   # → the files' paths, sorted
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

# Made at 1/8 of the final size and scaled up: the smooth part costs nothing, the noise is added at full size.
_COARSE = 8
_EXIF_ORIENTATION, _EXIF_IFD, _EXIF_DATETIME_ORIGINAL = 0x0112, 0x8769, 0x9003


def _photo_pixels(rng: np.random.Generator, width: int, height: int, noise: float) -> np.ndarray:
    small_w, small_h = max(8, width // _COARSE), max(8, height // _COARSE)
    y, x = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    base, slope = rng.uniform(0, 255, 3), rng.uniform(-0.3, 0.3, (2, 3)) * _COARSE
    pixels = base + x[..., None] * slope[0] + y[..., None] * slope[1]
    for _ in range(3):
        cx, cy, r = rng.uniform(0, small_w), rng.uniform(0, small_h), rng.uniform(0.05, 0.3) * small_h
        pixels[((x - cx) ** 2 + (y - cy) ** 2) < r * r] = rng.uniform(0, 255, 3)
    smooth = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB").resize((width, height),
                                                                                 Image.Resampling.BILINEAR)
    full = np.asarray(smooth, dtype=np.int16)
    grain = rng.normal(0, noise, (height, width, 1)).astype(np.int16)
    return (full + grain).clip(0, 255).astype(np.uint8)


def _screen_pixels(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A screenshot: flat panels, bars and rows of 'text' (dark runs on light), no noise."""
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[:] = rng.integers(200, 256, 3)
    for _ in range(6):  # panels and bars
        x0, y0 = rng.integers(0, width - 64), rng.integers(0, height - 32)
        pixels[y0:y0 + rng.integers(32, height // 3), x0:x0 + rng.integers(64, width // 2)] = rng.integers(0, 256, 3)
    photo_w, photo_h = width // 3, height // 4  # a picture on the page
    pixels[height // 2:height // 2 + photo_h, 40:40 + photo_w] = _photo_pixels(rng, photo_w, photo_h, 7.0)
    for row in range(40, height // 2 - 20, 28):  # text lines: words of dark strokes
        x = int(rng.integers(20, 80))
        while x < width - 120:
            word = int(rng.integers(20, 110))
            strokes = rng.random(word) < 0.55
            pixels[row:row + 14, x:x + word][:, strokes] = 30
            x += word + 12
    return pixels


def _exif(rng: np.random.Generator) -> Image.Exif:
    exif = Image.Exif()
    exif[_EXIF_ORIENTATION] = 6
    exif.get_ifd(_EXIF_IFD)[_EXIF_DATETIME_ORIGINAL] = f"2024:0{rng.integers(1, 10)}:1{rng.integers(0, 10)} 10:20:30"
    return exif


def _jpeg(width: int, height: int, *, progressive: bool = False, phone: bool = True, noise: float = 7.0):
    def make(rng: np.random.Generator, index: int) -> tuple[str, bytes]:
        image = Image.fromarray(_photo_pixels(rng, width, height, noise), "RGB")
        buffer = io.BytesIO()
        extra = {"exif": _exif(rng)} if phone and index % 2 else {}
        image.save(buffer, "JPEG", quality=90, progressive=progressive, **extra)
        return "jpg", buffer.getvalue()
    return make


def _png_screen(rng: np.random.Generator, index: int) -> tuple[str, bytes]:
    width, height = ((2560, 1600), (1920, 1080), (1170, 2532))[index % 3]  # laptop, desktop, phone screens
    buffer = io.BytesIO()
    Image.fromarray(_screen_pixels(rng, width, height), "RGB").save(buffer, "PNG")
    return "png", buffer.getvalue()


SHAPES: dict[str, Callable[[np.random.Generator, int], tuple[str, bytes]]] = {
    "640x480": _jpeg(640, 480, phone=False),
    "12mp": _jpeg(4000, 3000),
    "24mp": _jpeg(6000, 4000),
    "png-screens": _png_screen,
    "progressive": _jpeg(4000, 3000, progressive=True),
}
# What a phone-and-laptop library looks like: mostly phone pictures, then camera files, screenshots, small ones.
MIX = ("12mp", "12mp", "12mp", "progressive", "24mp", "png-screens", "640x480", "12mp")
CHOICES = (*SHAPES, "mix")


def make_photos(folder: Path, count: int, shape: str, unique: int | None = None) -> list[Path]:
    """`count` distinct files of `shape` (one of CHOICES) in `folder`, made once: an existing complete set is kept.

    `unique`: make only that many pictures; the other files repeat them, each JPEG with a comment of its own,
    so every file is a distinct content that decodes exactly like its picture (a GPU run's thousands of
    12 MP files in seconds instead of most of an hour)."""
    if shape not in CHOICES:
        raise ValueError(f"unknown shape {shape!r}; one of {', '.join(CHOICES)}")
    done = folder / ".complete"
    if not done.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        made: list[tuple[str, bytes]] = []
        for i in range(count):
            if unique is None or i < unique:
                kind = MIX[i % len(MIX)] if shape == "mix" else shape
                made.append(SHAPES[kind](rng, i))
            suffix, data = made[i % len(made)]
            if i >= len(made) and suffix == "jpg":
                data = with_comment(data, f"copy {i}".encode())
            (folder / f"img-{i:05d}.{suffix}").write_bytes(data)
        done.write_text(shape)
    return image_files(folder)


def with_comment(jpeg: bytes, text: bytes) -> bytes:
    """The JPEG with a comment segment (COM) right after its start marker: other bytes, the same pixels."""
    return jpeg[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + jpeg[2:]


def image_files(folder: Path) -> list[Path]:
    """The pictures of a generated set, sorted."""
    return sorted(p for p in folder.iterdir() if p.suffix in (".jpg", ".png"))
