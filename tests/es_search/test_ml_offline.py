"""Elasticsearch ML without an ML node: eland tracing and vector parity, response parsing, and the "no ML here"
path against the real node (which has no ML, like any Basic-licence cluster without it).

Response fixtures are the documented shapes in tests/support/ml_responses.py. What the typed client sends
is checked against a stand-in ML node in test_ml_requests.py.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest
from elasticsearch import ApiError

from es_search.cli.model import register as register_model_commands
from es_search.client import build_client
from es_search.config import REPO_ROOT
from es_search.encoders.base import EncoderUnavailable, EncoderUnsupported
from es_search.encoders.elasticsearch import ElasticsearchTextEncoder
from es_search.ml.deployment import deployment_progress, deployment_started, deployment_state, parse_deployment_state
from es_search.ml.errors import MLUnavailable, failure_of, parse_failure
from es_search.ml.infer import InferError, parse_infer_response
from es_search.ml.licence import check_ml_available, licence_allows_ml
from es_search.ml.messages import explain_failure
from es_search.ml.model_id import check_model_id
from es_search.ml.models import embedding_size, parse_model_config
from es_search.ml.trace import eland_model_source, parse_version, trace_text_model
from es_search.ml.upload import cluster_version
from es_search.vectors import l2_normalise
from tests.support.ml_responses import (
    ERROR_LICENCE,
    ERROR_NO_HANDLER,
    ERROR_NOT_ALLOCATED,
    ERROR_NOT_FOUND,
    INFER_DOC_ERROR,
    INFER_ONE,
    INFER_TWO_TRUNCATED,
    LICENCE_BASIC,
    MODEL_CONFIG,
    MODEL_ID,
    STATS_FAILED,
    STATS_NOT_DEPLOYED,
    STATS_STARTED,
    STATS_STARTING,
    STATS_TWO_DEPLOYMENTS,
)

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


# --------------------------------------------------------------------------- model ids


def test_model_id_rules():
    assert check_model_id(MODEL_ID) == MODEL_ID
    for bad in ("Upper", "-leading", "trailing-", "has space", "x" * 65, ""):
        with pytest.raises(ValueError):
            check_model_id(bad)
    assert eland_model_source("clip-ViT-B-32-multilingual-v1") == "sentence-transformers/clip-ViT-B-32-multilingual-v1"
    assert eland_model_source("org/model") == "org/model"


# --------------------------------------------------------------------------- response parsing


def test_parse_infer_responses():
    one = parse_infer_response(INFER_ONE, 1)
    assert one.dtype == np.float32 and one.tolist() == [[0.25, -1.5, 3.0, 0.0]]
    two = parse_infer_response(INFER_TWO_TRUNCATED, 2)
    assert two.shape == (2, 4)
    assert np.allclose(l2_normalise(two), [[1 / 3, 2 / 3, 2 / 3, 0], [0, 0, 0.6, 0.8]])
    assert l2_normalise(np.zeros((1, 3))).tolist() == [[0, 0, 0]]
    with pytest.raises(InferError, match="out of memory"):
        parse_infer_response(INFER_DOC_ERROR, 2)
    with pytest.raises(InferError, match="asked for 3"):
        parse_infer_response(INFER_TWO_TRUNCATED, 3)
    with pytest.raises(InferError, match="different sizes"):
        parse_infer_response({"inference_results": [{"predicted_value": [1.0]}, {"predicted_value": [1.0, 2.0]}]}, 2)
    with pytest.raises(InferError, match="no embedding"):
        parse_infer_response({"inference_results": [{"predicted_value": "POSITIVE"}]}, 1)
    with pytest.raises(InferError, match="no inference_results"):
        parse_infer_response({"acknowledged": True}, 1)


def test_parse_deployment_states():
    assert parse_deployment_state(STATS_STARTED, MODEL_ID) == "started"
    assert parse_deployment_state(STATS_STARTING, MODEL_ID) == "starting"
    assert parse_deployment_state(STATS_NOT_DEPLOYED, MODEL_ID) is None
    assert parse_deployment_state(STATS_TWO_DEPLOYMENTS, MODEL_ID) == "started"
    assert parse_deployment_state(STATS_TWO_DEPLOYMENTS, "for-ingest") == "stopping"
    assert parse_deployment_state(STATS_STARTED, "another-model") is None
    assert parse_deployment_state({"count": 0, "trained_model_stats": []}, MODEL_ID) is None
    # Early documentation describes deployment_stats as a list.
    as_list = {"trained_model_stats": [{"model_id": MODEL_ID, "deployment_stats": [{"model_id": MODEL_ID, "state": "started"}]}]}
    assert parse_deployment_state(as_list, MODEL_ID) == "started"
    assert deployment_progress(STATS_STARTED, MODEL_ID) == ("started", None)
    assert deployment_progress(STATS_STARTING, MODEL_ID) == ("waiting", "starting")
    assert deployment_progress(STATS_NOT_DEPLOYED, MODEL_ID) == ("waiting", None)
    assert deployment_progress(STATS_FAILED, MODEL_ID) == ("failed", "not enough memory on node [ml-0]")


def test_parse_model_config_and_licence():
    config = parse_model_config(MODEL_CONFIG, MODEL_ID)
    assert embedding_size(config) == 512 and config["fully_defined"] is True
    assert parse_model_config(MODEL_CONFIG, "other") is None
    assert embedding_size({"inference_config": {"text_embedding": {"tokenization": {}}}}) is None
    assert licence_allows_ml(LICENCE_BASIC) == (False, "basic", "active")
    for kind in ("platinum", "enterprise", "trial"):
        allowed = {"license": {**LICENCE_BASIC["license"], "type": kind}}
        assert licence_allows_ml(allowed) == (True, kind, "active")
    assert licence_allows_ml({"license": {"type": "gold", "status": "active"}})[0] is False
    assert licence_allows_ml({"license": {"type": "platinum", "status": "expired"}})[0] is False
    assert parse_version("9.5.4") == (9, 5, 4) and parse_version("9.1.0-SNAPSHOT") == (9, 1, 0)


def test_error_bodies_become_clear_messages():
    url = "http://es:9200"
    missing = parse_failure(404, ERROR_NOT_FOUND)
    assert missing.type == "resource_not_found_exception" and "imgsearch model upload" in explain_failure(missing, MODEL_ID, url)
    not_allocated = explain_failure(parse_failure(409, ERROR_NOT_ALLOCATED), MODEL_ID, url)
    assert "not deployed and started" in not_allocated and "deployment/_start" in not_allocated
    licence = parse_failure(403, ERROR_LICENCE)
    assert licence.licence and "Platinum" in explain_failure(licence, MODEL_ID, url)
    no_ml = parse_failure(400, ERROR_NO_HANDLER)
    assert no_ml.no_handler and no_ml.type is None
    message = explain_failure(no_ml, MODEL_ID, url)
    assert "has no machine learning" in message and "IMGSEARCH_TEXT_BACKEND=local" in message
    assert "machine_learning_user" in explain_failure(parse_failure(403, {"error": {
        "type": "security_exception", "reason": "action [cluster:monitor/xpack/ml/info/get] is unauthorized"}}), MODEL_ID, url)
    assert parse_failure(502, "Bad Gateway").reason == "Bad Gateway"


# --------------------------------------------------------------------------- the real node has no ML


@pytest.fixture
def cluster_without_ml(es):
    """The test node (integ-test-zip) has no ML plugin; a cluster given by ES_URL might, and then these
    tests cannot show the "no ML" path."""
    try:
        es.ml.info()
    except ApiError as exc:
        if failure_of(exc).no_handler:
            return es
        raise
    pytest.skip("this cluster has machine learning; the no-ML path cannot be shown against it")


def test_real_node_without_ml_gives_the_clear_message(cluster_without_ml):
    es = cluster_without_ml
    with pytest.raises(MLUnavailable) as caught:
        check_ml_available(es)
    assert "has no machine learning" in str(caught.value) and "IMGSEARCH_TEXT_BACKEND=local" in str(caught.value)
    assert isinstance(caught.value, EncoderUnavailable)  # the CLI maps it to its model exit code
    assert deployment_started(es, MODEL_ID) is False  # "auto" falls back to local encoding, no exception
    with pytest.raises(MLUnavailable, match="has no machine learning"):
        deployment_state(es, MODEL_ID)
    assert cluster_version(es) >= (8, 8, 0)


def test_elasticsearch_encoder_on_a_node_without_ml(cluster_without_ml, settings):
    es = cluster_without_ml
    encoder = ElasticsearchTextEncoder(settings, es)
    assert encoder.name == settings.es_model_id
    with pytest.raises(EncoderUnsupported):
        encoder.encode_images([])
    with pytest.raises(MLUnavailable, match="has no machine learning"):
        encoder.encode_texts(["ein roter Fuchs"])
    with pytest.raises(MLUnavailable, match="has no machine learning"):
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

    from es_search.encoders.local import LocalEncoder
    from es_search.model_loading import load_sentence_transformer

    module = torch.jit.load(str(traced.model_path))
    texts = list(TEXTS.values())
    # The PyTorch runtime: this compares tokens and outputs with the sentence-transformers model itself
    # (the ONNX runtime's parity with it is tested in test_onnx_text.py).
    local_settings = base_settings.with_overrides(image_model=str(tiny_models.image), text_model=str(tiny_models.text),
                                                  device="cpu", text_runtime="torch")
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
    parser = argparse.ArgumentParser()
    register_model_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["model", "upload", "--source", str(tiny_models.text), "--export", str(tmp_path / "out")])
    nowhere = base_settings.with_overrides(es_url="http://127.0.0.1:9")
    assert args.func(args, nowhere) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["embedding_size"] == tiny_models.dims
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"traced_pytorch_model.pt", "vocabulary.json", "config.json"}
    bad = parser.parse_args(["model", "upload", "--model-id", "Not Valid"])
    assert bad.func(bad, nowhere) == 2
