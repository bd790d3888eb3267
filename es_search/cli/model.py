"""`imgsearch model ...`: make the tiny random models, export the image model to ONNX.

Other modules add commands to the `model` group: list the module in MODEL_COMMAND_MODULES; it offers
`register_model_commands(model_sub)` adding parsers with `set_defaults(func=handler)` (e.g. `model upload`).
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from es_search.config import Settings

MODEL_COMMAND_MODULES: tuple[str, ...] = ("es_search.ml_import",)


def _make_tiny(args, settings: Settings) -> int:
    from es_search.tiny_model import make_tiny_models

    image_dir, text_dir = make_tiny_models(Path(args.out_dir).expanduser(), dims=args.dims, seed=args.seed)
    print(f"tiny random models (meaningless vectors, for smoke runs and tests) in {Path(args.out_dir)}:")
    print(f"IMGSEARCH_IMAGE_MODEL={image_dir.resolve()}")
    print(f"IMGSEARCH_TEXT_MODEL={text_dir.resolve()}")
    return 0


def _export_onnx(args, settings: Settings) -> int:
    from es_search.encoders.onnx import ensure_onnx_model

    result = {}
    for quantize in ("fp32", "int8") if args.precision == "both" else (args.precision,):
        result[quantize] = str(ensure_onnx_model(settings, quantize=quantize))
    print(json.dumps(result, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    model_p = sub.add_parser("model", help="models: tiny random stand-ins, ONNX export")
    model_sub = model_p.add_subparsers(dest="model_command", required=True)

    tiny = model_sub.add_parser("make-tiny", help="write tiny random image and text models (offline smoke runs)")
    tiny.add_argument("out_dir", help="folder to write the two model folders into")
    tiny.add_argument("--dims", type=int, default=32, help="vector size of both models (default 32)")
    tiny.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    tiny.set_defaults(func=_make_tiny)

    export = model_sub.add_parser("export-onnx", help="export IMGSEARCH_IMAGE_MODEL's image tower to ONNX (cached)")
    export.add_argument("--precision", choices=("fp32", "int8", "both"), default="both",
                        help="fp32, int8 (dynamic quantization) or both (default)")
    export.set_defaults(func=_export_onnx)

    for module_name in MODEL_COMMAND_MODULES:
        importlib.import_module(module_name).register_model_commands(model_sub)
