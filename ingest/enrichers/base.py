"""The one interface every enricher implements (see the package's docstring)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from PIL import Image

NEEDS = ("small", "image", "vector")
COSTS = ("light", "heavy")


class Enricher:
    """Base of every enricher; subclasses set the class attributes and implement `enrich` or `enrich_vectors`."""

    name: ClassVar[str]
    needs: ClassVar[str]
    fields: ClassVar[tuple[str, ...]]
    cost: ClassVar[str] = "light"
    # A heavy enricher may also want the file's bytes (to decode them at a size of its own) and a time limit:
    # past `timeout` seconds its fields are given up (reason `<name>_timeout`) and the image is indexed without.
    wants_original: ClassVar[bool] = False
    timeout: float | None = None
    workers: int = 1

    def __init__(self) -> None:
        self._load_lock = threading.Lock()
        self._loaded = False

    def load(self) -> None:
        """Load what the enricher needs (a model), once, whichever thread asks first."""
        if self._loaded:
            return
        with self._load_lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def _load(self) -> None:
        """Subclasses with a model load it here."""

    def enrich(self, image: Image.Image, original: bytes | None = None) -> dict:
        """The fields for one image (needs "small" or "image"); only keys of `fields`. `original`: the file's
        bytes, for an enricher that `wants_original`."""
        raise NotImplementedError

    def enrich_vectors(self, vectors: np.ndarray) -> list[dict]:
        """The fields for each row of a batch of image vectors (needs "vector")."""
        raise NotImplementedError


@dataclass(frozen=True)
class EnricherContext:
    """What a factory may use: the settings and the run's text encoder (zero-shot prompts)."""

    settings: object
    text_encoder: object | None = None
