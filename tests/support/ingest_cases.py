"""Image files for the ingest tests, made on the spot with Pillow: good ones, odd ones and broken ones.

Every builder returns bytes; `make_mixed_folder` lays out the folder the README's promise is tested on,
and returns what the ingest must make of it.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

EXIF_ORIENTATION = 0x0112


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A distinct, photo-like RGB image for each seed (gradients plus noise)."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    base = rng.uniform(0, 255, 3)
    slope = rng.uniform(-0.4, 0.4, (2, 3))
    pixels = base + x[..., None] * slope[0] + y[..., None] * slope[1] + rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def jpeg(seed: int, size=(640, 480), **params) -> bytes:
    return encode(scene(seed, size), "JPEG", quality=90, **params)


def png(seed: int, size=(320, 240)) -> bytes:
    return encode(scene(seed, size), "PNG")


def webp(seed: int) -> bytes:
    return encode(scene(seed, (300, 200)), "WEBP", quality=80)


def cmyk_jpeg() -> bytes:
    """Pure cyan in CMYK: (100% C, 0, 0, 0) must come out as RGB (0, 255, 255)."""
    return encode(Image.new("CMYK", (200, 150), (255, 0, 0, 0)), "JPEG", quality=95)


def gray16_png() -> bytes:
    """A 16-bit greyscale ramp 0..65535 left to right (Pillow mode I;16)."""
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (64, 1))
    return encode(Image.fromarray(ramp), "PNG")


def animated_gif() -> bytes:
    """Three frames: red, green, blue. The first (red) is the one to index."""
    frames = [Image.new("RGB", (120, 90), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def rotated_jpeg() -> bytes:
    """Stored 200 wide × 100 high, EXIF orientation 6 (rotate 90° clockwise): upright it is 100 × 200.

    The left half is red and the right half blue, so after the rotation the top is red.
    """
    image = Image.new("RGB", (200, 100), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 100, 100))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    exif.get_ifd(0x8769)[0x9003] = "2021:07:04 18:30:00"
    return encode(image, "JPEG", quality=95, exif=exif)


def transparent_png() -> bytes:
    """A fully transparent RGBA image: over white it must be white."""
    return encode(Image.new("RGBA", (80, 60), (255, 0, 0, 0)), "PNG")


def assert_rotated_jpeg_upright(decoded) -> None:
    """What decoding `rotated_jpeg()` must give, whichever decoder: upright 100 × 200, red on top, its date."""
    assert (decoded.width, decoded.height) == (100, 200)  # stored 200 × 100, orientation 6
    assert decoded.image.size == (100, 200)
    top, bottom = decoded.image.getpixel((50, 20)), decoded.image.getpixel((50, 180))
    assert top[0] > 200 and top[2] < 60, top  # the red half is on top once upright
    assert bottom[2] > 200 and bottom[0] < 60, bottom
    assert decoded.taken_at == "2021-07-04T18:30:00"


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def corrupt_png(data: bytes) -> bytes:
    """A PNG whose header is intact but whose compressed pixel data (first IDAT chunk) is garbage."""
    damaged = bytearray(data)
    start = damaged.index(b"IDAT") + 4
    damaged[start:start + 64] = b"\xff" * 64
    return bytes(damaged)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header claims width × height RGB pixels (a decompression bomb's calling card)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _png_chunk(b"IEND", b""))


@dataclass
class MixedFolder:
    """A folder of every kind of file, and what the ingest must make of it."""

    root: Path
    indexed: set[str] = field(default_factory=set)  # paths whose content becomes a new document
    copies: dict[str, str] = field(default_factory=dict)  # copy path → original path (same bytes)
    failed: dict[str, str] = field(default_factory=dict)  # path → reason
    ignored: set[str] = field(default_factory=set)  # present, but not images by name or not regular files

    @property
    def all_image_paths(self) -> set[str]:
        return self.indexed | set(self.copies)


# The pixel limit the mixed-folder tests run with: the "huge" image is just over it.
MIXED_MAX_PIXELS = 1_000_000


def make_mixed_folder(root: Path) -> MixedFolder:
    """Good, duplicate, empty, truncated, corrupt, non-image, CMYK, 16-bit, animated, EXIF-rotated,
    huge, bomb, SVG and camera raw files, in nested folders with a symlink loop, a FIFO and a text file."""
    folder = MixedFolder(root=root)

    def put(relative: str, data: bytes) -> str:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return str(path)

    for relative, data in (
        ("good/harbour.jpg", jpeg(1)),
        ("good/meadow.png", png(2)),
        ("good/nested/deeper/dunes.webp", webp(3)),
        ("UPPER-CASE.JPEG", jpeg(4)),
        ("odd/cmyk.jpg", cmyk_jpeg()),
        ("odd/gray16.png", gray16_png()),
        ("odd/animated.gif", animated_gif()),
        ("odd/rotated.jpg", rotated_jpeg()),
        ("odd/transparent.png", transparent_png()),
    ):
        folder.indexed.add(put(relative, data))
    folder.copies[put("copies/harbour copy.jpg", jpeg(1))] = str(root / "good/harbour.jpg")

    good_jpeg = jpeg(5)
    for relative, data, reason in (
        ("bad/empty.jpg", b"", "empty"),
        ("bad/truncated.jpg", truncated(good_jpeg), "truncated"),
        ("bad/corrupt.png", corrupt_png(png(6, (400, 300))), "corrupt"),
        ("bad/notes.jpg", b"these are my holiday notes, not a picture\n" * 20, "not_an_image"),
        ("bad/bomb.png", png_bomb(), "too_many_pixels"),
        ("bad/huge.png", encode(Image.new("RGB", (1100, 1000), (10, 200, 10)), "PNG"), "too_many_pixels"),
        # Known image types the pipeline cannot read: reported by discovery, never silently left out.
        ("odd/drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg' width='8' height='8'/>", "unsupported_format"),
        ("odd/IMG_0001.CR2", b"II*\x00 not really a raw file", "unsupported_format"),
    ):
        folder.failed[put(relative, data)] = reason

    folder.ignored.add(put("bad/readme.txt", b"not an image by name"))
    os.symlink(root, root / "good" / "loop-back-to-root")  # must not make the walk go round forever
    fifo = root / "odd" / "pipe.jpg"
    os.mkfifo(fifo)  # reading it would block forever: the walk must skip it
    folder.ignored.add(str(fifo))
    return folder
