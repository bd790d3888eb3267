"""`imgsearch index create | info | delete | reindex | optimize`: the image index behind its alias.

Deleting asks for `--yes`: without it the command refuses with the usage exit code and touches nothing.
"""

from __future__ import annotations

import argparse
import sys

from es_search.cli.output import print_json
from es_search.config import Settings
from es_search.errors import EXIT_USAGE, IndexMissing


def create_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.client import connected_client
    from es_search.encoders import build_image_encoder
    from es_search.index import ensure_index, index_info

    es = connected_client(settings)
    dims = args.dims or build_image_encoder(settings).dims
    ensure_index(es, settings, dims)  # SchemaMismatch: the alias holds vectors of another size, or is a plain index
    print_json(index_info(es, settings.index_alias))
    return 0


def info_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.client import connected_client
    from es_search.index import index_info

    info = index_info(connected_client(settings), settings.index_alias)
    print_json(info)
    return 0 if info["exists"] else 1


def delete_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.client import connected_client
    from es_search.index import delete_index

    if not args.yes:
        print(f"this deletes every image document behind alias {settings.index_alias!r}; add --yes to confirm",
              file=sys.stderr)
        return EXIT_USAGE
    deleted = delete_index(connected_client(settings), settings.index_alias)
    print(f"deleted {', '.join(deleted) if deleted else 'nothing'}")
    return 0


def reindex_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.client import connected_client
    from es_search.index import index_info, reindex

    es = connected_client(settings)
    if not index_info(es, settings.index_alias)["exists"]:
        raise IndexMissing(f"no index behind alias {settings.index_alias!r} to re-index")
    print_json(reindex(es, settings, delete_old=args.delete_old))
    return 0


def _segment_count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {text!r}")
    return int(text)


def optimize_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.client import connected_client
    from es_search.optimize import optimize

    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        # Lucene does not tell how far one merge has got: the bar shows time, segments and what is merging.
        bar = tqdm(total=None, desc="optimize", bar_format="{desc}: {elapsed} {postfix}", file=sys.stderr)

    def show(state) -> None:
        bar.set_postfix_str(f"{state.segments} segments, {state.merging_documents} of {state.documents} "
                            "documents merging")

    try:
        print_json(optimize(connected_client(settings), settings.index_alias, max_segments=args.max_segments,
                            on_progress=show if bar is not None else None))
    finally:
        if bar is not None:
            bar.close()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    index_p = sub.add_parser("index", help="the image index behind its alias")
    index_sub = index_p.add_subparsers(dest="index_command", required=True)
    create = index_sub.add_parser("create", help="create the index (no-op when it exists)")
    create.add_argument("--dims", type=int, help="vector size; default: what the image encoder makes")
    create.set_defaults(func=create_command)
    index_sub.add_parser("info", help="indices, document count, vector mapping").set_defaults(func=info_command)
    delete = index_sub.add_parser("delete", help="delete every index behind the alias")
    delete.add_argument("--yes", action="store_true", help="confirm")
    delete.set_defaults(func=delete_command)
    reindex_p = index_sub.add_parser("reindex", help="copy into a new index built from current settings, swap alias")
    reindex_p.add_argument("--delete-old", action="store_true", help="delete the old index after the swap")
    reindex_p.set_defaults(func=reindex_command)
    optimize_p = index_sub.add_parser(
        "optimize", help="force-merge into one segment, the fastest to search: after a large load, once writes stop")
    optimize_p.add_argument("--max-segments", type=_segment_count, default=1, help="segments to merge down to (default 1)")
    optimize_p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    optimize_p.set_defaults(func=optimize_command)
