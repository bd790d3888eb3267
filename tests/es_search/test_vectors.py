"""The one L2 normalisation every encoder and the category scorer use."""

from __future__ import annotations

import numpy as np
import pytest

from es_search.vectors import l2_normalise


def test_rows_come_out_unit_length_float32_and_contiguous():
    vectors = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 2.5], [1.0, 1.0, 1.0]], dtype=np.float64)
    unit = l2_normalise(vectors)
    assert unit.dtype == np.float32 and unit.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(unit[0], [0.6, 0.8, 0.0], atol=1e-7)
    np.testing.assert_allclose(unit[1], [0.0, 0.0, 1.0], atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-6)
    assert vectors[0, 0] == 3.0  # the input is left as it was


def test_a_zero_row_stays_zero_instead_of_becoming_nan():
    unit = l2_normalise(np.array([[0.0, 0.0], [0.0, 5.0]], dtype=np.float32))
    assert unit.tolist() == [[0.0, 0.0], [0.0, 1.0]]
    assert l2_normalise(np.zeros((0, 4))).shape == (0, 4)


def test_a_column_view_is_normalised_per_row():
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]  # strided, not contiguous
    unit = l2_normalise(matrix)
    np.testing.assert_allclose(unit, matrix / np.linalg.norm(matrix, axis=1, keepdims=True), rtol=1e-6)
    assert unit.flags["C_CONTIGUOUS"]


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4)])
def test_anything_but_rows_of_vectors_is_refused(shape):
    with pytest.raises(ValueError, match="2-d"):
        l2_normalise(np.ones(shape))
