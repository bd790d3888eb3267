"""`imgsearch ingest`: a folder of images into the index. Registered through the `imgsearch.commands`
entry point (setup.cfg), so the core command never imports this package.

`kill` (SIGTERM) stops a run as Ctrl-C does: the summary is printed and the exit code is 130; a rerun
resumes where the record of indexed files says it stopped. `--shard I/N` takes one part of the input, so
N runs (on N machines or GPUs, started by any scheduler) ingest one collection together (ingest/shard.py).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from contextlib import contextmanager

from es_search.config import Settings
from es_search.errors import EXIT_CLUSTER, EXIT_INTERRUPTED, EXIT_USAGE


def register(sub: argparse._SubParsersAction) -> None:
    ingest = sub.add_parser(
        "ingest", help="index the images and videos under folders (resumable: a rerun skips what is indexed)",
        description="Index every image under PATHs (recursive; jpg, jpeg, png, webp, gif, bmp, tiff) and in "
                    "--list files, and the frames of every video (mp4, mov, mkv, webm, avi: a frame every "
                    "IMGSEARCH_VIDEO_INTERVAL seconds and at scene changes). An image already indexed is not decoded "
                    "again (a video is, but its frames are not written twice); a copy under a new name only adds "
                    "its path. Failed files are listed, with reasons, in "
                    "a report under the data folder.")
    ingest.add_argument("paths", nargs="*", metavar="PATH", help="folders, image files or video files")
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
    ingest.add_argument("--records", metavar="FILE",
                        help="a records file (CSV with a header, or JSON Lines): one image per row, with its own id "
                             "and the fields of the schema file (IMGSEARCH_FIELDS)")
    ingest.add_argument("--image-column", default="image", metavar="NAME",
                        help="the records column naming each image: a path, http(s) URL or s3://bucket/key "
                             "(default: image)")
    ingest.add_argument("--id-column", default="id", metavar="NAME",
                        help="the records column holding each row's id (default: id; without it the content "
                             "hash is the id)")
    ingest.add_argument("--source", metavar="NAME",
                        help="the name documents of a records file carry as their source (default: the file's "
                             "absolute path); --prune goes by it")
    ingest.add_argument("--prune", action="store_true",
                        help="after a complete run, remove from the index what this source no longer holds "
                             "(never what other sources put there)")
    ingest.add_argument("--dry-run", action="store_true",
                        help="with --prune: only list what a prune would remove; index nothing, remove nothing")
    ingest.add_argument("--shard", metavar="I/N", type=_shard_arg,
                        help="take only part I of N of the input (0 <= I < N, by a hash of each file's path relative "
                             "to its PATH): N runs with 0/N .. N-1/N, on any machines, index everything once")
    ingest.set_defaults(func=_ingest)


def _shard_arg(text: str):
    from ingest.shard import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def exit_code(summary) -> int:
    """0 for a complete run (failed files are listed in the report), else the shared exit codes."""
    return {None: 0, "interrupted": EXIT_INTERRUPTED, "cluster": EXIT_CLUSTER}.get(summary.stopped, 1)


def _ingest(args, settings: Settings) -> int:
    from ingest.report import format_summary
    from ingest.runner import run_ingest, run_prefix_ingest, run_records_ingest
    from ingest.shard import WHOLE

    problem = usage_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    missing = [p for p in [*args.paths, *args.list_files, *([args.records] if args.records else [])]
               if not is_prefix_url(p) and not os.path.exists(p)]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    overrides = {name: value for name, value in (("batch_size", args.batch_size), ("decode_workers", args.workers),
                                                 ("bulk_chunk", args.bulk_chunk)) if value is not None}
    settings = settings.with_overrides(**overrides)
    if args.dry_run:
        return _dry_run(args, settings)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    common = dict(progress=not args.no_progress, recheck=args.recheck, log=log, prune=args.prune,
                  shard=args.shard or WHOLE, on_near_duplicate=args.on_near_duplicate)
    with sigterm_as_interrupt():
        if args.records:
            summary = run_records_ingest(settings, args.records, source=args.source,
                                         image_column=args.image_column, id_column=args.id_column, **common)
        elif args.paths and is_prefix_url(args.paths[0]):
            summary = run_prefix_ingest(settings, args.paths[0], **common)
        else:
            summary = run_ingest(settings, args.paths, args.list_files, **common)
    print(format_summary(summary))
    if summary.error:
        print(f"error: {summary.error}", file=sys.stderr)
    return exit_code(summary)


def is_prefix_url(text: str) -> bool:
    return text.startswith("s3://")


def usage_problem(args) -> str | None:
    """What is wrong with the combination of arguments, or None."""
    prefixes = [p for p in args.paths if is_prefix_url(p)]
    if args.records and (args.paths or args.list_files):
        return "--records FILE is a source of its own: name no folders or --list files with it"
    if not args.records and not args.paths and not args.list_files:
        return "name at least one folder or file, an s3://bucket/prefix/, --list FILE or --records FILE"
    if prefixes and (len(args.paths) > 1 or args.list_files):
        return "an s3://bucket/prefix/ is a source of its own: name one, and no folders or --list files with it"
    if args.dry_run and not args.prune:
        return "--dry-run goes with --prune (it lists what a prune would remove)"
    if args.shard and args.prune:
        return "a shard cannot --prune: it sees only its part of the source (prune in one run without --shard)"
    if args.prune and args.list_files:
        return "--prune works on folders, a records file or an s3:// prefix, not on --list files"
    return None


def _dry_run(args, settings: Settings) -> int:
    from ingest.runner import plan_prune

    prefix = args.paths[0] if args.paths and is_prefix_url(args.paths[0]) else None
    changes = plan_prune(settings, folders=[] if prefix else args.paths, records_file=args.records,
                         source=args.source, image_column=args.image_column, id_column=args.id_column,
                         prefix_url=prefix)
    for change in changes:
        print(change.describe())
    deleted = sum(1 for c in changes if c.delete)
    print(f"dry run: a prune would delete {deleted} documents and change {len(changes) - deleted} others; "
          "nothing was removed")
    return 0


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
