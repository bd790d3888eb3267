"""The small analysis copy that every pixel statistic is taken from: 64 × 64 RGB, made once per image."""

from __future__ import annotations

from PIL import Image

# Colour statistics and the perceptual hash need no detail: a small copy makes them cheap and stable.
ANALYSIS_SIDE = 64


def analysis_image(image: Image.Image) -> Image.Image:
    """The small RGB copy (returned as is when `image` already is one, so it is never resized twice)."""
    if image.mode == "RGB" and image.size == (ANALYSIS_SIDE, ANALYSIS_SIDE):
        return image
    return image.convert("RGB").resize((ANALYSIS_SIDE, ANALYSIS_SIDE), Image.Resampling.BILINEAR)
