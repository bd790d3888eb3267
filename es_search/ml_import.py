"""Put the multilingual text model into Elasticsearch ML with eland: trace to TorchScript, import, deploy.

`trace_text_model` needs no cluster (the offline tests use it); `upload_text_model` checks that the cluster
can run it before the slow tracing, imports, starts the deployment and waits until it is started.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from elasticsearch import ApiError, Elasticsearch

from es_search import ml
from es_search.config import ES_VERSION, Settings
from es_search.encoders.base import EncoderUnavailable

# Elasticsearch's rule for trained model ids.
MODEL_ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9_\-.]{0,62}[a-z0-9])?$")
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
        return ml.embedding_size(self.config)

    @property
    def tokenization(self) -> dict:
        """`{"bert": {"do_lower_case": ..., "max_sequence_length": ..., "truncate": ...}}` and the like."""
        return self.config["inference_config"]["text_embedding"]["tokenization"]


def eland_model_source(name_or_path: str) -> str:
    """What eland loads: a local folder as an absolute path, or a hub id ("clip-ViT-B-32-multilingual-v1" is a
    sentence-transformers model, so its hub id gains that organisation, as sentence-transformers itself does)."""
    from es_search.encoders.local import looks_like_path

    if looks_like_path(name_or_path):
        return str(Path(name_or_path).expanduser().resolve())
    return name_or_path if "/" in name_or_path else f"sentence-transformers/{name_or_path}"


def check_model_id(model_id: str) -> str:
    if not MODEL_ID_PATTERN.match(model_id or ""):
        raise ValueError(f"{model_id!r} is not a valid Elasticsearch model id: lowercase letters, digits, '-', '_' "
                         "and '.', starting and ending with a letter or digit, at most 64 characters")
    return model_id


def trace_text_model(source: str, out_dir: str | Path, *, max_length: int,
                     es_version: tuple[int, int, int]) -> TracedModel:
    """Trace `source` (hub id or sentence-transformers folder: Transformer + Pooling [+ Dense]) with eland.

    eland wraps the whole sentence-transformers pipeline, so pooling and the Dense projection are inside the
    TorchScript; `max_length` becomes the tokenizer's `max_sequence_length` (truncating the end, like the
    local encoder). Writes `traced_pytorch_model.pt`, `vocabulary.json` and `config.json` into `out_dir`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = load_eland_model(source, max_length=max_length, es_version=es_version)
    model_path, config, vocab_path = model.save(str(out_dir))
    config_dict = config.to_dict()
    config_path = out_dir / CONFIG_FILE
    config_path.write_text(json.dumps(config_dict, indent=2) + "\n", encoding="utf-8")
    return TracedModel(out_dir, Path(model_path), Path(vocab_path), config_path, config_dict)


def load_eland_model(source: str, *, max_length: int, es_version: tuple[int, int, int]):
    """eland's TransformerModel for a text-embedding model, with the truncation made explicit."""
    from eland.ml.pytorch.transformers import TransformerModel

    from es_search.encoders.local import unavailable_message

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


def import_traced_model(es: Elasticsearch, traced: TracedModel, model_id: str, *, replace: bool = False,
                        progress: Callable[[str], None] = print) -> str:
    """Put config, definition and vocabulary; returns "imported" or "exists" (left as it is)."""
    from eland.ml.pytorch import PyTorchModel

    existing = ml.get_model_config(es, model_id)
    if existing is not None:
        if not replace and existing.get("fully_defined", True):
            return "exists"
        progress(f"deleting the {'incomplete ' if not replace else ''}model {model_id!r} before importing it again")
        delete_model(es, model_id)
    try:
        PyTorchModel(es, model_id).import_model(model_path=str(traced.model_path), config_path=str(traced.config_path),
                                                vocab_path=str(traced.vocab_path))
    except ApiError as exc:
        raise ml.MLUnavailable(ml.explain_failure(ml.failure_of(exc), model_id, ml.node_url(es))) from None
    return "imported"


def delete_model(es: Elasticsearch, model_id: str) -> None:
    for request in (ml.stop_deployment_request(model_id), ml.delete_model_request(model_id)):
        try:
            ml.send(es, request)
        except ApiError as exc:
            if exc.meta.status not in (404, 409):
                raise ml.MLUnavailable(ml.explain_failure(ml.failure_of(exc), model_id, ml.node_url(es))) from None


def upload_text_model(es: Elasticsearch, settings: Settings, *, source: str, model_id: str, replace: bool = False,
                      start: bool = True, wait_s: float = 600, allocations: int | None = None,
                      threads: int | None = None, progress: Callable[[str], None] = print) -> dict:
    """Check ML, trace, import, start and wait. Fails early (MLUnavailable) when the cluster cannot run models."""
    check_model_id(model_id)
    availability = ml.check_ml_available(es)
    progress(f"machine learning is available (licence: {availability['licence']})")
    status = "exists" if _fully_defined(es, model_id) and not replace else None
    traced_size = None
    if status is None:
        version = ml.cluster_version(es)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="eland-", dir=settings.data_dir) as work:
            progress(f"tracing {source} with eland (max {settings.text_max_length} tokens)")
            traced = trace_text_model(source, work, max_length=settings.text_max_length, es_version=version)
            traced_size = traced.embedding_size
            progress(f"importing {model_id!r} ({traced.model_path.stat().st_size / 1e6:.0f} MB)")
            status = import_traced_model(es, traced, model_id, replace=replace, progress=progress)
    else:
        progress(f"{model_id!r} is already in Elasticsearch; --replace imports it again")
    state = ml.deployment_state(es, model_id)
    if start and state != "started":
        progress(f"starting the deployment of {model_id!r} and waiting up to {wait_s:.0f} s")
        ml.start_deployment(es, model_id, timeout_s=min(wait_s, 120), allocations=allocations, threads=threads)
        state = ml.wait_until_started(es, model_id, timeout_s=wait_s)
    config = ml.get_model_config(es, model_id) or {}
    return {"model_id": model_id, "source": source, "import": status, "deployment": state or "not deployed",
            "embedding_size": ml.embedding_size(config) or traced_size}


def _fully_defined(es: Elasticsearch, model_id: str) -> bool:
    config = ml.get_model_config(es, model_id)
    return config is not None and bool(config.get("fully_defined", True))


# --------------------------------------------------------------------------- command line


def register_model_commands(model_sub: argparse._SubParsersAction) -> None:
    """Hook for `es_search.cli.model`: adds `imgsearch model upload`."""
    add_upload_parser(model_sub)


def add_upload_parser(model_sub: argparse._SubParsersAction) -> None:
    """`imgsearch model upload`."""
    p = model_sub.add_parser(
        "upload", help="import the multilingual text model into Elasticsearch ML with eland and start it",
        description="Trace the text model with eland, import it into Elasticsearch, start the deployment and wait "
                    "until it is started. Needs ML nodes and a Platinum, Enterprise or trial licence.")
    p.add_argument("--source", help="hub id or local sentence-transformers folder (default: IMGSEARCH_TEXT_MODEL)")
    p.add_argument("--model-id", help="model id in Elasticsearch (default: IMGSEARCH_ES_MODEL_ID)")
    p.add_argument("--replace", action="store_true", help="delete and import again a model that already exists")
    p.add_argument("--no-start", action="store_true", help="import only; do not start a deployment")
    p.add_argument("--wait", type=float, default=600, metavar="SECONDS", help="how long to wait for the start (600)")
    p.add_argument("--allocations", type=int, help="number_of_allocations of the deployment")
    p.add_argument("--threads", type=int, help="threads_per_allocation of the deployment")
    p.add_argument("--export", metavar="DIR", help="only trace into DIR (TorchScript, config, vocabulary); "
                                                    "needs no cluster")
    p.set_defaults(func=upload_command)


def upload_command(args, settings: Settings) -> int:
    from es_search.cli.output import print_json
    from es_search.client import build_client, check_cluster
    from es_search.errors import EXIT_USAGE

    source = eland_model_source(args.source or settings.text_model)
    model_id = args.model_id or settings.es_model_id
    try:
        check_model_id(model_id)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.export:
        traced = trace_text_model(source, args.export, max_length=settings.text_max_length,
                                  es_version=ml.parse_version(ES_VERSION))
        print_json({"folder": str(traced.folder), "model": str(traced.model_path), "vocabulary": str(traced.vocab_path),
                    "config": str(traced.config_path), "embedding_size": traced.embedding_size,
                    "tokenization": traced.tokenization})
        return 0
    es = build_client(settings)
    check_cluster(es, settings)
    summary = upload_text_model(es, settings, source=source, model_id=model_id, replace=args.replace,
                                start=not args.no_start, wait_s=args.wait, allocations=args.allocations,
                                threads=args.threads)
    print_json(summary)
    if summary["deployment"] == "started":
        print("text can now be encoded in Elasticsearch: set IMGSEARCH_TEXT_BACKEND=elasticsearch (or auto)")
    return 0
