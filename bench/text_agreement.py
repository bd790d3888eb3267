"""How far each way of running the text model drifts from today's PyTorch fp32 vectors, and how fast each is.

Runtimes compared with PyTorch fp32 (the reference, and what Elasticsearch runs after an eland upload):
ONNX Runtime fp32 (the default on a CPU), ONNX Runtime int8, PyTorch int8. For each: mean and lowest
cosine to the reference over a multilingual query set (21 languages in 15 scripts, no [UNK] token), the
top-10 overlap of the image rankings those vectors give over the search benchmark's 100k vectors (exact
search in numpy, so only the model differs), and the one-thread encoding latency of one query.

The text model has clip-ViT-B-32-multilingual-v1's shapes with random weights (no downloads here), built by
bench/search.py. Real weights may drift more under int8 (outlier activations); fp32 ONNX runs the same
graph. The last line printed is one JSON object.

    .venv/bin/python bench/text_agreement.py [--images 100000] [--per-language 12]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search import Mixture, exact_top_k, log, make_full_size_text_model  # noqa: E402

from es_search.config import load_settings  # noqa: E402
from es_search.encoders import build_text_encoder  # noqa: E402

# Everyday photo words, by language; queries are 1 to 3 of them. Script in the comment.
WORDS = {
    "en": "red dress beach snow mountain cat dog city night sunset old car".split(),  # Latin
    "fr": "robe rouge plage neige montagne chat chien ville nuit soleil vieille voiture".split(),
    "de": "rotes Kleid Strand Schnee Berg Katze Hund Stadt Nacht Sonnenuntergang altes Auto".split(),
    "es": "vestido rojo playa nieve montaña gato perro ciudad noche atardecer viejo coche".split(),
    "tr": "kırmızı elbise plaj kar dağ kedi köpek şehir gece günbatımı eski araba".split(),
    "pl": "czerwona sukienka plaża śnieg góra kot pies miasto noc zachód stary samochód".split(),
    "ru": "красное платье пляж снег гора кошка собака город ночь закат старый машина".split(),  # Cyrillic
    "uk": "червона сукня пляж сніг гора кіт собака місто ніч захід старий автомобіль".split(),
    "el": "κόκκινο φόρεμα παραλία χιόνι βουνό γάτα σκύλος πόλη νύχτα ηλιοβασίλεμα παλιό αυτοκίνητο".split(),
    "hy": "կարմիր զգեստ լողափ ձյուն լեռ կատու շուն քաղաք գիշեր մայրամուտ հին մեքենա".split(),  # Armenian
    "ka": "წითელი კაბა სანაპირო თოვლი მთა კატა ძაღლი ქალაქი ღამე მზე ძველი მანქანა".split(),  # Georgian
    "he": "אדום שמלה חוף שלג הר חתול כלב עיר לילה שקיעה ישן מכונית".split(),  # Hebrew
    "ar": "أحمر فستان شاطئ ثلج جبل قطة كلب مدينة ليل غروب قديم سيارة".split(),  # Arabic
    "fa": "قرمز لباس ساحل برف کوه گربه سگ شهر شب غروب قدیمی ماشین".split(),
    "hi": "लाल पोशाक समुद्र बर्फ पहाड़ बिल्ली कुत्ता शहर रात सूर्यास्त पुराना गाड़ी".split(),  # Devanagari
    "bn": "লাল পোশাক সৈকত তুষার পাহাড় বিড়াল কুকুর শহর রাত সূর্যাস্ত পুরানো গাড়ি".split(),  # Bengali
    "ta": "சிவப்பு ஆடை கடற்கரை பனி மலை பூனை நாய் நகரம் இரவு அந்தி பழைய கார்".split(),  # Tamil
    "th": "สีแดง ชุด ชายหาด หิมะ ภูเขา แมว สุนัข เมือง กลางคืน พระอาทิตย์ตก เก่า รถยนต์".split(),  # Thai
    "ja": "赤い ドレス ビーチ 雪 山 猫 犬 街 夜 夕日 古い 車".split(),  # Han, Hiragana, Katakana
    "ko": "빨간 드레스 해변 눈 산 고양이 개 도시 밤 일몰 오래된 자동차".split(),  # Hangul
    "zh": "红色 连衣裙 海滩 雪 山 猫 狗 城市 夜晚 日落 老 汽车".split(),  # Han
}
NO_SPACES = {"ja", "zh", "th"}
SCRIPTS = ("Latin", "Cyrillic", "Greek", "Armenian", "Georgian", "Hebrew", "Arabic", "Devanagari", "Bengali",
           "Tamil", "Thai", "Han", "Hiragana", "Katakana", "Hangul")
RUNTIMES = {  # name: (IMGSEARCH_TEXT_RUNTIME, IMGSEARCH_TEXT_QUANTIZE)
    "torch-fp32": ("torch", "none"),
    "onnx-fp32": ("onnx", "none"),
    "onnx-int8": ("onnx", "int8"),
    "torch-int8": ("torch", "int8"),
}
TARGETS = {"mean_cosine": 0.995, "top10_overlap": 0.95}


def multilingual_queries(per_language: int, seed: int = 11) -> list[tuple[str, str]]:
    """(language, query) pairs: `per_language` distinct queries of 1–3 words for every language."""
    rng = np.random.default_rng(seed)
    out = []
    for language, words in WORDS.items():
        seen: set[str] = set()
        while len(seen) < per_language:
            picked = [words[j] for j in rng.choice(len(words), 1 + len(seen) % 3, replace=False)]
            text = ("" if language in NO_SPACES else " ").join(picked)
            if text not in seen:
                seen.add(text)
                out.append((language, text))
    return out


def unknown_tokens(model_dir: Path, texts: list[str]) -> int:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    return sum(tokenizer(text)["input_ids"].count(tokenizer.unk_token_id) for text in texts)


def one_thread_latency_ms(encoder, texts: list[str]) -> dict:
    import torch

    torch.set_num_threads(1)  # as each web worker runs it (webapp/cli.py); ONNX sessions use one thread too
    for text in texts[:20]:
        encoder.encode_texts([text])
    times = []
    for text in texts:
        start = time.perf_counter()
        encoder.encode_texts([text])
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"p50": round(statistics.median(times), 2), "p99": round(times[int(0.99 * (len(times) - 1))], 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100_000, help="image vectors to rank (default 100000)")
    parser.add_argument("--per-language", type=int, default=12, help="queries per language (default 12)")
    args = parser.parse_args(argv)

    settings = load_settings()
    model_dir = make_full_size_text_model(settings.data_dir / "bench-models" / "full-size-multilingual-text")
    pairs = multilingual_queries(args.per_language)
    texts = [text for _, text in pairs]
    unknown = unknown_tokens(model_dir, texts)
    log(f"{len(texts)} queries in {len(WORDS)} languages, {len(SCRIPTS)} scripts; [UNK] tokens: {unknown}")

    vectors, latency = {}, {}
    for name, (runtime, quantize) in RUNTIMES.items():
        encoder = build_text_encoder(settings.with_overrides(
            text_model=str(model_dir), text_backend="local", device="cpu", text_runtime=runtime,
            text_quantize=quantize))
        vectors[name] = encoder.encode_texts(texts)
        latency[name] = one_thread_latency_ms(encoder, texts)
        log(f"{name}: one query p50 {latency[name]['p50']} ms")

    mixture = Mixture(dims=vectors["torch-fp32"].shape[1], n=args.images, seed=21)
    centres = mixture.centres()
    reference_ids, _ = exact_top_k(mixture, centres, vectors["torch-fp32"])
    agreement = {}
    for name in RUNTIMES:
        if name == "torch-fp32":
            continue
        cosines = np.sum(vectors[name] * vectors["torch-fp32"], axis=1)
        ids, _ = exact_top_k(mixture, centres, vectors[name])
        overlap = [len(set(a) & set(b)) / a.size for a, b in zip(ids, reference_ids, strict=True)]
        by_language = {}
        for language in WORDS:
            rows = [i for i, (lang, _) in enumerate(pairs) if lang == language]
            by_language[language] = round(float(np.mean(cosines[rows])), 5)
        agreement[name] = {
            "mean_cosine": round(float(np.mean(cosines)), 5), "min_cosine": round(float(np.min(cosines)), 5),
            "top10_overlap": round(float(np.mean(overlap)), 4), "min_top10_overlap": round(float(np.min(overlap)), 2),
            "worst_language": min(by_language, key=by_language.get),
            "targets_met": bool(np.mean(cosines) >= TARGETS["mean_cosine"]
                                and np.mean(overlap) >= TARGETS["top10_overlap"]),
        }
    speedup = {name: round(latency["torch-fp32"]["p50"] / latency[name]["p50"], 2) for name in RUNTIMES}
    print(json.dumps({
        "benchmark": "text_agreement", "queries": len(texts), "languages": len(WORDS), "scripts": len(SCRIPTS),
        "unknown_tokens": unknown, "images": args.images, "load_average_1m": round(os.getloadavg()[0], 2),
        "one_query_ms": latency, "speedup_vs_torch_fp32": speedup, "agreement_vs_torch_fp32": agreement,
        "targets": TARGETS,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
