"""Trace the multilingual text model to TorchScript with eland, as Elasticsearch ML loads it. No cluster needed.

eland wraps the whole sentence-transformers pipeline (Transformer, Pooling, Dense), so the vectors that
`_infer` returns match the local encoder's before normalisation; the offline tests check that parity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from es_search.errors import ConfigError, EncoderUnavailable
from es_search.ml.models import embedding_size

CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class TracedModel:
    """What eland writes for Elasticsearch: the TorchScript file, its vocabulary and the model config."""

    folder: Path
    model_path: Path
    vocab_path: Path
    config_path: Path
    config: dict

    @property
    def embedding_size(self) -> int | None:
        return embedding_size(self.config)

    @property
    def tokenization(self) -> dict:
        """`{"bert": {"do_lower_case": ..., "max_sequence_length": ..., "truncate": ...}}` and the like."""
        return self.config["inference_config"]["text_embedding"]["tokenization"]


def parse_version(text: str) -> tuple[int, int, int]:
    """"9.5.4" or "9.1.0-SNAPSHOT" → (9, 5, 4): eland shapes the config for the target Elasticsearch version."""
    numbers = [int("".join(ch for ch in part if ch.isdigit()) or 0) for part in text.split("-")[0].split(".")[:3]]
    return tuple((numbers + [0, 0, 0])[:3])  # type: ignore[return-value]


def eland_model_source(name_or_path: str) -> str:
    """What eland loads: a local folder as an absolute path, or a hub id ("clip-ViT-B-32-multilingual-v1" is a
    sentence-transformers model, so its hub id gains that organisation, as sentence-transformers itself does)."""
    from es_search.model_loading import looks_like_path

    if looks_like_path(name_or_path):
        return str(Path(name_or_path).expanduser().resolve())
    return name_or_path if "/" in name_or_path else f"sentence-transformers/{name_or_path}"


def trace_text_model(source: str, out_dir: str | Path, *, max_length: int,
                     es_version: tuple[int, int, int]) -> TracedModel:
    """Trace `source` (hub id or sentence-transformers folder: Transformer + Pooling [+ Dense]) with eland.

    `max_length` becomes the tokenizer's `max_sequence_length` (truncating the end, like the local encoder).
    Writes `traced_pytorch_model.pt`, `vocabulary.json` and `config.json` into `out_dir`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = load_eland_model(source, max_length=max_length, es_version=es_version)
    model_path, config, vocab_path = model.save(str(out_dir))
    config_dict = config.to_dict()
    config_path = out_dir / CONFIG_FILE
    config_path.write_text(json.dumps(config_dict, indent=2) + "\n", encoding="utf-8")
    return TracedModel(out_dir, Path(model_path), Path(vocab_path), config_path, config_dict)


def eland():
    """eland, an optional part of the install (`pip install 'es-image-search[ml]'`, which `make upload-model`
    runs): a clear ConfigError when it is not there."""
    try:
        import eland.ml.pytorch
        import eland.ml.pytorch.transformers
    except ImportError:
        raise ConfigError("uploading the text model needs eland, an optional part of the install: run "
                          "`make upload-model`, or `pip install 'es-image-search[ml]'`") from None
    return eland.ml.pytorch


def load_eland_model(source: str, *, max_length: int, es_version: tuple[int, int, int]):
    """eland's TransformerModel for a text-embedding model, with the truncation made explicit."""
    TransformerModel = eland().transformers.TransformerModel  # noqa: N806 (eland's class)

    from es_search.model_loading import unavailable_message

    try:
        model = TransformerModel(model_id=source, task_type="text_embedding", es_version=es_version,
                                 quantize=False, max_model_input_size=max_length)
    except Exception as exc:  # hub errors, missing files, unsupported tokenizers: all mean "cannot use this model"
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}"
        raise EncoderUnavailable(unavailable_message(source, "IMGSEARCH_TEXT_MODEL", reason)) from exc
    tokenization = model._config.inference_config.tokenization
    # Elasticsearch's default, stated so the config says what the local encoder does: keep the first tokens.
    tokenization.truncate = "first"
    return model
