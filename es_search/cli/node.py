"""`imgsearch node start | stop | status [--nodes N]`: the local development Elasticsearch node or cluster.

One node is the default. `--nodes N` (or IMGSEARCH_ES_NODES=N) runs a cluster of N nodes on loopback, node i
on the configured ports plus i, each with its own folder; set IMGSEARCH_ES_NODES in `.env` so that the
other commands (ingest, web) know every node and carry on when one is lost. `stop` stops every local node
of the data folder, whatever its size.

`start --security` (or IMGSEARCH_ES_SECURITY=true) starts one node with Elasticsearch security on, ES_USERNAME
and ES_PASSWORD its superuser (es_search/node/security.py).

With ES_URL set the cluster is someone else's: start and stop leave it alone, status still reports it.
"""

from __future__ import annotations

import argparse

from es_search.cli.output import print_json
from es_search.config import Settings


def _sized(args: argparse.Namespace, settings: Settings) -> Settings:
    settings = settings if args.nodes is None else settings.with_overrides(es_nodes=args.nodes)
    return settings.with_overrides(es_security=True) if getattr(args, "security", False) else settings


def start_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search import node

    if not settings.uses_local_node:
        print(f"ES_URL is set: using {settings.es_url}; no local node is started.")
        return 0
    node.start(_sized(args, settings))
    return 0


def stop_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search import node

    if settings.uses_local_node:
        node.stop(_sized(args, settings))
    return 0


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    from es_search import node

    info = node.status(_sized(args, settings))
    print_json(info)
    return 0 if info["running"] else 1


def register(sub: argparse._SubParsersAction) -> None:
    node_p = sub.add_parser("node", help="the local development Elasticsearch node (or cluster of nodes)")
    node_sub = node_p.add_subparsers(dest="node_command", required=True)
    commands = (
        ("start", "fetch (once), configure and start the node(s); waits until healthy; starts only those down",
         start_command),
        ("stop", "stop every local node of the data folder; their data stays", stop_command),
        ("status", "what answers at the configured URL; each node and the health for a cluster", status_command),
    )
    for name, help_text, func in commands:
        command = node_sub.add_parser(name, help=help_text)
        command.add_argument("--nodes", type=int, metavar="N",
                             help="nodes of the local cluster (default IMGSEARCH_ES_NODES, 1)")
        command.set_defaults(func=func)
    node_sub.choices["start"].add_argument(
        "--security", action="store_true",
        help="with Elasticsearch security on (as IMGSEARCH_ES_SECURITY=true): ES_USERNAME and ES_PASSWORD become "
             "the node's superuser; HTTP without TLS, on loopback only")
