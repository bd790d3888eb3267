"""Encoders that run sentence-transformers models in this process (PyTorch, CPU or GPU).

Images go through `settings.image_model` (a CLIP), texts through `settings.text_model` (the multilingual
text tower trained into CLIP's space). Models load on first use, once per process, behind a lock.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from es_search.config import DEFAULT_IMAGE_MODEL, DEFAULT_TEXT_MODEL, Settings
from es_search.encoders.base import EncoderUnavailable, EncoderUnsupported

# One loaded model per (name, device) per process: the web app and the ingest share them.
_MODELS: dict[tuple[str, str], object] = {}
_MODELS_LOCK = threading.Lock()
_THREADS_SET = False


def model_display_name(name_or_path: str) -> str:
    """What identifies a model in documents and logs: a folder's name, or the hub name as given."""
    if looks_like_path(name_or_path):
        return Path(name_or_path).expanduser().resolve().name
    return name_or_path


def looks_like_path(name_or_path: str) -> bool:
    """True for names that can only be local folders (absolute, relative, home paths) or that exist on disk.

    Anything else ("clip-ViT-B-32", "sentence-transformers/clip-ViT-B-32") is a hub name.
    """
    return name_or_path.startswith(("/", ".", "~")) or Path(name_or_path).expanduser().exists()


def resolve_device(device: str) -> str:
    """"auto" → "cuda" when a GPU is usable, else "cpu"; anything else is passed to torch as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def unavailable_message(name_or_path: str, setting: str, reason: str) -> str:
    """The one message a user sees when a model cannot be loaded, with what to do about it."""
    defaults = {"IMGSEARCH_IMAGE_MODEL": DEFAULT_IMAGE_MODEL, "IMGSEARCH_TEXT_MODEL": DEFAULT_TEXT_MODEL}
    hub_name = defaults.get(setting, "clip-ViT-B-32") if looks_like_path(name_or_path) else name_or_path
    return (
        f"cannot load the model {name_or_path!r} ({setting}): {reason}. "
        f"Without internet access here, download it on a machine that has it "
        f"(python -c \"from sentence_transformers import SentenceTransformer; "
        f"SentenceTransformer('{hub_name}').save('{hub_name}')\"), "
        f"copy that folder here and set {setting}=/path/to/{hub_name}. "
        f"For a smoke run with random, meaningless vectors: `imgsearch model make-tiny DIR` "
        f"and point IMGSEARCH_IMAGE_MODEL / IMGSEARCH_TEXT_MODEL at the two folders it prints."
    )


def load_sentence_transformer(name_or_path: str, device: str, setting: str):
    """The loaded SentenceTransformer for `name_or_path` on `device`, loaded once per process.

    Raises EncoderUnavailable (never swaps in another model) when it is not on disk and cannot be fetched.
    """
    key = (name_or_path, device)
    model = _MODELS.get(key)
    if model is not None:
        return model
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is not None:
            return model
        path = Path(name_or_path).expanduser()
        if looks_like_path(name_or_path) and not (path / "modules.json").is_file():
            reason = "no such folder" if not path.exists() else "the folder holds no sentence-transformers model (modules.json)"
            raise EncoderUnavailable(unavailable_message(name_or_path, setting, reason))
        _set_torch_threads(device)
        try:
            model = _load_from_disk_or_hub(name_or_path, device, setting)
        except EncoderUnavailable:
            raise
        except Exception as exc:  # hub errors, missing files, bad configs: all mean "cannot load this model"
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}"
            raise EncoderUnavailable(unavailable_message(name_or_path, setting, reason)) from exc
        model.eval()
        _MODELS[key] = model
        return model


def _load_from_disk_or_hub(name_or_path: str, device: str, setting: str):
    from sentence_transformers import SentenceTransformer

    path = Path(name_or_path).expanduser()
    if path.exists():
        return SentenceTransformer(str(path), device=device, local_files_only=True)
    try:  # a hub name already in the local model cache loads without touching the network
        return SentenceTransformer(name_or_path, device=device, local_files_only=True)
    except Exception:
        pass
    if not hub_reachable():
        # Without this check the hub client retries for over a minute before giving up.
        raise EncoderUnavailable(unavailable_message(
            name_or_path, setting, "it is not in the local model cache and the model hub cannot be reached"))
    return SentenceTransformer(name_or_path, device=device)


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub's host accepts a connection (True behind a proxy: we cannot tell from here)."""
    from urllib.parse import urlparse
    from urllib.request import getproxies

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    if {"https", "all"} & set(getproxies()):
        return True
    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout).close()
    except OSError:
        return False
    return True


def _set_torch_threads(device: str) -> None:
    # Torch defaults to the machine's physical cores; a container or `taskset` may allow fewer, and more
    # threads than usable cores make every matrix product slower.
    global _THREADS_SET
    if _THREADS_SET or device != "cpu":
        return
    import torch

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), usable)))
    _THREADS_SET = True


class LocalEncoder:
    """CLIP image vectors and multilingual text vectors from local sentence-transformers models."""

    def __init__(self, settings: Settings):
        self._image_model_name = settings.image_model
        self._text_model_name = settings.text_model
        self._device_setting = settings.device
        self._batch_size = settings.batch_size
        self._text_max_length = settings.text_max_length
        self._text_quantize = settings.text_quantize
        self._device: str | None = None
        self._clip = None

    # ----------------------------------------------------------------- Encoder protocol

    @property
    def name(self) -> str:
        return model_display_name(self._image_model_name)

    @property
    def text_name(self) -> str:
        return model_display_name(self._text_model_name)

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = resolve_device(self._device_setting)
        return self._device

    @property
    def dims(self) -> int:
        return embedding_dimension(self._image_model())

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Unit-length float32 vectors, one row per image."""
        model = self._image_model()
        if not images:
            return np.zeros((0, self.dims), dtype=np.float32)
        return self._encode(model, [_as_rgb(im) for im in images])

    def preprocess(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Images → one (n, 3, H, W) float32 batch, as CLIP's image processor makes it (resize, centre crop,
        normalise). Pure CPU work that callers may run in other threads, then hand to `encode_pixels`."""
        prep = self._clip_parts()[1]
        from es_search.encoders.onnx import preprocess_image

        return np.stack([preprocess_image(im, prep) for im in images])

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Preprocessed (n, 3, H, W) pixels → unit-length float32 vectors, the same as `encode_images` gives."""
        import torch

        clip = self._clip_parts()[0]
        batch = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).to(self.device)
        with torch.inference_mode():
            # What sentence-transformers' CLIP module runs for images: the vision tower's pooled output, projected.
            features = clip.visual_projection(clip.vision_model(pixel_values=batch).pooler_output)
        vectors = features.float().cpu().numpy()
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in the image vectors' space."""
        model = self._text_model()
        if not texts:
            return np.zeros((0, embedding_dimension(model)), dtype=np.float32)
        return self._encode(model, [str(t) for t in texts])

    # ----------------------------------------------------------------- loading

    def _image_model(self):
        model = load_sentence_transformer(self._image_model_name, self.device, "IMGSEARCH_IMAGE_MODEL")
        if "image" not in getattr(model, "modalities", ["image"]):
            raise EncoderUnsupported(f"{self._image_model_name!r} (IMGSEARCH_IMAGE_MODEL) cannot encode images; "
                                     "it must be a CLIP model such as clip-ViT-B-32")
        return model

    def _clip_parts(self):
        """(transformers CLIPModel, ClipPreprocessing) of the image model, looked up once."""
        if self._clip is None:
            from es_search.encoders.onnx import ClipPreprocessing, _clip_parts

            clip, image_processor = _clip_parts(self._image_model(), self._image_model_name)
            self._clip = (clip, ClipPreprocessing.from_image_processor(image_processor))
        return self._clip

    def _text_model(self):
        model = load_sentence_transformer(self._text_model_name, self.device, "IMGSEARCH_TEXT_MODEL")
        text_dims = embedding_dimension(model)
        # Compared only once the image model is loaded: an ONNX image encoder uses this one for texts alone.
        image_model = _MODELS.get((self._image_model_name, self.device))
        if image_model is not None and text_dims != embedding_dimension(image_model):
            raise EncoderUnavailable(
                f"the text model {self._text_model_name!r} makes {text_dims}-d vectors but the image model "
                f"{self._image_model_name!r} makes {embedding_dimension(image_model)}-d ones; "
                "pick a text model trained into that CLIP's space"
            )
        limit = model.max_seq_length
        if limit is None or limit > self._text_max_length:
            model.max_seq_length = self._text_max_length
        if self._text_quantize == "int8" and self.device == "cpu":
            return quantized_int8(model, self._text_model_name)
        return model

    def _encode(self, model, inputs: list) -> np.ndarray:
        import torch

        with torch.inference_mode():
            vectors = model.encode(inputs, batch_size=self._batch_size, convert_to_numpy=True,
                                   normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def quantized_int8(model, name_or_path: str):
    """A copy of `model` with its linear layers dynamically quantised to int8 (CPU), made once per process.

    Most of a short query's encoding time is in those matrix products; int8 roughly halves it.
    """
    key = (name_or_path, "cpu", "int8")
    quantized = _MODELS.get(key)
    if quantized is None:
        with _MODELS_LOCK:
            quantized = _MODELS.get(key)
            if quantized is None:
                import torch

                quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
                quantized.eval()
                _MODELS[key] = quantized
    return quantized


def embedding_dimension(model) -> int:
    """Size of the vectors a SentenceTransformer makes (the method was renamed in sentence-transformers 5.4)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def _as_rgb(image: Image.Image) -> Image.Image:
    # CLIP wants three channels; palette, grey, CMYK and alpha images are converted (alpha over white).
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
