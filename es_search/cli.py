"""`imgsearch`: one console command, one subcommand per job.

Each module in COMMAND_MODULES offers `register(subparsers)`, adding parsers whose `func(args, settings)`
returns an exit code. Known failures end in one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from es_search.config import ConfigError, Settings, load_settings

COMMAND_MODULES = (
    "es_search.cli",
    "es_search.model_cli",
    "es_search.search_cli",
    "ingest.cli",
    "webapp.cli",
)

# Exit codes a script can rely on.
EXIT_USAGE = 2
EXIT_NOT_FOUND = 1
EXIT_CONFIG = 2
EXIT_CLUSTER = 3
EXIT_NODE = 4
EXIT_MODEL = 5
EXIT_INTERRUPTED = 130


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# --------------------------------------------------------------------------- node


def _node_start(args, settings: Settings) -> int:
    from es_search import node

    if not settings.uses_local_node:
        print(f"ES_URL is set: using {settings.es_url}; no local node is started.")
        return 0
    node.start(settings)
    return 0


def _node_stop(args, settings: Settings) -> int:
    from es_search import node

    if settings.uses_local_node:
        node.stop(settings)
    return 0


def _node_status(args, settings: Settings) -> int:
    from es_search import node

    info = node.status(settings)
    _print_json(info)
    return 0 if info["running"] else 1


# --------------------------------------------------------------------------- index


def _encoder_dims(settings: Settings) -> int:
    from es_search.encoders import build_image_encoder

    return build_image_encoder(settings).dims


def _index_create(args, settings: Settings) -> int:
    from es_search.client import build_client
    from es_search.index import ensure_index, index_info

    es = build_client(settings)
    _require_cluster(es, settings)
    ensure_index(es, settings, args.dims or _encoder_dims(settings))
    _print_json(index_info(es, settings.index_alias))
    return 0


def _index_info(args, settings: Settings) -> int:
    from es_search.client import build_client
    from es_search.index import index_info

    es = build_client(settings)
    _require_cluster(es, settings)
    info = index_info(es, settings.index_alias)
    _print_json(info)
    return 0 if info["exists"] else 1


def _index_delete(args, settings: Settings) -> int:
    from es_search.client import build_client
    from es_search.index import delete_index

    if not args.yes:
        print(f"this deletes every image document behind alias {settings.index_alias!r}; add --yes to confirm",
              file=sys.stderr)
        return EXIT_USAGE
    es = build_client(settings)
    _require_cluster(es, settings)
    deleted = delete_index(es, settings.index_alias)
    print(f"deleted {', '.join(deleted) if deleted else 'nothing'}")
    return 0


def _index_reindex(args, settings: Settings) -> int:
    from es_search.client import build_client
    from es_search.index import reindex

    es = build_client(settings)
    _require_cluster(es, settings)
    _print_json(reindex(es, settings, delete_old=args.delete_old))
    return 0


def _require_cluster(es, settings: Settings) -> dict:
    from es_search.client import check_cluster

    return check_cluster(es, settings)


def _config_show(args, settings: Settings) -> int:
    _print_json(settings.public_dict())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    node_p = sub.add_parser("node", help="the local development Elasticsearch node")
    node_sub = node_p.add_subparsers(dest="node_command", required=True)
    node_sub.add_parser("start", help="fetch (once), configure and start the node; waits until healthy"
                        ).set_defaults(func=_node_start)
    node_sub.add_parser("stop", help="stop the node; its data stays").set_defaults(func=_node_stop)
    node_sub.add_parser("status", help="what answers at the configured URL").set_defaults(func=_node_status)

    index_p = sub.add_parser("index", help="the image index behind its alias")
    index_sub = index_p.add_subparsers(dest="index_command", required=True)
    create = index_sub.add_parser("create", help="create the index (no-op when it exists)")
    create.add_argument("--dims", type=int, help="vector size; default: what the image encoder makes")
    create.set_defaults(func=_index_create)
    index_sub.add_parser("info", help="indices, document count, vector mapping").set_defaults(func=_index_info)
    delete = index_sub.add_parser("delete", help="delete every index behind the alias")
    delete.add_argument("--yes", action="store_true", help="confirm")
    delete.set_defaults(func=_index_delete)
    reindex_p = index_sub.add_parser("reindex", help="copy into a new index built from current settings, swap alias")
    reindex_p.add_argument("--delete-old", action="store_true", help="delete the old index after the swap")
    reindex_p.set_defaults(func=_index_reindex)

    sub.add_parser("config", help="print the effective settings (secrets hidden)").set_defaults(func=_config_show)


# --------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgsearch", description="Image search on Elasticsearch.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def _known_failures() -> tuple[tuple[type[BaseException], int], ...]:
    """Failures that end a command with one clear line and an exit code, never a traceback."""
    from es_search.client import ClusterUnavailable
    from es_search.encoders.base import EncoderUnavailable
    from es_search.errors import ImageNotFound, IndexMissing, QueryError
    from es_search.node import NodeError

    return ((ConfigError, EXIT_CONFIG), (ClusterUnavailable, EXIT_CLUSTER), (NodeError, EXIT_NODE),
            (EncoderUnavailable, EXIT_MODEL), (QueryError, EXIT_USAGE), (ImageNotFound, EXIT_NOT_FOUND),
            (IndexMissing, EXIT_CLUSTER))


def passive_openmp_threads() -> None:
    """Make OpenMP threads (torch's) sleep rather than spin while they wait, unless the user chose otherwise.

    Must run before torch loads. Spinning threads burn the cores that decode threads, web workers and a
    local Elasticsearch need: on 2 cores with another process busy, batch-32 encoding went from 8 to 12
    images/s, and one image at a time from 0.6 to 6 images/s.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: list[str] | None = None) -> int:
    passive_openmp_threads()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        for kind, code in _known_failures():
            if isinstance(exc, kind):
                print(f"error: {exc}", file=sys.stderr)
                return code
        raise


if __name__ == "__main__":
    sys.exit(main())
