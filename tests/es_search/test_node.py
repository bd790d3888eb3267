"""The local node manager: lifecycle on a node of its own, and clean non-zero exits for the usual failures."""

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import pytest

from es_search import node
from es_search.config import ES_VERSION


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "IMGSEARCH_"))}
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "es_search.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=300)


def test_session_node_answers_with_the_pinned_version(es, base_settings):
    info = node.status(base_settings)
    assert info["running"] is True
    if base_settings.uses_local_node:
        assert info["version"] == ES_VERSION


@pytest.mark.slow
@pytest.mark.es
def test_lifecycle_start_is_idempotent_and_a_restart_keeps_the_data(base_settings):
    # A node of its own (other ports, other data folder) so the shared session node is never disturbed.
    # The folder sits under the project data dir: the node user must be able to reach it when we are root.
    data_dir = base_settings.data_dir / f"test-node-{uuid.uuid4().hex[:8]}"
    s = base_settings.with_overrides(es_port=_free_port(), es_transport_port=_free_port(), data_dir=data_dir,
                                     es_heap="512m")
    try:
        info = node.start(s, log=lambda *_: None)
        assert info["version"] == ES_VERSION
        pid = node.running_pid(s)
        assert pid is not None

        again = node.start(s, log=lambda *_: None)
        assert again["version"] == ES_VERSION
        assert node.running_pid(s) == pid  # no second process

        from es_search.client import build_client

        es = build_client(s)
        assert es.info()["version"]["number"] == ES_VERSION  # GET / comes from our local-root-info plugin
        es.index(index="keepme", id="1", document={"x": 1}, refresh=True)
        es.close()
        assert node.stop(s, log=lambda *_: None) is True
        assert node.status(s)["running"] is False

        node.start(s, log=lambda *_: None)
        es = build_client(s)
        assert es.get(index="keepme", id="1")["_source"] == {"x": 1}
        es.close()
    finally:
        node.stop(s, log=lambda *_: None)
        shutil.rmtree(node.node_dir(s), ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)
    assert node.stop(s, log=lambda *_: None) is False


@pytest.mark.slow
@pytest.mark.es
def test_cli_status_and_stop_on_a_node_of_its_own(tmp_path):
    # Own ports and data folder, through the environment only, so the shared session node is never touched.
    port = _free_port()
    env = {"IMGSEARCH_ES_PORT": str(port), "IMGSEARCH_ES_TRANSPORT_PORT": str(_free_port()),
           "IMGSEARCH_DATA_DIR": str(tmp_path / "data"), "IMGSEARCH_ES_HEAP": "512m"}
    s = _settings(es_port=port, data_dir=tmp_path / "data")
    folder = node.node_dir(s)  # under /var/lib/es-image-search when root cannot hand tmp_path to the node user
    try:
        down = _cli("node", "status", **env)
        assert down.returncode == 1, down.stderr
        assert json.loads(down.stdout) == {"url": f"http://127.0.0.1:{port}", "local": True, "pid": None,
                                           "running": False}

        started = _cli("node", "start", **env)
        assert started.returncode == 0, started.stderr
        up = _cli("node", "status", **env)
        assert up.returncode == 0, up.stderr
        info = json.loads(up.stdout)
        pid = node.running_pid(s)
        assert pid is not None
        assert info == {"url": f"http://127.0.0.1:{port}", "local": True, "pid": pid, "running": True,
                        "cluster_name": node.CLUSTER_NAME, "version": ES_VERSION, "name": "local-dev"}

        from es_search.client import build_client

        es = build_client(s)
        es.index(index="keepme", id="1", document={"x": 1}, refresh=True)
        es.close()

        stopped = _cli("node", "stop", **env)
        assert stopped.returncode == 0, stopped.stderr
        assert f"Elasticsearch (pid {pid}) stopped" in stopped.stdout
        after = _cli("node", "status", **env)
        assert after.returncode == 1
        assert json.loads(after.stdout)["running"] is False and json.loads(after.stdout)["pid"] is None
        assert list((folder / "data" / "indices").iterdir())  # the index is still on disk
        assert (folder / "config" / "elasticsearch.yml").is_file()

        again = _cli("node", "stop", **env)
        assert again.returncode == 0
        assert "no local Elasticsearch node is running" in again.stdout
    finally:
        _cli("node", "stop", **env)
        shutil.rmtree(folder, ignore_errors=True)


def test_port_taken_is_a_clear_error_and_non_zero_exit(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _cli("node", "start", IMGSEARCH_ES_PORT=str(port), IMGSEARCH_DATA_DIR=str(tmp_path))
    assert proc.returncode == 4
    assert f"port {port} on 127.0.0.1 is already taken" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_no_java_is_a_clear_error_and_non_zero_exit(tmp_path):
    proc = _cli("node", "start", ES_JAVA_HOME=str(tmp_path / "no-jdk"), IMGSEARCH_ES_PORT=str(_free_port()),
                IMGSEARCH_ES_TRANSPORT_PORT=str(_free_port()), IMGSEARCH_DATA_DIR=str(tmp_path))
    assert proc.returncode == 4
    assert "holds no Java" in proc.stderr


def test_too_old_java_is_refused_with_what_to_install(tmp_path):
    fake = tmp_path / "jdk17"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "java").write_text("#!/bin/sh\nexit 1\n")
    (fake / "release").write_text('JAVA_VERSION="17.0.15"\n')
    with pytest.raises(node.NodeError, match=r"is Java 17; Elasticsearch .* needs a full JDK 21\+"):
        node.find_java(_settings(es_java_home=str(fake)))


def test_trimmed_runtime_without_the_vector_module_is_refused(tmp_path):
    fake = tmp_path / "jre25"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "java").write_text("#!/bin/sh\nexit 1\n")
    (fake / "release").write_text('JAVA_VERSION="25.0.1"\nMODULES="java.base java.logging"\n')
    with pytest.raises(node.NodeError, match="jdk.incubator.vector"):
        node.find_java(_settings(es_java_home=str(fake)))


def test_unreachable_cluster_is_a_clear_error_and_non_zero_exit():
    port = _free_port()
    proc = _cli("index", "info", ES_URL=f"http://127.0.0.1:{port}")
    assert proc.returncode == 3
    assert f"cannot reach Elasticsearch at http://127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


def _settings(**changes):
    from es_search.config import load_settings

    return load_settings(env={}).with_overrides(**changes)


def test_session_node_root_endpoint_answers_with_the_pinned_version(es, base_settings):
    # The integ-test-zip node has no root endpoint of its own; our local-root-info plugin (es_search/node/plugin.py)
    # restores it, so curl, the Python client's info() and eland's version check work.
    if base_settings.uses_local_node:
        try:
            with urllib.request.urlopen(f"{base_settings.node_url}/", timeout=10) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            pytest.fail(f"GET / answered {exc.code}: this node was started before the plugin was installed; "
                        "restart it (imgsearch node stop, then imgsearch node start)")
        assert body["version"]["number"] == ES_VERSION
        assert body["cluster_name"] == node.CLUSTER_NAME
        assert body["tagline"] == "You Know, for Search"
    assert es.info()["version"]["number"] == ES_VERSION


def test_root_info_plugin_is_built_once_and_rebuilt_when_its_source_changes(base_settings, tmp_path):
    es_home = tmp_path / "es-home"
    (es_home / "plugins").mkdir(parents=True)
    (es_home / "lib").symlink_to(node.install_distribution(base_settings, log=lambda *_: None) / "lib")
    java = node.find_java(base_settings)
    logged: list[str] = []
    plugin = es_home / "plugins" / node.ROOT_INFO_PLUGIN

    assert node.install_root_info_plugin(es_home, java, log=logged.append) is True
    assert sorted(p.name for p in plugin.iterdir()) == ["local-root-info.jar", "plugin-descriptor.properties",
                                                        "source.sha256"]
    descriptor = (plugin / "plugin-descriptor.properties").read_text()
    assert f"elasticsearch.version={ES_VERSION}\n" in descriptor and "${" not in descriptor
    assert len(logged) == 1

    assert node.install_root_info_plugin(es_home, java, log=logged.append) is True
    assert len(logged) == 1  # same source: nothing rebuilt

    (plugin / "source.sha256").write_text("an older source\n")
    assert node.install_root_info_plugin(es_home, java, log=logged.append) is True
    assert len(logged) == 2
    assert (plugin / "source.sha256").read_text().strip() == node.root_info_plugin_digest()
    assert sorted(p.name for p in es_home.iterdir()) == ["lib", "plugins"]  # no build leftovers


def test_a_jdk_without_javac_only_costs_the_root_endpoint(tmp_path):
    es_home = tmp_path / "es-home"
    (es_home / "plugins").mkdir(parents=True)
    logged: list[str] = []
    jre = node.JavaRuntime(home=tmp_path / "jre", major=21)
    assert node.install_root_info_plugin(es_home, jre, log=logged.append) is False
    assert "warning" in logged[0] and "has no javac" in logged[0]
    assert list((es_home / "plugins").iterdir()) == []
