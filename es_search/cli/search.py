"""`imgsearch search "text" | --image PATH | --similar ID`, with the gallery's filters; prints a table or JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from es_search.cli.output import print_json
from es_search.config import Settings
from es_search.errors import EXIT_USAGE


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("search", help="search the images by text, by an image file, or like an indexed image",
                            description="Search by text (any language), by an image file, or for images similar "
                                        "to an indexed one. Without any of them, lists the newest images.")
    parser.add_argument("text", nargs="?", help="what to look for, in any language")
    parser.add_argument("--image", type=Path, metavar="PATH", help="find images like this file")
    parser.add_argument("--similar", metavar="ID", help="find images like this indexed image (its sha256)")
    parser.add_argument("--hybrid", action="store_true", help="fuse keyword (BM25) and vector rankings (text only)")
    parser.add_argument("--category", action="append", default=[], help="only this category (repeatable)")
    parser.add_argument("--color", action="append", default=[], help="colour scheme: warm, cool or neutral (repeatable)")
    parser.add_argument("--tag", action="append", default=[], help="only images with this tag (repeatable)")
    parser.add_argument("--format", action="append", default=[], help="JPEG, PNG, ... (repeatable)")
    parser.add_argument("--date-from", help="taken (or modified) on or after YYYY-MM-DD")
    parser.add_argument("--date-to", help="taken (or modified) on or before YYYY-MM-DD")
    parser.add_argument("--min-width", help="at least this many pixels wide")
    parser.add_argument("--min-height", help="at least this many pixels high")
    parser.add_argument("--min-similarity", help="cosine similarity from -1 to 1 a result must reach")
    parser.add_argument("--page", default="1", help="page number (default 1)")
    parser.add_argument("--size", help="results per page (default IMGSEARCH_DEFAULT_PAGE_SIZE)")
    parser.add_argument("--facets", action="store_true", help="also print facet counts")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (as the API returns it)")
    parser.set_defaults(func=search_command)


def params_from_args(args: argparse.Namespace) -> dict[str, list[str]]:
    """The same parameters the web pages and API read, so all three share one parser."""
    params: dict[str, list[str]] = {
        "category": args.category, "color": args.color, "tag": args.tag, "format": args.format,
    }
    for name in ("date_from", "date_to", "min_width", "min_height", "min_similarity", "page", "size"):
        value = getattr(args, name)
        if value is not None:
            params[name] = [str(value)]
    if args.text is not None:
        params["q"] = [args.text]
    if args.similar is not None:
        params["similar"] = [args.similar]
    if args.hybrid:
        params["mode"] = ["hybrid"]
    if args.facets:
        params["facets"] = ["true"]
    return params


def search_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.client import build_client
    from es_search.query import parse_search_request
    from es_search.search import SearchService

    given = [name for name, value in (("text", args.text), ("--image", args.image), ("--similar", args.similar))
             if value is not None]
    if len(given) > 1:
        print(f"error: give one of text, --image and --similar, not {' and '.join(given)}", file=sys.stderr)
        return EXIT_USAGE
    image_bytes = None
    if args.image is not None:
        try:
            image_bytes = args.image.read_bytes()
        except OSError as exc:
            print(f"error: cannot read {args.image}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
    # A bad query, an unknown id or a missing index ends in es_search.cli.root.main with one line and its exit code.
    request = parse_search_request(params_from_args(args), default_size=settings.default_page_size,
                                   max_size=settings.max_page_size)
    result = SearchService(build_client(settings), settings).search(request, image=image_bytes)
    if args.json:
        print_json(result.to_dict())
    else:
        print(format_table(result.to_dict()))
    return 0


def format_table(data: dict) -> str:
    """Rank, score, id and where the file is, one line per hit, then paging (and facets when asked)."""
    query = data["query"]
    header = f"{query['kind']} search ({query['mode']})" if query["kind"] != "browse" else "newest images"
    lines = [f"{header}, page {data['page']}, {len(data['hits'])} results in {data['took_ms']:.0f} ms"]
    if not data["hits"]:
        lines.append("  no images match")
    for hit in data["hits"]:
        image = hit["image"]
        score = "" if hit["score"] is None else f"{hit['score']:.4f}"
        place = (image.get("paths") or [image.get("file_name", "")])[0]
        label = image.get("title") or image.get("file_name") or ""
        extras = " ".join(x for x in (image.get("category"), image.get("color_scheme")) if x)
        lines.append(f"{hit['rank']:>4}  {score:>7}  {hit['id'][:12]}  {label[:40]:<40}  {extras:<20}  {place}")
    if data["has_next"]:
        lines.append(f"more: --page {data['page'] + 1}")
    for name, entries in (data.get("facets") or {}).items():
        counts = ", ".join(f"{e['value']} ({e['count']})" for e in entries)
        lines.append(f"{name}: {counts or '-'}")
    return "\n".join(lines)
