"""The local node's folder, config files and process bookkeeping, without starting a node."""

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from es_search.config import load_settings
from es_search.node import health
from es_search.node.layout import (
    CLUSTER_NAME,
    SHARED_NODE_ROOT,
    NodeLayout,
    cluster_dir,
    existing_cluster_layouts,
    node_dir,
    node_layout,
    node_layouts,
    render_elasticsearch_yml,
    render_heap_options,
    write_node_config,
)
from es_search.node.process import log_tail, port_in_use, read_pid


def _layout(tmp_path, **changes) -> NodeLayout:
    fields = {"name": "local-dev-2", "host": "127.0.0.1", "http_port": 9201, "transport_port": 9301,
              "folder": tmp_path / "node two's folder"}
    return NodeLayout(**{**fields, **changes})


def test_yml_names_the_node_its_ports_and_its_own_folders(tmp_path):
    layout = _layout(tmp_path)
    config = yaml.safe_load(render_elasticsearch_yml(layout))
    assert config["cluster.name"] == CLUSTER_NAME
    assert config["node.name"] == "local-dev-2"
    assert config["http.port"] == 9201 and config["transport.port"] == 9301
    assert config["path.data"] == str(tmp_path / "node two's folder" / "data")  # the quote survives quoting
    assert config["path.logs"] == str(tmp_path / "node two's folder" / "logs")
    assert config["network.host"] == "127.0.0.1"
    assert config["discovery.type"] == "single-node"
    assert config["xpack.security.enabled"] == "false"


def test_cluster_nodes_find_each_other_on_loopback_and_bootstrap_together(tmp_path):
    peers = [_layout(tmp_path, name=f"local-dev-{i}", http_port=9250 + i, transport_port=9350 + i,
                     folder=tmp_path / f"node-{i}") for i in range(3)]
    config = yaml.safe_load(render_elasticsearch_yml(peers[1], peers=peers))
    assert "discovery.type" not in config
    assert config["discovery.seed_hosts"] == ["127.0.0.1:9350", "127.0.0.1:9351", "127.0.0.1:9352"]
    assert config["cluster.initial_master_nodes"] == ["local-dev-0", "local-dev-1", "local-dev-2"]
    assert (config["node.name"], config["http.port"], config["transport.port"]) == ("local-dev-1", 9251, 9351)
    assert config["path.data"] == str(tmp_path / "node-1" / "data")


def test_snapshots_have_a_folder_the_node_allows(tmp_path):
    layout = _layout(tmp_path, repo_dir=tmp_path / "shared snapshots")
    assert yaml.safe_load(render_elasticsearch_yml(layout))["path.repo"] == [str(tmp_path / "shared snapshots")]
    assert "path.repo" not in yaml.safe_load(render_elasticsearch_yml(_layout(tmp_path)))


def test_a_cluster_of_the_settings_gives_each_node_its_ports_and_folder(tmp_path):
    settings = load_settings(env={"IMGSEARCH_ES_NODES": "3"}).with_overrides(
        data_dir=tmp_path, es_port=9250, es_transport_port=9350)
    layouts = node_layouts(settings)
    assert [(n.name, n.http_port, n.transport_port) for n in layouts] == [
        ("local-dev-0", 9250, 9350), ("local-dev-1", 9251, 9351), ("local-dev-2", 9252, 9352)]
    assert [n.folder for n in layouts] == [cluster_dir(settings).resolve() / f"node-{i}" for i in range(3)]
    assert {n.repo_dir for n in layouts} == {cluster_dir(settings).resolve() / "snapshots"}, "one repository for all"
    assert len({n.folder for n in layouts} | {node_layout(settings).folder}) == 4  # the single node is apart
    assert settings.node_urls == ["http://127.0.0.1:9250", "http://127.0.0.1:9251", "http://127.0.0.1:9252"]
    assert node_layouts(settings.with_overrides(es_nodes=1)) == [node_layout(settings)]

    assert existing_cluster_layouts(settings) == []
    try:  # under /var/lib/es-image-search when we are root and tmp_path is private: removed afterwards
        (cluster_dir(settings) / "node-1").mkdir(parents=True)
        (cluster_dir(settings) / "node-x").mkdir()
        assert [n.name for n in existing_cluster_layouts(settings.with_overrides(es_nodes=1))] == ["local-dev-1"]
    finally:
        shutil.rmtree(cluster_dir(settings), ignore_errors=True)


def test_heap_options_fix_minimum_and_maximum():
    assert render_heap_options("512m") == "-Xms512m\n-Xmx512m\n"


def test_layout_of_the_settings_is_absolute_and_holds_the_pid_under_logs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={}).with_overrides(data_dir=Path("rel-data"), es_port=9250, es_transport_port=9350)
    layout = node_layout(settings)
    assert layout.folder.is_absolute()
    assert layout.folder == node_dir(settings).resolve()
    assert (layout.http_port, layout.transport_port, layout.url) == (9250, 9350, "http://127.0.0.1:9250")
    assert layout.pid_file == layout.folder / "logs" / "node.pid"
    assert layout.repo_dir == layout.folder / "snapshots"


def test_node_dir_is_under_the_data_dir_when_the_node_user_can_reach_it():
    # /tmp is open to every user, so even root keeps the node's folder under the data dir (none is created).
    settings = load_settings(env={}).with_overrides(data_dir=Path("/tmp") / f"imgsearch-{uuid.uuid4().hex}")
    assert node_dir(settings) == settings.data_dir / "es-node"


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback folder is for root only")
def test_root_with_a_private_data_dir_gets_the_same_shared_folder_every_time(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    settings = load_settings(env={}).with_overrides(data_dir=private / "data")
    folder = node_dir(settings)
    assert folder.parent == SHARED_NODE_ROOT
    assert node_dir(settings) == folder
    other = load_settings(env={}).with_overrides(data_dir=private / "other")
    assert node_dir(other) != folder


def test_write_node_config_copies_the_server_files_and_writes_our_own(tmp_path):
    es_home = tmp_path / "es-home"
    (es_home / "config").mkdir(parents=True)
    (es_home / "config" / "jvm.options").write_text("-XX:+UseG1GC\n")
    (es_home / "config" / "log4j2.properties").write_text("status = error\n")
    layout = _layout(tmp_path)

    conf = write_node_config(layout, es_home, "768m")

    assert conf == layout.config_dir
    assert (conf / "jvm.options").read_text() == "-XX:+UseG1GC\n"
    assert (conf / "elasticsearch.yml").read_text() == render_elasticsearch_yml(layout)
    assert (conf / "jvm.options.d" / "heap.options").read_text() == "-Xms768m\n-Xmx768m\n"
    assert all(folder.is_dir() for folder in (layout.data_dir, layout.logs_dir, layout.tmp_dir))


def test_read_pid_only_names_a_live_process(tmp_path):
    pid_file = tmp_path / "node.pid"
    assert read_pid(pid_file) is None
    pid_file.write_text(f"{os.getpid()}\n")
    assert read_pid(pid_file) == os.getpid()
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid_file.write_text(ended.stdout)
    assert read_pid(pid_file) is None
    pid_file.write_text("not a pid")
    assert read_pid(pid_file) is None


def test_port_in_use_sees_a_listening_socket():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert port_in_use("127.0.0.1", port) is True
    assert port_in_use("127.0.0.1", port) is False


def test_log_tail_shows_the_last_lines_of_both_logs(tmp_path):
    layout = _layout(tmp_path)
    assert log_tail(layout) == "(no log was written)"
    layout.logs_dir.mkdir(parents=True)
    layout.server_log.write_text("".join(f"line {i}\n" for i in range(100)))
    layout.launcher_out.write_text("launcher said this\n")
    tail = log_tail(layout, lines=5)
    assert "line 99" in tail and "line 95" in tail and "line 94" not in tail
    assert "launcher said this" in tail


def test_polling_a_port_where_nothing_listens_answers_at_once():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = load_settings(env={}).with_overrides(es_port=port)
    es = health.polling_client(settings, timeout=2.0)
    try:
        began = time.monotonic()
        assert health.node_info(es) is None
        assert health.wait_for_health(es, timeout=60, is_alive=lambda: False) is False
        assert time.monotonic() - began < 10  # no retries, no waiting out the 60 s
    finally:
        es.close()
