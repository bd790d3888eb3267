"""The Elasticsearch client, built from settings, with one clean error for an unreachable cluster."""

from __future__ import annotations

from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_exceptions

from es_search.config import Settings
from es_search.elastic_errors import access_denied
from es_search.errors import ClusterUnavailable


def build_client(settings: Settings, **options) -> Elasticsearch:
    """A client for ES_URL (API key, basic auth, CA certificate) or for the local node(s).

    `options` go to the client as they are (the web app passes a `node_class` that times each request).
    Given several nodes, the client spreads requests over them and retries a request that found a node
    gone on another one, so losing one node of a cluster with replicas costs no request.
    """
    kwargs: dict = {"request_timeout": settings.es_request_timeout, "retry_on_timeout": True, "max_retries": 2,
                    **auth_options(settings)}
    if any(url.startswith("https://") for url in settings.node_urls):
        if settings.es_ca_certs:
            kwargs["ca_certs"] = settings.es_ca_certs
        kwargs["verify_certs"] = settings.es_verify_certs
    return Elasticsearch(settings.node_urls, **kwargs, **options)


def auth_options(settings: Settings) -> dict:
    """The client's credentials: `api_key` or `basic_auth` keyword arguments, or none. The client sends them
    as a header and never puts them in its log lines or its errors."""
    if settings.es_api_key:
        return {"api_key": settings.es_api_key.get_secret_value()}
    if settings.es_username and settings.es_password:  # config refuses one without the other
        return {"basic_auth": (settings.es_username, settings.es_password.get_secret_value())}
    return {}


def connected_client(settings: Settings) -> Elasticsearch:
    """A client to a cluster that answers (`check_cluster` has run); ClusterUnavailable otherwise."""
    es = build_client(settings)
    check_cluster(es, settings)
    return es


def check_cluster(es: Elasticsearch, settings: Settings) -> dict:
    """Version and health of the cluster, or ClusterUnavailable with a message a person can act on.

    Uses the nodes API rather than `GET /`, which lives in a module that minimal distributions leave out.
    """
    try:
        nodes = es.nodes.info(node_id="_local", metric="_none", filter_path="cluster_name,nodes.*.version")
        health = es.cluster.health()
    except es_exceptions.ConnectionError as exc:
        hint = "start the local node with `make es-start`" if settings.uses_local_node else "check ES_URL"
        raise ClusterUnavailable(f"cannot reach Elasticsearch at {settings.node_url}: {_reason(exc)}; {hint}.") from None
    except es_exceptions.AuthenticationException:
        raise ClusterUnavailable(f"Elasticsearch at {settings.node_url} rejected our credentials; check ES_API_KEY or "
                                 "ES_USERNAME/ES_PASSWORD.") from None
    except es_exceptions.AuthorizationException as exc:
        raise access_denied(exc, settings.node_url) from None
    versions = sorted({n.get("version") for n in nodes.get("nodes", {}).values()})
    return {"url": settings.node_url, "cluster_name": nodes.get("cluster_name"), "versions": versions,
            "status": health.get("status")}


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:200] + "..."
