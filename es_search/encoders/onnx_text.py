"""Text vectors through ONNX Runtime on the CPU: the whole sentence-transformers text model exported once.

Why: a search query is one short sentence, and for that PyTorch spends most of its time dispatching small
operators, not multiplying. The same graph in ONNX Runtime gives the same vectors (cosine ≥ 0.99999 to
PyTorch's, see bench/text_agreement.py) in well under half the time on one thread, so it is the default
runtime for texts on a CPU (`IMGSEARCH_TEXT_RUNTIME=onnx`). The fp32 export keeps parity with the model
Elasticsearch runs after an eland upload; `IMGSEARCH_TEXT_QUANTIZE=int8` quantises it further.

The export (model modules end to end: transformer, pooling, dense) and the tokenizer live under
`settings.data_dir / "onnx"`, keyed by the model's name and a fingerprint of its files; a cache hit loads
no PyTorch model. Loaded runners are kept per process, so tests and workers export and load once.
"""

from __future__ import annotations

import fcntl
import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from es_search.config import Settings
from es_search.encoders.onnx import OPSET, cpu_session_options, model_fingerprint, quantize_int8, staged_folder
from es_search.model_loading import load_sentence_transformer, model_display_name
from es_search.vectors import l2_normalise

# Bump when the exported graph or the folder layout changes.
TEXT_EXPORT_VERSION = "1"
_RUNNERS: dict[tuple, OnnxTextModel] = {}
_RUNNERS_LOCK = threading.Lock()


def text_export_dir(settings: Settings) -> Path:
    """data_dir/onnx/<text model>-<fingerprint>-text: the exported graph, its int8 copy and the tokenizer."""
    name = model_display_name(settings.text_model)
    return settings.data_dir / "onnx" / f"{name}-{model_fingerprint(settings.text_model, TEXT_EXPORT_VERSION)}-text"


def ensure_onnx_text_model(settings: Settings, precision: str = "fp32") -> Path:
    """Path of the text model's ONNX graph at `precision` (fp32|int8), exporting it when missing."""
    folder = text_export_dir(settings)
    target = folder / f"text-{precision}.onnx"
    if (folder / "meta.json").is_file() and (precision == "fp32" or target.is_file()):
        return target
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Web workers start together and each would export: one does, under a lock; the others find it done.
    with open(folder.with_name(folder.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "meta.json").is_file():
            _export(settings, folder)
        if precision == "int8" and not target.is_file():
            quantize_int8(folder / "text-fp32.onnx", target)
    return target


def load_onnx_text_model(settings: Settings, precision: str) -> OnnxTextModel:
    """The runner for the configured text model at `precision`, exported and loaded once per process."""
    # Keyed by the model's own fingerprint, not the data folder: every test's settings point at a new
    # folder, and exporting the same model again for each would only cost time.
    key = (settings.text_model, model_fingerprint(settings.text_model, TEXT_EXPORT_VERSION), precision,
           settings.text_max_length, settings.text_threads)
    with _RUNNERS_LOCK:
        runner = _RUNNERS.get(key)
        if runner is None:
            runner = _RUNNERS[key] = OnnxTextModel(ensure_onnx_text_model(settings, precision),
                                                   settings.text_max_length, settings.text_threads)
        return runner


class OnnxTextModel:
    """Tokenizer + ONNX session of one exported text model: texts → unit-length float32 vectors."""

    def __init__(self, graph: Path, max_length: int, threads: int = 1):
        import onnxruntime as ort
        from transformers import AutoTokenizer

        folder = graph.parent
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.dims = int(meta["dims"])
        limit = meta.get("max_seq_length")
        self.max_length = min(limit, max_length) if limit else max_length
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder / "tokenizer"))
        # A query's few milliseconds of work gain nothing from spinning (docs/benchmarks.md, "Text query").
        self.session = ort.InferenceSession(str(graph), cpu_session_options(threads),
                                            providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        out = []
        for start in range(0, len(texts), batch_size):
            batch = [str(t) for t in texts[start:start + batch_size]]
            # What sentence-transformers does before its forward pass: pad to the longest, cut at the limit.
            tokens = self.tokenizer(batch, padding=True, truncation="longest_first", max_length=self.max_length,
                                    return_tensors="np")
            feed = {name: np.asarray(tokens[name], dtype=np.int64) for name in self.inputs}
            (vectors,) = self.session.run(["sentence_embedding"], feed)
            out.append(vectors)
        return l2_normalise(np.concatenate(out).astype(np.float32, copy=False))


def _export(settings: Settings, folder: Path) -> None:
    import torch

    model = load_sentence_transformer(settings.text_model, "cpu", "IMGSEARCH_TEXT_MODEL")
    tokenizer = model.tokenizer
    sample = tokenizer(["a red dress on a beach", "雪山"], padding=True, return_tensors="pt")
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]

    class TextModel(torch.nn.Module):
        """The sentence-transformers modules end to end, with the features as positional inputs."""

        def __init__(self, st_model):
            super().__init__()
            self.st_model = st_model

        def forward(self, *features):
            return self.st_model(dict(zip(names, features, strict=True)))["sentence_embedding"]

    wrapped = TextModel(model).eval()
    args = tuple(sample[name] for name in names)
    with torch.inference_mode():
        dims = int(wrapped(*args).shape[-1])
    axes = {name: {0: "batch", 1: "tokens"} for name in names} | {"sentence_embedding": {0: "batch"}}
    with staged_folder(folder) as tmp:
        with torch.no_grad():
            torch.onnx.export(wrapped, args, str(tmp / "text-fp32.onnx"), input_names=names,
                              output_names=["sentence_embedding"], dynamic_axes=axes, opset_version=OPSET,
                              do_constant_folding=True, dynamo=False)
        tokenizer.save_pretrained(str(tmp / "tokenizer"))
        meta = {"model": settings.text_model, "dims": dims, "inputs": names, "export_version": TEXT_EXPORT_VERSION,
                "max_seq_length": model.max_seq_length}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
