"""`imgsearch model ...`: tiny random models, the image model in ONNX, the text model into Elasticsearch ML.

Handlers take `(args, settings)` and return an exit code; known failures (EncoderUnavailable and the
rest of es_search.errors) are turned into one line and an exit code by the console entry point.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from es_search.cli.output import print_json
from es_search.config import ES_VERSION, Settings
from es_search.errors import EXIT_USAGE


def make_tiny_command(args, settings: Settings) -> int:
    from es_search.tiny_model import make_tiny_models

    image_dir, text_dir = make_tiny_models(Path(args.out_dir).expanduser(), dims=args.dims, seed=args.seed)
    print(f"tiny random models (meaningless vectors, for smoke runs and tests) in {Path(args.out_dir)}:")
    print(f"IMGSEARCH_IMAGE_MODEL={image_dir.resolve()}")
    print(f"IMGSEARCH_TEXT_MODEL={text_dir.resolve()}")
    return 0


def export_onnx_command(args, settings: Settings) -> int:
    from es_search.encoders.onnx import ensure_onnx_model

    result = {}
    for quantize in ("fp32", "int8") if args.precision == "both" else (args.precision,):
        result[quantize] = str(ensure_onnx_model(settings, quantize=quantize))
    print_json(result)
    return 0


def upload_command(args, settings: Settings) -> int:
    from es_search.ml.model_id import check_model_id
    from es_search.ml.trace import eland_model_source, parse_version, trace_text_model

    source = eland_model_source(args.source or settings.text_model)
    model_id = args.model_id or settings.es_model_id
    try:
        check_model_id(model_id)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.export:
        traced = trace_text_model(source, args.export, max_length=settings.text_max_length,
                                  es_version=parse_version(ES_VERSION))
        print_json({"folder": str(traced.folder), "model": str(traced.model_path), "vocabulary": str(traced.vocab_path),
                    "config": str(traced.config_path), "embedding_size": traced.embedding_size,
                    "tokenization": traced.tokenization})
        return 0
    from es_search.client import connected_client
    from es_search.ml.upload import upload_text_model

    es = connected_client(settings)
    summary = upload_text_model(es, settings, source=source, model_id=model_id, replace=args.replace,
                                start=not args.no_start, wait_s=args.wait, allocations=args.allocations,
                                threads=args.threads)
    print_json(summary)
    if summary["deployment"] == "started":
        print("text can now be encoded in Elasticsearch: set IMGSEARCH_TEXT_BACKEND=elasticsearch (or auto)")
    return 0


def _add_upload_parser(model_sub: argparse._SubParsersAction) -> None:
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `model` group: make-tiny, export-onnx, upload."""
    model_p = sub.add_parser("model", help="models: tiny random stand-ins, ONNX export, upload to Elasticsearch ML")
    model_sub = model_p.add_subparsers(dest="model_command", required=True)

    tiny = model_sub.add_parser("make-tiny", help="write tiny random image and text models (offline smoke runs)")
    tiny.add_argument("out_dir", help="folder to write the two model folders into")
    tiny.add_argument("--dims", type=int, default=32, help="vector size of both models (default 32)")
    tiny.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    tiny.set_defaults(func=make_tiny_command)

    export = model_sub.add_parser("export-onnx", help="export IMGSEARCH_IMAGE_MODEL's image tower to ONNX (cached)")
    export.add_argument("--precision", choices=("fp32", "int8", "both"), default="both",
                        help="fp32, int8 (dynamic quantization) or both (default)")
    export.set_defaults(func=export_onnx_command)

    _add_upload_parser(model_sub)
