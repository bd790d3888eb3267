"""The one small interface every encoder implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image


@runtime_checkable
class Encoder(Protocol):
    """Turns images and texts into L2-normalised float32 vectors of `dims` dimensions in one shared space.

    `encode_images` returns shape (len(images), dims); `encode_texts` returns (len(texts), dims).
    An encoder that cannot do one of the two raises `EncoderUnsupported`. Models load on first use.
    """

    @property
    def name(self) -> str: ...

    @property
    def dims(self) -> int: ...

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...




# Re-exported: the encoders' failures live in the one error table.
from es_search.errors import EncoderUnavailable as EncoderUnavailable  # noqa: E402
from es_search.errors import EncoderUnsupported as EncoderUnsupported  # noqa: E402
