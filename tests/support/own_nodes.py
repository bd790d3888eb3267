"""Single nodes of a test's own, beside the session's node: free ports, a small heap, their own data folder.

`local_cluster.running_nodes` starts one and, on the way out (a failure included), stops it and removes its
folder. The secured node (`secured_settings`) has Elasticsearch security on, with a superuser of a random
password made at start (es_search/node/security.py); `plain_settings` is a node without security, for a
test that stops and starts it. The node on 9200 is never touched.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from es_search.config import Settings
from tests.support.local_cluster import free_port_block

HEAP = "512m"
START_TIMEOUT = 300.0  # one JVM on two busy cores
SUPERUSER = "imgsearch-admin"


def _free_ports() -> tuple[int, int]:
    http = free_port_block(1)
    transport = free_port_block(1)
    while transport == http:
        transport = free_port_block(1)
    return http, transport


def plain_settings(base: Settings, data_dir: Path, **changes) -> Settings:
    """Settings for one local node on free ports with its data under `data_dir`; no ES_URL, no credentials."""
    http, transport = _free_ports()
    values = dict(es_url=None, es_api_key=None, es_username=None, es_password=None, es_security=False, es_nodes=1,
                  es_port=http, es_transport_port=transport, es_heap=HEAP, data_dir=data_dir,
                  es_start_timeout=START_TIMEOUT)
    return base.with_overrides(**{**values, **changes})


def secured_settings(base: Settings, data_dir: Path) -> Settings:
    """`plain_settings` with security on: the superuser's name and a fresh random password."""
    return plain_settings(base, data_dir, es_security=True, es_username=SUPERUSER,
                          es_password=secrets.token_urlsafe(18))

