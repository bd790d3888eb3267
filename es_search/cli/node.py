"""`imgsearch node start | stop | status`: the local development Elasticsearch node.

With ES_URL set the cluster is someone else's: start and stop leave it alone, status still reports it.
"""

from __future__ import annotations

import argparse

from es_search.cli.output import print_json
from es_search.config import Settings


def start_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search import node

    if not settings.uses_local_node:
        print(f"ES_URL is set: using {settings.es_url}; no local node is started.")
        return 0
    node.start(settings)
    return 0


def stop_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search import node

    if settings.uses_local_node:
        node.stop(settings)
    return 0


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search import node

    info = node.status(settings)
    print_json(info)
    return 0 if info["running"] else 1


def register(sub: argparse._SubParsersAction) -> None:
    node_p = sub.add_parser("node", help="the local development Elasticsearch node")
    node_sub = node_p.add_subparsers(dest="node_command", required=True)
    node_sub.add_parser("start", help="fetch (once), configure and start the node; waits until healthy"
                        ).set_defaults(func=start_command)
    node_sub.add_parser("stop", help="stop the node; its data stays").set_defaults(func=stop_command)
    node_sub.add_parser("status", help="what answers at the configured URL").set_defaults(func=status_command)
