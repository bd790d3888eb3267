"""A local cluster of three real nodes for the multi-node tests: free ports of its own, small heaps, always stopped.

The ports are picked here (a block of consecutive free ones above the usual range), so the session's own
node on 9200 and other test runs on the same machine never clash with it.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from es_search import node
from es_search.config import Settings
from es_search.node.layout import NodeLayout
from es_search.node.process import port_in_use, read_pid

NODES = 3
HEAP = "512m"  # three nodes on a 2-core, 24 GiB CI machine
# Three JVMs starting at once on two busy cores took up to 100 s here, and once more than 180 s.
START_TIMEOUT = 300.0


def free_port_block(count: int, host: str = "127.0.0.1", attempts: int = 200) -> int:
    """The first of `count` consecutive ports that are all free right now."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(attempts):
        first = rng.randrange(20_000, 60_000 - count)
        if not any(port_in_use(host, port) for port in range(first, first + count)):
            return first
    raise RuntimeError(f"no block of {count} free ports found")


def cluster_settings(base: Settings, data_dir: Path) -> Settings:
    """Settings for a three-node local cluster on free ports; no ES_URL or credentials (the nodes run without)."""
    return base.with_overrides(es_url=None, es_api_key=None, es_username=None, es_password=None, es_nodes=NODES,
                               es_port=free_port_block(NODES), es_transport_port=free_port_block(NODES),
                               es_heap=HEAP, data_dir=data_dir, es_start_timeout=START_TIMEOUT)


@contextmanager
def running_nodes(settings: Settings, log=print) -> Iterator[Settings]:
    """Start the node or cluster the settings describe; on the way out (a failure included) stop every node
    and remove its folder."""
    try:
        node.start(settings, log=log)
        yield settings
    finally:
        node.stop(settings, log=log)
        shutil.rmtree(node.node_dir(settings) if settings.es_nodes == 1 else node.cluster_dir(settings),
                      ignore_errors=True)


def kill_node(layout: NodeLayout) -> int:
    """SIGKILL the node's process (no shutdown of any kind); its pid."""
    pid = read_pid(layout.pid_file)
    assert pid is not None, f"{layout.name} is not running"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while read_pid(layout.pid_file) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    return pid
