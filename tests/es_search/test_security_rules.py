"""Security without a node: the local node's security settings, the rules on credentials, and how a 403 is told.

The node itself is exercised in tests/webapp/test_cluster_security.py; here are the pure parts.
"""

from __future__ import annotations

import pytest
import yaml

from es_search.config import ConfigError, load_settings
from es_search.elastic_errors import is_access_denied, search_error
from es_search.errors import AccessDenied, ClusterUnavailable
from es_search.node.layout import NodeLayout, render_elasticsearch_yml
from ingest.index_io import ClusterFailure, bulk_outcome

SECRET = "Marker-Secret-91b2"
REFUSED = {"type": "security_exception",
           "reason": "action [indices:data/write/bulk[s]] is unauthorized for user [web] with effective roles "
                     "[imgsearch_reader] on indices [images-1], this action is granted by the index privileges "
                     "[create_doc,create,index,write,all]"}
BLOCKED = {"type": "cluster_block_exception",
           "reason": "index [images-1] blocked by: [FORBIDDEN/8/index write (api)];"}


def test_a_secured_node_turns_security_on_without_tls(tmp_path):
    layout = NodeLayout(name="n", host="127.0.0.1", http_port=9270, transport_port=9370, folder=tmp_path)
    config = yaml.safe_load(render_elasticsearch_yml(layout, security=True))
    assert config["xpack.security.enabled"] == "true"
    assert config["xpack.security.http.ssl.enabled"] == "false"  # loopback only
    assert config["xpack.security.transport.ssl.enabled"] == "false"  # one node: no transport between nodes
    assert config["network.host"] == "127.0.0.1"
    assert yaml.safe_load(render_elasticsearch_yml(layout))["xpack.security.enabled"] == "false"


def test_a_secured_local_node_needs_its_superuser_and_one_node():
    settings = load_settings(env={"IMGSEARCH_ES_SECURITY": "true", "ES_USERNAME": "admin", "ES_PASSWORD": SECRET})
    assert settings.es_security and settings.es_username == "admin"
    with pytest.raises(ConfigError, match="IMGSEARCH_ES_SECURITY needs ES_USERNAME and ES_PASSWORD"):
        load_settings(env={"IMGSEARCH_ES_SECURITY": "true"})
    with pytest.raises(ConfigError, match="IMGSEARCH_ES_SECURITY needs ES_USERNAME and ES_PASSWORD"):
        load_settings(env={"IMGSEARCH_ES_SECURITY": "true", "ES_API_KEY": SECRET})
    with pytest.raises(ConfigError, match="at least 6 characters") as short:
        load_settings(env={"IMGSEARCH_ES_SECURITY": "true", "ES_USERNAME": "admin", "ES_PASSWORD": "abc"})
    assert "abc" not in str(short.value)
    with pytest.raises(ConfigError, match="one local node only"):
        load_settings(env={"IMGSEARCH_ES_SECURITY": "true", "ES_USERNAME": "admin", "ES_PASSWORD": SECRET,
                           "IMGSEARCH_ES_NODES": "3"})
    # With ES_URL the cluster is someone else's: the setting starts nothing and asks for nothing.
    assert load_settings(env={"IMGSEARCH_ES_SECURITY": "true", "ES_URL": "http://es:9200"}).es_security


@pytest.mark.parametrize("name", ["ES_URL", "IMGSEARCH_S3_ENDPOINT_URL"])
def test_credentials_in_a_url_are_refused_without_being_echoed(name):
    with pytest.raises(ConfigError, match=f"{name} must not carry credentials") as refused:
        load_settings(env={name: f"http://someone:{SECRET}@127.0.0.1:9200"})
    assert SECRET not in str(refused.value) and "someone" not in str(refused.value)


def test_secrets_are_masked_in_the_public_settings():
    public = load_settings(env={"ES_USERNAME": "admin", "ES_PASSWORD": SECRET}).public_dict()
    assert public["es_password"] == "***" and public["es_username"] == "admin"
    assert SECRET not in repr(public)
    assert load_settings(env={"ES_API_KEY": SECRET}).public_dict()["es_api_key"] == "***"


def test_a_403_of_the_security_layer_is_access_denied_naming_the_privileges():
    assert is_access_denied(403, REFUSED) and is_access_denied(403, {"error": REFUSED, "status": 403})
    assert not is_access_denied(403, BLOCKED) and not is_access_denied(401, REFUSED)
    error = search_error(REFUSED, 403, missing="no index", url="http://127.0.0.1:9270")
    assert isinstance(error, AccessDenied) and isinstance(error, ClusterUnavailable)
    assert (error.http_status, error.code) == (503, "elasticsearch_access_denied")
    assert "http://127.0.0.1:9270" in str(error) and "privileges [create_doc,create,index,write,all]" in str(error)


def test_a_refused_or_blocked_bulk_item_stops_the_ingest_and_the_write_api_tells_a_block_per_item():
    with pytest.raises(ClusterFailure, match=r"lack a privilege .*privileges \[create_doc,create,index,write,all\]"):
        bulk_outcome(False, {"_id": "a", "status": 403, "error": REFUSED}, "http://127.0.0.1:9270")
    with pytest.raises(ClusterFailure, match=r"refuses writes: index.blocks.write is set"):
        bulk_outcome(False, {"_id": "a", "status": 403, "error": BLOCKED}, "http://127.0.0.1:9270", "images")
    outcome, message = bulk_outcome(False, {"_id": "a", "status": 403, "error": BLOCKED}, "http://127.0.0.1:9270",
                                    "images", stop_on_block=False)
    assert outcome == "rejected" and "index write (api)" in message
