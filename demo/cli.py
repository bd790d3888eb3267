"""`imgsearch demo`, registered through the `imgsearch.commands` entry point (setup.cfg)."""

from __future__ import annotations

import argparse

from es_search.config import Settings


def demo_command(args: argparse.Namespace, settings: Settings) -> int:
    from demo.run import run_demo
    from ingest.cli import sigterm_as_interrupt

    with sigterm_as_interrupt():
        return run_demo(settings, force_tiny=args.tiny_models, progress=not args.no_progress)


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo", help="put sample images into the data folder and index them (used by `make run`)",
        description="Writes sample photos to DATA_DIR/samples and indexes them. When the configured models "
                    "cannot be loaded (no internet, no local copy) it says so and uses tiny random models "
                    "instead, for this demo only, in an index of its own.")
    demo.add_argument("--tiny-models", action="store_true",
                      help="use the tiny random models even when the real ones could be loaded")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.set_defaults(func=demo_command)
