"""`imgsearch ingest`: a folder of images into the index. Registered through the `imgsearch.commands`
entry point (setup.cfg), so the core command never imports this package.

`kill` (SIGTERM) stops a run as Ctrl-C does: the summary is printed and the exit code is 130; a rerun
resumes where the record of indexed files says it stopped.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from contextlib import contextmanager

from es_search.config import Settings
from es_search.errors import EXIT_CLUSTER, EXIT_INTERRUPTED, EXIT_USAGE, ImgsearchError, SchemaMismatch


def register(sub: argparse._SubParsersAction) -> None:
    ingest = sub.add_parser(
        "ingest", help="index the images under folders (resumable: a rerun skips what is already indexed)",
        description="Index every image under PATHs (recursive; jpg, jpeg, png, webp, gif, bmp, tiff) and in "
                    "--list files. Content already indexed is not decoded again; a copy under a new name "
                    "only adds its path. Failed files are listed, with reasons, in a report under the data folder.")
    ingest.add_argument("paths", nargs="*", metavar="PATH", help="folders or image files")
    ingest.add_argument("--list", dest="list_files", action="append", default=[], metavar="FILE",
                        help="a text file naming one path per line (repeatable)")
    ingest.add_argument("--batch-size", type=int, metavar="N", help="images per model call (default IMGSEARCH_BATCH_SIZE)")
    ingest.add_argument("--workers", type=int, metavar="N", help="decode threads (default IMGSEARCH_DECODE_WORKERS)")
    ingest.add_argument("--bulk-chunk", type=int, metavar="N", help="documents per bulk request (default IMGSEARCH_BULK_CHUNK)")
    ingest.add_argument("--recheck", action="store_true",
                        help="ignore the local record of indexed files: hash every file and ask Elasticsearch")
    ingest.add_argument("--on-near-duplicate", choices=("index", "skip", "report"), default="index",
                        help="a new image close to an indexed one: index it into its group (default), skip it "
                             "(removed again, named in the log) or report it (indexed and named)")
    ingest.add_argument("--no-progress", action="store_true", help="no progress bar (the summary still prints)")
    ingest.set_defaults(func=_ingest)


def exit_code(summary) -> int:
    """0 for a complete run (failed files are listed in the report), else the shared exit codes."""
    return {None: 0, "interrupted": EXIT_INTERRUPTED, "cluster": EXIT_CLUSTER}.get(summary.stopped, 1)


def _ingest(args, settings: Settings) -> int:
    from ingest.report import format_summary
    from ingest.runner import run_ingest

    if not args.paths and not args.list_files:
        print("error: name at least one folder or file, or --list FILE", file=sys.stderr)
        return EXIT_USAGE
    missing = [p for p in [*args.paths, *args.list_files] if not os.path.exists(p)]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    overrides = {name: value for name, value in (("batch_size", args.batch_size), ("decode_workers", args.workers),
                                                 ("bulk_chunk", args.bulk_chunk)) if value is not None}
    settings = settings.with_overrides(**overrides)
    try:
        with sigterm_as_interrupt():
            summary = run_ingest(settings, args.paths, args.list_files, progress=not args.no_progress,
                                 recheck=args.recheck, on_near_duplicate=args.on_near_duplicate, log=lambda line: print(line, file=sys.stderr, flush=True))
    except ImgsearchError:
        raise
    except ValueError as exc:  # the index holds vectors of another model, or the alias is a plain index
        raise SchemaMismatch(str(exc)) from None
    print(format_summary(summary))
    if summary.error:
        print(f"error: {summary.error}", file=sys.stderr)
    return exit_code(summary)


@contextmanager
def sigterm_as_interrupt():
    """`kill` (SIGTERM) stops a run like Ctrl-C does: cleanly, with a summary, exit code 130."""
    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, raise_interrupt)
    except ValueError:  # not the main thread (e.g. called from a test thread): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
