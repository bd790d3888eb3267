"""Configuration is read from the environment in one place and refused early with a clear message."""

from pathlib import Path

import pytest

from es_search.config import ConfigError, load_settings


def test_defaults_name_the_real_models_and_int8_hnsw():
    s = load_settings(env={})
    assert s.image_model == "clip-ViT-B-32"
    assert s.text_model == "clip-ViT-B-32-multilingual-v1"
    assert s.vector_index_type == "int8_hnsw"
    assert s.node_url == "http://127.0.0.1:9200"
    assert s.uses_local_node


def test_environment_values_are_parsed_by_type():
    s = load_settings(env={
        "ES_URL": "https://search.example:9243", "ES_API_KEY": "abc",
        "IMGSEARCH_HNSW_M": "32", "IMGSEARCH_HNSW_EF_CONSTRUCTION": "200",
        "IMGSEARCH_VECTOR_INDEX_TYPE": "bbq_hnsw", "IMGSEARCH_CATEGORIES": "cat, dog ,bird",
        "ES_VERIFY_CERTS": "false", "IMGSEARCH_DATA_DIR": "/tmp/somewhere",
    })
    assert s.node_url == "https://search.example:9243" and not s.uses_local_node
    assert (s.hnsw_m, s.hnsw_ef_construction, s.vector_index_type) == (32, 200, "bbq_hnsw")
    assert s.categories == ("cat", "dog", "bird")
    assert s.es_verify_certs is False
    assert s.data_dir == Path("/tmp/somewhere")


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("IMGSEARCH_BATCH_SIZE=7\nIMGSEARCH_WEB_PORT=8100\n")
    monkeypatch.setenv("IMGSEARCH_WEB_PORT", "8200")
    s = load_settings(dotenv_path=dotenv)
    assert s.batch_size == 7
    assert s.web_port == 8200


@pytest.mark.parametrize("env, message", [
    ({"IMGSEARCH_VECTOR_INDEX_TYPE": "flat_lsh"}, "VECTOR_INDEX_TYPE must be one of"),
    ({"IMGSEARCH_HNSW_M": "many"}, "is not a valid int"),
    ({"IMGSEARCH_ES_PORT": "70000"}, "must be a port number"),
    ({"ES_URL": "localhost:9200"}, "must start with http"),
    ({"ES_USERNAME": "elastic"}, "must be set together"),
    ({"ES_CA_CERTS": "/no/such/ca.pem"}, "is not a file"),
    ({"IMGSEARCH_ES_HEAP": "lots"}, "ES_HEAP must look like"),
    ({"IMGSEARCH_COLOUR": "red"}, "unknown setting IMGSEARCH_COLOUR"),
    ({"IMGSEARCH_INDEX_ALIAS": "My Images"}, "INDEX_ALIAS must be"),
])
def test_bad_values_are_refused_with_a_clear_message(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)
