"""`imgsearch apikey create | list | revoke`: the web app's API keys (es_search/apikeys.py).

`create` prints the key once, on stdout, alone on its line, so a script can capture it; nothing prints it
again. `list` shows ids, names, scopes and dates, never a key or its hash.
"""

from __future__ import annotations

import argparse
import sys

from es_search.audit import audited
from es_search.cli.output import print_json
from es_search.config import Settings


def create_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.apikeys import create_key, key_filter
    from es_search.client import connected_client
    from es_search.collections import collection_settings, deployment_settings
    from es_search.fields import registry_for

    scope_filter = key_filter(args.filter, registry_for(settings))
    others = [collection_settings(deployment_settings(settings), name)  # each checked before any key is made
              for name in args.also_collection]
    key = create_key(connected_client(settings), settings, name=args.name, scope=args.scope, filter=scope_filter)
    for other in others:  # the same key, accepted by each collection named
        create_key(connected_client(other), other, name=args.name, scope=args.scope,
                   filter=key_filter(args.filter, registry_for(other)), key=key)
    limited = "".join(f", only {param}={'|'.join(values)}" for param, values in scope_filter.items())
    where = "".join(f", also for {name}" for name in args.also_collection)
    print(f"created {args.scope} key {args.name!r}{limited}{where}; it is shown this once, store it now:",
          file=sys.stderr)
    print(key)
    return 0


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.apikeys import list_keys
    from es_search.client import connected_client

    print_json([key.to_dict() for key in list_keys(connected_client(settings), settings)])
    return 0


def revoke_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search.apikeys import revoke_key
    from es_search.client import connected_client

    print_json([key.to_dict() for key in revoke_key(connected_client(settings), settings, args.key)])
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("apikey", help="API keys for the web app's JSON API")
    keys = parser.add_subparsers(dest="apikey_command", required=True)
    create = keys.add_parser("create", help="make a key and print it once")
    create.add_argument("--name", required=True, help="who or what uses the key (unique among active keys)")
    create.add_argument("--scope", choices=("write", "read"), required=True,
                        help="write: the write API and searches; read: searches only")
    create.add_argument("--also-collection", action="append", default=[], metavar="NAME",
                        help="the same key for this collection too (repeatable; the key's collection is "
                             "--collection's)")
    create.add_argument("--filter", action="append", default=[], metavar="PARAM=VALUE",
                        help="the only images the key sees and writes, e.g. department=radiology (repeatable: "
                             "a parameter twice takes either value, two parameters must both hold)")
    create.set_defaults(func=audited("apikey_create", lambda args: [args.name])(create_command))
    keys.add_parser("list", help="every key: id, name, scope, created, revoked").set_defaults(func=list_command)
    revoke = keys.add_parser("revoke", help="revoke a key by id or name")
    revoke.add_argument("key", metavar="ID_OR_NAME")
    revoke.set_defaults(func=audited("apikey_revoke", lambda args: [args.key])(revoke_command))
