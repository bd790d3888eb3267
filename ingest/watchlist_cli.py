"""`imgsearch watchlist`: named sets of known images (and prompts) that every new image is checked against.

create / list / prompt / delete manage the lists; add puts reference images in (folders, a records file or
an s3:// prefix, read by the ingest's own sources); remove takes them out; scan checks the images indexed
already; release shows a reviewed image again. Registered through the `imgsearch.commands` entry point.
"""

from __future__ import annotations

import argparse
import sys

from es_search.audit import audited
from es_search.config import Settings
from es_search.errors import QueryError
from es_search.watchlists.lists import POLICIES


def register(sub: argparse._SubParsersAction) -> None:
    watchlist = sub.add_parser("watchlist", help="catch known images and unwanted content at the door",
                               description="Watchlists: reference images (and prompts) every new image is checked "
                                           "against, after encoding and before indexing (docs/watchlists.md).")
    actions = watchlist.add_subparsers(dest="action", required=True)

    create = actions.add_parser("create", help="a new watchlist")
    create.add_argument("name")
    create.add_argument("--policy", choices=POLICIES, default="flag",
                        help="what a match does: flag (indexed and marked), hold (hidden until reviewed) or refuse "
                             "(not indexed); default flag")
    create.add_argument("--similarity", type=float, metavar="COS",
                        help="least cosine similarity to a reference (default IMGSEARCH_WATCHLIST_SIMILARITY)")
    create.add_argument("--distance", type=int, metavar="BITS",
                        help="most perceptual-hash bits apart (default IMGSEARCH_WATCHLIST_PHASH_DISTANCE)")
    create.add_argument("--description", default="")
    create.add_argument("--prompt", action="append", default=[], metavar="TEXT[=THRESHOLD]",
                        help="an unwanted category in words, with its own threshold (default "
                             "IMGSEARCH_WATCHLIST_PROMPT_THRESHOLD); repeatable")
    create.set_defaults(func=audited("watchlist_create", lambda args: [args.name])(_create))

    add = actions.add_parser("add", help="add reference images: folders or files, a records file, or s3://bucket/prefix/")
    add.add_argument("name")
    add.add_argument("paths", nargs="*", metavar="PATH")
    add.add_argument("--records", metavar="FILE", help="a records file (CSV or JSON Lines) naming the images")
    add.add_argument("--image-column", default="image", metavar="NAME")
    add.add_argument("--no-progress", action="store_true")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=audited("watchlist_add", lambda args: [args.name])(_add))

    listing = actions.add_parser("list", help="the watchlists, their policies, thresholds, prompts and sizes")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)

    prompt = actions.add_parser("prompt", help="add (or with --remove, take away) a prompt of a watchlist")
    prompt.add_argument("name")
    prompt.add_argument("text")
    prompt.add_argument("--threshold", type=float, metavar="COS")
    prompt.add_argument("--remove", action="store_true")
    prompt.set_defaults(func=audited("watchlist_prompt", lambda args: [args.name])(_prompt))

    remove = actions.add_parser("remove", help="take reference images (by their sha256) off a watchlist")
    remove.add_argument("name")
    remove.add_argument("references", nargs="+", metavar="SHA256")
    remove.set_defaults(func=audited("watchlist_remove", lambda args: [args.name, *args.references])(_remove))

    delete = actions.add_parser("delete", help="delete a watchlist and its reference images")
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="really delete")
    delete.set_defaults(func=audited("watchlist_delete", lambda args: [args.name])(_delete))

    scan = actions.add_parser("scan", help="check the images indexed already against a watchlist (resumable)")
    scan.add_argument("name")
    scan.add_argument("--restart", action="store_true", help="start again from the first image")
    scan.add_argument("--no-progress", action="store_true")
    scan.set_defaults(func=audited("watchlist_scan", lambda args: [args.name])(_scan))

    release = actions.add_parser("release", help="show a flagged or held image again (reviewed)")
    release.add_argument("ids", nargs="+", metavar="ID")
    release.set_defaults(func=audited("watchlist_release", lambda args: args.ids)(_release))


def _client(settings: Settings):
    from es_search.client import build_client, check_cluster

    es = build_client(settings)
    check_cluster(es, settings)
    return es


def _store(settings: Settings):
    from es_search.watchlists.store import WatchlistStore

    return WatchlistStore(_client(settings), settings.index_alias)


def _encode_texts(settings: Settings, es):
    def encode(texts: list[str]):
        from es_search.encoders import build_text_encoder

        return build_text_encoder(settings, es).encode_texts(texts)

    return encode


def _prompt_pair(text: str, default: float) -> tuple[str, float]:
    words, equals, threshold = text.rpartition("=")
    if equals:
        try:
            return words, float(threshold)
        except ValueError:
            pass
    return text, default


def _create(args, settings: Settings) -> int:
    from es_search.cli.output import print_json
    from es_search.watchlists.lists import build_watchlist

    store = _store(settings)
    watchlist = build_watchlist(
        args.name, policy=args.policy,
        similarity=settings.watchlist_similarity if args.similarity is None else args.similarity,
        phash_distance=settings.watchlist_phash_distance if args.distance is None else args.distance,
        description=args.description,
        prompts=[_prompt_pair(text, settings.watchlist_prompt_threshold) for text in args.prompt],
        encode=_encode_texts(settings, store.es))
    print_json(store.save(watchlist, create=True).to_dict())
    return 0


def _add(args, settings: Settings) -> int:
    from es_search.cli.output import print_json
    from es_search.encoders import build_image_encoder
    from es_search.fields import registry_for
    from es_search.remote import RemoteReader, is_remote
    from ingest.sources.folder import FolderSource
    from ingest.sources.prefix import PrefixSource
    from ingest.sources.records import RecordsSource
    from ingest.watchlist_refs import add_references

    if bool(args.paths) == bool(args.records):
        raise QueryError("name PATHs (folders, files or one s3://bucket/prefix/) or --records FILE")
    store = _store(settings)
    store.get(args.name)
    if args.records:
        source = RecordsSource(args.records, registry_for(settings), image_column=args.image_column)
    elif len(args.paths) == 1 and is_remote(args.paths[0]):
        source = PrefixSource(settings, args.paths[0])
    else:
        source = FolderSource(args.paths)
    reader = RemoteReader(settings) if source.remote else None
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=source.total(), unit="img", desc=f"watchlist {args.name}", file=sys.stderr)
    try:
        result = add_references(settings, args.name, source.items(), es=store.es,
                                image_encoder=build_image_encoder(settings),
                                read_remote=reader.read if reader else None,
                                on_item=(lambda: bar.update(1)) if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
        if reader is not None:
            reader.close()
    if args.json:
        print_json(result.to_dict())
    else:
        print(f"{result.added} reference images added to {args.name}, {result.failed} failed")
        for failure in result.failures:
            print(f"  {failure['image']}: {failure['reason']}: {failure['message']}", file=sys.stderr)
        if result.added:
            print(f"check the images indexed already with: imgsearch watchlist scan {args.name}")
    return 0


def _list(args, settings: Settings) -> int:
    from es_search.cli.output import print_json

    store = _store(settings)
    counts = store.reference_counts()
    lists = [{**watchlist.to_dict(), "references": counts.get(name, 0)}
             for name, watchlist in sorted(store.lists().items())]
    if args.json:
        print_json(lists)
        return 0
    if not lists:
        print("no watchlists (imgsearch watchlist create NAME --policy flag|hold|refuse)")
    for entry in lists:
        prompts = ", ".join(f"{p['text']!r} ≥ {p['threshold']:g}" for p in entry["prompts"]) or "none"
        print(f"{entry['name']}: {entry['policy']}, {entry['references']} reference images (cosine ≥ "
              f"{entry['similarity']:g}, hash ≤ {entry['phash_distance']} bits), prompts: {prompts}")
    return 0


def _prompt(args, settings: Settings) -> int:
    from es_search.cli.output import print_json
    from es_search.watchlists.lists import build_watchlist

    store = _store(settings)
    current = store.get(args.name)
    keep = [p for p in current.prompts if p.text != args.text.strip()]
    if args.remove and len(keep) == len(current.prompts):
        raise QueryError(f"watchlist {args.name} has no prompt {args.text!r}")
    threshold = settings.watchlist_prompt_threshold if args.threshold is None else args.threshold
    changed = build_watchlist(current.name, policy=current.policy, similarity=current.similarity,
                              phash_distance=current.phash_distance, description=current.description,
                              prompts=[] if args.remove else [(args.text, threshold)],
                              encode=_encode_texts(settings, store.es), keep=keep)
    print_json(store.save(changed, create=False).to_dict())
    return 0


def _remove(args, settings: Settings) -> int:
    removed = _store(settings).remove_references(args.name, args.references)
    print(f"{removed} reference images taken off {args.name}")
    return 0


def _delete(args, settings: Settings) -> int:
    if not args.yes:
        raise QueryError(f"deleting watchlist {args.name} and its reference images needs --yes")
    references = _store(settings).delete(args.name)
    print(f"watchlist {args.name} deleted, with {references} reference images; the images it matched keep their "
          "status until released")
    return 0


def _scan(args, settings: Settings) -> int:
    from es_search.watchlists.scan import scan_collection

    es = _client(settings)
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=es.count(index=settings.index_alias)["count"], unit="img", desc=f"scan {args.name}",
                   file=sys.stderr)
        bar.update(0)

    def moved(images: int, progress) -> None:
        if bar is not None:
            bar.update(images)
            bar.set_postfix(matched=progress.matched)

    try:
        progress = scan_collection(es, settings, args.name, restart=args.restart, on_page=moved)
    finally:
        if bar is not None:
            bar.close()
    print(f"{progress.checked} images checked against {args.name}: {progress.matched} match, "
          f"{progress.changed} changed")
    return 0


def _release(args, settings: Settings) -> int:
    from es_search.watchlists.review import release

    es = _client(settings)
    for image_id in args.ids:
        release(es, settings.index_alias, image_id)
        print(f"{image_id}: released")
    return 0
