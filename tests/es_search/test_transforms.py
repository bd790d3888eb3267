"""CLIP preprocessing in numpy: the same float32 numbers as the transformers image processor, to the bit."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from transformers import CLIPImageProcessor

from es_search.encoders.transforms import ClipPreprocessing, channel_tables, preprocess_image


def noise(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


@pytest.mark.parametrize("size", [(320, 240), (240, 320), (224, 224), (100, 50), (701, 333)])
def test_full_size_clip_preprocessing_is_the_processors_to_the_bit(size):
    # The processor's defaults are clip-ViT-B-32's: shortest edge 224, bicubic, centre crop, OpenAI mean/std.
    processor = CLIPImageProcessor()
    prep = ClipPreprocessing.from_image_processor(processor)
    image = noise(*size, seed=sum(size))
    ours = preprocess_image(image, prep)
    theirs = processor(images=[image], return_tensors="np")["pixel_values"][0]
    assert ours.dtype == np.float32 and ours.shape == (3, 224, 224)
    assert np.array_equal(ours, theirs)


def test_without_rescale_or_normalisation_the_bytes_come_through_as_floats():
    prep = ClipPreprocessing(resize_shortest_edge=None, resize_height=16, resize_width=16, resample=3,
                             crop_height=None, crop_width=None, rescale_factor=None, mean=None, std=None)
    image = noise(16, 16, seed=1)
    pixels = preprocess_image(image, prep)
    assert np.array_equal(pixels, np.asarray(image, dtype=np.float32).transpose(2, 0, 1))
    assert channel_tables(prep).shape == (3, 256) and not channel_tables(prep).flags.writeable
