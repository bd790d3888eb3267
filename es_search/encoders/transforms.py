"""Pixels the way CLIP wants them, in PIL and numpy, shared by the torch and ONNX image backends and the decoder.

`to_rgb` is the one conversion of any Pillow mode to 8-bit RGB: the decoder applies it to every file and
upload, the encoders to any image handed to them directly. `preprocess_image` does what CLIP's image
processor does (resize, centre crop, rescale, normalise) without transformers, so an ONNX cache hit needs
no PyTorch and the two backends see the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

# Modes with an alpha channel (straight or premultiplied) that are laid over white.
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class UnsupportedMode(ValueError):
    """An image mode that cannot be turned into RGB (the decoder reports it as `unsupported_format`)."""


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB: transparency over white, 16-bit and float scaled, CMYK and palettes converted.

    Raises UnsupportedMode when Pillow has no conversion for the mode.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if mode.startswith("I") or mode == "F":
        return _high_depth_to_rgb(image)
    try:
        return image.convert("RGB")
    except (ValueError, OSError) as exc:
        raise UnsupportedMode(f"cannot convert mode {mode} to RGB: {exc}") from None


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float greyscale scaled into 0..255 (Pillow's own convert would clip to white)."""
    values = np.asarray(image, dtype=np.float32)
    if values.ndim != 2:
        raise UnsupportedMode(f"mode {image.mode} with shape {values.shape}")
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else 0.0
    if image.mode == "F" and 0.0 <= float(finite.min() if finite.size else 0.0) and top <= 1.0:
        scale = 255.0
    elif image.mode.startswith("I;16") or top > 255.0:
        # Integer data: treat it as 16-bit when it fits, otherwise stretch what is there.
        scale = 255.0 / 65535.0 if top <= 65535.0 else 255.0 / top
    else:
        scale = 1.0
    grey = np.nan_to_num(values * scale, nan=0.0, posinf=255.0, neginf=0.0).clip(0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


@dataclass(frozen=True)
class ClipPreprocessing:
    """The image processor's settings that matter for CLIP: resize, centre crop, rescale, normalise."""

    resize_shortest_edge: int | None  # None: resize to (resize_height, resize_width) exactly
    resize_height: int
    resize_width: int
    resample: int
    crop_height: int | None  # None: no centre crop
    crop_width: int | None
    rescale_factor: float | None
    mean: tuple[float, float, float] | None
    std: tuple[float, float, float] | None

    @classmethod
    def from_image_processor(cls, proc) -> ClipPreprocessing:
        """The settings of a transformers CLIPImageProcessor (or anything with the same attributes)."""
        size = dict(proc.size) if proc.do_resize else {}
        crop = dict(proc.crop_size) if getattr(proc, "do_center_crop", False) else {}
        return cls(
            resize_shortest_edge=size.get("shortest_edge"),
            resize_height=int(size.get("height", 0)),
            resize_width=int(size.get("width", 0)),
            resample=int(proc.resample),
            crop_height=crop.get("height"),
            crop_width=crop.get("width"),
            rescale_factor=float(proc.rescale_factor) if proc.do_rescale else None,
            mean=tuple(float(x) for x in proc.image_mean) if proc.do_normalize else None,
            std=tuple(float(x) for x in proc.image_std) if proc.do_normalize else None,
        )

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the pixels the model receives."""
        height = self.crop_height or self.resize_height or self.resize_shortest_edge
        width = self.crop_width or self.resize_width or self.resize_shortest_edge
        return int(height), int(width)


def preprocess_image(image: Image.Image, p: ClipPreprocessing) -> np.ndarray:
    """One image → (3, H, W) float32, as CLIPImageProcessor makes it (bicubic resize, centre crop, normalise)."""
    image = to_rgb(image)
    if p.resize_shortest_edge:
        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = p.resize_shortest_edge, int(p.resize_shortest_edge * long / short)
        target = (new_short, new_long) if width <= height else (new_long, new_short)  # (w, h)
        image = image.resize(target, resample=p.resample)
    elif p.resize_height and p.resize_width:
        image = image.resize((p.resize_width, p.resize_height), resample=p.resample)
    pixels = np.asarray(image, dtype=np.uint8)
    if p.crop_height and p.crop_width:
        pixels = center_crop(pixels, p.crop_height, p.crop_width)
    # A byte has 256 values: look each channel's up in a table instead of rescaling and normalising every
    # pixel in float64 and float32 (a third of this function's time, and the same numbers to the bit).
    table = channel_tables(p)
    out = np.empty((3, *pixels.shape[:2]), dtype=np.float32)
    for channel in range(3):
        np.take(table[channel], pixels[..., channel], out=out[channel])
    return out


@lru_cache(maxsize=8)
def channel_tables(p: ClipPreprocessing) -> np.ndarray:
    """(3, 256) float32: what rescale then normalise make of each byte value, per channel, computed the way
    CLIPImageProcessor computes it per pixel (rescale in float64, then float32 arithmetic)."""
    values = np.arange(256, dtype=np.float64)
    values = (values * p.rescale_factor if p.rescale_factor else values).astype(np.float32)
    table = np.stack([values] * 3)
    if p.mean is not None and p.std is not None:
        mean = np.asarray(p.mean, dtype=np.float32)[:, None]
        std = np.asarray(p.std, dtype=np.float32)[:, None]
        table = (table - mean) / std
    table.setflags(write=False)
    return table


def center_crop(pixels: np.ndarray, crop_h: int, crop_w: int) -> np.ndarray:
    """The centre `crop_h` × `crop_w` of an (H, W, C) array, zero-padded where the image is smaller."""
    # Same arithmetic as transformers' center_crop, padding included.
    height, width = pixels.shape[:2]
    if height < crop_h or width < crop_w:
        new_h, new_w = max(height, crop_h), max(width, crop_w)
        padded = np.zeros((new_h, new_w, pixels.shape[2]), dtype=pixels.dtype)
        top_pad, left_pad = -(-(new_h - height) // 2), -(-(new_w - width) // 2)
        padded[top_pad:top_pad + height, left_pad:left_pad + width] = pixels
        top, left = (height - crop_h) // 2 + top_pad, (width - crop_w) // 2 + left_pad
        return padded[max(0, top):min(new_h, top + crop_h), max(0, left):min(new_w, left + crop_w)]
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return pixels[top:top + crop_h, left:left + crop_w]
