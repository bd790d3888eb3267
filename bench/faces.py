"""Faces: the engine's milliseconds per image, and grouping synthetic face vectors into people at scale.

    python bench/faces.py engine               # ms per image with no face, one face, a group of ten
    python bench/faces.py grouping --n 100000  # seconds, precision and recall of planted identities

`engine` runs the real dlib models (face-recognition-models) on the face_recognition package's test photos
(fetched as the tests fetch them): a textured photo without a face, one portrait, and ten faces pasted on a
2400×1000 canvas; each image is run `--repeat` times on one thread, the median printed.

`grouping` plants identities among n one-face documents: identities of 1 to 20 faces (geometric sizes), each
a centre drawn so that two centres lie about 0.9 apart (the distance dlib's descriptors put between different
people) and faces about 0.27 from each other (same person); 5 % of faces are hard (about 0.45 from their
own), and 2 % of identities have a look-alike (a relative), a second identity about 0.55 from them. Precision and recall
are over pairs of faces: predicted when one person holds both, true when one identity does. The documents go
into an index of the real mapping under an alias of our own (deleted afterwards); the grouping is the
product's `PeopleStore.group_pending`, timed alone. Prints one JSON line each, with the load average.

Figures: docs/benchmarks.md, "Faces".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DIMS = 128
CENTRE_SIGMA = 0.9 / np.sqrt(2 * DIMS)  # two centres ≈ 0.9 apart
FACE_SIGMA = 0.27 / np.sqrt(2 * DIMS)  # two faces of one identity ≈ 0.27 apart
HARD_SIGMA = 0.45 / np.sqrt(DIMS)  # a hard face ≈ 0.45 from its centre
HARD_SHARE, LOOKALIKE_SHARE, LOOKALIKE_DISTANCE = 0.05, 0.02, 0.55


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- engine


def engine_images(cache_dir: Path) -> dict:
    from PIL import Image, ImageFilter

    from tests.support.face_photos import astronaut_jpeg, face_photos

    photos = face_photos(cache_dir)
    rng = np.random.default_rng(3)
    noise = (rng.random((600, 800, 3)) * 255).astype(np.uint8)
    no_face = Image.fromarray(noise).filter(ImageFilter.GaussianBlur(2)).resize((1600, 1200))
    one = Image.open(photos["obama.jpg"]).convert("RGB")
    with tempfile.TemporaryDirectory() as folder:
        astronaut_jpeg(Path(folder) / "a.jpg")
        sources = [Image.open(p).convert("RGB") for p in photos.values()] + [Image.open(Path(folder) / "a.jpg").convert("RGB")]
    from es_search.faces.engine import shared_face_engine

    engine = shared_face_engine()
    crops = []
    for image in sources:  # each source's face, with a margin, at 200 pixels
        x, y, w, h = engine.faces(image)[0].box
        box = (max(0, (x - w * 0.4) * image.width), max(0, (y - h * 0.5) * image.height),
               min(image.width, (x + w * 1.4) * image.width), min(image.height, (y + h * 1.4) * image.height))
        crops.append(image.crop(tuple(round(v) for v in box)).resize((200, 240)))
    group = Image.new("RGB", (2400, 1000), (120, 130, 140))
    for n in range(10):
        group.paste(crops[n % len(crops)], (40 + (n % 5) * 470, 120 + (n // 5) * 440))
    return {"no_face": no_face, "one_face": one, "ten_faces": group}


def bench_engine(args) -> int:
    from es_search.config import load_settings
    from es_search.faces.engine import shared_face_engine

    engine = shared_face_engine()
    engine.load()
    images = engine_images(load_settings().es_cache_dir)
    figures = {}
    for name, image in images.items():
        found = engine.faces(image)
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            engine.faces(image)
            times.append((time.perf_counter() - started) * 1000)
        figures[name] = {"size": list(image.size), "faces": len(found),
                         "compared": sum(f.comparable for f in found), "ms_median": round(statistics.median(times), 1),
                         "ms_min": round(min(times), 1)}
    print(json.dumps({"engine": figures, "repeat": args.repeat, "load_average": os.getloadavg()}))
    return 0


# --------------------------------------------------------------------------- grouping


def planted_faces(n: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """n face vectors and their identity numbers."""
    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(min(20, rng.geometric(0.25))))
    sizes[-1] -= sum(sizes) - n
    centres = rng.normal(0, CENTRE_SIGMA, (len(sizes), DIMS))
    for identity in rng.choice(len(sizes), size=int(len(sizes) * LOOKALIKE_SHARE), replace=False):
        other = (identity + 1) % len(sizes)  # a look-alike: `other` moved next to `identity`
        direction = rng.normal(0, 1, DIMS)
        centres[other] = centres[identity] + LOOKALIKE_DISTANCE * direction / np.linalg.norm(direction)
    identities = np.repeat(np.arange(len(sizes)), sizes)
    faces = centres[identities] + rng.normal(0, FACE_SIGMA, (n, DIMS))
    hard = rng.random(n) < HARD_SHARE
    faces[hard] = centres[identities[hard]] + rng.normal(0, HARD_SIGMA, (int(hard.sum()), DIMS))
    order = rng.permutation(n)  # identities spread over the ingest, as photos are
    return faces[order].astype(np.float32), identities[order]


def pair_scores(predicted: dict[str, str], truth: dict[str, int]) -> tuple[float, float]:
    """Precision and recall over pairs of faces, from the contingency table (no pair list at 100k)."""
    def pairs(counts) -> int:
        return sum(c * (c - 1) // 2 for c in counts)

    both: dict[tuple, int] = {}
    by_person: dict[str, int] = {}
    by_identity: dict[int, int] = {}
    for face, person in predicted.items():
        both[(person, truth[face])] = both.get((person, truth[face]), 0) + 1
        by_person[person] = by_person.get(person, 0) + 1
    for identity in truth.values():
        by_identity[identity] = by_identity.get(identity, 0) + 1
    hit, said, true = pairs(both.values()), pairs(by_person.values()), pairs(by_identity.values())
    return (hit / said if said else 1.0), (hit / true if true else 1.0)


def bench_grouping(args) -> int:
    from elasticsearch import helpers

    from es_search.client import build_client, check_cluster
    from es_search.config import load_settings
    from es_search.faces.store import PeopleStore
    from es_search.index import delete_index, ensure_index

    base = load_settings()
    alias = f"bench-faces-{args.n}"
    vectors, identities = planted_faces(args.n)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = base.with_overrides(index_alias=alias, data_dir=Path(data_dir))
        es = build_client(settings).options(request_timeout=600)
        check_cluster(es, settings)
        delete_index(es, alias)
        try:
            index = ensure_index(es, settings, 512)

            def documents():
                for row, vector in enumerate(vectors):
                    doc_id = f"{row:064d}"
                    yield {"_index": index, "_id": doc_id, "_source": {
                        "sha256": doc_id, "image_id": doc_id, "width": 640, "height": 480,
                        "indexed_at": "2026-01-01T00:00:00+00:00", "people_count": 1, "people": [],
                        "faces": [{"box": [0.4, 0.3, 0.2, 0.25], "score": 1.0, "quality": "ok",
                                   "vector": [round(float(v), 6) for v in vector]}]}}

            started = time.perf_counter()
            for ok, item in helpers.parallel_bulk(es, documents(), thread_count=2, chunk_size=1000, queue_size=4):
                if not ok:
                    raise RuntimeError(f"bulk failed: {item}")
            es.indices.refresh(index=index)
            load_seconds = time.perf_counter() - started
            log(f"loaded {args.n} faces in {load_seconds:.0f} s; grouping")
            store = PeopleStore(es, alias, settings.face_match_distance)
            started = time.perf_counter()
            result = store.group_pending()
            group_seconds = time.perf_counter() - started
            predicted = {}
            query = {"query": {"match_all": {}}, "_source": ["faces.person"]}
            for hit in helpers.scan(es, index=alias, query=query, size=1000):
                person = (hit["_source"].get("faces") or [{}])[0].get("person")
                if person:
                    predicted[hit["_id"]] = person
            truth = {f"{row:064d}": int(identity) for row, identity in enumerate(identities)}
            precision, recall = pair_scores(predicted, truth)
            print(json.dumps({"n": args.n, "identities": int(identities.max()) + 1, "people": len(set(predicted.values())),
                              "group_seconds": round(group_seconds, 1), "faces_per_second": round(args.n / group_seconds),
                              "load_seconds": round(load_seconds, 1), "grouped": result.faces,
                              "precision": round(precision, 4), "recall": round(recall, 4),
                              "threshold": settings.face_match_distance, "load_average": os.getloadavg()}))
        finally:
            if not args.keep:
                delete_index(es, alias)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    engine = sub.add_parser("engine", help="ms per image")
    engine.add_argument("--repeat", type=int, default=5)
    engine.set_defaults(func=bench_engine)
    grouping = sub.add_parser("grouping", help="people from planted identities")
    grouping.add_argument("--n", type=int, default=100_000)
    grouping.add_argument("--keep", action="store_true", help="keep the index afterwards")
    grouping.set_defaults(func=bench_grouping)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
