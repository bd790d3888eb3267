"""LocalEncoder and the encoder factory, run on the tiny random models (offline, no Elasticsearch)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from es_search.cli import main
from es_search.encoders import EncoderUnavailable, build_image_encoder, build_text_encoder
from es_search.encoders.base import Encoder
from es_search.encoders.local import LocalEncoder
from es_search.encoders.transforms import to_rgb
from es_search.errors import EXIT_MODEL
from es_search.tiny_model import make_random_multilingual_text_model
from tests.support.encoder_cases import sample_images

TEXTS = {
    "en": "a red car in the city at night",
    "zh": "夜晚城市里的一辆红色汽车",
    "ru": "красная машина в городе ночью",
    "ar": "سيارة حمراء في المدينة ليلا",
}


@pytest.fixture
def tiny_local_settings(base_settings, tiny_models, tmp_path):
    """Tiny models, CPU, a tmp data folder; no Elasticsearch needed."""
    return base_settings.with_overrides(image_model=str(tiny_models.image), text_model=str(tiny_models.text),
                                        image_backend="torch", text_backend="local", device="cpu",
                                        data_dir=tmp_path / "data")


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=-1)


def test_image_vectors_have_the_model_dims_and_unit_length(tiny_local_settings, tiny_models):
    encoder = build_image_encoder(tiny_local_settings)
    assert isinstance(encoder, Encoder) and isinstance(encoder, LocalEncoder)
    vectors = encoder.encode_images(sample_images(6))
    assert vectors.shape == (6, tiny_models.dims) == (6, encoder.dims)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.name == tiny_models.image.name


def test_same_image_same_vector_regardless_of_batch(tiny_local_settings):
    encoder = build_image_encoder(tiny_local_settings)
    images = sample_images(5, seed=1)
    batch = encoder.encode_images(images)
    alone = encoder.encode_images([images[3]])
    again = encoder.encode_images([images[3].copy()])
    np.testing.assert_allclose(alone[0], again[0], atol=1e-6)
    assert cosine(batch[3], alone[0]) > 0.99999


def test_different_images_give_different_vectors(tiny_local_settings):
    vectors = build_image_encoder(tiny_local_settings).encode_images(sample_images(8, seed=2))
    sims = vectors @ vectors.T
    off_diagonal = sims[~np.eye(len(vectors), dtype=bool)]
    assert off_diagonal.max() < 0.9999


def test_texts_in_four_languages_give_distinct_unit_vectors(tiny_local_settings, tiny_models):
    encoder = build_text_encoder(tiny_local_settings)
    vectors = encoder.encode_texts(list(TEXTS.values()))
    assert vectors.shape == (4, tiny_models.dims) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[~np.eye(4, dtype=bool)].max() < 0.9999
    # The same text twice gives the same vector.
    np.testing.assert_allclose(encoder.encode_texts([TEXTS["zh"]])[0], vectors[1], atol=1e-5)


def test_int8_text_model_stays_close_to_fp32_and_leaves_images_alone(tiny_local_settings, tiny_models):
    fp32 = build_text_encoder(tiny_local_settings)
    int8 = build_text_encoder(tiny_local_settings.with_overrides(text_quantize="int8"))
    assert int8 is not fp32
    texts = list(TEXTS.values())
    a, b = fp32.encode_texts(texts), int8.encode_texts(texts)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert not np.array_equal(a, b)  # the quantised model really ran
    assert float(np.min(np.sum(a * b, axis=1))) > 0.95
    image = Image.new("RGB", (40, 30), (200, 40, 40))
    np.testing.assert_array_equal(fp32.encode_images([image]), int8.encode_images([image]))


def test_empty_inputs_give_empty_arrays(tiny_local_settings, tiny_models):
    encoder = build_image_encoder(tiny_local_settings)
    assert encoder.encode_images([]).shape == (0, tiny_models.dims)
    assert encoder.encode_texts([]).shape == (0, tiny_models.dims)


def test_factory_caches_one_encoder_per_configuration(tiny_local_settings):
    first = build_image_encoder(tiny_local_settings)
    assert build_image_encoder(tiny_local_settings) is first
    assert build_text_encoder(tiny_local_settings) is first
    # "auto" without a client to ask falls back to the local model.
    assert build_text_encoder(tiny_local_settings.with_overrides(text_backend="auto")) is first


def test_concurrent_first_use_loads_the_model_once(tiny_local_settings, tiny_models, tmp_path):
    from es_search import model_loading as loading

    # A private copy gives a cache key no other test has loaded yet.
    folder = shutil.copytree(tiny_models.image, tmp_path / "clip-copy")
    settings = tiny_local_settings.with_overrides(image_model=str(folder))
    images = sample_images(3, seed=4)
    results, errors = [], []

    def work():
        try:
            results.append(LocalEncoder(settings).encode_images(images))
        except Exception as exc:  # collected so the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len([key for key in loading._MODELS if key[0] == str(folder)]) == 1
    for r in results[1:]:
        np.testing.assert_allclose(r, results[0], atol=1e-6)


def test_missing_model_folder_raises_a_helpful_error(tiny_local_settings, tmp_path):
    settings = tiny_local_settings.with_overrides(image_model=str(tmp_path / "no-such-model"))
    with pytest.raises(EncoderUnavailable) as err:
        build_image_encoder(settings).encode_images(sample_images(1))
    message = str(err.value)
    assert "IMGSEARCH_IMAGE_MODEL" in message and "no such folder" in message
    assert "clip-ViT-B-32" in message and "make-tiny" in message


def test_folder_without_a_model_raises(tiny_local_settings, tmp_path):
    (tmp_path / "empty").mkdir()
    settings = tiny_local_settings.with_overrides(text_model=str(tmp_path / "empty"))
    with pytest.raises(EncoderUnavailable, match="IMGSEARCH_TEXT_MODEL.*modules.json"):
        build_text_encoder(settings).encode_texts(["hello"])


def test_unknown_hub_model_raises_without_swapping_models(tiny_local_settings):
    settings = tiny_local_settings.with_overrides(text_model="imgsearch-tests/no-such-model-anywhere")
    with pytest.raises(EncoderUnavailable, match="IMGSEARCH_TEXT_MODEL"):
        build_text_encoder(settings).encode_texts(["hello"])


def test_text_model_of_other_dims_is_refused(tiny_local_settings, tmp_path):
    other = make_random_multilingual_text_model(tmp_path / "text16", dims=16)
    encoder = LocalEncoder(tiny_local_settings.with_overrides(text_model=str(other)))
    encoder.encode_images(sample_images(1))  # the image model is loaded, so the mismatch is known
    with pytest.raises(EncoderUnavailable, match="16-d"):
        encoder.encode_texts(["hello"])


def test_cli_make_tiny_prints_settings_to_use(tmp_path, capsys):
    assert main(["model", "make-tiny", str(tmp_path / "m"), "--dims", "8"]) == 0
    out = capsys.readouterr().out
    assert f"IMGSEARCH_IMAGE_MODEL={(tmp_path / 'm' / 'tiny-clip').resolve()}" in out
    assert f"IMGSEARCH_TEXT_MODEL={(tmp_path / 'm' / 'tiny-multilingual').resolve()}" in out


def test_cli_reports_a_missing_model_as_one_line_and_exit_code(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IMGSEARCH_IMAGE_MODEL", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("IMGSEARCH_DATA_DIR", str(tmp_path / "data"))
    assert main(["model", "export-onnx", "--precision", "fp32"]) == EXIT_MODEL
    err = capsys.readouterr().err
    assert err.startswith("error: cannot load the model") and "Traceback" not in err


def sixteen_bit_ramp() -> Image.Image:
    """A 16-bit greyscale ramp: Pillow's own RGB conversion would clip nearly all of it to white."""
    ramp = Image.fromarray(np.tile(np.linspace(0, 65535, 96).astype(np.uint16), (64, 1)))
    assert ramp.mode.startswith("I;16")
    return ramp


def test_images_of_any_mode_are_converted_the_way_the_decoder_converts_them(tiny_local_settings):
    encoder = build_image_encoder(tiny_local_settings)
    ramp = sixteen_bit_ramp()
    vectors = encoder.encode_images([ramp, to_rgb(ramp), ramp.convert("RGB")])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)  # the one conversion, scaled not clipped
    assert cosine(vectors[0], vectors[2]) < 0.999
    pixels = encoder.preprocess([ramp, to_rgb(ramp)])  # the workers' path goes through the same conversion
    np.testing.assert_array_equal(pixels[0], pixels[1])
    # Transparency is laid over white for the model as for thumbnails.
    clear = Image.new("RGBA", (64, 48), (200, 10, 10, 0))
    white = Image.new("RGB", (64, 48), (255, 255, 255))
    np.testing.assert_allclose(*encoder.encode_images([clear, white]), atol=1e-6)


@pytest.mark.parametrize("module, other", [("es_search.encoders.local", "es_search.encoders.onnx"),
                                           ("es_search.encoders.onnx", "es_search.encoders.local")])
def test_the_torch_and_onnx_backends_do_not_import_each_other(module, other):
    code = f"import sys, {module}; print({other!r} in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "False"
