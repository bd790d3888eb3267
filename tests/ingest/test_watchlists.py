"""Watchlists at the door, on a real node with the tiny random model: every generated copy of a reference
image is caught under each policy, no unrelated picture is caught at the default thresholds, a held image is
in no search, similar, facet or duplicate group until released, and a scan finds the images indexed before.

The tiny model's vectors carry no meaning (unrelated pictures reach cosine 0.99 with it), so here the
perceptual hashes alone keep unrelated pictures out: the hardest case for the default thresholds.
"""

from __future__ import annotations

import hashlib

import pytest

from es_search.search.filters import SearchFilters
from es_search.search.request import SearchRequest
from es_search.search.service import SearchService
from es_search.watchlists.lists import build_watchlist
from es_search.watchlists.scan import scan_collection, state_path
from es_search.watchlists.store import WatchlistStore, watchlists_index
from ingest.report import read_report
from ingest.runner import run_ingest
from ingest.sources.folder import FolderSource
from ingest.thumbnails import thumbnail_relpath
from ingest.watchlist_refs import add_references
from tests.support.watchlist_families import VARIANTS, write_watchlist_families

REFERENCES, UNRELATED = 3, 24


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def families(tmp_path):
    return write_watchlist_families(tmp_path / "images", REFERENCES, UNRELATED)


@pytest.fixture
def watch(es, tiny_settings, families):
    """A function making watchlist `name` with `policy` over the families' reference images."""
    from es_search.encoders import build_image_encoder

    store = WatchlistStore(es, tiny_settings.index_alias)

    def make(name: str, policy: str):
        store.save(build_watchlist(name, policy=policy, similarity=tiny_settings.watchlist_similarity,
                                   phash_distance=tiny_settings.watchlist_phash_distance), create=True)
        added = add_references(tiny_settings, name, FolderSource([str(families["references"][0].parent)]).items(),
                               es=es, image_encoder=build_image_encoder(tiny_settings))
        assert (added.added, added.failed) == (REFERENCES, 0)
        return store

    yield make
    es.indices.delete(index=watchlists_index(tiny_settings.index_alias), ignore_unavailable=True)


def _docs(es, alias) -> dict[str, dict]:
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=1000, source_excludes=["image_embedding"])["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


def _copies(families) -> dict[str, str]:
    """{copy's sha256: its reference's sha256}."""
    return {sha(copy): sha(reference) for reference, copies in families["copies"].items() for copy in copies}


def _ingest_everything(settings, families):
    return run_ingest(settings, [families["references"][0].parent.parent / "copies",
                                 families["unrelated"][0].parent])


def test_flag_marks_every_copy_with_its_reference_and_nothing_else(es, tiny_settings, families, watch):
    watch("brand-photos", "flag")
    summary = _ingest_everything(tiny_settings, families)
    copies = _copies(families)
    assert summary.indexed == len(copies) + UNRELATED and summary.failed == 0
    docs = _docs(es, tiny_settings.index_alias)
    flagged = {doc_id for doc_id, doc in docs.items() if doc.get("watchlist_status")}
    assert flagged == set(copies), "every copy caught, no unrelated picture"
    for doc_id in flagged:
        doc = docs[doc_id]
        assert doc["watchlist_status"] == "flagged" and doc["watchlists"] == ["brand-photos"]
        assert {m["reference"] for m in doc["watchlist_matches"]} == {copies[doc_id]}
        assert all(m["distance"] <= tiny_settings.watchlist_phash_distance for m in doc["watchlist_matches"])
    # Filterable, and still searchable.
    service = SearchService(es, tiny_settings)
    found = service.search(SearchRequest(text="a photo", size=100,
                                         filters=SearchFilters(terms={"watchlist": ("brand-photos",)})))
    assert {hit.id for hit in found.hits} == set(copies)


def test_refuse_indexes_no_copy_and_reports_each_with_the_list(es, tiny_settings, families, watch):
    watch("banned", "refuse")
    summary = _ingest_everything(tiny_settings, families)
    copies = _copies(families)
    assert summary.indexed == UNRELATED and summary.failed == len(copies)
    assert summary.failure_reasons == {"watchlist_match": len(copies)}
    assert summary.watchlist_matches == {"banned refuse": len(copies)}
    assert not set(_docs(es, tiny_settings.index_alias)) & set(copies)
    entries, _ = read_report(summary.report)
    assert len(entries) == len(copies)
    assert all(e["reason"] == "watchlist_match" and "watchlist banned" in e["message"] for e in entries)
    assert {sha(p) for p in families["unrelated"]} <= set(_docs(es, tiny_settings.index_alias))
    thumbnails = tiny_settings.thumbnails_dir
    assert not any((thumbnails / thumbnail_relpath(copy)).exists() for copy in copies), "none left behind"
    assert all((thumbnails / thumbnail_relpath(sha(p))).exists() for p in families["unrelated"])


def test_a_held_image_is_in_no_search_until_released(es, tiny_settings, families, watch):
    from es_search.duplicates.service import DuplicateFinder
    from es_search.errors import ImageNotFound
    from es_search.watchlists.review import release, review_queue

    watch("review-first", "hold")
    _ingest_everything(tiny_settings, families)
    copies = _copies(families)
    docs = _docs(es, tiny_settings.index_alias)
    held = {doc_id for doc_id, doc in docs.items() if doc.get("watchlist_status") == "held"}
    assert held == set(copies)
    service = SearchService(es, tiny_settings)
    everything = service.search(SearchRequest(size=100))  # browse
    assert everything.total == UNRELATED and not {h.id for h in everything.hits} & held
    by_text = service.search(SearchRequest(text="shapes", size=100))
    assert not {h.id for h in by_text.hits} & held
    some_unrelated = sha(families["unrelated"][0])
    similar = service.similar(some_unrelated, size=100)
    assert not {h.id for h in similar.hits} & held
    one_held = sorted(held)[0]
    with pytest.raises(ImageNotFound):
        service.similar(one_held)
    with pytest.raises(ImageNotFound):
        service.get_image(one_held)
    assert service.facets(SearchFilters())["matching"] == UNRELATED
    finder = DuplicateFinder(es, tiny_settings)
    finder.regroup(restart=True)
    grouped = {m.id for group in finder.groups(size=50).groups for m in group.members}
    assert not grouped & held, "a held image joins no near-duplicate group"

    queue = review_queue(es, tiny_settings.index_alias, status="held", size=100)
    assert {item["id"] for item in queue.items} == held and queue.total == len(held)
    assert all(item["references"] for item in queue.items)
    release(es, tiny_settings.index_alias, one_held)
    assert one_held in {h.id for h in service.search(SearchRequest(size=100)).hits}
    assert service.get_image(one_held)["watchlist_status"] == "released"


def test_a_scan_finds_what_was_indexed_before_the_list_and_resumes(es, tiny_settings, families, watch):
    _ingest_everything(tiny_settings, families)
    assert not any(d.get("watchlist_status") for d in _docs(es, tiny_settings.index_alias).values())
    watch("late", "refuse")
    progress = scan_collection(es, tiny_settings, "late")
    copies = _copies(families)
    assert progress.checked == len(copies) + UNRELATED and progress.matched == len(copies)
    docs = _docs(es, tiny_settings.index_alias)
    # A scan never deletes: a refusing list holds what is indexed already.
    assert {d for d, doc in docs.items() if doc.get("watchlist_status") == "held"} == set(copies)
    assert state_path(tiny_settings, "late").is_file()
    again = scan_collection(es, tiny_settings, "late")
    assert again.checked == len(copies) + UNRELATED and again.changed == 0, "a second pass changes nothing"


def test_no_list_no_fields_and_a_bad_reference_is_reported(es, tiny_settings, families, watch, tmp_path):
    summary = run_ingest(tiny_settings, [families["unrelated"][0].parent])
    assert summary.indexed == UNRELATED
    assert not any(d.get("watchlists") for d in _docs(es, tiny_settings.index_alias).values())
    store = watch("with-junk", "flag")
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    from es_search.encoders import build_image_encoder

    added = add_references(tiny_settings, "with-junk", FolderSource([str(junk)]).items(), es=es,
                           image_encoder=build_image_encoder(tiny_settings))
    assert added.added == 0 and added.failed == 1 and added.failures[0]["image"].endswith("broken.jpg")
    assert store.reference_count("with-junk") == REFERENCES
    assert VARIANTS  # the families cover every kind of copy named in the module


def test_records_files_and_video_frames_are_checked_at_the_same_door(es, tiny_settings, families, watch, tmp_path):
    import av
    import numpy as np
    from PIL import Image

    from ingest.runner import run_records_ingest
    from tests.support.catalogue import write_csv

    watch("catalogue-check", "flag")
    reference = families["references"][0]
    copy = families["copies"][reference][1]  # recompressed
    rows = [{"id": "SKU-1", "image": str(copy), "title": "a copy"},
            {"id": "SKU-2", "image": str(families["unrelated"][0]), "title": "its own"}]
    summary = run_records_ingest(tiny_settings, write_csv(tmp_path / "catalogue.csv", rows))
    assert summary.indexed == 2
    docs = _docs(es, tiny_settings.index_alias)
    assert docs["SKU-1"]["watchlist_status"] == "flagged" and "watchlist_status" not in docs["SKU-2"]

    # A video showing the reference image for 3 s, then a plain grey scene: only the first frames match.
    video = tmp_path / "clips" / "lobby.mp4"
    video.parent.mkdir()
    still = np.asarray(Image.open(reference).convert("RGB").resize((320, 240)))
    with av.open(str(video), "w") as out:
        stream = out.add_stream("libx264", rate=5, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for n in range(30):
            frame = still if n < 15 else np.full((240, 320, 3), 128, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    frames = run_ingest(tiny_settings, [video.parent])
    assert frames.indexed >= 2 and frames.watchlist_matches.get("catalogue-check flag", 0) >= 1
    docs = _docs(es, tiny_settings.index_alias)
    from_video = {doc_id: doc for doc_id, doc in docs.items() if doc.get("video_id")}
    flagged_times = sorted(doc["video_time"] for doc in from_video.values() if doc.get("watchlist_status"))
    assert flagged_times and max(flagged_times) < 3.0, "the frames showing the reference, and only those"
    assert any(doc["video_time"] >= 3.0 and not doc.get("watchlist_status") for doc in from_video.values())


def test_a_prompt_catches_exactly_the_images_its_text_reaches(es, tiny_settings, families):
    """The threshold is set between the stored images' own cosines to the prompt, so the images it must
    catch are known beforehand (computed here with numpy from the stored vectors)."""
    import numpy as np

    from es_search.encoders import build_text_encoder

    run_ingest(tiny_settings, [families["unrelated"][0].parent])
    encoder = build_text_encoder(tiny_settings, es)
    prompt = encoder.encode_texts(["a red circle"])[0]
    prompt = prompt / np.linalg.norm(prompt)
    es.indices.refresh(index=tiny_settings.index_alias)
    hits = es.search(index=tiny_settings.index_alias, size=100, source_includes=["image_embedding"],
                     source_exclude_vectors=False)["hits"]["hits"]
    cosines = {h["_id"]: float(np.dot(v := np.asarray(h["_source"]["image_embedding"]), prompt) / np.linalg.norm(v))
               for h in hits}
    threshold = float(np.median(list(cosines.values())))
    expected = {doc_id for doc_id, cosine in cosines.items() if cosine >= threshold}
    assert 0 < len(expected) < len(cosines)
    store = WatchlistStore(es, tiny_settings.index_alias)
    try:
        store.save(build_watchlist("words", policy="flag", similarity=0.9, phash_distance=12,
                                   prompts=[("a red circle", threshold)], encode=encoder.encode_texts), create=True)
        scan_collection(es, tiny_settings, "words")
        flagged = {d for d, doc in _docs(es, tiny_settings.index_alias).items() if doc.get("watchlist_status")}
        assert flagged == expected
        match = _docs(es, tiny_settings.index_alias)[sorted(expected)[0]]["watchlist_matches"][0]
        assert match["prompt"] == "a red circle" and match["similarity"] >= round(threshold, 4) - 1e-4
    finally:
        es.indices.delete(index=watchlists_index(tiny_settings.index_alias), ignore_unavailable=True)


def test_an_interrupted_scan_goes_on_where_it_stopped(es, tiny_settings, families, watch, monkeypatch):
    import es_search.watchlists.scan as scan

    _ingest_everything(tiny_settings, families)
    watch("resumed", "flag")
    monkeypatch.setattr(scan, "PAGE", 10)

    def stop_after_the_first_page(images: int, progress) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scan_collection(es, tiny_settings, "resumed", on_page=stop_after_the_first_page)
    seen: list[int] = []
    progress = scan_collection(es, tiny_settings, "resumed", on_page=lambda images, p: seen.append(images))
    total = len(_copies(families)) + UNRELATED
    assert sum(seen) == total - 10, "the first page is not read again"
    assert progress.checked == total and progress.matched == len(_copies(families))
    flagged = {d for d, doc in _docs(es, tiny_settings.index_alias).items() if doc.get("watchlist_status")}
    assert flagged == set(_copies(families))
