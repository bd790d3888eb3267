"""Encode stage: a batch of images → one L2-normalised float32 vector each, through any `Encoder`.

One image the model chokes on must not cost its whole batch: a failed batch is retried image by image.
Encoders that can split their work (`preprocess` images to pixel arrays, then `encode_pixels`) get the
preprocessing done in the decode workers, so the model's thread only runs the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from es_search.encoders.base import EncoderUnavailable
from ingest.failures import FileFailure


def check_vectors(vectors, count: int, dims: int) -> np.ndarray:
    """The encoder's output as a (count, dims) float32 array, or ValueError when it is not that."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.shape != (count, dims):
        raise ValueError(f"encoder returned shape {array.shape}, expected {(count, dims)}")
    if not np.isfinite(array).all():
        raise ValueError("encoder returned NaN or infinite values")
    return array


def pixel_preprocessor(encoder) -> Callable[[Image.Image], np.ndarray] | None:
    """A function image → model-ready pixels when the encoder offers `preprocess` + `encode_pixels`, else None."""
    preprocess = getattr(encoder, "preprocess", None)
    if preprocess is None or not callable(getattr(encoder, "encode_pixels", None)):
        return None
    return lambda image: preprocess([image])[0]


def encode_batch(encoder, images: Sequence[Image.Image],
                 pixels: Sequence[np.ndarray] | None = None) -> list[np.ndarray | FileFailure]:
    """A vector per image, in order; where even a one-image call fails, a FileFailure('encode_failed') instead.

    With `pixels` (from `pixel_preprocessor`), those are encoded and the images are not looked at.
    """
    count = len(pixels) if pixels is not None else len(images)
    if pixels is not None:
        def run(indices: list[int]):
            return encoder.encode_pixels(np.stack([pixels[i] for i in indices]))
    else:
        def run(indices: list[int]):
            return encoder.encode_images([images[i] for i in indices])
    return _encode(run, list(range(count)), encoder)


def _encode(run, indices: list[int], encoder) -> list[np.ndarray | FileFailure]:
    if not indices:
        return []
    try:
        return list(check_vectors(run(indices), len(indices), encoder.dims))
    except EncoderUnavailable:
        raise  # the model itself is gone: every image would fail, so the run stops with that message
    except Exception as exc:
        if len(indices) == 1:
            return [FileFailure("encode_failed", f"{type(exc).__name__}: {exc}")]
    # Retry one at a time so that only the image the model chokes on fails.
    return [_encode(run, [i], encoder)[0] for i in indices]
