"""`imgsearch search "text" | --image PATH | --similar ID`, with further parts (`--not`, `--like`, `--unlike`) and
the gallery's filters; prints a table or JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from es_search.cli.output import print_json
from es_search.config import Settings, load_settings
from es_search.errors import ImgsearchError, QueryError
from es_search.fields import FieldRegistry, load_registry, registry_for
from es_search.uploads import checked_upload


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("search", help="search the images by text, by an image file, or like an indexed image",
                            description="Search by text (any language), by an image file, or for images similar "
                                        "to an indexed one. Without any of them, lists the newest images.")
    parser.add_argument("text", nargs="?", help="what to look for, in any language")
    parser.add_argument("--image", type=Path, metavar="PATH", help="find images like this file")
    parser.add_argument("--similar", metavar="ID", help="find images like this indexed image (its id)")
    parser.add_argument("--not", dest="not_", action="append", default=[], metavar="TEXT",
                        help="away from this text (repeatable; TEXT^2 weighs it twice)")
    parser.add_argument("--like", action="append", default=[], metavar="ID",
                        help="towards this indexed image (repeatable; ID^0.5 weighs it half)")
    parser.add_argument("--unlike", action="append", default=[], metavar="ID",
                        help="away from this indexed image, which is left out (repeatable, weighted as --like)")
    parser.add_argument("--sort", metavar="ORDER",
                        help="order the good matches by relevance, boosted (relevance times the ranking signals; "
                             "the default where there are any), date, size, or a field of the registry "
                             "(difficulty; -price for descending)")
    parser.add_argument("--boost", action="append", default=[], metavar="SIGNAL",
                        help="a ranking signal (repeatable): in_stock:true^1.2, price:reciprocal^2, sales:log^0.5, "
                             "taken_at:30d (recency, a half-life)")
    parser.add_argument("--literal", action="store_true",
                        help="search the words as typed: no dates or field values taken from them as filters")
    parser.add_argument("--explain", action="store_true", help="show each hit's cosine to every part of the query")
    parser.add_argument("--hybrid", action="store_true", help="fuse keyword (BM25) and vector rankings (texts)")
    parser.add_argument("--words-first", action="store_true",
                        help="text mode: images whose words (text inside them included) match first")
    parser.add_argument("--min-similarity", help="cosine similarity from -1 to 1 a result must reach")
    parser.add_argument("--page", default="1", help="page number (default 1)")
    parser.add_argument("--size", help="results per page (default IMGSEARCH_DEFAULT_PAGE_SIZE)")
    parser.add_argument("--facets", action="store_true", help="also print facet counts")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (as the API returns it)")
    add_filter_options(parser, _registry_for_options())
    parser.set_defaults(func=search_command)


def _registry_for_options() -> FieldRegistry:
    """The registry the current settings name, for the options' help; with unusable settings, the built-in
    one (the command then stops with the settings' own error when it runs)."""
    try:
        return registry_for(load_settings())
    except ImgsearchError:
        return load_registry()


def add_filter_options(parser: argparse.ArgumentParser, registry: FieldRegistry) -> None:
    """`--filter NAME=VALUE` for any filter, and one option per filter parameter of the registry:
    `--category animal` (repeatable) for terms, `--date 2021-01-01..2021-12-31` or `--date-from` / `--date-to`
    for ranges."""
    group = parser.add_argument_group("filters (from the field registry)")
    group.add_argument("--filter", action="append", default=[], metavar="NAME=VALUE",
                       help="filter by any field: brand=acme (terms, repeatable) or price=..20 (range from..to)")
    for spec in registry.filters:
        label = spec.label_in("en").lower()
        if spec.filter == "terms":
            group.add_argument(f"--{_dashed(spec.param)}", dest=f"{FILTER_DEST}{spec.param}", action="append",
                               default=[], metavar="VALUE", help=f"only this {label} (repeatable)")
            continue
        group.add_argument(f"--{_dashed(spec.param)}", dest=f"{FILTER_DEST}{spec.param}", metavar="FROM..TO",
                           help=f"{label} in this range (either end may be left out)")
        group.add_argument(f"--{_dashed(spec.from_param)}", dest=f"{FILTER_DEST}{spec.from_param}", metavar="FROM",
                           help=f"{label} at least this")
        group.add_argument(f"--{_dashed(spec.to_param)}", dest=f"{FILTER_DEST}{spec.to_param}", metavar="TO",
                           help=f"{label} at most this")


FILTER_DEST = "filter__"


def _dashed(param: str) -> str:
    return param.replace("_", "-")


def params_from_args(args: argparse.Namespace, registry: FieldRegistry) -> dict[str, list[str]]:
    """The same parameters the web pages and API read, so all three share one parser."""
    params: dict[str, list[str]] = {}
    for dest, value in vars(args).items():
        if dest.startswith(FILTER_DEST) and value not in (None, []):
            params.setdefault(dest[len(FILTER_DEST):], []).extend(value if isinstance(value, list) else [value])
    for item in args.filter:
        name, sep, value = item.partition("=")
        spec = registry.by_param(name.strip()) or registry.get(name.strip())
        if not sep or spec is None or not spec.filter:
            known = ", ".join(sorted(registry.filter_params()))
            raise QueryError(f"--filter takes NAME=VALUE with a filterable field; got {item!r} (known: {known})")
        param = name.strip() if registry.by_param(name.strip()) else spec.param
        params.setdefault(param, []).append(value)
    for name, values in (("not", args.not_), ("like", args.like), ("unlike", args.unlike), ("boost", args.boost)):
        if values:
            params[name] = list(values)
    for name in ("min_similarity", "page", "size", "sort"):
        value = getattr(args, name)
        if value is not None:
            params[name] = [str(value)]
    if args.text is not None:
        params["q"] = [args.text]
    if args.similar is not None:
        params["similar"] = [args.similar]
    if args.hybrid or args.words_first:
        params["mode"] = ["text" if args.words_first else "hybrid"]
    if args.facets:
        params["facets"] = ["true"]
    if args.explain:
        params["explain"] = ["true"]
    if args.literal:
        params["literal"] = ["true"]
    return params


def search_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.client import build_client
    from es_search.search import SearchService, parse_search_request

    registry = registry_for(settings)

    given = [name for name, value in (("text", args.text), ("--image", args.image), ("--similar", args.similar))
             if value is not None]
    if len(given) > 1:
        raise QueryError(f"give one of text, --image and --similar, not {' and '.join(given)}")
    image_bytes = None
    if args.image is not None:
        try:
            image_bytes = checked_upload(args.image.read_bytes(), settings.max_upload_bytes)
        except OSError as exc:
            raise QueryError(f"cannot read {args.image}: {exc.strerror or exc}") from None
    # A bad query, an unknown id or a missing index ends in es_search.cli.root.main with one line and its exit code.
    request = parse_search_request(params_from_args(args, registry), settings, registry)
    result = SearchService(build_client(settings), settings, registry=registry).search(request, image=image_bytes)
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
    for piece in query.get("understood") or []:
        meaning = piece.get("value") or f"{piece.get('from') or '…'}..{piece.get('to') or '…'}"
        lines.append(f"  understood {piece['text']!r} as {piece['param']}={meaning} (--literal reads it as words)")
    if not data["hits"]:
        lines.append("  no images match")
    cutoff = data.get("cutoff") or {}
    for number, hit in enumerate(data["hits"]):
        if cutoff and not cutoff["no_good_match"] and not hit["good_match"] and (
                number > 0 and data["hits"][number - 1]["good_match"] or number == 0 and data["page"] == 1):
            lines.append(f"  ---- {cutoff['good_matches']} good matches above, more results below ----")
        image = hit["image"]
        score = "" if hit["score"] is None else f"{hit['score']:.4f}"
        place = (image.get("paths") or [image.get("file_name", "")])[0]
        label = image.get("title") or image.get("file_name") or ""
        extras = " ".join(x for x in (image.get("category"), image.get("color_scheme")) if x)
        lines.append(f"{hit['rank']:>4}  {score:>7}  {hit['id'][:12]}  {label[:40]:<40}  {extras:<20}  {place}")
        for part in (hit.get("explain") or {}).get("parts", []):
            sign = "-" if part["weight"] < 0 else "+"
            cosine = "" if part["cosine"] is None else f"{part['cosine']:.4f}"
            lines.append(f"{'':>6}{sign}{abs(part['weight']):g} {part['kind']} {part['value'][:40]!r}: cosine {cosine}")
        boosted = (hit.get("explain") or {}).get("boost")
        if boosted:
            factors = ", ".join(f"{s['signal']} ×{s['factor']:.4g}" for s in boosted["signals"])
            lines.append(f"{'':>6}boosted {boosted['relevance']:.4f} → {boosted['score']:.4f}: {factors}")
    if cutoff.get("no_good_match") and data["hits"]:
        lines.append("no good match: nothing stands out from the rest; these are only the closest images")
    if data["has_next"]:
        lines.append(f"more: --page {data['page'] + 1}")
    for name, entries in (data.get("facets") or {}).items():
        counts = ", ".join(f"{e['value']} ({e['count']})" for e in entries)
        lines.append(f"{name}: {counts or '-'}")
    return "\n".join(lines)
