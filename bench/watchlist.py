"""Watchlists: what the check at the door costs, and how well it catches copies.

1. Quality: F reference images and 8 copies of each (resized, recompressed, cropped 3 % and 10 % a side,
   colour-shifted, watermarked, mirrored, framed: tests/support/watchlist_families.py) plus U unrelated
   pictures are ingested against a `flag` list of the references, at the default thresholds. Recall is the
   share of copies flagged (with the reference they copy), the false-match rate the share of unrelated
   pictures flagged; both per kind of copy too.
2. Speed: the same N 640×480 JPEGs ingested with no watchlist and against a watchlist of R reference
   images, alternately, twice each, in one run; images/s for each, and the check's own milliseconds per
   image (time inside the screen, which includes the round trip to Elasticsearch). The R references are
   written straight into the watchlists index as random unit vectors with random hashes, two orientations
   each, as `watchlist add` would lay them out: the check's cost depends on the kNN over them, not on how
   they were made, and encoding 2 × R real images would take the run most of an hour on two cores.

The model is the full-size randomly initialised ViT-B/32 (bench/ingest.py), so images/s are real and the
vectors carry no meaning: the perceptual hashes alone keep unrelated pictures out, the hardest case.

    python bench/watchlist.py                       # 40 families, 400 unrelated; 200 images × 10,000 references
    python bench/watchlist.py --quick               # a first look

Figures: docs/benchmarks.md, "Watchlists".
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from elasticsearch import helpers  # noqa: E402

from es_search.client import build_client, check_cluster  # noqa: E402
from es_search.config import load_settings  # noqa: E402
from es_search.index import delete_index  # noqa: E402
from es_search.watchlists.lists import build_watchlist  # noqa: E402
from es_search.watchlists.screen import Screener  # noqa: E402
from es_search.watchlists.store import REFERENCE_VECTOR, WatchlistStore, reference_doc_id, watchlists_index  # noqa: E402


def make_jpegs(folder: Path, count: int) -> None:
    """bench/ingest.py's photo-like 640×480 JPEGs (loaded by path: `ingest` here is the package)."""
    spec = importlib.util.spec_from_file_location("bench_ingest", REPO / "bench" / "ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_jpegs(folder, count)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class CheckTimer:
    """Time spent inside Screener.check, and images checked, while installed."""

    def __enter__(self):
        self.seconds, self.images, original = 0.0, 0, Screener.check
        self._original = original

        def timed(screener, candidates, only=None):
            started = time.perf_counter()
            try:
                return original(screener, candidates, only)
            finally:
                self.seconds += time.perf_counter() - started
                self.images += len(candidates)

        Screener.check = timed
        return self

    def __exit__(self, *exc):
        Screener.check = self._original


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def quality(settings, es, encoders, work: Path, families: int, unrelated: int) -> dict:
    from ingest.runner import run_ingest
    from ingest.sources.folder import FolderSource
    from ingest.watchlist_refs import add_references
    from tests.support.watchlist_families import VARIANTS, write_watchlist_families

    written = write_watchlist_families(work / "families", families, unrelated)
    store = WatchlistStore(es, settings.index_alias)
    store.save(build_watchlist("bench", policy="flag", similarity=settings.watchlist_similarity,
                               phash_distance=settings.watchlist_phash_distance), create=True)
    added = add_references(settings, "bench", FolderSource([str(work / "families" / "references")]).items(), es=es,
                           image_encoder=encoders[0])
    summary = run_ingest(settings, [work / "families" / "copies", work / "families" / "unrelated"], es=es,
                         image_encoder=encoders[0], text_encoder=encoders[1])
    es.indices.refresh(index=settings.index_alias)
    flagged = {hit["_id"]: hit["_source"] for hit in helpers.scan(
        es, index=settings.index_alias, query={"query": {"exists": {"field": "watchlist_status"}},
                                               "_source": ["watchlist_matches"]})}
    per_kind = {kind: [0, 0] for kind in VARIANTS}
    distances = []
    best: dict[str, int] = {}  # each caught copy's closest distance to its own reference
    for reference, copies in written["copies"].items():
        for kind, copy in zip(VARIANTS, copies, strict=True):
            doc = flagged.get(sha(copy))
            caught = doc is not None and sha(reference) in {m.get("reference") for m in doc["watchlist_matches"]}
            per_kind[kind][0] += caught
            per_kind[kind][1] += 1
            if caught:
                own = [m["distance"] for m in doc["watchlist_matches"] if m.get("reference") == sha(reference)]
                distances += own
                best[sha(copy)] = min(own)
    false = [sha(path) for path in written["unrelated"] if sha(path) in flagged]
    missed = [(kind, sha(copy), sha(reference)) for reference, copies in written["copies"].items()
              for kind, copy in zip(VARIANTS, copies, strict=True)
              if sha(reference) not in {m.get("reference") for m in (flagged.get(sha(copy)) or {}).get(
                  "watchlist_matches", [])}]
    copies = sum(total for _, total in per_kind.values())
    unrelated_best = [min(m["distance"] for m in flagged[image]["watchlist_matches"]) for image in false]
    # What a stricter list (a lower distance) would have caught, from the same run.
    by_distance = {d: {"recall": round(sum(v <= d for v in best.values()) / copies, 4),
                       "false_matches": sum(v <= d for v in unrelated_best)}
                   for d in range(6, settings.watchlist_phash_distance + 1, 2)}
    return {"by_distance": by_distance,"references": added.added, "copies": copies, "unrelated": unrelated, "indexed": summary.indexed,
            "missed": [why(es, settings, kind, image, reference) for kind, image, reference in missed],
            "false": [flagged[image]["watchlist_matches"] for image in false],
            "recall": round(sum(c for c, _ in per_kind.values()) / copies, 4),
            "false_match_rate": round(len(false) / unrelated, 4), "false_matches": len(false),
            "recall_by_copy": {kind: round(c / t, 3) for kind, (c, t) in per_kind.items()},
            "max_matched_distance": max(distances, default=None),
            "thresholds": {"similarity": settings.watchlist_similarity,
                           "phash_distance": settings.watchlist_phash_distance}}


def why(es, settings, kind: str, image: str, reference: str) -> dict:
    """Why a copy was not caught: its best cosine to the reference (either orientation) and its closest hash."""
    from es_search.watchlists.matching import HASH_FIELDS, Candidate, min_distance

    doc = es.get(index=settings.index_alias, id=image, source_exclude_vectors=False)["_source"]
    candidate = Candidate.of_content(doc)
    refs = es.search(index=watchlists_index(settings.index_alias), source_exclude_vectors=False, query={"ids": {
        "values": [reference_doc_id("bench", reference, o) for o in ("as_is", "mirrored")]}})["hits"]["hits"]
    cosine = max(float(np.dot(candidate.vector, np.asarray(r["_source"][REFERENCE_VECTOR]))) for r in refs)
    distance = min_distance([doc[f] for f in HASH_FIELDS if doc.get(f)], refs[0]["_source"]["phashes"])
    return {"copy": kind, "cosine": round(cosine, 3), "distance": distance, "vector_ok": cosine >= settings.watchlist_similarity,
            "hash_ok": distance is not None and distance <= settings.watchlist_phash_distance}


def plant_references(es, alias: str, count: int, dims: int, seed: int = 5) -> float:
    """`count` random references (two orientations each) written straight into the watchlists index."""
    store = WatchlistStore(es, alias)
    store.save(build_watchlist("big", policy="flag", similarity=0.9, phash_distance=12), create=True)
    rng = np.random.default_rng(seed)

    def docs():
        for number in range(count):
            reference = hashlib.sha256(f"reference {number}".encode()).hexdigest()
            hashes = [f"{int(h):016x}" for h in rng.integers(0, 2**63, 8, dtype=np.int64)]
            for orientation in ("as_is", "mirrored"):
                vector = rng.standard_normal(dims).astype(np.float32)
                vector /= np.linalg.norm(vector)
                yield {"_index": store.index, "_id": reference_doc_id("big", reference, orientation), "_source": {
                    "kind": "reference", "list": "big", "reference": reference, "orientation": orientation,
                    "name": f"ref{number}.jpg", "phashes": hashes, "added_at": "2026-01-01T00:00:00Z",
                    REFERENCE_VECTOR: [round(float(x), 6) for x in vector]}}

    store.ensure()
    started = time.perf_counter()
    helpers.bulk(es, docs(), chunk_size=500, request_timeout=120)
    es.indices.refresh(index=store.index)
    es.indices.forcemerge(index=store.index, max_num_segments=1, request_timeout=600)
    return round(time.perf_counter() - started, 1)


def speed(base, es, encoders, work: Path, images: int, references: int, rounds: int) -> dict:
    from ingest.runner import run_ingest

    folder = work / "speed"
    make_jpegs(folder, images)
    with_list = f"bench-watch-big-{uuid.uuid4().hex[:8]}"
    planted_seconds = plant_references(es, with_list, references, encoders[0].dims)
    runs: dict[str, list[dict]] = {"none": [], "watchlist": []}
    try:
        for number in range(rounds):
            for case in ("none", "watchlist"):
                alias = with_list if case == "watchlist" else f"bench-watch-none-{uuid.uuid4().hex[:8]}"
                settings = base.with_overrides(index_alias=alias, data_dir=work / f"data-{case}-{number}")
                with CheckTimer() as timer:
                    started = time.perf_counter()
                    summary = run_ingest(settings, [folder], es=es, image_encoder=encoders[0],
                                         text_encoder=encoders[1])
                    seconds = time.perf_counter() - started
                if summary.indexed != images or summary.failed:
                    raise SystemExit(f"expected {images} indexed, got {summary.to_dict()}")
                runs[case].append({"images_per_s": round(images / seconds, 2),
                                   "check_ms_per_image": round(1000 * timer.seconds / max(timer.images, 1), 2)})
                log(f"  {case} round {number + 1}: {runs[case][-1]}")
                delete_index(es, alias)
    finally:
        delete_index(es, with_list)
        es.indices.delete(index=watchlists_index(with_list), ignore_unavailable=True)
    mean = {case: round(statistics.mean(r["images_per_s"] for r in found), 2) for case, found in runs.items()}
    return {"images": images, "references": references, "reference_documents": 2 * references,
            "planting_seconds": planted_seconds, "rounds": runs, "images_per_s": mean,
            "watchlist_vs_none": round(mean["watchlist"] / mean["none"], 3),
            "check_ms_per_image": {case: round(statistics.mean(r["check_ms_per_image"] for r in found), 2)
                                   for case, found in runs.items()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 families, 60 unrelated; 60 images × 1,000 references")
    parser.add_argument("--families", type=int)
    parser.add_argument("--unrelated", type=int)
    parser.add_argument("--images", type=int)
    parser.add_argument("--references", type=int)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--backend", default="onnx-int8", help="torch, onnx-fp32 or onnx-int8 (default)")
    args = parser.parse_args(argv)
    families = args.families or (10 if args.quick else 40)
    unrelated = args.unrelated or (60 if args.quick else 400)
    images = args.images or (60 if args.quick else 200)
    references = args.references or (1000 if args.quick else 10_000)
    load_at_start = round(os.getloadavg()[0], 2)

    from es_search.encoders import build_image_encoder, build_text_encoder
    from es_search.tiny_model import make_random_clip

    base = load_settings()
    es = build_client(base)
    check_cluster(es, base)
    model_dir = make_random_clip(base.data_dir / "bench-models" / "random-clip-vit-b-32", full_size=True)
    base = base.with_overrides(image_model=str(model_dir), text_model=str(model_dir), text_backend="local",
                               image_backend=args.backend)
    # The ONNX export is cached beside the shared data, so it is made once per machine.
    encoders = (build_image_encoder(base.with_overrides(data_dir=base.data_dir / "bench-data")),
                build_text_encoder(base, es))
    work = Path(tempfile.mkdtemp(prefix="imgsearch-bench-watch-"))
    alias = f"bench-watch-quality-{uuid.uuid4().hex[:8]}"
    try:
        log(f"quality: {families} families of 8 copies, {unrelated} unrelated")
        found = quality(base.with_overrides(index_alias=alias, data_dir=work / "data-quality"), es, encoders, work,
                        families, unrelated)
        log(f"  {found}")
        log(f"speed: {images} images, none against {references} references, {args.rounds} rounds")
        timing = speed(base, es, encoders, work, images, references, args.rounds)
    finally:
        delete_index(es, alias)
        es.indices.delete(index=watchlists_index(alias), ignore_unavailable=True)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"benchmark": "watchlist", "backend": args.backend, "cpus": len(os.sched_getaffinity(0)),
                      "load_average_1m": [load_at_start, round(os.getloadavg()[0], 2)], "batch_size": base.batch_size,
                      "quality": found, "speed": timing}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
