"""`imgsearch snapshot create | list | restore`: backups of the deployment (es_search/snapshots.py).

`restore` asks for `--yes`: it replaces the API keys, people's names and watchlists with the snapshot's, and
points the alias at the restored images (the current index is kept, unless `--delete-old`).
"""

from __future__ import annotations

import argparse
import sys

from es_search.audit import audited
from es_search.cli.output import print_json
from es_search.config import Settings
from es_search.errors import EXIT_USAGE


def _snapshots(settings: Settings):
    from es_search.client import connected_client
    from es_search.node import node_layouts
    from es_search.snapshots import Snapshots

    local = node_layouts(settings)[0].repo_dir if settings.uses_local_node else None
    return Snapshots(connected_client(settings), settings, local_repo=local)


def create_command(args: argparse.Namespace, settings: Settings) -> int:
    print_json(_snapshots(settings).create(args.name))
    return 0


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    print_json(_snapshots(settings).list())
    return 0


def restore_command(args: argparse.Namespace, settings: Settings) -> int:
    if not args.yes:
        print("restore replaces the keys, people's names and watchlists with the snapshot's and moves the alias "
              "to the restored images: add --yes", file=sys.stderr)
        return EXIT_USAGE
    print_json(_snapshots(settings).restore(args.name, delete_old=args.delete_old))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("snapshot", help="back up and restore the index, keys, people, watchlists, thumbnails")
    actions = parser.add_subparsers(dest="snapshot_command", required=True)
    create = actions.add_parser("create", help="snapshot now (waits until it is complete)")
    create.add_argument("name", nargs="?", help="the snapshot's name (default <alias>-<UTC time>)")
    create.set_defaults(func=audited("snapshot_create", lambda args: [args.name] if args.name else [])(create_command))
    actions.add_parser("list", help="this deployment's snapshots, oldest first").set_defaults(func=list_command)
    restore = actions.add_parser("restore", help="restore a snapshot into a new index and swap the alias to it")
    restore.add_argument("name")
    restore.add_argument("--yes", action="store_true", help="really restore")
    restore.add_argument("--delete-old", action="store_true", help="delete the index the alias leaves")
    restore.set_defaults(func=audited("snapshot_restore", lambda args: [args.name])(restore_command))
