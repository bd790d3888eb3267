"""What a node says about itself, asked through the Elasticsearch client.

In: a client from `polling_client`; out: the node's name and version, or whether the cluster turned yellow
in time. These calls poll a node that may still be starting or may not exist at all, so the client gets
short timeouts and no retries: one slow answer must not stretch a status check or a start-up wait.

We ask the nodes API rather than `GET /` (the client's `info()`): the root endpoint comes from our own
plugin, and a node whose plugin could not be built must still count as running.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from elasticsearch import ApiError, Elasticsearch, TransportError

from es_search.client import build_client
from es_search.config import Settings

_NODE_FIELDS = "cluster_name,nodes.*.version,nodes.*.name"


def polling_client(settings: Settings, timeout: float) -> Elasticsearch:
    """The settings' client with a short request timeout and no retries; close it when done."""
    return build_client(settings).options(request_timeout=timeout, max_retries=0, retry_on_timeout=False)


def node_info(es: Elasticsearch) -> dict | None:
    """Cluster name, version and name of the node answering, or None when nothing usable answers."""
    try:
        body = es.nodes.info(node_id="_local", filter_path=_NODE_FIELDS).body
    except (ApiError, TransportError):
        return None
    nodes = list(body.get("nodes", {}).values())
    if not nodes:
        return None
    return {"cluster_name": body.get("cluster_name"), "version": nodes[0].get("version"), "name": nodes[0].get("name")}


def wait_for_health(es: Elasticsearch, timeout: float, is_alive: Callable[[], bool] = lambda: True) -> bool:
    """Whether the cluster reaches yellow within `timeout` seconds; gives up early once `is_alive()` is False."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # The server waits up to 2s for yellow itself, so a healthy node answers on the first try.
            if es.cluster.health(wait_for_status="yellow", timeout="2s").get("status") in ("yellow", "green"):
                return True
        except (ApiError, TransportError):
            pass  # not listening yet, or no master elected yet
        if not is_alive():
            return False
        time.sleep(0.5)
    return False
