"""Generated images for the encoder tests: varied sizes, aspect ratios and colour modes."""

from __future__ import annotations

import numpy as np
from PIL import Image


def sample_images(n: int, seed: int = 0) -> list[Image.Image]:
    """Varied sizes, aspect ratios and modes: gradients with a random rectangle, plus noise."""
    rng = np.random.default_rng(seed)
    images = []
    for i in range(n):
        h, w = (int(x) for x in rng.integers(24, 160, size=2))
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([(xx * rng.uniform(0.5, 3) + yy * rng.uniform(0, 2)) % 256 for _ in range(3)], axis=-1)
        top, left = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
        base[top:top + h // 3, left:left + w // 3] = rng.integers(0, 256, size=3)
        base = base + rng.normal(0, 12, size=base.shape)
        image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
        images.append(image.convert(("RGB", "L", "RGBA", "P")[i % 4]))
    return images
