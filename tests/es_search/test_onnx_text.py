"""The ONNX Runtime text path (the default on a CPU) against the PyTorch one, on the tiny random text model."""

from __future__ import annotations

import numpy as np
import pytest

from es_search.encoders import build_text_encoder
from es_search.encoders.onnx_text import ensure_onnx_text_model, load_onnx_text_model, text_export_dir

TEXTS = [
    "a red dress on a beach",
    "雪山",
    "красная машина в городе ночью",
    "سيارة حمراء في المدينة ليلا",
    "夜の東京の赤い車",
    "해변의 빨간 드레스",
    "word " * 400,  # past the 128-token limit: both runtimes cut it at the same place
    "",
]


@pytest.fixture
def cpu_settings(base_settings, tiny_models, tmp_path):
    return base_settings.with_overrides(image_model=str(tiny_models.image), text_model=str(tiny_models.text),
                                        text_backend="local", device="cpu", data_dir=tmp_path / "data")


def test_onnx_is_the_default_text_runtime(base_settings):
    assert base_settings.text_runtime == "onnx"


def test_onnx_vectors_match_pytorch_for_every_script_and_length(cpu_settings):
    onnx = build_text_encoder(cpu_settings).encode_texts(TEXTS)
    torch = build_text_encoder(cpu_settings.with_overrides(text_runtime="torch")).encode_texts(TEXTS)
    assert onnx.shape == torch.shape and onnx.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(onnx, torch, atol=2e-5)
    # A batch gives what one text at a time gives (padding does not leak into the mean pooling).
    alone = np.stack([build_text_encoder(cpu_settings).encode_texts([t])[0] for t in TEXTS])
    np.testing.assert_allclose(onnx, alone, atol=2e-5)


def test_int8_export_is_close_to_fp32_but_really_quantised(cpu_settings):
    fp32 = build_text_encoder(cpu_settings).encode_texts(TEXTS[:6])
    int8 = build_text_encoder(cpu_settings.with_overrides(text_quantize="int8")).encode_texts(TEXTS[:6])
    assert not np.array_equal(fp32, int8)
    assert float(np.min(np.sum(fp32 * int8, axis=1))) > 0.95
    # The runner may come from an earlier test's folder (one per model per process); this folder gets its own.
    graph = ensure_onnx_text_model(cpu_settings, "int8")
    assert graph == text_export_dir(cpu_settings) / "text-int8.onnx" and graph.is_file()


def test_export_folder_holds_graph_tokenizer_and_meta_and_is_reused(cpu_settings):
    graph = ensure_onnx_text_model(cpu_settings, "fp32")
    assert graph.parent == text_export_dir(cpu_settings)
    assert {"meta.json", "text-fp32.onnx", "tokenizer"} <= {p.name for p in graph.parent.iterdir()}
    written = graph.stat().st_mtime_ns
    assert ensure_onnx_text_model(cpu_settings, "fp32") == graph and graph.stat().st_mtime_ns == written


def test_one_runner_per_model_per_process(cpu_settings, tmp_path):
    runner = load_onnx_text_model(cpu_settings, "fp32")
    # Another data folder, same model: no second export or session.
    assert load_onnx_text_model(cpu_settings.with_overrides(data_dir=tmp_path / "other"), "fp32") is runner
    assert runner.dims == 32 and runner.max_length == 128
