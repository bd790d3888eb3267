"""Colour facts of an image from its small analysis copy: dominant colours, warm / cool / neutral scheme,
mean brightness and saturation. Pure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ingest.enrichers.base import Enricher
from ingest.enrichers.small import analysis_image

DOMINANT_COLORS = 5
# A pixel counts as coloured (not grey/black/white) above these HSV levels (0..1).
CHROMA_MIN_SATURATION = 0.25
CHROMA_MIN_VALUE = 0.20
# Below this share of coloured pixels an image is "neutral".
NEUTRAL_MAX_CHROMA_SHARE = 0.15
# Hues counted warm (reds, oranges, yellows, pinks), in degrees; the rest of the wheel is cool.
WARM_HUES = ((0.0, 70.0), (330.0, 360.0))


@dataclass(frozen=True)
class ColorFacts:
    dominant_colors: list[str]
    color_scheme: str
    brightness: float
    saturation: float


class ColorsEnricher(Enricher):
    name = "colors"
    needs = "small"
    fields = ("dominant_colors", "color_scheme", "brightness", "saturation")

    def enrich(self, image: Image.Image, original: bytes | None = None) -> dict:
        facts = color_facts(image)
        return {"color_scheme": facts.color_scheme, "dominant_colors": facts.dominant_colors,
                "brightness": facts.brightness, "saturation": facts.saturation}


def color_facts(image: Image.Image) -> ColorFacts:
    """Dominant colours (most first), warm / cool / neutral scheme, mean brightness and saturation (0..1)."""
    small = analysis_image(image)
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32) / 255.0
    luma = np.asarray(small.convert("L"), dtype=np.float32) / 255.0
    return ColorFacts(
        dominant_colors=dominant_colors(small),
        color_scheme=color_scheme(hsv),
        brightness=round(float(luma.mean()), 4),
        saturation=round(float(hsv[..., 1].mean()), 4),
    )


def dominant_colors(image: Image.Image, count: int = DOMINANT_COLORS) -> list[str]:
    """Up to `count` colours as '#rrggbb', by how many pixels each stands for (fast octree quantisation:
    a tenth of median cut's time, and it keeps small vivid areas apart)."""
    quantized = image.convert("RGB").quantize(colors=count, method=Image.Quantize.FASTOCTREE)
    palette = quantized.getpalette() or []
    used = sorted(quantized.getcolors() or [], key=lambda pair: (-pair[0], pair[1]))
    colors: list[str] = []
    for _, index in used:
        r, g, b = palette[3 * index: 3 * index + 3]
        hex_color = f"#{r:02x}{g:02x}{b:02x}"
        if hex_color not in colors:
            colors.append(hex_color)
    return colors


def color_scheme(hsv: np.ndarray) -> str:
    """'neutral' when few pixels are coloured; otherwise 'warm' or 'cool' by saturation-weighted hue."""
    hue_degrees = hsv[..., 0] * 360.0
    saturation, value = hsv[..., 1], hsv[..., 2]
    chroma = (saturation >= CHROMA_MIN_SATURATION) & (value >= CHROMA_MIN_VALUE)
    if chroma.mean() < NEUTRAL_MAX_CHROMA_SHARE:
        return "neutral"
    warm = np.zeros_like(chroma)
    for low, high in WARM_HUES:
        warm |= (hue_degrees >= low) & (hue_degrees < high)
    weights = saturation * chroma
    warm_weight = float((weights * warm).sum())
    return "warm" if warm_weight >= float(weights.sum()) - warm_weight else "cool"
