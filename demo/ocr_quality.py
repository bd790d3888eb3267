"""How well text inside images is read and found, measured on drawn images (demo/rendered_text.py): the
figures of bench/ocr.py, and the targets tests/ingest/test_ocr_collection.py holds them to."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

from demo.rendered_text import phone_photo, png_bytes


def char_accuracy(truth: str, read: str) -> float:
    """1 − edit distance / length of the truth, spaces and line breaks left out."""
    a, b = "".join(truth.split()), "".join(read.split())
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return 1 - previous[-1] / max(1, len(a))


def word_search(settings, es, drawn, work: Path) -> dict:
    from es_search.search import SearchService
    from es_search.search.request import SearchRequest
    from ingest.runner import run_ingest

    folder = work / "collection"
    folder.mkdir()
    for item in drawn:
        (folder / f"{item.name}.png").write_bytes(png_bytes(item.image))
    summary = run_ingest(settings, [folder], es=es)
    es.indices.refresh(index=settings.index_alias)
    # Words that one image only holds, by the ground truth (the whole text of every image).
    holders = Counter(word for item in drawn for word in set(item.unique) if sum(word in other.text for other in drawn) == 1)
    service = SearchService(es, settings)
    found: dict[str, list[int]] = {"en": [], "zh": []}
    hybrid: dict[str, list[int]] = {"en": [], "zh": []}
    for item in drawn:
        for word in item.unique:
            if holders.get(word) != 1:
                continue
            for mode, tally in (("text", found), ("hybrid", hybrid)):
                hits = service.search(SearchRequest(text=word, mode=mode, size=3)).hits
                tally[item.language].append(any(h.source.get("file_name") == f"{item.name}.png" for h in hits))
    # What the ingest stored against what was drawn, per language.
    stored = {hit["_source"]["file_name"]: hit["_source"].get("ocr_text", "") for hit in es.search(
        index=settings.index_alias, size=len(drawn), source=["file_name", "ocr_text"])["hits"]["hits"]}
    accuracy: dict[str, list[float]] = {"en": [], "zh": []}
    for item in drawn:
        accuracy[item.language].append(char_accuracy(item.text, stored.get(f"{item.name}.png", "")))
    return {"indexed": summary.indexed, "queries_en": len(found["en"]), "queries_zh": len(found["zh"]),
            "stored_char_accuracy_en": round(sum(accuracy["en"]) / len(accuracy["en"]), 4),
            "stored_char_accuracy_zh": round(sum(accuracy["zh"]) / len(accuracy["zh"]), 4),
            "top3_en": round(sum(found["en"]) / len(found["en"]), 4),
            "top3_zh": round(sum(found["zh"]) / len(found["zh"]), 4),
            "hybrid_top3_en": round(sum(hybrid["en"]) / len(hybrid["en"]), 4),
            "hybrid_top3_zh": round(sum(hybrid["zh"]) / len(hybrid["zh"]), 4)}


def question_photos(settings, es, bank, photos: int) -> dict:
    from es_search.remote import RemoteReader
    from es_search.search import SearchService
    from es_search.search.request import SearchRequest
    from ingest.image_write import ImageWriter
    from ingest.write_ops import ImageInput, WriteOp

    service = SearchService(es, settings)
    with RemoteReader(settings) as reader:
        writer = ImageWriter(es, settings, service, reader)
        for start in range(0, len(bank), 50):
            ops = [WriteOp("index", q.question_id, {}, ImageInput(data=png_bytes(q.image), name=f"{q.question_id}.png"))
                   for q in bank[start:start + 50]]
            assert all(o.ok for o in writer.apply(ops, refresh="false"))
    es.indices.refresh(index=settings.index_alias)
    picked = random.Random(1).sample(bank, photos)
    rank1 = top5 = 0
    search_s = 0.0
    for question in picked:
        photo = phone_photo(question.image, seed=int(question.question_id[1:]))
        started = time.perf_counter()
        hits = service.search(SearchRequest(size=5), image=photo).hits
        search_s += time.perf_counter() - started
        ids = [h.id for h in hits]
        rank1 += bool(ids) and ids[0] == question.question_id
        top5 += question.question_id in ids
    return {"bank": len(bank), "photos": photos, "question_rank1": round(rank1 / photos, 4),
            "question_top5": round(top5 / photos, 4),
            "ms_per_photo_search": round(1000 * search_s / photos, 1)}
