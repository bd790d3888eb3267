"""Configuration is read from the environment in one place and refused early with a clear message."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from es_search.config import REPO_ROOT, ConfigError, Settings, load_settings

API_KEY = "apikey-9f3c1e7d-never-print"
PASSWORD = "pw-4b8a2c6e-never-print"


def test_defaults_name_the_real_models_and_int8_hnsw():
    s = load_settings(env={})
    assert s.image_model == "clip-ViT-B-32"
    assert s.text_model == "clip-ViT-B-32-multilingual-v1"
    assert s.vector_index_type == "int8_hnsw"
    assert s.node_url == "http://127.0.0.1:9200"
    assert s.uses_local_node


def test_es_url_may_name_several_nodes_and_each_must_be_a_url():
    s = load_settings(env={"ES_URL": "http://a:9200, http://b:9200,"})
    assert s.node_urls == ["http://a:9200", "http://b:9200"] and not s.uses_local_node
    with pytest.raises(ConfigError, match="ES_URL.*'b:9200'"):
        load_settings(env={"ES_URL": "http://a:9200,b:9200"})
    assert load_settings(env={}).node_urls == ["http://127.0.0.1:9200"]


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
    ({"IMGSEARCH_KNN_RESCORE_OVERSAMPLE": "0.5"}, "must be 0 .no rescoring. or between 1 and 10, got 0.5"),
    ({"IMGSEARCH_KNN_RESCORE_OVERSAMPLE": "11"}, "between 1 and 10, got 11"),
])
def test_bad_values_are_refused_with_a_clear_message(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_only_quantized_vectors_are_rescored():
    assert load_settings(env={}).knn_rescore == load_settings(env={}).knn_rescore_oversample > 0
    assert load_settings(env={"IMGSEARCH_KNN_RESCORE_OVERSAMPLE": "0"}).knn_rescore == 0
    assert load_settings(env={"IMGSEARCH_VECTOR_INDEX_TYPE": "bbq_hnsw"}).knn_rescore > 0
    assert load_settings(env={"IMGSEARCH_VECTOR_INDEX_TYPE": "hnsw"}).knn_rescore == 0


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1", "mps"])
def test_torch_device_names_are_accepted(device):
    assert load_settings(env={"IMGSEARCH_DEVICE": device}).device == device


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cuda:x", "CPU"])
def test_an_unknown_device_is_refused(device):
    with pytest.raises(ConfigError, match=rf"IMGSEARCH_DEVICE must be auto, cpu, cuda, cuda:<n> or mps, got '{device}'"):
        load_settings(env={"IMGSEARCH_DEVICE": device})


def test_every_bad_setting_is_named_in_one_error():
    with pytest.raises(ConfigError) as caught:
        load_settings(env={
            "IMGSEARCH_HNSW_M": "1", "IMGSEARCH_WEB_PORT": "0", "IMGSEARCH_BATCH_SIZE": "lots",
            "IMGSEARCH_SHOW_PATHS": "everything", "ES_URL": "ftp://x", "IMGSEARCH_COLOUR": "red",
        })
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid configuration:"
    for expected in ("unknown setting IMGSEARCH_COLOUR", "IMGSEARCH_HNSW_M must be between 2 and 512, got '1'",
                     "IMGSEARCH_WEB_PORT must be a port number", "IMGSEARCH_BATCH_SIZE='lots' is not a valid int",
                     "IMGSEARCH_SHOW_PATHS must be one of 'relative', 'full' or 'hidden', got 'everything'",
                     "ES_URL must start with http:// or https://, got 'ftp://x'"):
        assert sum(expected in line for line in lines) == 1, (expected, lines)
    assert len(lines) == 8  # the heading, six problems, and the known names


def test_settings_that_disagree_are_all_reported():
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"ES_USERNAME": "elastic", "IMGSEARCH_HNSW_M": "64", "IMGSEARCH_HNSW_EF_CONSTRUCTION": "32",
                           "IMGSEARCH_DEFAULT_PAGE_SIZE": "50", "IMGSEARCH_MAX_PAGE_SIZE": "20"})
    message = str(caught.value)
    assert "ES_USERNAME and ES_PASSWORD must be set together" in message
    assert "IMGSEARCH_HNSW_EF_CONSTRUCTION must be between HNSW_M (64) and 3200, got 32" in message
    assert "IMGSEARCH_DEFAULT_PAGE_SIZE (50) exceeds IMGSEARCH_MAX_PAGE_SIZE (20)" in message


def test_an_api_key_and_a_user_together_are_refused():
    with pytest.raises(ConfigError, match="set either ES_API_KEY or ES_USERNAME/ES_PASSWORD, not both"):
        load_settings(env={"ES_API_KEY": "k", "ES_USERNAME": "elastic", "ES_PASSWORD": "p"})


def test_an_unknown_setting_lists_the_known_names():
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"IMGSEARCH_HNSW": "32"})
    message = str(caught.value)
    assert "unknown setting IMGSEARCH_HNSW" in message
    assert "known settings: ES_URL," in message and "IMGSEARCH_HNSW_M" in message and "IMGSEARCH_FIELDS" in message


def test_unrelated_variables_are_ignored():
    s = load_settings(env={"PATH": "/bin", "ES_JAVA_OPTS": "-Xmx1g", "HOME": "/root"})
    assert s == load_settings(env={})


def test_lists_are_split_not_read_as_json(tmp_path):
    roots = os.pathsep.join([str(tmp_path / "a"), "", str(tmp_path / "b")])
    s = load_settings(env={"IMGSEARCH_IMAGE_ROOTS": roots, "IMGSEARCH_CATEGORIES": '["cat"], dog'})
    assert s.image_roots == (tmp_path / "a", tmp_path / "b")
    assert s.categories == ('["cat"]', "dog")
    with pytest.raises(ConfigError, match="IMGSEARCH_CATEGORIES must list at least one label"):
        load_settings(env={"IMGSEARCH_CATEGORIES": " , ,"})


def test_an_empty_value_counts_as_unset():
    s = load_settings(env={"ES_URL": "", "IMGSEARCH_HNSW_M": "  ", "IMGSEARCH_INDEX_ALIAS": " photos "})
    assert s.es_url is None and s.hnsw_m == 24
    assert s.index_alias == "photos"


def test_fields_file_is_resolved_from_the_current_directory_and_must_exist(tmp_path, monkeypatch):
    (tmp_path / "fields.yaml").write_text("fields: []\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={"IMGSEARCH_FIELDS": "fields.yaml"}).fields_file == tmp_path / "fields.yaml"
    assert load_settings(env={}).fields_file is None
    with pytest.raises(ConfigError, match=r"IMGSEARCH_FIELDS points to .*missing\.json', which is not a file"):
        load_settings(env={"IMGSEARCH_FIELDS": "missing.json"})


def test_show_paths_defaults_to_relative():
    assert load_settings(env={}).show_paths == "relative"
    assert load_settings(env={"IMGSEARCH_SHOW_PATHS": "hidden"}).show_paths == "hidden"


def test_overrides_are_validated_again():
    s = load_settings(env={})
    assert s.with_overrides(hnsw_m=32, hnsw_ef_construction=64).hnsw_m == 32
    with pytest.raises(ConfigError, match="IMGSEARCH_HNSW_M must be between 2 and 512, got 1"):
        s.with_overrides(hnsw_m=1)
    with pytest.raises(ConfigError, match="unknown setting colour"):
        s.with_overrides(colour="red")
    with pytest.raises(ValidationError):
        s.hnsw_m = 32  # frozen


def test_secrets_never_show_in_repr_str_or_public_dict():
    s = load_settings(env={"ES_URL": "https://es.example:9243", "ES_USERNAME": "elastic", "ES_PASSWORD": PASSWORD})
    assert PASSWORD not in repr(s) and PASSWORD not in str(s)
    assert s.es_password.get_secret_value() == PASSWORD
    public = s.public_dict()
    assert public["es_password"] == "***" and public["es_api_key"] is None and public["es_username"] == "elastic"
    assert PASSWORD not in json.dumps(public)
    with_key = load_settings(env={"ES_API_KEY": API_KEY})
    assert API_KEY not in repr(with_key) and with_key.public_dict()["es_api_key"] == "***"


def test_a_mistyped_secret_is_not_echoed_back():
    with pytest.raises(ConfigError) as caught:
        Settings().with_overrides(es_password=12345678)
    assert "ES_PASSWORD" in str(caught.value) and "12345678" not in str(caught.value)


@pytest.mark.parametrize("env", [
    {"ES_URL": "https://es.example:9243", "ES_API_KEY": API_KEY},
    {"ES_URL": "https://es.example:9243", "ES_USERNAME": "elastic", "ES_PASSWORD": PASSWORD},
])
def test_the_config_command_hides_secrets(env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "IMGSEARCH_"))}
    done = subprocess.run([sys.executable, "-m", "es_search.cli", "config"], env={**clean, **env},
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["es_url"] == "https://es.example:9243"
    assert "***" in done.stdout
    for secret in (API_KEY, PASSWORD):
        assert secret not in done.stdout and secret not in done.stderr
