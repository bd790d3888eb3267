"""What a node says about itself, asked through the Elasticsearch client.

In: a client from `polling_client`; out: the node's name and version, the cluster's health, or whether the
cluster turned yellow (with all its nodes) in time. These calls poll a node that may still be starting or may not exist at all, so the client gets
short timeouts and no retries: one slow answer must not stretch a status check or a start-up wait.

We ask the nodes API rather than `GET /` (the client's `info()`): the root endpoint comes from our own
plugin, and a node whose plugin could not be built must still count as running.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from elasticsearch import ApiError, Elasticsearch, TransportError

from es_search.client import auth_options, build_client
from es_search.config import Settings

_NODE_FIELDS = "cluster_name,nodes.*.version,nodes.*.name"


def polling_client(settings: Settings, timeout: float, url: str | None = None) -> Elasticsearch:
    """The settings' client (or one for the local node at `url`) with a short request timeout and no retries;
    close it when done."""
    # A local node with security (IMGSEARCH_ES_SECURITY) takes the same credentials as the settings' client.
    es = build_client(settings) if url is None else Elasticsearch(url, **auth_options(settings))
    return es.options(request_timeout=timeout, max_retries=0, retry_on_timeout=False)


def cluster_health(es: Elasticsearch) -> dict | None:
    """Status and node count of the cluster, or None when nothing answers."""
    try:
        body = es.cluster.health(filter_path="status,number_of_nodes").body
    except (ApiError, TransportError):
        return None
    return {"status": body.get("status"), "nodes": body.get("number_of_nodes")}


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


def wait_for_health(es: Elasticsearch, timeout: float, is_alive: Callable[[], bool] = lambda: True,
                    nodes: int = 1) -> bool:
    """Whether the cluster reaches yellow with `nodes` nodes within `timeout` seconds; gives up early once
    `is_alive()` is False."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # The server waits up to 2s for yellow itself, so a healthy node answers on the first try.
            body = es.cluster.health(wait_for_status="yellow", wait_for_nodes=f">={nodes}", timeout="2s")
            if not body.get("timed_out") and body.get("status") in ("yellow", "green"):
                return True
        except (ApiError, TransportError):
            pass  # not listening yet, no master elected yet, or (408) not all nodes there within 2s
        if not is_alive():
            return False
        time.sleep(0.5)
    return False
