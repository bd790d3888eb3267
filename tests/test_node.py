"""The local node manager: lifecycle on a node of its own, and clean non-zero exits for the usual failures."""

import os
import shutil
import socket
import subprocess
import sys
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
        shutil.rmtree(data_dir, ignore_errors=True)
    assert node.stop(s, log=lambda *_: None) is False


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
