"""The one L2 normalisation: rows of vectors scaled to unit length, as every encoder hands them out.

Vectors are compared by dot product in Elasticsearch (`dot_product` similarity needs unit length) and in
the zero-shot category scorer, so every backend must scale them the same way; they all call this.
"""

from __future__ import annotations

import numpy as np


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Each row of a 2-d array scaled to unit length, as a new contiguous float32 array.

    An all-zero row stays all zero rather than becoming NaN: it has no direction, and a zero vector is easy
    for a caller to spot and refuse (a search vector must be non-zero), while NaN would spread silently.
    Rows with NaN or infinite values are not repaired. Raises ValueError for anything but a 2-d array.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors (one per row), got shape {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)
