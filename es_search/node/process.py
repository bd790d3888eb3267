"""The server process of the local node: start it in the background, wait for it, stop it, report on it.

In: the settings; out: the running node's name and version (`start`), whether one was stopped (`stop`),
what answers at the URL (`status`). `start` wires the other modules together: a Java (java.py), the
server (distribution.py), our `GET /` plugin (plugin.py), the node's folder and config (layout.py); then it
launches the server's own start script in daemon mode with a pid file, and waits for yellow health through
the Elasticsearch client (health.py). Node data and logs stay in the node's folder, so a restart keeps the
data. A local cluster (IMGSEARCH_ES_NODES > 1) is the same done for each of its nodes' layouts at once;
`start` starts only the nodes that are down, so it also brings back a node that was lost.

With IMGSEARCH_ES_SECURITY the node starts with security on and ES_USERNAME as its superuser (security.py).

Elasticsearch refuses to run as root: when we are root, the server runs as a dedicated unprivileged
system user (created on first use) through `setpriv`, and the node's folder is handed to that user.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from es_search.config import ES_VERSION, Settings
from es_search.errors import NodeError
from es_search.node.distribution import install_distribution
from es_search.node.health import cluster_health, node_info, polling_client, wait_for_health
from es_search.node.java import JavaRuntime, find_java
from es_search.node.layout import (
    CLUSTER_NAME,
    NodeLayout,
    existing_cluster_layouts,
    node_layout,
    node_layouts,
    write_node_config,
)
from es_search.node.plugin import install_root_info_plugin
from es_search.node.security import add_superuser

Log = Callable[[str], object]
# Seconds allowed per request while polling: a node that is up answers in milliseconds.
INFO_TIMEOUT = 2.0
HEALTH_TIMEOUT = 5.0


# --------------------------------------------------------------------------- running as root


def run_as_prefix(user: str, folder: Path) -> list[str]:
    """Command prefix that drops root to `user` (created when missing), who then owns `folder`; [] when not root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(user)
    except KeyError:
        proc = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise NodeError(f"running as root, and could not create the user {user!r} to run Elasticsearch: "
                            f"{proc.stderr.strip()}") from None
    entry = pwd.getpwnam(user)
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--"]


# --------------------------------------------------------------------------- the process and its files


def read_pid(pid_file: Path) -> int | None:
    """The pid in `pid_file` when that process is alive, else None."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by the node user
    return pid


def running_pid(settings: Settings) -> int | None:
    """Pid of the local node the settings describe (the first node of a cluster), when it runs."""
    return read_pid(node_layouts(settings)[0].pid_file)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def log_tail(layout: NodeLayout, lines: int = 40) -> str:
    """The last lines of the server's log and of what its start script printed."""
    parts = []
    for path in (layout.server_log, layout.launcher_out):
        if path.is_file():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path}\n" + "\n".join(text))
    return "\n".join(parts) or "(no log was written)"


def _server_env(java: JavaRuntime, layout: NodeLayout) -> dict[str, str]:
    """Our environment minus any ES_*/JAVA_* of the caller's, which would override the node's own choices."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ES_", "JAVA_"))},
        "ES_JAVA_HOME": str(java.home),
        "ES_PATH_CONF": str(layout.config_dir),
        "ES_TMPDIR": str(layout.tmp_dir),
    }


def launch(layout: NodeLayout, es_home: Path, java: JavaRuntime, prefix: list[str], timeout: float) -> None:
    """Run the server's start script in daemon mode; it returns once the JVM is up and has written the pid file."""
    layout.pid_file.unlink(missing_ok=True)
    with open(layout.launcher_out, "wb") as out:
        proc = subprocess.run([*prefix, str(es_home / "bin" / "elasticsearch"), "-d", "-p", str(layout.pid_file)],
                              env=_server_env(java, layout), stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, cwd=str(layout.folder), timeout=timeout)
    if proc.returncode != 0:
        raise NodeError(f"Elasticsearch failed to start (exit {proc.returncode}). Log tail:\n{log_tail(layout)}")


def terminate(layout: NodeLayout, pid: int, timeout: float, log: Log) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds; the data folder is left as it is."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and read_pid(layout.pid_file) is not None:
        time.sleep(0.3)
    if read_pid(layout.pid_file) is not None:
        os.kill(pid, signal.SIGKILL)
        log(f"Elasticsearch (pid {pid}) did not stop within {timeout:.0f}s and was killed")
    else:
        log(f"Elasticsearch (pid {pid}) stopped")
    layout.pid_file.unlink(missing_ok=True)


# --------------------------------------------------------------------------- lifecycle


def _ask_node(settings: Settings, url: str | None = None) -> dict | None:
    es = polling_client(settings, INFO_TIMEOUT, url)
    try:
        return node_info(es)
    finally:
        es.close()


def _runs_here(settings: Settings, layout: NodeLayout) -> bool:
    """Whether this layout's node runs and answers as a node of our cluster."""
    if read_pid(layout.pid_file) is None:
        return False
    info = _ask_node(settings, layout.url)
    return bool(info and info["cluster_name"] == CLUSTER_NAME)


def start(settings: Settings, log: Log = print) -> dict:
    """Start the local node(s) in the background and wait until healthy; nodes already running are left alone."""
    if not settings.uses_local_node:
        raise NodeError(f"ES_URL is set ({settings.es_url}); the local node manager starts nothing.")
    layouts = node_layouts(settings)
    url = settings.node_url if len(layouts) == 1 else ", ".join(settings.node_urls)
    down = [layout for layout in layouts if not _runs_here(settings, layout)]
    if not down:
        info = _ask_node(settings) or {"version": ES_VERSION}
        log(f"Elasticsearch {info.get('version')} is already running at {url}")
        return {**info, "nodes": len(layouts)}
    for layout in down:
        for port in (layout.http_port, layout.transport_port):
            if port_in_use(layout.host, port):
                raise NodeError(f"port {port} on {layout.host} is already taken by another program; stop it or set "
                                "IMGSEARCH_ES_PORT / IMGSEARCH_ES_TRANSPORT_PORT to free ports.")
    java = find_java(settings)
    es_home = install_distribution(settings, log)
    install_root_info_plugin(es_home, java, log)
    peers = layouts if len(layouts) > 1 else ()
    prefixes = []
    for layout in down:
        write_node_config(layout, es_home, settings.es_heap, peers, security=settings.es_security)
        if settings.es_security:  # before the folder is handed to the node user, who then reads the realm
            add_superuser(es_home, layout.config_dir, settings.es_username, settings.es_password,
                          _server_env(java, layout))
        prefixes.append(run_as_prefix(settings.es_run_user, layout.folder))
        if layout.repo_dir and not layout.repo_dir.is_relative_to(layout.folder):
            run_as_prefix(settings.es_run_user, layout.repo_dir)  # a shared repository: the node user's too
    where = layouts[0].folder if len(layouts) == 1 else layouts[0].folder.parent
    nodes = "" if len(layouts) == 1 else f", {len(down)} of {len(layouts)} nodes,"
    log(f"starting Elasticsearch {ES_VERSION} on Java {java.major}{nodes} at {url} (data in {where}) ...")
    # Together: a node of a new cluster waits for the others before it counts as started.
    with ThreadPoolExecutor(len(down)) as pool:
        for future in [pool.submit(launch, layout, es_home, java, prefix, settings.es_start_timeout + 60)
                       for layout, prefix in zip(down, prefixes, strict=True)]:
            future.result()
    es = polling_client(settings, HEALTH_TIMEOUT)
    try:
        healthy = wait_for_health(es, settings.es_start_timeout,
                                  lambda: all(read_pid(layout.pid_file) is not None for layout in down),
                                  nodes=len(layouts))
        info = node_info(es) if healthy else None
    finally:
        es.close()
    if not healthy:
        tails = "\n".join(log_tail(layout) for layout in down)
        raise NodeError(f"Elasticsearch did not become healthy within {settings.es_start_timeout:.0f}s. "
                        f"Log tail:\n{tails}")
    info = info or {"version": ES_VERSION}
    log(f"Elasticsearch {info['version']} is up at {url}")
    return {**info, "nodes": len(layouts)}


def stop(settings: Settings, timeout: float = 60.0, log: Log = print) -> bool:
    """Stop every local node of this data folder (the single node, each cluster node), keeping their data;
    True when one was running."""
    layouts = {layout.folder: layout
               for layout in [node_layout(settings), *node_layouts(settings), *existing_cluster_layouts(settings)]}
    running = [(layout, pid) for layout in layouts.values() if (pid := read_pid(layout.pid_file)) is not None]
    if not running:
        log("no local Elasticsearch node is running")
        return False
    with ThreadPoolExecutor(len(running)) as pool:
        for future in [pool.submit(terminate, layout, pid, timeout, log) for layout, pid in running]:
            future.result()
    return True


def status(settings: Settings) -> dict:
    """What answers at the configured URL, and whether it is our local node; for a local cluster, each node
    and the cluster's health too (`running` only when every node runs)."""
    if not settings.uses_local_node or settings.es_nodes == 1:
        info = _ask_node(settings)
        return {"url": settings.node_url, "local": settings.uses_local_node, "pid": running_pid(settings),
                "running": info is not None, **(info or {})}
    nodes = []
    for layout in node_layouts(settings):
        info = _ask_node(settings, layout.url)
        nodes.append({"name": layout.name, "url": layout.url, "pid": read_pid(layout.pid_file),
                      "running": info is not None and info["cluster_name"] == CLUSTER_NAME})
    up = next((node["url"] for node in nodes if node["running"]), None)
    health = info = None
    if up is not None:  # ask a node that answers: the client would otherwise try a lost one first
        es = polling_client(settings, INFO_TIMEOUT, up)
        try:
            health, info = cluster_health(es), node_info(es)
        finally:
            es.close()
    return {"url": settings.node_url, "local": True, "running": all(n["running"] for n in nodes),
            "cluster_name": (info or {}).get("cluster_name"), "version": (info or {}).get("version"),
            "health": (health or {}).get("status"), "nodes": nodes}
