"""Elasticsearch ML without an ML node: eland tracing and vector parity, request building, response parsing,
and the "no ML here" path against the real node (which has no ML, like any Basic-licence cluster without it).

Response fixtures are the shapes documented for the trained model APIs (get stats, get models, _infer,
_license, error bodies), written out literally.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest
from elasticsearch import ApiError

from es_search import ml
from es_search.client import build_client
from es_search.config import REPO_ROOT
from es_search.encoders.base import EncoderUnavailable, EncoderUnsupported
from es_search.encoders.elasticsearch import ElasticsearchTextEncoder, l2_normalise
from es_search.knn_builder import knn_with_text, with_query_vector_builder
from es_search.ml_import import add_upload_parser, check_model_id, eland_model_source, trace_text_model

MODEL_ID = "sentence-transformers__clip-vit-b-32-multilingual-v1"

# Several languages and scripts; "long" is over 128 tokens, so truncation is exercised too.
TEXTS = {
    "en": "A red fox in the snow",
    "de": "Ein roter Fuchs im Schnee",
    "fr": "Un renard roux dans la neige, l'été",
    "es": "Un zorro rojo en la nieve",
    "ru": "Красная лиса в снегу",
    "el": "Μια κόκκινη αλεπού στο χιόνι",
    "ar": "ثعلب أحمر في الثلج",
    "hi": "बर्फ में लाल लोमड़ी",
    "th": "สุนัขจิ้งจอกสีแดงในหิมะ",
    "zh": "雪中的红狐狸",
    "ja": "雪の中の赤いキツネ",
    "ko": "눈 속의 붉은 여우",
    "long": " ".join(["a red fox runs over the snow in the mountains"] * 20),
}
TOLERANCE = 1e-5


# --------------------------------------------------------------------------- documented response shapes

STATS_STARTED = {
    "count": 1,
    "trained_model_stats": [{
        "model_id": MODEL_ID,
        "model_size_stats": {"model_size_bytes": 539_000_000, "required_native_memory_bytes": 1_340_000_000},
        "pipeline_count": 0,
        "inference_stats": {"failure_count": 0, "inference_count": 12, "cache_miss_count": 0,
                            "missing_all_fields_count": 0, "timestamp": 1_718_000_000_000},
        "deployment_stats": {
            "deployment_id": MODEL_ID, "model_id": MODEL_ID, "threads_per_allocation": 1,
            "number_of_allocations": 1, "queue_capacity": 1024, "state": "started",
            "allocation_status": {"allocation_count": 1, "target_allocation_count": 1, "state": "fully_allocated"},
            "cache_size": "539mb", "priority": "normal", "start_time": 1_718_000_000_000,
            "inference_count": 12, "peak_throughput_per_minute": 12,
            "nodes": [{
                "node": {"a1b2c3": {"name": "ml-0", "ephemeral_id": "e1", "transport_address": "10.0.0.5:9300",
                                    "attributes": {"ml.machine_memory": "17179869184"}, "roles": ["ml"]}},
                "routing_state": {"routing_state": "started"},
                "inference_count": 12, "average_inference_time_ms": 21.4, "number_of_allocations": 1,
                "threads_per_allocation": 1, "start_time": 1_718_000_000_000,
            }],
        },
    }],
}
STATS_STARTING = {"count": 1, "trained_model_stats": [{
    "model_id": MODEL_ID, "pipeline_count": 0,
    "deployment_stats": {"deployment_id": MODEL_ID, "model_id": MODEL_ID, "state": "starting",
                         "allocation_status": {"allocation_count": 0, "target_allocation_count": 1, "state": "starting"},
                         "nodes": [{"routing_state": {"routing_state": "starting"}}]},
}]}
STATS_FAILED = {"count": 1, "trained_model_stats": [{
    "model_id": MODEL_ID,
    "deployment_stats": {"deployment_id": MODEL_ID, "model_id": MODEL_ID, "state": "starting",
                         "allocation_status": {"allocation_count": 0, "target_allocation_count": 1, "state": "starting"},
                         "nodes": [{"routing_state": {"routing_state": "failed",
                                                      "reason": "not enough memory on node [ml-0]"}}]},
}]}
STATS_NOT_DEPLOYED = {"count": 1, "trained_model_stats": [{
    "model_id": MODEL_ID, "model_size_stats": {"model_size_bytes": 539_000_000, "required_native_memory_bytes": 0},
    "pipeline_count": 0,
    "inference_stats": {"failure_count": 0, "inference_count": 0, "cache_miss_count": 0,
                        "missing_all_fields_count": 0, "timestamp": 1_718_000_000_000},
}]}
# Two deployments of one model (8.8+ deployment ids): one started is enough.
STATS_TWO_DEPLOYMENTS = {"count": 2, "trained_model_stats": [
    {"model_id": MODEL_ID, "deployment_stats": {"deployment_id": "for-ingest", "model_id": MODEL_ID, "state": "stopping"}},
    {"model_id": MODEL_ID, "deployment_stats": {"deployment_id": "for-search", "model_id": MODEL_ID, "state": "started"}},
]}
MODEL_CONFIG = {"count": 1, "trained_model_configs": [{
    "model_id": MODEL_ID, "model_type": "pytorch", "created_by": "api_user", "version": "12.0.0",
    "description": "Model sentence-transformers/clip-ViT-B-32-multilingual-v1 for task type 'text_embedding'",
    "input": {"field_names": ["text_field"]}, "fully_defined": True, "location": {"index": {"name": ".ml-inference-native-000002"}},
    "inference_config": {"text_embedding": {
        "vocabulary": {"index": ".ml-inference-native-000002"},
        "tokenization": {"bert": {"do_lower_case": False, "with_special_tokens": True, "max_sequence_length": 128,
                                  "truncate": "first", "span": -1}},
        "embedding_size": 512}},
}]}
INFER_ONE = {"inference_results": [{"predicted_value": [0.25, -1.5, 3.0, 0.0]}]}
INFER_TWO_TRUNCATED = {"inference_results": [{"predicted_value": [1.0, 2.0, 2.0, 0.0]},
                                             {"predicted_value": [0.0, 0.0, 3.0, 4.0], "is_truncated": True}]}
INFER_DOC_ERROR = {"inference_results": [{"predicted_value": [1.0, 0.0]},
                                         {"error": "inference process crashed due to reason [out of memory]"}]}
ERROR_NOT_FOUND = {"error": {"root_cause": [{"type": "resource_not_found_exception",
                                             "reason": f"Could not find trained model [{MODEL_ID}]"}],
                             "type": "resource_not_found_exception",
                             "reason": f"Could not find trained model [{MODEL_ID}]"}, "status": 404}
ERROR_NOT_ALLOCATED = {"error": {"root_cause": [{"type": "status_exception",
                                                 "reason": f"Trained model deployment [{MODEL_ID}] is not allocated to any nodes"}],
                                 "type": "status_exception",
                                 "reason": f"Trained model deployment [{MODEL_ID}] is not allocated to any nodes"}, "status": 409}
ERROR_LICENCE = {"error": {"root_cause": [{"type": "security_exception", "reason": "current license is non-compliant for [ml]",
                                           "license.expired.feature": "ml"}],
                           "type": "security_exception", "reason": "current license is non-compliant for [ml]",
                           "license.expired.feature": "ml"}, "status": 403}
ERROR_NO_HANDLER = {"error": "no handler found for uri [/_ml/info] and method [GET]"}
LICENCE_BASIC = {"license": {"status": "active", "uid": "39e5", "type": "basic", "issue_date": "2024-01-01T00:00:00.000Z",
                             "issue_date_in_millis": 1_704_067_200_000, "max_nodes": 1000, "max_resource_units": None,
                             "issued_to": "my-cluster", "issuer": "elasticsearch", "start_date_in_millis": -1}}


# --------------------------------------------------------------------------- request building


def test_infer_request_puts_each_text_in_its_own_doc():
    request = ml.infer_request(MODEL_ID, ["ein roter Fuchs", "雪"], timeout="15s")
    assert (request.method, request.path) == ("POST", f"/_ml/trained_models/{MODEL_ID}/_infer")
    assert request.params == {"timeout": "15s"}
    assert request.body == {"docs": [{"text_field": "ein roter Fuchs"}, {"text_field": "雪"}]}
    assert ml.infer_request("a/b c", ["x"]).path == "/_ml/trained_models/a%2Fb%20c/_infer"
    with pytest.raises(ValueError):
        ml.infer_request(MODEL_ID, [])
    with pytest.raises(ValueError, match="IMGSEARCH_ES_MODEL_ID"):
        ml.infer_request(" ", ["x"])


def test_deployment_requests():
    assert ml.stats_request(MODEL_ID) == ml.MLRequest("GET", f"/_ml/trained_models/{MODEL_ID}/_stats")
    assert ml.model_config_request(MODEL_ID).params == {"include": "definition_status"}
    start = ml.start_deployment_request(MODEL_ID, timeout="90s", allocations=2, threads=4)
    assert (start.method, start.path) == ("POST", f"/_ml/trained_models/{MODEL_ID}/deployment/_start")
    assert start.params == {"wait_for": "started", "timeout": "90s", "number_of_allocations": 2, "threads_per_allocation": 4}
    assert start.body is None
    assert ml.stop_deployment_request(MODEL_ID).params == {"force": "true"}
    assert ml.delete_model_request(MODEL_ID).method == "DELETE"


def test_knn_query_vector_builder_forms():
    knn = knn_with_text(field="image_embedding", model_id=MODEL_ID, text="renard", k=5, num_candidates=50,
                        filter={"term": {"category": "animal"}}, similarity=0.6)
    assert knn == {"field": "image_embedding", "k": 5, "num_candidates": 50,
                   "query_vector_builder": {"text_embedding": {"model_id": MODEL_ID, "model_text": "renard"}},
                   "filter": {"term": {"category": "animal"}}, "similarity": 0.6}
    plain = {"field": "image_embedding", "query_vector": [0.1, 0.2], "k": 3, "num_candidates": 30, "filter": [{"term": {"x": 1}}]}
    swapped = with_query_vector_builder(plain, MODEL_ID, "fox")
    assert "query_vector" not in swapped and "query_vector" in plain  # the caller's clause is left alone
    assert swapped["query_vector_builder"]["text_embedding"]["model_text"] == "fox"
    assert {k: v for k, v in swapped.items() if k != "query_vector_builder"} == {
        k: v for k, v in plain.items() if k != "query_vector"}
    for bad in ({"k": 0, "num_candidates": 10}, {"k": 20, "num_candidates": 10}, {"k": 5, "num_candidates": 10_001}):
        with pytest.raises(ValueError):
            knn_with_text(field="f", model_id=MODEL_ID, text="x", **bad)
    with pytest.raises(ValueError, match="empty"):
        knn_with_text(field="f", model_id=MODEL_ID, text="  ", k=1, num_candidates=1)


def test_model_id_rules():
    assert check_model_id(MODEL_ID) == MODEL_ID
    for bad in ("Upper", "-leading", "trailing-", "has space", "x" * 65, ""):
        with pytest.raises(ValueError):
            check_model_id(bad)
    assert eland_model_source("clip-ViT-B-32-multilingual-v1") == "sentence-transformers/clip-ViT-B-32-multilingual-v1"
    assert eland_model_source("org/model") == "org/model"


# --------------------------------------------------------------------------- response parsing


def test_parse_infer_responses():
    one = ml.parse_infer_response(INFER_ONE, 1)
    assert one.dtype == np.float32 and one.tolist() == [[0.25, -1.5, 3.0, 0.0]]
    two = ml.parse_infer_response(INFER_TWO_TRUNCATED, 2)
    assert two.shape == (2, 4)
    assert np.allclose(l2_normalise(two), [[1 / 3, 2 / 3, 2 / 3, 0], [0, 0, 0.6, 0.8]])
    assert l2_normalise(np.zeros((1, 3))).tolist() == [[0, 0, 0]]
    with pytest.raises(ml.InferError, match="out of memory"):
        ml.parse_infer_response(INFER_DOC_ERROR, 2)
    with pytest.raises(ml.InferError, match="asked for 3"):
        ml.parse_infer_response(INFER_TWO_TRUNCATED, 3)
    with pytest.raises(ml.InferError, match="different sizes"):
        ml.parse_infer_response({"inference_results": [{"predicted_value": [1.0]}, {"predicted_value": [1.0, 2.0]}]}, 2)
    with pytest.raises(ml.InferError, match="no embedding"):
        ml.parse_infer_response({"inference_results": [{"predicted_value": "POSITIVE"}]}, 1)
    with pytest.raises(ml.InferError, match="no inference_results"):
        ml.parse_infer_response({"acknowledged": True}, 1)


def test_parse_deployment_states():
    assert ml.parse_deployment_state(STATS_STARTED, MODEL_ID) == "started"
    assert ml.parse_deployment_state(STATS_STARTING, MODEL_ID) == "starting"
    assert ml.parse_deployment_state(STATS_NOT_DEPLOYED, MODEL_ID) is None
    assert ml.parse_deployment_state(STATS_TWO_DEPLOYMENTS, MODEL_ID) == "started"
    assert ml.parse_deployment_state(STATS_TWO_DEPLOYMENTS, "for-ingest") == "stopping"
    assert ml.parse_deployment_state(STATS_STARTED, "another-model") is None
    assert ml.parse_deployment_state({"count": 0, "trained_model_stats": []}, MODEL_ID) is None
    # Early documentation describes deployment_stats as a list.
    as_list = {"trained_model_stats": [{"model_id": MODEL_ID, "deployment_stats": [{"model_id": MODEL_ID, "state": "started"}]}]}
    assert ml.parse_deployment_state(as_list, MODEL_ID) == "started"
    assert ml.deployment_progress(STATS_STARTED, MODEL_ID) == ("started", None)
    assert ml.deployment_progress(STATS_STARTING, MODEL_ID) == ("waiting", "starting")
    assert ml.deployment_progress(STATS_NOT_DEPLOYED, MODEL_ID) == ("waiting", None)
    assert ml.deployment_progress(STATS_FAILED, MODEL_ID) == ("failed", "not enough memory on node [ml-0]")


def test_parse_model_config_and_licence():
    config = ml.parse_model_config(MODEL_CONFIG, MODEL_ID)
    assert ml.embedding_size(config) == 512 and config["fully_defined"] is True
    assert ml.parse_model_config(MODEL_CONFIG, "other") is None
    assert ml.embedding_size({"inference_config": {"text_embedding": {"tokenization": {}}}}) is None
    assert ml.licence_allows_ml(LICENCE_BASIC) == (False, "basic", "active")
    for kind in ("platinum", "enterprise", "trial"):
        allowed = {"license": {**LICENCE_BASIC["license"], "type": kind}}
        assert ml.licence_allows_ml(allowed) == (True, kind, "active")
    assert ml.licence_allows_ml({"license": {"type": "gold", "status": "active"}})[0] is False
    assert ml.licence_allows_ml({"license": {"type": "platinum", "status": "expired"}})[0] is False
    assert ml.parse_version("9.5.4") == (9, 5, 4) and ml.parse_version("9.1.0-SNAPSHOT") == (9, 1, 0)


def test_error_bodies_become_clear_messages():
    url = "http://es:9200"
    missing = ml.parse_failure(404, ERROR_NOT_FOUND)
    assert missing.type == "resource_not_found_exception" and "imgsearch model upload" in ml.explain_failure(missing, MODEL_ID, url)
    not_allocated = ml.explain_failure(ml.parse_failure(409, ERROR_NOT_ALLOCATED), MODEL_ID, url)
    assert "not deployed and started" in not_allocated and "deployment/_start" in not_allocated
    licence = ml.parse_failure(403, ERROR_LICENCE)
    assert licence.licence and "Platinum" in ml.explain_failure(licence, MODEL_ID, url)
    no_ml = ml.parse_failure(400, ERROR_NO_HANDLER)
    assert no_ml.no_handler and no_ml.type is None
    message = ml.explain_failure(no_ml, MODEL_ID, url)
    assert "has no machine learning" in message and "IMGSEARCH_TEXT_BACKEND=local" in message
    assert "machine_learning_user" in ml.explain_failure(ml.parse_failure(403, {"error": {
        "type": "security_exception", "reason": "action [cluster:monitor/xpack/ml/info/get] is unauthorized"}}), MODEL_ID, url)
    assert ml.parse_failure(502, "Bad Gateway").reason == "Bad Gateway"


# --------------------------------------------------------------------------- the real node has no ML


@pytest.fixture
def cluster_without_ml(es):
    """The test node (integ-test-zip) has no ML plugin; a cluster given by ES_URL might, and then these
    tests cannot show the "no ML" path."""
    try:
        es.perform_request("GET", "/_ml/info", headers={"accept": "application/json"})
    except ApiError as exc:
        if ml.failure_of(exc).no_handler:
            return es
        raise
    pytest.skip("this cluster has machine learning; the no-ML path cannot be shown against it")


def test_real_node_without_ml_gives_the_clear_message(cluster_without_ml):
    es = cluster_without_ml
    with pytest.raises(ml.MLUnavailable) as caught:
        ml.check_ml_available(es)
    assert "has no machine learning" in str(caught.value) and "IMGSEARCH_TEXT_BACKEND=local" in str(caught.value)
    assert isinstance(caught.value, EncoderUnavailable)  # the CLI maps it to its model exit code
    assert ml.deployment_started(es, MODEL_ID) is False  # "auto" falls back to local encoding, no exception
    with pytest.raises(ml.MLUnavailable, match="has no machine learning"):
        ml.deployment_state(es, MODEL_ID)
    assert ml.cluster_version(es) >= (8, 8, 0)


def test_elasticsearch_encoder_on_a_node_without_ml(cluster_without_ml, settings):
    es = cluster_without_ml
    encoder = ElasticsearchTextEncoder(settings, es)
    assert encoder.name == settings.es_model_id
    with pytest.raises(EncoderUnsupported):
        encoder.encode_images([])
    with pytest.raises(ml.MLUnavailable, match="has no machine learning"):
        encoder.encode_texts(["ein roter Fuchs"])
    with pytest.raises(ml.MLUnavailable, match="has no machine learning"):
        _ = encoder.dims


def test_elasticsearch_encoder_unreachable_cluster(settings):
    unreachable = settings.with_overrides(es_url="http://127.0.0.1:9", es_request_timeout=2.0)
    encoder = ElasticsearchTextEncoder(unreachable, build_client(unreachable))
    with pytest.raises(EncoderUnavailable, match="cannot reach Elasticsearch"):
        encoder.encode_texts(["x"])


def test_model_upload_command_fails_clearly_without_ml(cluster_without_ml):
    """The real console command against the real node: exit code 5, one clear line, no traceback.

    The default model is a hub name that cannot be fetched here: the ML message (not a model-loading one)
    shows the cluster is checked before anything slow happens.
    """
    from es_search.cli import build_parser
    from es_search.errors import EXIT_MODEL

    names = {a.dest: a for a in build_parser()._actions}.get("command")
    if names is None or "model" not in names.choices:
        pytest.fail("the `model` command group is missing from es_search/cli/root.py CORE_COMMAND_MODULES")
    result = subprocess.run([sys.executable, "-m", "es_search.cli", "model", "upload"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == EXIT_MODEL == 5, result.stderr
    assert "has no machine learning" in result.stderr and "IMGSEARCH_TEXT_BACKEND=local" in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- eland tracing and parity


@pytest.fixture(scope="module")
def traced(tiny_models, tmp_path_factory):
    return trace_text_model(str(tiny_models.text), tmp_path_factory.mktemp("eland"), max_length=128,
                            es_version=(9, 5, 4))


def test_generated_model_config(traced, tiny_models):
    from transformers import AutoTokenizer

    config = json.loads(traced.config_path.read_text(encoding="utf-8"))
    assert config == traced.config
    assert config["model_type"] == "pytorch"
    assert config["input"] == {"field_names": ["text_field"]}
    assert list(config["inference_config"]) == ["text_embedding"]
    assert traced.embedding_size == tiny_models.dims
    # DistilBERT uses Elasticsearch's BERT WordPiece tokenizer; cased, like the real multilingual model.
    assert traced.tokenization == {"bert": {"do_lower_case": False, "max_sequence_length": 128, "truncate": "first"}}
    assert config["metadata"]["per_deployment_memory_bytes"] > 0
    vocabulary = json.loads(traced.vocab_path.read_text(encoding="utf-8"))["vocabulary"]
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_models.text))
    assert vocabulary == [t for t, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]
    assert vocabulary[0] == "[PAD]" and "[CLS]" in vocabulary and "[UNK]" in vocabulary


def _elasticsearch_style_inputs(traced, texts: list[str]):
    """Token ids as Elasticsearch makes them from what it is given — `vocabulary.json` and the tokenization
    config, nothing else: WordPiece, [CLS] … [SEP], truncation to max_sequence_length, the four BERT inputs."""
    import torch
    from transformers import BertTokenizer

    settings = traced.tokenization["bert"]
    vocab_txt = traced.folder / "vocab-from-vocabulary-json.txt"
    vocab_txt.write_text("\n".join(json.loads(traced.vocab_path.read_text(encoding="utf-8"))["vocabulary"]) + "\n",
                         encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab_txt), do_lower_case=settings["do_lower_case"], tokenize_chinese_chars=True)
    inputs = []
    for text in texts:
        ids = tokenizer(text, truncation=True, max_length=settings["max_sequence_length"])["input_ids"]
        ids_t = torch.tensor([ids], dtype=torch.long)
        inputs.append((ids_t, torch.ones_like(ids_t), torch.zeros_like(ids_t), torch.arange(len(ids)).unsqueeze(0)))
    return inputs


def test_torchscript_matches_the_local_encoder(traced, tiny_models, base_settings):
    import torch

    from es_search.encoders.local import LocalEncoder, load_sentence_transformer

    module = torch.jit.load(str(traced.model_path))
    texts = list(TEXTS.values())
    local_settings = base_settings.with_overrides(image_model=str(tiny_models.image), text_model=str(tiny_models.text),
                                                  device="cpu")
    local = LocalEncoder(local_settings)
    local_unit = local.encode_texts(texts)  # also caps the shared model at text_max_length
    st_model = load_sentence_transformer(str(tiny_models.text), "cpu", "IMGSEARCH_TEXT_MODEL")
    local_raw = st_model.encode(texts, normalize_embeddings=False, convert_to_numpy=True, batch_size=4)
    local_ids = st_model.tokenize(texts)["input_ids"]

    inputs = _elasticsearch_style_inputs(traced, texts)
    with torch.inference_mode():
        traced_raw = np.stack([module(*args)[0].numpy() for args in inputs]).astype(np.float32)
    traced_unit = l2_normalise(traced_raw)

    unk = json.loads(traced.vocab_path.read_text(encoding="utf-8"))["vocabulary"].index("[UNK]")
    figures = {}
    for i, lang in enumerate(TEXTS):
        es_ids = inputs[i][0][0].tolist()
        assert es_ids == [t for t in local_ids[i].tolist() if t != 0], f"{lang}: tokens differ"
        assert unk not in es_ids, f"{lang}: [UNK] means the vocabulary misses this script"
        raw = float(np.abs(traced_raw[i] - local_raw[i]).max())
        unit = float(np.abs(traced_unit[i] - local_unit[i]).max())
        figures[lang] = (len(es_ids), raw, unit)
        assert raw <= TOLERANCE and unit <= TOLERANCE, f"{lang}: max abs diff raw {raw:.2e}, normalised {unit:.2e}"
    assert figures["long"][0] == 128  # truncated like the local encoder
    print("\nparity eland TorchScript vs local encoder (tokens, max|diff| raw, max|diff| normalised):")
    for lang, (n, raw, unit) in figures.items():
        print(f"  {lang:5s} {n:4d} {raw:.2e} {unit:.2e}")


def test_torchscript_padded_batch_matches_single_texts(traced):
    """Several texts padded into one batch (attention mask 0 on padding) give the same vectors."""
    import torch

    module = torch.jit.load(str(traced.model_path))
    singles = _elasticsearch_style_inputs(traced, list(TEXTS.values())[:6])
    width = max(args[0].shape[1] for args in singles)
    ids = torch.zeros((len(singles), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, args in enumerate(singles):
        n = args[0].shape[1]
        ids[row, :n] = args[0][0]
        mask[row, :n] = 1
    with torch.inference_mode():
        batch = module(ids, mask, torch.zeros_like(ids), torch.arange(width).repeat(len(singles), 1)).numpy()
        one_by_one = np.stack([module(*args)[0].numpy() for args in singles])
    assert float(np.abs(batch - one_by_one).max()) <= TOLERANCE


def test_upload_export_writes_a_self_contained_folder(tiny_models, base_settings, tmp_path, capsys):
    """`imgsearch model upload --export DIR` traces without any cluster (ES_URL points nowhere)."""
    from es_search.ml_import import upload_command

    parser = argparse.ArgumentParser()
    add_upload_parser(parser.add_subparsers(dest="model_command"))
    args = parser.parse_args(["upload", "--source", str(tiny_models.text), "--export", str(tmp_path / "out")])
    nowhere = base_settings.with_overrides(es_url="http://127.0.0.1:9")
    assert upload_command(args, nowhere) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["embedding_size"] == tiny_models.dims
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"traced_pytorch_model.pt", "vocabulary.json", "config.json"}
    bad = parser.parse_args(["upload", "--model-id", "Not Valid"])
    assert upload_command(bad, nowhere) == 2
