"""Every Kibana Dev Tools request in docs/devtools.md runs against the real node, in order.

Blocks marked `requires: ...` (machine learning, a paid licence) are not run; the test names them instead.
Those marked `requires: security` run on a node with security on, in tests/webapp/test_cluster_security.py.
The demo index name is replaced with one of this test's own so parallel runs cannot collide. Blocks marked
`index: ingested` name the real alias `images`: they run on an index with the real mapping holding
documents the real ingest wrote, and `query-vector: stored` fills their `query_vector` from one of them.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

import numpy as np
import pytest

from es_search.config import REPO_ROOT, Settings
from es_search.fields import VECTOR_FIELD
from es_search.ml.infer import infer_docs
from ingest.runner import run_ingest
from tests.support.ingest_cases import jpeg

DOC_PATH = REPO_ROOT / "docs" / "devtools.md"
DEMO_INDEX = "images-devtools-demo"
REAL_ALIAS = "images"

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.S | re.M)
_MARKER = re.compile(r"<!--\s*request:\s*(?P<spec>.*?)\s*-->\s*$")


@dataclass
class DocRequest:
    name: str
    method: str
    path: str
    params: dict[str, str]
    body: str | None
    requires: str | None
    expect_ids: list[str] | None
    marks: dict[str, str] = dataclass_field(default_factory=dict)  # every `key: value` of the marker line

    @property
    def is_bulk(self) -> bool:
        return self.path.rstrip("/").endswith("_bulk")

    def json_body(self):
        return json.loads(self.body) if self.body else None

    def ndjson_lines(self) -> list[dict]:
        return [json.loads(line) for line in (self.body or "").splitlines() if line.strip()]


def _parse_marker(spec: str) -> dict[str, str]:
    parts = [p.strip() for p in spec.split(";") if p.strip()]
    fields = {"name": parts[0]}
    for part in parts[1:]:
        key, _, value = part.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def parse_requests(text: str) -> list[DocRequest]:
    """Each bare ``` block must follow a `<!-- request: name; ... -->` line; other fences carry a language."""
    requests = []
    for match in _FENCE.finditer(text):
        if match.group(1).strip():
            continue  # ```json and friends are shown output, not requests
        preceding = text[: match.start()].rstrip().splitlines()
        marker = _MARKER.search(preceding[-1]) if preceding else None
        if marker is None:
            raise AssertionError(f"request block without a `<!-- request: name -->` line:\n{match.group(2)[:200]}")
        fields = _parse_marker(marker.group("spec"))
        first, _, rest = match.group(2).partition("\n")
        method, _, target = first.strip().partition(" ")
        path, _, query = target.strip().partition("?")
        params = dict(pair.split("=", 1) for pair in query.split("&") if pair) if query else {}
        expect = fields.get("expect-ids")
        requests.append(DocRequest(
            name=fields["name"], method=method.upper(), path="/" + path.lstrip("/"), params=params,
            body=rest.strip() or None, requires=fields.get("requires"),
            expect_ids=[i.strip() for i in expect.split(",")] if expect else None, marks=fields,
        ))
    return requests


def _cosine_ranking(query: list[float], docs: dict[str, dict], k: int, allowed=lambda doc_id, doc: True) -> list[str]:
    q = np.asarray(query, dtype=np.float64)
    scored = []
    for doc_id, doc in docs.items():
        if not allowed(doc_id, doc):
            continue
        v = np.asarray(doc["image_embedding"], dtype=np.float64)
        scored.append((float(q @ v / (np.linalg.norm(q) * np.linalg.norm(v))), doc_id))
    return [doc_id for _, doc_id in sorted(scored, reverse=True)[:k]]


@pytest.fixture(scope="module")
def doc_requests() -> list[DocRequest]:
    return parse_requests(DOC_PATH.read_text(encoding="utf-8"))


def test_devtools_file_is_well_formed(doc_requests, base_settings: Settings):
    names = [r.name for r in doc_requests]
    assert len(names) == len(set(names)), "request names must be unique"
    for wanted in ("create-index", "add-documents", "knn-with-filter", "get-vector", "find-similar", "facets",
                   "hybrid-knn-half", "hybrid-bm25-half", "infer", "knn-query-vector-builder", "delete-index",
                   "tutorial-knn-by-image", "tutorial-infer"):
        assert wanted in names, f"docs/devtools.md lacks the {wanted!r} request"
    for request in doc_requests:
        assert request.method in ("GET", "PUT", "POST", "DELETE", "HEAD"), request.name
        if request.body and not request.is_bulk:
            request.json_body()  # every JSON body parses, including the ones not run here
    by_name = {r.name: r for r in doc_requests}
    assert by_name["infer"].requires == "ml" and by_name["knn-query-vector-builder"].requires == "ml"
    # The documented ML requests name the model the app uploads; the knn is the query_vector_builder form
    # (the text_embedding builder in place of query_vector, the rest as in section 2).
    assert base_settings.es_model_id in by_name["infer"].path
    assert by_name["infer"].json_body() == {"docs": infer_docs(["ein roter Fuchs im Schnee"])}  # as the app sends it
    # The tutorials' _infer: same request shape, on the model the app uploads.
    tutorial_infer = by_name["tutorial-infer"]
    assert tutorial_infer.requires == "ml" and tutorial_infer.method == "POST"
    assert tutorial_infer.path == f"/_ml/trained_models/{base_settings.es_model_id}/_infer"
    assert tutorial_infer.json_body() == {"docs": infer_docs(["a dog playing in the snow"])}
    documented = by_name["knn-query-vector-builder"].json_body()["knn"]
    assert documented == {
        "field": "image_embedding", "k": 10, "num_candidates": 100, "rescore_vector": {"oversample": 4},
        "query_vector_builder": {"text_embedding": {"model_id": base_settings.es_model_id,
                                                    "model_text": "ein roter Fuchs im Schnee"}},
        "filter": {"bool": {"filter": [{"term": {"category": "animal"}}]}},
    }
    assert documented["k"] <= documented["num_candidates"] <= 10_000  # Elasticsearch refuses more candidates
    assert documented["rescore_vector"]["oversample"] == base_settings.knn_rescore_oversample  # as the app asks
    plain = by_name["knn-with-filter"].json_body()["knn"]
    assert set(plain) - {"query_vector"} == set(documented) - {"query_vector_builder"}


def _perform(es, request: DocRequest, index: str, ingested: IngestedIndex):
    path = request.path.replace(DEMO_INDEX, index)
    if request.marks.get("index") == "ingested":
        assert path.startswith(f"/{REAL_ALIAS}/"), f"{request.name}: an ingested-index request names {REAL_ALIAS!r}"
        path = f"/{ingested.alias}/" + path[len(REAL_ALIAS) + 2:]
    if request.is_bulk:
        body = request.body.replace(DEMO_INDEX, index) + "\n"
        headers = {"accept": "application/json", "content-type": "application/x-ndjson"}
    else:
        body = request.json_body()
        if request.marks.get("query-vector") == "stored":
            body["knn"]["query_vector"] = ingested.vectors[ingested.query_id]
        headers = {"accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
    return es.perform_request(request.method, path, params=request.params or None, headers=headers, body=body)


@dataclass
class IngestedIndex:
    """An index the real ingest filled: its alias, each document's source and vector, and the file behind it."""

    alias: str
    root: Path
    docs: dict[str, dict]
    vectors: dict[str, list[float]]
    query_id: str


@pytest.fixture
def ingested(es, tiny_settings, tmp_path) -> IngestedIndex:
    """A few JPEGs, some in sub-folders, ingested with the tiny models into an index with the real mapping."""
    root = tmp_path / "pictures"
    for seed, relative in enumerate(["fox.jpg", "holiday/beach.jpg", "holiday/2024/alps.jpg", "zoo/owl.jpg"]):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(jpeg(seed + 10))
    summary = run_ingest(tiny_settings, [root])
    assert summary.indexed == 4 and summary.failed == 0
    alias = tiny_settings.index_alias
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=10, source={"exclude_vectors": False})["hits"]["hits"]
    docs = {hit["_id"]: hit["_source"] for hit in hits}
    vectors = {doc_id: doc.pop(VECTOR_FIELD) for doc_id, doc in docs.items()}
    query_id = next(doc_id for doc_id, doc in docs.items() if doc["file_name"] == "beach.jpg")
    return IngestedIndex(alias, root, docs, vectors, query_id)


def test_devtools_requests_run_against_the_node(es, doc_requests, ingested):
    index = f"test-{uuid.uuid4().hex[:12]}-devtools-demo"
    by_name = {r.name: r for r in doc_requests}
    docs = {action["index"]["_id"]: source
            for action, source in zip(*[iter(by_name["add-documents"].ndjson_lines())] * 2, strict=True)}
    responses, not_run = {}, []
    try:
        for request in doc_requests:
            if request.requires:
                not_run.append(f"{request.name} (requires {request.requires})")
                continue
            response = _perform(es, request, index, ingested)
            assert 200 <= response.meta.status < 300, f"{request.name}: HTTP {response.meta.status}"
            responses[request.name] = response.body
            if request.expect_ids is not None:
                got = [hit["_id"] for hit in response.body["hits"]["hits"]]
                assert got == request.expect_ids, f"{request.name}: got {got}, doc says {request.expect_ids}"
    finally:
        es.options(ignore_status=404).indices.delete(index=index)
        print("\nnot run (need what this node lacks): " + ", ".join(not_run))

    assert responses["add-documents"]["errors"] is False
    assert len(responses["add-documents"]["items"]) == len(docs) == 6

    # The orders the doc promises are the true cosine orders of its own vectors.
    knn = by_name["knn-with-filter"].json_body()["knn"]
    assert by_name["knn-with-filter"].expect_ids == _cosine_ranking(
        knn["query_vector"], docs, knn["k"], lambda _id, d: d["category"] == "animal")
    unfiltered = by_name["hybrid-knn-half"].json_body()["knn"]
    assert by_name["hybrid-knn-half"].expect_ids == _cosine_ranking(unfiltered["query_vector"], docs, unfiltered["k"])
    assert by_name["hybrid-knn-half"].expect_ids[0] != by_name["knn-with-filter"].expect_ids[0]  # the filter matters
    for hit in responses["knn-with-filter"]["hits"]["hits"]:
        assert hit["_source"]["category"] == "animal"
        assert 0.0 < hit["_score"] <= 1.0

    # Find-similar pastes the vector the GET returned, and leaves that image out.
    stored = responses["get-vector"]["_source"]["image_embedding"]
    similar = by_name["find-similar"].json_body()["knn"]
    assert stored == pytest.approx(similar["query_vector"]) and stored == pytest.approx(docs["img-fox"]["image_embedding"])
    assert by_name["find-similar"].expect_ids == _cosine_ranking(
        similar["query_vector"], docs, similar["k"], lambda doc_id, _d: doc_id != "img-fox")

    # Facet counts equal counts over the bulk data.
    aggs = responses["facets"]["aggregations"]
    for field in ("category", "color_scheme", "tags"):
        expected: dict[str, int] = {}
        for doc in docs.values():
            for value in doc[field] if isinstance(doc[field], list) else [doc[field]]:
                expected[value] = expected.get(value, 0) + 1
        assert {b["key"]: b["doc_count"] for b in aggs[field]["buckets"]} == expected, field
    ranges = {b["key"]: b["doc_count"] for b in aggs["brightness"]["buckets"]}
    assert ranges == {"dark": sum(d["brightness"] < 0.35 for d in docs.values()),
                      "medium": sum(0.35 <= d["brightness"] < 0.7 for d in docs.values()),
                      "bright": sum(d["brightness"] >= 0.7 for d in docs.values())}

    # post_filter narrows hits but not the facet counts.
    snowy = {i for i, d in docs.items() if "snow" in d["tags"]}
    post = responses["facets-with-post-filter"]
    assert {b["key"]: b["doc_count"] for b in post["aggregations"]["color_scheme"]["buckets"]} == {
        scheme: sum(docs[i]["color_scheme"] == scheme for i in snowy) for scheme in {docs[i]["color_scheme"] for i in snowy}}

    # The BM25 half finds exactly the documents with the word "snow" in a searched field.
    with_word = {i for i, d in docs.items()
                 if "snow" in re.findall(r"[a-z]+", " ".join([d["title"], d["caption"], *d["tags"]]).lower())}
    assert {h["_id"] for h in responses["hybrid-bm25-half"]["hits"]["hits"]} == with_word

    assert responses["delete-index"]["acknowledged"] is True
    assert not es.indices.exists(index=index)
    assert not_run == ["hybrid-rrf-retriever (requires enterprise licence)", "model-state (requires ml)",
                       "infer (requires ml)", "knn-query-vector-builder (requires ml)",
                       "tutorial-infer (requires ml)", "role-reader (requires security)",
                       "role-writer (requires security)", "api-key-reader (requires security)",
                       "api-key-writer (requires security)"]  # the last four: tests/webapp/test_cluster_security.py

    # The tutorials' knn, as published: every hit answers with the three tutorial fields, equal to the
    # document's id, file name and path relative to the ingested folder.
    tutorial = by_name["tutorial-knn-by-image"].json_body()
    assert (tutorial["knn"]["k"], tutorial["knn"]["num_candidates"]) == (5, 10)
    assert tutorial["fields"] == ["image_id", "image_name", "relative_path"] and tutorial["_source"] is False
    hits = responses["tutorial-knn-by-image"]["hits"]["hits"]
    assert {hit["_id"] for hit in hits} == set(ingested.docs)  # 4 documents, k 5: all of them
    assert hits[0]["_id"] == ingested.query_id  # its own vector: the nearest
    for hit in hits:
        doc = ingested.docs[hit["_id"]]
        (path,) = doc["paths"]
        assert "_source" not in hit
        assert hit["fields"] == {"image_id": [hit["_id"]], "image_name": [Path(path).name],
                                 "relative_path": [Path(path).relative_to(ingested.root).as_posix()]}
    assert {hit["fields"]["relative_path"][0] for hit in hits} == {
        "fox.jpg", "holiday/beach.jpg", "holiday/2024/alps.jpg", "zoo/owl.jpg"}


def test_the_tutorial_names_work_in_queries_and_sorts(es, ingested):
    """image_id and image_name are searchable and sortable like the fields they stand for."""
    wanted = ingested.query_id
    by_id = es.search(index=ingested.alias, query={"term": {"image_id": wanted}}, fields=["image_name"], source=False)
    assert [(hit["_id"], hit["fields"]["image_name"]) for hit in by_id["hits"]["hits"]] == [(wanted, ["beach.jpg"])]
    by_name = es.search(index=ingested.alias, query={"term": {"image_name": "owl.jpg"}}, source=False)
    assert [hit["_id"] for hit in by_name["hits"]["hits"]] == [
        doc_id for doc_id, doc in ingested.docs.items() if doc["file_name"] == "owl.jpg"]
    for order in ("asc", "desc"):
        ranked = es.search(index=ingested.alias, sort=[{"image_name": order}], fields=["image_name"], source=False)
        names = [hit["fields"]["image_name"][0] for hit in ranked["hits"]["hits"]]
        assert names == sorted(["fox.jpg", "beach.jpg", "alps.jpg", "owl.jpg"], reverse=order == "desc")
        assert [hit["sort"][0] for hit in ranked["hits"]["hits"]] == names
    by_path = es.search(index=ingested.alias, query={"prefix": {"relative_path": "holiday/"}}, source=False,
                        fields=["relative_path"])
    assert sorted(hit["fields"]["relative_path"][0] for hit in by_path["hits"]["hits"]) == [
        "holiday/2024/alps.jpg", "holiday/beach.jpg"]


def test_parser_rejects_an_unnamed_request_block():
    with pytest.raises(AssertionError, match="without a"):
        parse_requests("Some prose.\n\n```\nGET x/_search\n```\n")


def test_parser_reads_markers(tmp_path: Path):
    text = "<!-- request: a; requires: ml; expect-ids: x,y -->\n```\nPOST i/_doc?refresh=true\n{\"k\": 1}\n```\n"
    (request,) = parse_requests(text)
    assert (request.name, request.method, request.path, request.params) == ("a", "POST", "/i/_doc", {"refresh": "true"})
    assert request.requires == "ml" and request.expect_ids == ["x", "y"] and request.json_body() == {"k": 1}
