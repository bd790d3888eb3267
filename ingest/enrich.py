"""Enrich stage: facts computed from the pixels (colours, brightness, perceptual hash) and a zero-shot category.

All functions here are pure; the category scorer gets its label vectors from a text encoder once per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image

from es_search.vectors import l2_normalise

# Colour statistics need no detail: a small copy makes them cheap and stable.
ANALYSIS_SIDE = 64
DOMINANT_COLORS = 5
# A pixel counts as coloured (not grey/black/white) above these HSV levels (0..1).
CHROMA_MIN_SATURATION = 0.25
CHROMA_MIN_VALUE = 0.20
# Below this share of coloured pixels an image is "neutral".
NEUTRAL_MAX_CHROMA_SHARE = 0.15
# Hues counted warm (reds, oranges, yellows, pinks), in degrees; the rest of the wheel is cool.
WARM_HUES = ((0.0, 70.0), (330.0, 360.0))

CATEGORY_PROMPT = "a photo of {}"
# CLIP's trained logit scale: cosine similarities are multiplied by 100 before the softmax.
CLIP_LOGIT_SCALE = 100.0


@dataclass(frozen=True)
class ColorFacts:
    dominant_colors: list[str]
    color_scheme: str
    brightness: float
    saturation: float


def analysis_image(image: Image.Image) -> Image.Image:
    """The small RGB copy every pixel statistic is taken from (pass it on to skip resizing again)."""
    if image.mode == "RGB" and image.size == (ANALYSIS_SIDE, ANALYSIS_SIDE):
        return image
    return image.convert("RGB").resize((ANALYSIS_SIDE, ANALYSIS_SIDE), Image.Resampling.BILINEAR)


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


def perceptual_hash(image: Image.Image) -> str:
    """64-bit DCT perceptual hash (imagehash.phash) as 16 hex digits: near-identical pictures share it.

    Taken from the small analysis copy: phash only looks at 32 × 32 pixels, and shrinking a big picture
    with its Lanczos filter costs forty times more than the hash itself.
    """
    return str(imagehash.phash(analysis_image(image)))


class CategoryScorer:
    """Zero-shot labels: each image vector against the text vectors of 'a photo of {label}'."""

    def __init__(self, labels: Sequence[str], label_vectors: np.ndarray):
        if len(labels) != len(label_vectors) or not len(labels):
            raise ValueError("one vector per label, and at least one label")
        self.labels = list(labels)
        self.label_vectors = l2_normalise(label_vectors)

    @classmethod
    def from_text_encoder(cls, encoder, labels: Sequence[str], prompt: str = CATEGORY_PROMPT) -> CategoryScorer:
        """Encode the prompts once; `encoder` is anything with `encode_texts(list[str]) -> ndarray`."""
        return cls(labels, encoder.encode_texts([prompt.format(label) for label in labels]))

    def score(self, image_vectors: np.ndarray) -> list[tuple[str, float]]:
        """(best label, its softmax probability) for each row of `image_vectors`."""
        vectors = l2_normalise(image_vectors)
        if vectors.shape[1] != self.label_vectors.shape[1]:
            raise ValueError(f"image vectors have {vectors.shape[1]} dims, label vectors {self.label_vectors.shape[1]}: "
                             "the image and text models must share one space")
        logits = CLIP_LOGIT_SCALE * vectors @ self.label_vectors.T
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        best = probs.argmax(axis=1)
        return [(self.labels[i], round(float(probs[row, i]), 4)) for row, i in enumerate(best)]

