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


class EncoderUnsupported(RuntimeError):
    """This encoder cannot encode that kind of input (e.g. images through Elasticsearch `_infer`)."""


class EncoderUnavailable(RuntimeError):
    """The model could not be loaded or reached; the message tells the user what to do."""
