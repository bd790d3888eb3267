"""The image index: mapping read back from the server, alias swap, and an exact knn-with-filter order."""

import numpy as np
import pytest

from es_search.errors import SchemaMismatch
from es_search.index import VECTOR_FIELD, ensure_index, index_info, indices_behind, reindex, swap_alias


def _vector_mapping(es, alias):
    name = indices_behind(es, alias)[-1]
    return es.indices.get_mapping(index=name)[name]["mappings"]["properties"][VECTOR_FIELD]


@pytest.mark.parametrize("index_type, dims", [("int8_hnsw", 512), ("bbq_hnsw", 512), ("hnsw", 32)])
def test_created_mapping_read_back_from_the_server(es, settings, index_type, dims):
    s = settings.with_overrides(vector_index_type=index_type, hnsw_m=24, hnsw_ef_construction=150)
    ensure_index(es, s, dims)
    vector = _vector_mapping(es, s.index_alias)
    assert vector["type"] == "dense_vector"
    assert vector["dims"] == dims
    assert vector["similarity"] == "cosine"
    assert vector["index_options"]["type"] == index_type
    assert vector["index_options"]["m"] == 24
    assert vector["index_options"]["ef_construction"] == 150


def test_ensure_index_is_idempotent_and_refuses_other_dims(es, settings):
    first = ensure_index(es, settings, 16)
    assert ensure_index(es, settings, 16) == first
    with pytest.raises(SchemaMismatch, match="holds 16-d vectors"):
        ensure_index(es, settings, 32)


def test_a_plain_index_under_the_alias_name_is_refused(es, settings):
    es.indices.create(index=settings.index_alias)
    try:
        with pytest.raises(SchemaMismatch, match="is a plain index, not an alias"):
            ensure_index(es, settings, 16)
    finally:
        es.indices.delete(index=settings.index_alias)


class _LateLook:
    """The node's indices API as a shard sees it when another shard creates the index between its two looks:
    the first question whether the alias exists is answered as it stood just before (no)."""

    def __init__(self, es):
        self._indices, self._asked = es.indices, False
        self.indices = self

    def exists_alias(self, **kwargs):
        if not self._asked:
            self._asked = True
            return False
        return self._indices.exists_alias(**kwargs)

    def __getattr__(self, name):
        return getattr(self._indices, name)


def test_an_index_another_shard_just_made_is_used_not_taken_for_a_plain_one(es, settings):
    made = ensure_index(es, settings, 16)
    assert ensure_index(_LateLook(es), settings, 16) == made


def _put(es, alias, doc_id, vector, **fields):
    es.index(index=alias, id=doc_id, document={"sha256": doc_id, VECTOR_FIELD: vector, **fields})


def test_alias_swap_moves_searches_to_the_new_index_with_every_document(es, settings):
    old = ensure_index(es, settings, 3)
    _put(es, settings.index_alias, "a", [1, 0, 0], category="plant")
    _put(es, settings.index_alias, "b", [0, 1, 0], category="animal")
    es.indices.refresh(index=settings.index_alias)

    result = reindex(es, settings.with_overrides(vector_index_type="hnsw"), delete_old=True)

    assert result["from"] == old and result["documents"] == 2 and result["deleted"] == [old]
    assert indices_behind(es, settings.index_alias) == [result["to"]]
    assert _vector_mapping(es, settings.index_alias)["index_options"]["type"] == "hnsw"
    info = index_info(es, settings.index_alias)
    assert info["documents"] == 2


def test_swap_alias_is_one_atomic_move(es, settings):
    first = ensure_index(es, settings, 3)
    second = settings.index_alias + "-second"
    es.indices.create(index=second)
    try:
        left = swap_alias(es, settings.index_alias, second)
        assert left == [first]
        assert indices_behind(es, settings.index_alias) == [second]
    finally:
        es.indices.delete(index=second)
        es.indices.delete(index=first)


def test_knn_with_filter_returns_exactly_the_expected_order(es, settings):
    ensure_index(es, settings.with_overrides(vector_index_type="hnsw"), 4)
    rng = np.random.default_rng(7)
    query = np.array([1.0, 0.2, 0.0, 0.1])
    docs = {}
    for i in range(40):
        v = rng.normal(size=4)
        docs[f"d{i}"] = (v, "warm" if i % 2 else "cool")
        _put(es, settings.index_alias, f"d{i}", v.tolist(), color_scheme=docs[f"d{i}"][1])
    es.indices.refresh(index=settings.index_alias)

    def cosine(v):
        return float(v @ query / (np.linalg.norm(v) * np.linalg.norm(query)))

    expected = sorted((d for d, (_, scheme) in docs.items() if scheme == "warm"), key=lambda d: -cosine(docs[d][0]))[:5]
    resp = es.search(index=settings.index_alias, knn={
        "field": VECTOR_FIELD, "query_vector": query.tolist(), "k": 5, "num_candidates": 40,
        "filter": {"term": {"color_scheme": "warm"}},
    }, source=False)
    got = [hit["_id"] for hit in resp["hits"]["hits"]]
    assert got == expected
    scores = [hit["_score"] for hit in resp["hits"]["hits"]]
    assert scores == pytest.approx([(1 + cosine(docs[d][0])) / 2 for d in expected], abs=1e-5)


def test_an_index_made_before_the_text_fields_gains_them_in_place(es, settings):
    from es_search.index import new_index_name, render_index_body

    body = render_index_body(settings, dims=8)
    del body["settings"]["analysis"]  # as an index made before the ocr_text analyzer existed
    for name in ("has_text", "ocr_text", "ocr_lines"):
        del body["mappings"]["properties"][name]
    name = new_index_name(settings.index_alias)
    es.indices.create(index=name, settings=body["settings"], mappings=body["mappings"],
                      aliases={settings.index_alias: {}})
    assert ensure_index(es, settings, dims=8) == name
    mapped = es.indices.get_mapping(index=name)[name]["mappings"]["properties"]
    # The analyzer cannot be added to an open index: the standard one stands in until a reindex.
    assert mapped["ocr_text"]["type"] == "text" and "analyzer" not in mapped["ocr_text"]
    assert mapped["ocr_text"]["fields"]["grams"]["type"] == "text" and mapped["has_text"]["type"] == "boolean"
    es.index(index=settings.index_alias, document={"ocr_text": "发票 4471", "has_text": True}, refresh=True)
    assert es.count(index=settings.index_alias, query={"match": {"ocr_text": "4471"}})["count"] == 1
