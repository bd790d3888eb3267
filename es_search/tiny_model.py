"""Randomly initialised stand-ins for the real models, built offline for tests, smoke runs and benchmarks.

`make_tiny_models` writes two local sentence-transformers folders laid out like the real ones:
- image: a tiny CLIP (`sentence_transformers.models.CLIPModel`), like `clip-ViT-B-32`, which encodes
  images and English text;
- text: DistilBERT + mean pooling + Dense, like `clip-ViT-B-32-multilingual-v1`, with a hand-made
  WordPiece vocabulary that covers Latin, CJK, Kana, Hangul, Cyrillic, Greek, Arabic and more,
  so text in those scripts turns into real token ids (and Elasticsearch's eland can trace it).
Both project to `dims`, so their vectors share one (meaningless) space of the right shape.

`make_random_clip(out_dir, full_size=True)` builds an untrained ViT-B/32-sized CLIP for benchmarks.
Weights are random: vectors are deterministic for a seed but carry no meaning.
"""

from __future__ import annotations

import json
import os
import shutil
import string
import uuid
from pathlib import Path

# Bump when the layout or vocabulary changes, so cached copies are rebuilt.
TINY_MODEL_VERSION = "1"
MARKER_FILE = "imgsearch_random_model.json"

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TEXT_MAX_SEQ_LENGTH = 128

# Enough words that English text does not fall apart into single characters.
COMMON_WORDS = (
    "a an the of in on at to for with and or is are was be by from as this that it its photo picture image "
    "dog dogs cat cats bird car cars tree trees flower flowers house city street mountain mountains sea "
    "beach sky sun sunset night snow water river lake forest food man woman men women child children people "
    "person red green blue yellow white black orange purple pink brown grey gray old new big small "
    "drawing painting portrait landscape animal plant vehicle building architecture document art object "
    "clothing shirt dress hat boat train plane bike road field grass cloud clouds rain light dark "
    "warm cool neutral bright happy one two three four five"
).split()


# --------------------------------------------------------------------------- public entry points


def make_tiny_models(out_dir: str | Path, dims: int = 32, seed: int = 0) -> tuple[Path, Path]:
    """Write (or reuse) a tiny image model and a tiny multilingual text model under `out_dir`; return both paths."""
    out_dir = Path(out_dir)
    image_dir = make_random_clip(out_dir / "tiny-clip", full_size=False, dims=dims, seed=seed)
    text_dir = make_random_multilingual_text_model(out_dir / "tiny-multilingual", dims=dims, seed=seed)
    return image_dir, text_dir


def make_random_clip(out_dir: str | Path, full_size: bool = False, dims: int | None = None, seed: int = 0) -> Path:
    """Write (or reuse) a randomly initialised CLIP as a sentence-transformers folder and return its path.

    `full_size=True` uses the ViT-B/32 shapes of `clip-ViT-B-32` (224 px, patch 32, 512-d projection);
    otherwise a tiny CLIP projecting to `dims` (default 32). Deterministic for a seed.
    """
    out_dir = Path(out_dir)
    if full_size and dims not in (None, 512):
        raise ValueError("the full-size CLIP projects to 512 dimensions")
    dims = 512 if full_size else (dims or 32)
    marker = {"version": TINY_MODEL_VERSION, "kind": "clip", "full_size": full_size, "dims": dims, "seed": seed}
    if _marker_matches(out_dir, marker):
        return out_dir

    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    tmp = _fresh_tmp(out_dir)
    module_dir = tmp / "0_CLIPModel"
    module_dir.mkdir(parents=True)
    vocab_file, merges_file = _write_clip_bpe_vocab(tmp / "bpe")
    tokenizer = CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=77)
    if full_size:
        config = CLIPConfig(projection_dim=512)  # the defaults are openai/clip-vit-base-patch32's shapes
        image_size = config.vision_config.image_size
    else:
        image_size = 32
        config = CLIPConfig(
            text_config={
                "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                "num_attention_heads": 2, "max_position_embeddings": 77,
            },
            vision_config={
                "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                "image_size": image_size, "patch_size": 8,
            },
            projection_dim=dims,
        )
    # CLIP's tokenizer marks the end of text with its highest id, which get_text_features pools on.
    config.text_config.eos_token_id = tokenizer.eos_token_id
    config.text_config.bos_token_id = tokenizer.bos_token_id
    config.text_config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    model.save_pretrained(module_dir, safe_serialization=True)
    image_processor = CLIPImageProcessor(
        do_resize=True, size={"shortest_edge": image_size}, resample=3, do_center_crop=True,
        crop_size={"height": image_size, "width": image_size}, do_rescale=True, rescale_factor=1 / 255,
        do_normalize=True, image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD), do_convert_rgb=True,
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(module_dir)
    shutil.rmtree(tmp / "bpe")
    _write_json(tmp / "modules.json", [
        {"idx": 0, "name": "0", "path": "0_CLIPModel", "type": "sentence_transformers.models.CLIPModel"},
    ])
    _write_json(tmp / "config_sentence_transformers.json", {"prompts": {}, "default_prompt_name": None,
                                                            "similarity_fn_name": "cosine"})
    _finish(tmp, out_dir, marker)
    return out_dir


def make_random_multilingual_text_model(out_dir: str | Path, dims: int = 32, seed: int = 0) -> Path:
    """Write (or reuse) a tiny DistilBERT + mean pooling + Dense(dims) sentence-transformers folder."""
    out_dir = Path(out_dir)
    marker = {"version": TINY_MODEL_VERSION, "kind": "multilingual-text", "dims": dims, "seed": seed}
    if _marker_matches(out_dir, marker):
        return out_dir

    import torch
    try:  # sentence-transformers ≥ 5.4 moved the modules; the old path still works but warns
        from sentence_transformers.sentence_transformer.modules import Dense, Pooling
    except ImportError:
        from sentence_transformers.models import Dense, Pooling
    from transformers import DistilBertConfig, DistilBertModel, DistilBertTokenizer

    tmp = _fresh_tmp(out_dir)
    tmp.mkdir(parents=True)
    vocab_file = tmp / "vocab.txt"
    vocab_file.write_text("\n".join(wordpiece_vocabulary()) + "\n", encoding="utf-8")
    # Cased like the real multilingual DistilBERT: no lower-casing, no accent stripping.
    tokenizer = DistilBertTokenizer(str(vocab_file), do_lower_case=False, tokenize_chinese_chars=True,
                                    model_max_length=TEXT_MAX_SEQ_LENGTH)
    hidden = 48
    config = DistilBertConfig(vocab_size=len(tokenizer), dim=hidden, hidden_dim=96, n_layers=2, n_heads=2,
                              max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    DistilBertModel(config).eval().save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    _write_json(tmp / "sentence_bert_config.json", {"max_seq_length": TEXT_MAX_SEQ_LENGTH, "do_lower_case": False})
    (tmp / "1_Pooling").mkdir()
    Pooling(hidden, pooling_mode="mean").save(str(tmp / "1_Pooling"))
    (tmp / "2_Dense").mkdir()
    torch.manual_seed(seed + 1)
    Dense(hidden, dims, bias=False, activation_function=torch.nn.Identity()).save(str(tmp / "2_Dense"))
    _write_json(tmp / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ])
    _write_json(tmp / "config_sentence_transformers.json", {"prompts": {}, "default_prompt_name": None,
                                                            "similarity_fn_name": "cosine"})
    _finish(tmp, out_dir, marker)
    return out_dir


def is_random_model(path: str | Path) -> bool:
    """True when `path` is a folder written by this module (random weights, meaningless vectors)."""
    return (Path(path) / MARKER_FILE).is_file()


# --------------------------------------------------------------------------- vocabularies (pure)


def wordpiece_vocabulary() -> list[str]:
    """A cased WordPiece vocabulary: specials, ASCII, common words, and characters of many scripts.

    CJK ideographs are split into single characters by BERT's tokenizer, so they need no `##` forms;
    alphabetic scripts (Latin, Cyrillic, Greek, Arabic, Hebrew, Kana, Hangul, ...) get both forms so
    a word of any length tokenizes to known pieces.
    """
    vocab: list[str] = ["[PAD]"] + [f"[unused{i}]" for i in range(10)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    seen = set(vocab)

    def add(token: str) -> None:
        if token not in seen:
            seen.add(token)
            vocab.append(token)

    for ch in string.punctuation + string.digits + string.ascii_letters:
        add(ch)
    for ch in string.digits + string.ascii_letters:
        add("##" + ch)
    for word in COMMON_WORDS:
        add(word)
        add(word.capitalize())
        add("##" + word)
    for suffix in ("s", "es", "ed", "ing", "er", "est", "ly", "tion"):
        add("##" + suffix)
    for ch in _alphabetic_script_characters():
        add(ch)
        add("##" + ch)
    for ch in _cjk_ideographs():
        add(ch)
    return vocab


def _alphabetic_script_characters() -> list[str]:
    ranges = (
        (0x00C0, 0x024F),  # Latin-1 letters and Latin Extended-A/B
        (0x0370, 0x03FF),  # Greek
        (0x0400, 0x04FF),  # Cyrillic
        (0x0590, 0x05FF),  # Hebrew
        (0x0600, 0x06FF),  # Arabic
        (0x0900, 0x097F),  # Devanagari
        (0x0E00, 0x0E7F),  # Thai
        (0x3040, 0x30FF),  # Hiragana and Katakana
    )
    chars = [chr(cp) for lo, hi in ranges for cp in range(lo, hi + 1) if chr(cp).isprintable()]
    # Hangul syllables: the 2,350 of KS X 1001 (what EUC-KR encodes) cover everyday Korean.
    chars += [chr(cp) for cp in range(0xAC00, 0xD7A4) if _encodable(chr(cp), "euc_kr")]
    # BERT's basic tokenizer splits off every punctuation and symbol character, so those need no ## form.
    return [c for c in chars if c.isalpha() or c.isdigit() or _is_combining_mark(c)]


def _cjk_ideographs() -> list[str]:
    """Common Han characters: those in GB2312 (simplified Chinese) or Shift-JIS (Japanese kanji)."""
    return [chr(cp) for cp in range(0x4E00, 0xA000)
            if _encodable(chr(cp), "gb2312") or _encodable(chr(cp), "shift_jis")]


def _encodable(ch: str, codec: str) -> bool:
    try:
        ch.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def _is_combining_mark(ch: str) -> bool:
    import unicodedata

    return unicodedata.category(ch).startswith("M")


def _clip_bpe_vocabulary() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A small byte-level BPE vocabulary in CLIP's format: 512 byte tokens, merges for common words, specials."""
    byte_chars = list(_bytes_to_unicode().values())
    tokens = byte_chars + [c + "</w>" for c in byte_chars]
    merges: list[tuple[str, str]] = []
    seen = set(tokens)
    for word in COMMON_WORDS:
        # Build each word left to right: "d o" → "do", "do g</w>" → "dog</w>".
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            pair = (pieces[0], pieces[1])
            merged = pieces[0] + pieces[1]
            if merged not in seen:
                seen.add(merged)
                tokens.append(merged)
                merges.append(pair)
            pieces = [merged] + pieces[2:]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {tok: i for i, tok in enumerate(tokens)}, merges


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte → printable-character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


# --------------------------------------------------------------------------- file helpers (I/O)


def _write_clip_bpe_vocab(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = _clip_bpe_vocabulary()
    vocab_file = folder / "vocab.json"
    merges_file = folder / "merges.txt"
    _write_json(vocab_file, vocab)
    merges_file.write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n", encoding="utf-8")
    return vocab_file, merges_file


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _marker_matches(out_dir: Path, marker: dict) -> bool:
    try:
        return json.loads((out_dir / MARKER_FILE).read_text(encoding="utf-8")) == marker
    except (OSError, ValueError):
        return False


def _fresh_tmp(out_dir: Path) -> Path:
    # Build beside the target and rename at the end, so neither a crash nor a second process building
    # the same model at the same time (parallel test runs) leaves a half-written folder in place.
    tmp = out_dir.with_name(f"{out_dir.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    return tmp


def _finish(tmp: Path, out_dir: Path, marker: dict) -> None:
    _write_json(tmp / MARKER_FILE, marker)
    if out_dir.exists():
        if _marker_matches(out_dir, marker):  # someone else finished the same model first
            shutil.rmtree(tmp)
            return
        shutil.rmtree(out_dir)
    try:
        tmp.rename(out_dir)
    except OSError:
        if not _marker_matches(out_dir, marker):
            raise
        shutil.rmtree(tmp)
