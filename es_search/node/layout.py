"""Where a local node keeps its files, which ports it binds, and the configuration written there.

In: the settings; out: a `NodeLayout` (name, host, ports, folder) and, from it, the text of the node's own
`elasticsearch.yml` and heap options. Every path the node manager touches comes from a layout, so a local
cluster of several nodes is a list of layouts, each with its own name, ports and folder. One node (the
default) lives in DATA_DIR/es-node and runs as a single-node cluster; a cluster of N nodes (IMGSEARCH_ES_NODES
or `imgsearch node start --nodes N`) lives in DATA_DIR/es-cluster/node-<i>, node i binding the configured
HTTP and transport ports plus i, and the nodes find each other through their transport ports on loopback.

The renderers are pure; `node_dir` looks at file modes and `write_node_config` writes the files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from es_search.config import Settings
from es_search.node.security import security_settings

CLUSTER_NAME = "es-image-search-dev"
NODE_NAME = "local-dev"
# Root's fallback for node folders the node user cannot reach (see node_dir).
SHARED_NODE_ROOT = Path("/var/lib/es-image-search")


@dataclass(frozen=True)
class NodeLayout:
    """One node of the local cluster: its name, the ports it binds and the folder holding its files."""

    name: str
    host: str
    http_port: int
    transport_port: int
    folder: Path  # absolute: the server is started from elsewhere and must find the same files
    # The snapshot repositories' root (`path.repo`): the node's own folder's, or one the cluster's nodes share.
    repo_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def config_dir(self) -> Path:
        return self.folder / "config"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def logs_dir(self) -> Path:
        return self.folder / "logs"

    @property
    def tmp_dir(self) -> Path:
        return self.folder / "tmp"

    @property
    def pid_file(self) -> Path:
        return self.logs_dir / "node.pid"

    @property
    def launcher_out(self) -> Path:
        """What the start script prints before the server has its own log."""
        return self.logs_dir / "launcher.out"

    @property
    def server_log(self) -> Path:
        return self.logs_dir / f"{CLUSTER_NAME}.log"


def _world_traversable(path: Path) -> bool:
    """Whether any user can walk down to `path` (every folder on the way has the others' x bit)."""
    return all(parent.stat().st_mode & 0o001 for parent in [path, *path.parents] if parent.exists())


def _reachable_dir(settings: Settings, preferred: Path, suffix: str = "") -> Path:
    """`preferred`, unless we are root and the node user could not reach it: then a folder under
    /var/lib/es-image-search named by a digest of DATA_DIR, the same on every call."""
    if os.geteuid() != 0 or _world_traversable(preferred.resolve().parent):
        return preferred
    digest = hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:16]
    return SHARED_NODE_ROOT / f"{digest}{suffix}"


def node_dir(settings: Settings) -> Path:
    """The single node's folder: DATA_DIR/es-node, unless we are root and the node user could not reach it.

    Then (a checkout inside a private folder, say) it goes to /var/lib/es-image-search/<digest of DATA_DIR>,
    the same place on every call, so start, stop and status always agree.
    """
    return _reachable_dir(settings, settings.node_dir)


def cluster_dir(settings: Settings) -> Path:
    """The folder holding one sub-folder per node of a local cluster: DATA_DIR/es-cluster (same root rule)."""
    return _reachable_dir(settings, settings.data_dir / "es-cluster", "-cluster")


def node_layout(settings: Settings) -> NodeLayout:
    """The single local node the settings describe."""
    folder = node_dir(settings).resolve()
    return NodeLayout(name=NODE_NAME, host=settings.es_host, http_port=settings.es_port,
                      transport_port=settings.es_transport_port, folder=folder, repo_dir=folder / "snapshots")


def cluster_node_layout(settings: Settings, index: int) -> NodeLayout:
    """Node `index` of a local cluster: its own name, the configured ports plus `index`, its own folder."""
    return NodeLayout(name=f"{NODE_NAME}-{index}", host=settings.es_host, http_port=settings.es_port + index,
                      transport_port=settings.es_transport_port + index,
                      folder=(cluster_dir(settings) / f"node-{index}").resolve(),
                      repo_dir=(cluster_dir(settings) / "snapshots").resolve())


def node_layouts(settings: Settings) -> list[NodeLayout]:
    """Every node of the local cluster the settings describe: the single node, or IMGSEARCH_ES_NODES of them."""
    if settings.es_nodes == 1:
        return [node_layout(settings)]
    return [cluster_node_layout(settings, i) for i in range(settings.es_nodes)]


def existing_cluster_layouts(settings: Settings) -> list[NodeLayout]:
    """The cluster nodes that have a folder on disk, whatever IMGSEARCH_ES_NODES says now (for `stop`)."""
    root = cluster_dir(settings)
    indices = sorted(int(p.name[len("node-"):]) for p in root.glob("node-*") if p.name[len("node-"):].isdigit()) \
        if root.is_dir() else []
    return [cluster_node_layout(settings, i) for i in indices]


def render_elasticsearch_yml(layout: NodeLayout, cluster_name: str = CLUSTER_NAME,
                             peers: Sequence[NodeLayout] = (), security: bool = False) -> str:
    """The node's own config: loopback only, security off unless `security` (node/security.py), disk
    thresholds off; a single-node cluster unless `peers` (every node of the cluster, this one included)
    names more than one node."""
    if len(peers) > 1:
        discovery = {"discovery.seed_hosts": [f"{p.host}:{p.transport_port}" for p in peers],
                     "cluster.initial_master_nodes": [p.name for p in peers]}
    else:
        discovery = {"discovery.type": "single-node"}
    lines = {
        "cluster.name": cluster_name,
        "node.name": layout.name,
        "path.data": str(layout.data_dir),
        "path.logs": str(layout.logs_dir),
        "network.host": layout.host,
        "http.port": layout.http_port,
        "transport.port": layout.transport_port,
        **discovery,
        **security_settings(security),
        **({"path.repo": [str(layout.repo_dir)]} if layout.repo_dir else {}),
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.destructive_requires_name": "true",
    }
    # JSON strings and lists are valid YAML and quote whatever a path may hold.
    return "".join(f"{key}: {json.dumps(value) if isinstance(value, str | list) else value}\n"
                   for key, value in lines.items())


def render_heap_options(heap: str) -> str:
    """jvm.options.d entry fixing the heap: the same minimum and maximum, so the node never resizes it."""
    return f"-Xms{heap}\n-Xmx{heap}\n"


def write_node_config(layout: NodeLayout, es_home: Path, heap: str, peers: Sequence[NodeLayout] = (),
                      security: bool = False) -> Path:
    """Write the node's ES_PATH_CONF (and create its data, logs and tmp folders); return the config folder."""
    conf = layout.config_dir
    (conf / "jvm.options.d").mkdir(parents=True, exist_ok=True)
    for name in ("jvm.options", "log4j2.properties"):
        shutil.copyfile(es_home / "config" / name, conf / name)
    (conf / "elasticsearch.yml").write_text(render_elasticsearch_yml(layout, peers=peers, security=security))
    (conf / "jvm.options.d" / "heap.options").write_text(render_heap_options(heap))
    for folder in (layout.data_dir, layout.logs_dir, layout.tmp_dir, *([layout.repo_dir] if layout.repo_dir else [])):
        folder.mkdir(parents=True, exist_ok=True)
    return conf
