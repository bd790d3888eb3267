"""The ONNX image backend agrees with PyTorch: same preprocessing, same (fp32) or nearly same (int8) vectors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from es_search.encoders import EncoderUnavailable, EncoderUnsupported, build_image_encoder, build_text_encoder
from es_search.encoders.local import LocalEncoder
from es_search.encoders.onnx import OnnxImageEncoder, cpu_session_options, ensure_onnx_model, onnx_cache_dir
from es_search.encoders.transforms import ClipPreprocessing, preprocess_image
from es_search.model_loading import load_sentence_transformer, usable_cores
from es_search.tiny_model import make_random_clip
from tests.support.encoder_cases import sample_images


@pytest.fixture(scope="module")
def onnx_settings(base_settings, tiny_models, tmp_path_factory):
    """Tiny models with one export cache for the module (the export runs once)."""
    return base_settings.with_overrides(image_model=str(tiny_models.image), text_model=str(tiny_models.text),
                                        device="cpu", data_dir=tmp_path_factory.mktemp("onnx-data"))


def top_k_agreement(reference: np.ndarray, other: np.ndarray, k: int = 10) -> float:
    """Mean overlap of each vector's k nearest neighbours (itself excluded) under the two encodings."""
    def neighbours(v):
        sims = v @ v.T
        np.fill_diagonal(sims, -np.inf)
        return np.argsort(-sims, axis=1)[:, :k]

    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(neighbours(reference), neighbours(other),
                                                                   strict=True)]))


def test_numpy_preprocessing_matches_the_clip_processor(onnx_settings):
    model = load_sentence_transformer(onnx_settings.image_model, "cpu", "IMGSEARCH_IMAGE_MODEL")
    processor = model[0].processor.image_processor
    prep = ClipPreprocessing.from_image_processor(processor)
    # Tall, wide, tiny (smaller than the crop), odd sizes, and non-RGB modes.
    images = sample_images(8, seed=5) + [Image.new("RGB", (7, 5), (10, 200, 30)), Image.new("L", (33, 97), 128)]
    for image in images:
        ours = preprocess_image(image, prep)
        theirs = processor(images=[image.convert("RGB")], return_tensors="np")["pixel_values"][0]
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_onnx_fp32_agrees_with_torch(onnx_settings):
    images = sample_images(16, seed=6)
    torch_vectors = build_image_encoder(onnx_settings.with_overrides(image_backend="torch")).encode_images(images)
    encoder = build_image_encoder(onnx_settings.with_overrides(image_backend="onnx-fp32"))
    assert isinstance(encoder, OnnxImageEncoder) and encoder.precision == "fp32"
    onnx_vectors = encoder.encode_images(images)
    assert onnx_vectors.shape == torch_vectors.shape and onnx_vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)
    cos = (onnx_vectors * torch_vectors).sum(axis=1)
    print(f"\nonnx fp32 vs torch: mean cosine {cos.mean():.7f}, min {cos.min():.7f}")
    assert cos.mean() >= 0.9999 and cos.min() >= 0.999


def test_onnx_int8_stays_close_to_torch(onnx_settings):
    images = sample_images(48, seed=7)
    torch_vectors = build_image_encoder(onnx_settings.with_overrides(image_backend="torch")).encode_images(images)
    encoder = build_image_encoder(onnx_settings.with_overrides(image_backend="onnx-int8"))
    assert encoder.precision == "int8"
    int8_vectors = encoder.encode_images(images)
    cos = (int8_vectors * torch_vectors).sum(axis=1)
    agreement = top_k_agreement(torch_vectors, int8_vectors)
    print(f"\nonnx int8 vs torch: mean cosine {cos.mean():.6f}, min {cos.min():.6f}, top-10 agreement {agreement:.3f}")
    # Weights are quantised per output channel and activations per batch, so each vector moves by well under
    # 1% (observed ~1e-4). The tiny random CLIP crowds all images together (mean pairwise cosine ~0.97), which
    # makes neighbour order fragile: observed ~0.96 there, so 0.8 still catches a broken quantisation.
    assert cos.mean() >= 0.99
    assert agreement >= 0.8
    assert not np.allclose(int8_vectors, torch_vectors, atol=1e-7)  # it really is a different (quantised) graph


def test_export_is_cached_and_keyed_by_the_model(onnx_settings, tmp_path):
    path = ensure_onnx_model(onnx_settings, "fp32")
    stamp = path.stat().st_mtime_ns
    assert ensure_onnx_model(onnx_settings, "fp32") == path
    assert path.stat().st_mtime_ns == stamp
    assert path.parent == onnx_cache_dir(onnx_settings) and path.parent.parent == onnx_settings.data_dir / "onnx"
    other = make_random_clip(tmp_path / "other-clip", dims=32, seed=9)
    assert onnx_cache_dir(onnx_settings.with_overrides(image_model=str(other))) != path.parent


def test_cached_export_knows_dims_and_encodes_texts_through_the_text_model(onnx_settings, tiny_models):
    ensure_onnx_model(onnx_settings, "fp32")
    texts = ["a dog", "一只狗", "собака"]
    expected = LocalEncoder(onnx_settings).encode_texts(texts)
    encoder = OnnxImageEncoder(onnx_settings.with_overrides(image_backend="onnx-fp32"),
                               text_encoder=LocalEncoder(onnx_settings))
    assert encoder.dims == tiny_models.dims
    np.testing.assert_allclose(encoder.encode_texts(texts), expected, atol=1e-6)
    # With an ONNX image backend, the text encoder is that same object.
    settings = onnx_settings.with_overrides(image_backend="onnx-fp32")
    assert build_text_encoder(settings) is build_image_encoder(settings)


def test_an_onnx_encoder_built_without_a_text_encoder_says_so(onnx_settings):
    # It is given its text encoder rather than building one, so this module never imports the torch backend.
    encoder = OnnxImageEncoder(onnx_settings.with_overrides(image_backend="onnx-fp32"))
    with pytest.raises(EncoderUnsupported, match="without a text encoder"):
        encoder.encode_texts(["a dog"])
    assert encoder.encode_images(sample_images(2)).shape == (2, encoder.dims)  # images need no text encoder


def test_the_sessions_threads_sleep_when_idle_instead_of_spinning(onnx_settings):
    # Spinning threads take the cores the decode workers and Elasticsearch share with the model.
    options = cpu_session_options(3)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (3, 1)
    encoder = OnnxImageEncoder(onnx_settings.with_overrides(image_backend="onnx-int8"))
    assert encoder.encode_images(sample_images(1)).shape == (1, encoder.dims)
    used = encoder._session.get_session_options()
    assert used.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert used.intra_op_num_threads == usable_cores()


def test_a_text_only_model_cannot_be_exported(onnx_settings, tiny_models, tmp_path):
    settings = onnx_settings.with_overrides(image_model=str(tiny_models.text), data_dir=tmp_path,
                                            image_backend="onnx-fp32")
    with pytest.raises(EncoderUnavailable, match="not a CLIP model"):
        OnnxImageEncoder(settings).encode_images(sample_images(1))
