"""`imgsearch collection list | info | create | delete`: the deployment's collections (es_search/collections.py).

They are declared in IMGSEARCH_COLLECTIONS; these commands show them and make or remove their indices. Deleting
asks for `--yes`.
"""

from __future__ import annotations

import argparse
import sys

from es_search.audit import audited
from es_search.cli.output import print_json
from es_search.config import Settings
from es_search.errors import EXIT_USAGE


def _all(settings: Settings):
    """(name, settings) of every collection, the deployment's own first, from the settings the command got."""
    from es_search.collections import DEFAULT, collection_settings, deployment_settings, load_collections

    base = deployment_settings(settings)
    return [(DEFAULT, base)] + [(name, collection_settings(base, name)) for name in load_collections(base)]


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.client import connected_client

    es = connected_client(settings)
    rows = []
    for name, each in _all(settings):
        exists = es.indices.exists_alias(name=each.index_alias)
        rows.append({"collection": name, "alias": each.index_alias, "exists": bool(exists),
                     "documents": es.count(index=each.index_alias)["count"] if exists else 0,
                     "fields_file": str(each.fields_file) if each.fields_file else None,
                     "image_roots": [str(root) for root in each.image_roots]})
    print_json(rows)
    return 0


def _named(settings: Settings, name: str) -> Settings:
    from es_search.collections import collection_settings, deployment_settings

    return collection_settings(deployment_settings(settings), name)


def info_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.client import connected_client
    from es_search.index import index_info

    chosen = _named(settings, args.name)
    info = index_info(connected_client(chosen), chosen.index_alias)
    print_json({"collection": args.name, **info})
    return 0 if info["exists"] else 1


def create_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.client import connected_client
    from es_search.encoders import build_image_encoder
    from es_search.index import ensure_index, index_info

    chosen = _named(settings, args.name)
    es = connected_client(chosen)
    ensure_index(es, chosen, args.dims or build_image_encoder(chosen).dims)
    print_json({"collection": args.name, **index_info(es, chosen.index_alias)})
    return 0


def delete_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.client import connected_client
    from es_search.index import delete_index

    if not args.yes:
        print("delete removes the collection's images from the index (its declaration stays): add --yes",
              file=sys.stderr)
        return EXIT_USAGE
    chosen = _named(settings, args.name)
    print_json({"collection": args.name, "deleted": delete_index(connected_client(chosen), chosen.index_alias)})
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("collection", help="the deployment's collections (IMGSEARCH_COLLECTIONS)")
    actions = parser.add_subparsers(dest="collection_command", required=True)
    actions.add_parser("list", help="every collection: alias, documents, schema, roots").set_defaults(func=list_command)
    info = actions.add_parser("info", help="one collection's index")
    info.add_argument("name")
    info.set_defaults(func=info_command)
    create = actions.add_parser("create", help="make a declared collection's index")
    create.add_argument("name")
    create.add_argument("--dims", type=int, help="vector size (default: the collection's image model's)")
    create.set_defaults(func=audited("collection_create", lambda args: [args.name])(create_command))
    delete = actions.add_parser("delete", help="delete a collection's index (its declaration stays)")
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="really delete")
    delete.set_defaults(func=audited("collection_delete", lambda args: [args.name])(delete_command))
