"""Loading sentence-transformers models: by hub name or folder, once per process, never swapped for another.

Shared by the torch encoder and the ONNX export (`es_search/encoders/`) and the Elasticsearch ML import (`es_search/ml/`),
so it sits beside both packages rather than inside either.
A model that cannot be loaded is an `EncoderUnavailable` whose message says how to get it onto this host.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from es_search.config import DEFAULT_IMAGE_MODEL, DEFAULT_TEXT_MODEL
from es_search.errors import EncoderUnavailable

# One loaded model per (name, device) per process, plus (name, "cpu", "int8") for quantised copies:
# the web app and the ingest share them.
_MODELS: dict[tuple[str, ...], object] = {}
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


def loaded_model(name_or_path: str, device: str):
    """The model already loaded for (`name_or_path`, `device`), or None: looking never loads one."""
    return _MODELS.get((name_or_path, device))


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


def usable_cores() -> int:
    """CPU cores this process may run on (a container or `taskset` may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _set_torch_threads(device: str) -> None:
    # Torch defaults to the machine's physical cores; more threads than usable cores make every matrix
    # product slower.
    global _THREADS_SET
    if _THREADS_SET or device != "cpu":
        return
    import torch

    torch.set_num_threads(max(1, min(torch.get_num_threads(), usable_cores())))
    _THREADS_SET = True


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


def clip_parts(model, name: str):
    """The transformers CLIPModel and its image processor inside a sentence-transformers CLIP.

    Both image backends need them: torch runs the vision tower directly on preprocessed pixels, ONNX exports it.
    """
    first = model[0]
    clip = getattr(first, "auto_model", None) or getattr(first, "model", None)
    processor = getattr(first, "processor", None)
    image_processor = getattr(processor, "image_processor", None)
    if clip is None or image_processor is None or not hasattr(clip, "vision_model") \
            or not hasattr(clip, "visual_projection"):
        raise EncoderUnavailable(f"{name!r} is not a CLIP model with a vision tower; the ONNX image backend "
                                 "needs one (e.g. clip-ViT-B-32). Use IMGSEARCH_IMAGE_BACKEND=torch otherwise.")
    return clip, image_processor
