"""Local development Elasticsearch node: fetch the pinned server, configure, start, wait, stop.

    from es_search import node
    node.start(settings); node.status(settings); node.stop(settings)

One concern per module:
- `java`: find a JDK the server runs on (version, vector module);
- `distribution`: fetch the server with `mvn` into the cache, check its pinned SHA-256, unpack it;
- `plugin`: build and install our `GET /` plugin (Java source in `root_info_plugin/`);
- `layout`: each node's folder, ports and configuration files (one node, or a local cluster of several);
- `health`: ask the node about itself through the Elasticsearch client;
- `process`: run the server (as an unprivileged user when we are root), start, stop, status.

Failures raise `NodeError` (exit code 4 on the command line).
"""

from es_search.errors import NodeError
from es_search.node.distribution import ES_ZIP_SHA256, fetch_distribution, install_distribution
from es_search.node.java import JavaRuntime, find_java, has_vector_module, java_major
from es_search.node.layout import (
    CLUSTER_NAME,
    NodeLayout,
    cluster_dir,
    node_dir,
    node_layout,
    node_layouts,
    render_elasticsearch_yml,
)
from es_search.node.plugin import ROOT_INFO_PLUGIN, install_root_info_plugin, root_info_plugin_digest
from es_search.node.process import log_tail, port_in_use, running_pid, start, status, stop

__all__ = [
    "CLUSTER_NAME",
    "ES_ZIP_SHA256",
    "ROOT_INFO_PLUGIN",
    "JavaRuntime",
    "NodeError",
    "NodeLayout",
    "cluster_dir",
    "fetch_distribution",
    "find_java",
    "has_vector_module",
    "install_distribution",
    "install_root_info_plugin",
    "java_major",
    "log_tail",
    "node_dir",
    "node_layout",
    "node_layouts",
    "port_in_use",
    "render_elasticsearch_yml",
    "root_info_plugin_digest",
    "running_pid",
    "start",
    "status",
    "stop",
]
