"""CLIP image vectors through ONNX Runtime on the CPU: the vision tower + projection exported once, cached.

The export (fp32, and int8 by dynamic quantization) lives under `settings.data_dir / "onnx"`, keyed by the
model's name and a hash of its files, with the image processor's settings beside it; a cache hit needs
no PyTorch at all. Preprocessing is done in PIL/numpy (`transforms.py`) the way CLIP's image processor does
it, so fp32 vectors agree with the PyTorch ones. Texts go to the text encoder it is given.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image

from es_search.config import Settings
from es_search.encoders.base import Encoder, EncoderUnavailable, EncoderUnsupported
from es_search.encoders.transforms import ClipPreprocessing, preprocess_image
from es_search.model_loading import (
    clip_parts,
    load_sentence_transformer,
    looks_like_path,
    model_display_name,
    usable_cores,
)
from es_search.vectors import l2_normalise

# Bump when the exported graph or the cache layout changes.
EXPORT_VERSION = "1"
OPSET = 17
PRECISIONS = ("fp32", "int8")
_SESSIONS_LOCK = threading.Lock()


# --------------------------------------------------------------------------- export and cache


def onnx_cache_dir(settings: Settings) -> Path:
    """The folder holding this image model's exports: data_dir/onnx/<name>-<hash of the model's files>."""
    return settings.data_dir / "onnx" / f"{model_display_name(settings.image_model)}-{model_fingerprint(settings.image_model)}"


def model_fingerprint(name_or_path: str, export_version: str = EXPORT_VERSION) -> str:
    """A short hash naming one model's exports: the export format, then the files (a folder) or the hub name."""
    digest = hashlib.sha256(f"export-v{export_version}|opset{OPSET}".encode())
    path = Path(name_or_path).expanduser()
    if looks_like_path(name_or_path) and path.is_dir():
        # Small files by content, weights by size and modification time (hashing 600 MB at every start is slow).
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(file.relative_to(path)).encode())
            if file.suffix in (".json", ".txt"):
                digest.update(file.read_bytes())
            else:
                stat = file.stat()
                digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    else:
        digest.update(name_or_path.encode())  # a hub name: the name is all we know without loading it
    return digest.hexdigest()[:12]


def ensure_onnx_model(settings: Settings, quantize: str = "fp32") -> Path:
    """Path of the image model's ONNX export at `quantize` precision (fp32|int8), exporting it when missing."""
    if quantize not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {quantize!r}")
    folder = onnx_cache_dir(settings)
    target = folder / f"vision-{quantize}.onnx"
    if target.is_file() and (folder / "meta.json").is_file():
        return target
    with _SESSIONS_LOCK:
        if not (folder / "vision-fp32.onnx").is_file() or not (folder / "meta.json").is_file():
            _export_fp32(settings, folder)
        if quantize == "int8" and not target.is_file():
            quantize_int8(folder / "vision-fp32.onnx", target)
    return target


def _export_fp32(settings: Settings, folder: Path) -> None:
    import torch

    model = load_sentence_transformer(settings.image_model, "cpu", "IMGSEARCH_IMAGE_MODEL")
    clip, processor = clip_parts(model, settings.image_model)
    prep = ClipPreprocessing.from_image_processor(processor)
    height, width = prep.input_size

    class VisionTower(torch.nn.Module):
        def __init__(self, clip_model):
            super().__init__()
            self.clip = clip_model

        def forward(self, pixel_values):
            vision = self.clip.vision_model(pixel_values=pixel_values)
            return self.clip.visual_projection(vision.pooler_output)

    tower = VisionTower(clip).eval()
    dummy = torch.zeros(2, 3, height, width, dtype=torch.float32)
    with torch.inference_mode():
        dims = int(tower(dummy).shape[-1])
    with staged_folder(folder) as tmp:
        with torch.no_grad():
            torch.onnx.export(
                tower, (dummy,), str(tmp / "vision-fp32.onnx"), input_names=["pixel_values"],
                output_names=["image_embeds"], dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                opset_version=OPSET, do_constant_folding=True, dynamo=False,
            )
        meta = {"model": settings.image_model, "dims": dims, "export_version": EXPORT_VERSION,
                "preprocessing": asdict(prep)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


@contextmanager
def staged_folder(folder: Path) -> Iterator[Path]:
    """A fresh folder beside `folder` to write an export into; it replaces `folder` only when the block ends
    without an error, so a crash or a Ctrl-C never leaves a half-written export where a loader looks."""
    tmp = folder.with_name(f"{folder.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def quantize_int8(fp32_path: Path, int8_path: Path) -> None:
    """An int8 copy of an fp32 ONNX graph (dynamic quantisation of its matrix products), written atomically."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = int8_path.with_name(f"{int8_path.stem}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}.onnx")
    try:
        # Weights to int8 per output channel, activations quantised on the fly; only the matrix products,
        # which hold nearly all the work, are touched.
        quantize_dynamic(str(fp32_path), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
        tmp.rename(int8_path)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- the encoder


def cpu_session_options(threads: int):
    """ONNX Runtime options for our CPU sessions: `threads` intra-op threads, one inter-op, every graph
    optimisation, and waiting threads that sleep rather than spin.

    Spinning threads burn the cores the decode workers and Elasticsearch need: in an ingest of 12 MP photos the
    model's CPU per image was 41–47 ms with spinning against 34–36 ms without, and the stream of images 14–17 %
    faster without it; at 640×480, 5–6 % (docs/benchmarks.md, "Phone-size photos and the ceiling"). The model
    alone, and one query, were about as fast either way."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


class OnnxImageEncoder:
    """Image vectors from the ONNX export (fp32 or int8) on CPU; texts from `text_encoder` (the local one).

    The text encoder is passed in, not built here, so this module never imports the torch backend.
    """

    def __init__(self, settings: Settings, text_encoder: Encoder | None = None, quantize: str | None = None):
        self._settings = settings
        self._quantize = quantize or ("int8" if settings.image_backend == "onnx-int8" else "fp32")
        self._text_encoder = text_encoder
        self._batch_size = settings.batch_size
        self._session = None
        self._prep: ClipPreprocessing | None = None
        self._dims: int | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return model_display_name(self._settings.image_model)

    @property
    def precision(self) -> str:
        return self._quantize

    @property
    def dims(self) -> int:
        self._load()
        return int(self._dims)

    def preprocess(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Images → one (n, 3, H, W) float32 batch; pure CPU work that can run in decode threads."""
        self._load()
        return np.stack([preprocess_image(im, self._prep) for im in images])

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Unit-length float32 vectors, one row per image."""
        self._load()
        if not images:
            return np.zeros((0, self._dims), dtype=np.float32)
        out = []
        for start in range(0, len(images), self._batch_size):
            out.append(self.encode_pixels(self.preprocess(images[start:start + self._batch_size])))
        return np.concatenate(out)

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Preprocessed (n, 3, H, W) pixels → unit-length float32 vectors."""
        self._load()
        (raw,) = self._session.run(["image_embeds"], {"pixel_values": np.ascontiguousarray(pixels, np.float32)})
        return l2_normalise(raw)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts through the text encoder given at construction, checked to land in the image vectors' space."""
        if self._text_encoder is None:
            raise EncoderUnsupported("this ONNX encoder was built without a text encoder; "
                                     "es_search.encoders.build_image_encoder(settings) gives one with it")
        vectors = self._text_encoder.encode_texts(texts)
        if vectors.shape[1] != self.dims:
            raise EncoderUnavailable(
                f"the text model {self._settings.text_model!r} makes {vectors.shape[1]}-d vectors but the image "
                f"model {self._settings.image_model!r} makes {self.dims}-d ones; they must share one space")
        return vectors

    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort

            path = ensure_onnx_model(self._settings, self._quantize)
            meta = json.loads((path.parent / "meta.json").read_text(encoding="utf-8"))
            prep = meta["preprocessing"]
            for key in ("mean", "std"):
                prep[key] = tuple(prep[key]) if prep[key] is not None else None
            options = cpu_session_options(usable_cores())
            self._prep = ClipPreprocessing(**prep)
            self._dims = int(meta["dims"])
            # CPU only on purpose: this backend is for hosts without a GPU; with one, the torch backend is faster.
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

