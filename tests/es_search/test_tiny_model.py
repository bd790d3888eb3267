"""The tiny random models: built offline, loadable by sentence-transformers alone, deterministic."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from es_search.tiny_model import is_random_model, make_random_clip, make_tiny_models, wordpiece_vocabulary

MULTILINGUAL = {
    "en": "a photo of a dog on the beach",
    "zh": "海滩上一只狗的照片",
    "ja": "浜辺の犬の写真です",
    "ru": "фотография собаки на пляже",
    "ar": "صورة كلب على الشاطئ",
    "ko": "해변의 강아지 사진",
    "el": "φωτογραφία ενός σκύλου",
}

OFFLINE_LOAD = """
import json, sys
from sentence_transformers import SentenceTransformer
from PIL import Image
image_model = SentenceTransformer(sys.argv[1], device="cpu")
text_model = SentenceTransformer(sys.argv[2], device="cpu")
img = image_model.encode([Image.new("RGB", (40, 30), (200, 10, 10))])
txt = text_model.encode(["un chien", "一只狗"])
eng = image_model.encode(["a dog"])
print(json.dumps([img.shape[1], txt.shape[1], eng.shape[1], text_model.max_seq_length]))
"""


def test_tiny_models_load_with_sentence_transformers_offline(tiny_models):
    # A fresh interpreter with the hub switched off proves nothing is fetched from the network.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", OFFLINE_LOAD, str(tiny_models.image), str(tiny_models.text)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == f"[{tiny_models.dims}, {tiny_models.dims}, {tiny_models.dims}, 128]"


def test_folders_are_laid_out_like_the_real_models(tiny_models):
    assert (tiny_models.image / "modules.json").is_file()
    assert (tiny_models.image / "0_CLIPModel" / "preprocessor_config.json").is_file()
    assert (tiny_models.text / "2_Dense" / "config.json").is_file()
    assert (tiny_models.text / "vocab.txt").is_file()
    assert is_random_model(tiny_models.image) and is_random_model(tiny_models.text)


def test_same_seed_gives_identical_weights_and_another_seed_does_not(tmp_path):
    first = make_random_clip(tmp_path / "a", dims=16, seed=3)
    second = make_random_clip(tmp_path / "b", dims=16, seed=3)
    third = make_random_clip(tmp_path / "c", dims=16, seed=4)

    def digest(folder):
        return hashlib.sha256((folder / "0_CLIPModel" / "model.safetensors").read_bytes()).hexdigest()

    assert digest(first) == digest(second)
    assert digest(first) != digest(third)


def test_existing_model_is_reused_and_changed_parameters_rebuild(tmp_path):
    image, text = make_tiny_models(tmp_path, dims=16)
    stamp = (text / "model.safetensors").stat().st_mtime_ns
    assert make_tiny_models(tmp_path, dims=16) == (image, text)
    assert (text / "model.safetensors").stat().st_mtime_ns == stamp
    make_tiny_models(tmp_path, dims=24)
    assert '"dims": 24' in (text / "imgsearch_random_model.json").read_text()
    assert not list(tmp_path.glob("*.partial-*"))


def test_full_size_clip_refuses_other_dims(tmp_path):
    with pytest.raises(ValueError):
        make_random_clip(tmp_path / "x", full_size=True, dims=32)


def test_vocabulary_has_no_duplicates_and_covers_many_scripts():
    vocab = wordpiece_vocabulary()
    assert len(vocab) == len(set(vocab))
    for ch in ("狗", "犬", "の", "с", "##о", "ك", "##ب", "강", "##지", "λ"):
        assert ch in vocab, ch


@pytest.mark.parametrize("lang", sorted(MULTILINGUAL))
def test_text_in_each_script_tokenizes_to_known_pieces(tiny_models, lang):
    from transformers import AutoTokenizer

    # use_fast=False is the tokenizer eland traces with for Elasticsearch.
    for fast in (True, False):
        tokenizer = AutoTokenizer.from_pretrained(str(tiny_models.text), use_fast=fast)
        ids = tokenizer(MULTILINGUAL[lang], add_special_tokens=False)["input_ids"]
        assert ids and tokenizer.unk_token_id not in ids, (lang, fast, tokenizer.convert_ids_to_tokens(ids))
