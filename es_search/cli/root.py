"""`imgsearch`: the root command. It builds the parser and ends every known failure the same way.

The core's own command groups (node, index, search, duplicates, people, model, config, apikey) are listed in CORE_COMMAND_MODULES.
The layers above the core (ingest, webapp, demo) add theirs through the `imgsearch.commands` entry-point
group: each entry point names a `register(subparsers)` function. That keeps the core from importing the
packages that depend on it. Every parser sets `func(args, settings)`, returning an exit code.

A known failure (`es_search.errors.ImgsearchError`) ends with its `exit_code` and one `error: ...` line
on stderr, never a traceback; Ctrl-C ends with 130, a closed output pipe with 141. Anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import entry_points

from es_search.collections import collection_settings
from es_search.config import load_settings
from es_search.errors import EXIT_INTERRUPTED, ImgsearchError

CORE_COMMAND_MODULES = (
    "es_search.cli.node",
    "es_search.cli.index",
    "es_search.cli.search",
    "es_search.cli.duplicates",
    "es_search.cli.people",
    "es_search.cli.model",
    "es_search.cli.config",
    "es_search.cli.apikey",
    "es_search.cli.snapshot",
    "es_search.cli.collection",
)
COMMAND_ENTRY_POINTS = "imgsearch.commands"
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool whose reader closed the pipe


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree: the core's groups, then every installed `imgsearch.commands` entry point."""
    parser = argparse.ArgumentParser(prog="imgsearch", description="Image search on Elasticsearch.")
    parser.add_argument("--collection", metavar="NAME",
                        help="the collection to work on (IMGSEARCH_COLLECTIONS; default: IMGSEARCH_COLLECTION, else "
                             "the deployment's own)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module_name in CORE_COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    for entry in sorted(entry_points(group=COMMAND_ENTRY_POINTS), key=lambda e: e.name):
        entry.load()(sub)
    return parser


def passive_openmp_threads() -> None:
    """Make OpenMP threads (torch's) sleep rather than spin while they wait, unless the user chose otherwise.

    Must run before torch loads. Spinning threads burn the cores that decode threads, web workers and a
    local Elasticsearch need: on 2 cores with another process busy, batch-32 encoding went from 8 to 12
    images/s, and one image at a time from 0.6 to 6 images/s.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: list[str] | None = None) -> int:
    passive_openmp_threads()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        settings = collection_settings(settings, args.collection or settings.collection)
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`imgsearch config | head`): stop quietly, as shell tools do, and keep
        # Python's exit-time flush from failing on the closed pipe too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except ImgsearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
