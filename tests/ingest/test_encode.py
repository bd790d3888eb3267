"""The encode stage: batches through any encoder; one bad image fails alone; a lost model stops the run."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from es_search.encoders.base import EncoderUnavailable
from ingest.encode import encode_batch, pixel_preprocessor
from ingest.failures import FileFailure


class MeanColourEncoder:
    """A real (if simple) encoder: the normalised mean colour, 3 dims. It refuses images 13 px wide."""

    name, dims = "mean-colour", 3

    def __init__(self):
        self.calls = []

    def encode_images(self, images):
        self.calls.append(len(images))
        if any(im.width == 13 for im in images):
            raise RuntimeError("13 px wide images upset this model")
        means = np.array([np.asarray(im, dtype=np.float32).reshape(-1, 3).mean(axis=0) + 1 for im in images])
        return means / np.linalg.norm(means, axis=1, keepdims=True)


def test_a_batch_is_one_model_call():
    encoder = MeanColourEncoder()
    vectors = encode_batch(encoder, [Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))])
    assert encoder.calls == [2]
    assert np.argmax(vectors[0]) == 0 and np.argmax(vectors[1]) == 2
    assert all(abs(np.linalg.norm(v) - 1) < 1e-5 for v in vectors)


def test_an_image_the_model_rejects_fails_alone():
    encoder = MeanColourEncoder()
    images = [Image.new("RGB", (8, 8)), Image.new("RGB", (13, 8)), Image.new("RGB", (9, 8))]
    results = encode_batch(encoder, images)
    assert isinstance(results[1], FileFailure) and results[1].reason == "encode_failed"
    assert "13 px" in results[1].message
    assert [isinstance(r, np.ndarray) for r in results] == [True, False, True]
    assert encoder.calls == [3, 1, 1, 1]  # the batch, then each image alone


def test_wrong_shapes_from_an_encoder_are_failures_not_garbage():
    class WrongDims(MeanColourEncoder):
        dims = 4

    (result,) = encode_batch(WrongDims(), [Image.new("RGB", (8, 8))])
    assert isinstance(result, FileFailure) and "shape" in result.message


def test_a_model_that_cannot_load_stops_the_stage():
    class Gone(MeanColourEncoder):
        def encode_images(self, images):
            raise EncoderUnavailable("the model folder is gone")

    with pytest.raises(EncoderUnavailable):
        encode_batch(Gone(), [Image.new("RGB", (8, 8))])


def test_encoders_that_split_preprocessing_get_pixels():
    class SplitEncoder(MeanColourEncoder):
        def preprocess(self, images):
            return np.stack([np.asarray(im, dtype=np.float32) for im in images])

        def encode_pixels(self, pixels):
            self.calls.append(("pixels", len(pixels)))
            means = pixels.reshape(len(pixels), -1, 3).mean(axis=1) + 1
            return means / np.linalg.norm(means, axis=1, keepdims=True)

    encoder = SplitEncoder()
    prepare = pixel_preprocessor(encoder)
    assert prepare is not None and pixel_preprocessor(MeanColourEncoder()) is None
    images = [Image.new("RGB", (8, 8), (0, 255, 0))] * 2
    vectors = encode_batch(encoder, images, [prepare(im) for im in images])
    assert encoder.calls == [("pixels", 2)]
    assert np.argmax(vectors[0]) == 1


def test_the_local_clip_encoder_splits_preprocessing_without_changing_a_vector(tiny_models, base_settings):
    from es_search.encoders.local import LocalEncoder

    settings = base_settings.with_overrides(image_model=str(tiny_models.image), text_model=str(tiny_models.text))
    encoder = LocalEncoder(settings)
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for w, h in ((320, 240), (200, 500))]
    prepare = pixel_preprocessor(encoder)
    assert prepare is not None  # so the ingest preprocesses in its decode threads
    split = encode_batch(encoder, images, [prepare(im) for im in images])
    # What sentence-transformers makes of the same images, through the image processor of transformers.
    reference = encoder._image_model().encode(images, convert_to_numpy=True, normalize_embeddings=True)
    assert np.allclose(np.stack(split), reference, atol=1e-5)
    assert np.allclose(encoder.encode_images(images), reference, atol=1e-5)


def test_a_picture_of_one_pixel_encodes_like_any_other(tiny_models, base_settings):
    from es_search.encoders.local import LocalEncoder

    settings = base_settings.with_overrides(image_model=str(tiny_models.image), text_model=str(tiny_models.text))
    vectors = LocalEncoder(settings).encode_images([Image.new("RGB", (1, 1), (200, 30, 30)),
                                                    Image.new("RGB", (1, 7), (0, 0, 0))])
    assert vectors.shape == (2, tiny_models.dims) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
