"""`imgsearch duplicates [--threshold T] [--regroup] [--json]`: group near-duplicates and print the groups.

Without groups yet, or with `--regroup`, or when the threshold differs from the one the groups were made
with, a full pass runs first (resumable: an interrupted pass continues on the next run), with a progress
bar on stderr. Otherwise images indexed since the last check are grouped incrementally, then the groups
are printed: the representative first, then each member with its similarity to it.
"""

from __future__ import annotations

import argparse
import sys

from es_search.cli.output import print_json
from es_search.config import Settings
from es_search.errors import QueryError, RegroupNeeded


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("duplicates", help="find near-duplicate images and print their groups",
                            description="Group images whose vectors are at least THRESHOLD similar (cosine) and "
                                        "whose perceptual hashes agree, then print the groups.")
    parser.add_argument("--threshold", type=_threshold, metavar="T",
                        help="cosine similarity from 0.5 to 1 (default IMGSEARCH_DUPLICATE_SIMILARITY); "
                             "a new threshold regroups everything")
    parser.add_argument("--regroup", action="store_true", help="rebuild every group from scratch")
    parser.add_argument("--page", type=int, default=1, help="page of groups to print (default 1)")
    parser.add_argument("--size", type=int, default=20, help="groups per page (default 20)")
    parser.add_argument("--json", action="store_true", help="print the groups as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=duplicates_command)


def _threshold(text: str) -> float:
    from es_search.duplicates.grouping import check_thresholds

    try:
        return check_thresholds(float(text), 0).similarity
    except (ValueError, QueryError) as exc:
        raise argparse.ArgumentTypeError(str(exc) if isinstance(exc, QueryError) else
                                         f"a cosine similarity from 0.5 to 1, got {text!r}") from None


def duplicates_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.client import connected_client
    from es_search.duplicates.service import DuplicateFinder

    finder = DuplicateFinder(connected_client(settings), settings, similarity=args.threshold)
    since = finder.pending_since()
    summary = None
    try:
        if args.regroup or since is None:
            summary = _full_pass(finder, args)
        else:
            finder.check_since(since)
    except RegroupNeeded:
        summary = _full_pass(finder, args)
    page = finder.groups(page=args.page, size=args.size)
    if args.json:
        print_json({"grouping": summary.to_dict() if summary else None, "page": page.page, "size": page.size,
                    "total": page.total, "groups": [_group_json(g) for g in page.groups]})
        return 0
    if summary is not None:
        print(f"grouped {summary.images} images in {summary.seconds:.1f} s: {summary.groups} groups, "
              f"{summary.grouped_images} images in them", file=sys.stderr)
    print(f"{page.total} near-duplicate groups (page {page.page})")
    for group in page.groups:
        print(f"\ngroup {group.id} ({group.size} images)")
        for member in group.members:
            src = member.source
            mark = "*" if member.representative else " "
            paths = ", ".join(src.get("paths") or [])
            print(f" {mark} {member.similarity:6.3f}  {src.get('width')}x{src.get('height')}  "
                  f"{src.get('byte_size')} B  {src.get('taken_at') or src.get('file_modified_at') or ''}  {paths}")
    return 0


def _full_pass(finder, args):
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=finder.total_images(), unit="img", desc="duplicates", file=sys.stderr, dynamic_ncols=True)
    try:
        return finder.regroup(progress=bar.update if bar else None, restart=args.regroup)
    finally:
        if bar is not None:
            bar.close()


def _group_json(group) -> dict:
    return {"id": group.id, "size": group.size,
            "members": [{"id": m.id, "representative": m.representative, "similarity": m.similarity,
                         **{k: v for k, v in m.source.items() if k != "duplicate_group"}} for m in group.members]}
