"""Adding a field is one declaration: a keyword and a numeric field in a schema file give working filters,
facets, API parameters, command-line options and OpenAPI entries, with no other change."""

from __future__ import annotations

import json

import pytest

from es_search.cli import main as cli_main
from es_search.client import build_client
from es_search.errors import SchemaMismatch
from es_search.fields import VECTOR_FIELD
from es_search.index import ensure_index
from webapp import create_app
from webapp.schemas import FacetsBody, SearchResultBody

DIMS = 8
PRODUCTS = {  # id → (brand, price, first vector component)
    "sku-1": ("acme", 9.5, 1.0),
    "sku-2": ("acme", 25.0, 0.9),
    "sku-3": ("globex", 12.0, 0.8),
    "sku-4": ("initech", 99.0, 0.7),
}
SCHEMA = {"fields": [
    {"name": "brand", "type": "keyword", "facet": True, "show": True, "label": {"en": "Brand", "zh": "品牌"}},
    {"name": "price", "type": "float", "show": True, "label": {"en": "Price", "zh": "价格"}},
]}


@pytest.fixture
def shop(settings, tmp_path):
    schema = tmp_path / "catalogue-fields.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    shop_settings = settings.with_overrides(fields_file=schema)
    es = build_client(shop_settings)
    ensure_index(es, shop_settings, DIMS)
    for doc_id, (brand, price, lead) in PRODUCTS.items():
        vector = [lead] + [0.1] * (DIMS - 1)
        es.index(index=shop_settings.index_alias, id=doc_id, document={
            "title": f"{brand} product", "brand": brand, "price": price, "format": "JPEG", VECTOR_FIELD: vector})
    es.indices.refresh(index=shop_settings.index_alias)
    return shop_settings


def test_declared_fields_are_in_the_index_mapping(shop):
    es = build_client(shop)
    mapping = es.indices.get_mapping(index=shop.index_alias)
    properties = next(iter(mapping.values()))["mappings"]["properties"]
    assert properties["brand"] == {"type": "keyword"} and properties["price"] == {"type": "float"}


def test_api_filters_and_facets_by_the_declared_fields(shop):
    client = create_app(shop).test_client()
    answer = client.get("/api/search", query_string={"brand": "acme", "facets": "true", "size": 10}).json
    SearchResultBody.model_validate(answer)
    assert sorted(hit["id"] for hit in answer["hits"]) == ["sku-1", "sku-2"]
    brands = {entry["value"]: entry["count"] for entry in answer["facets"]["brand"]}
    assert brands == {"acme": 2, "globex": 1, "initech": 1}  # a facet's own filter leaves its counts alone
    cheap = client.get("/api/search", query_string={"price": "..20", "size": 10}).json
    assert sorted(hit["id"] for hit in cheap["hits"]) == ["sku-1", "sku-3"]
    ranged = client.get("/api/search", query_string={"price_from": "10", "price_to": "30", "size": 10}).json
    assert sorted(hit["id"] for hit in ranged["hits"]) == ["sku-2", "sku-3"]
    facets = client.get("/api/facets", query_string={"price": "..20"}).json
    FacetsBody.model_validate(facets)
    assert facets["matching"] == 2
    bad = client.get("/api/search", query_string={"price": "cheap..20"})
    assert bad.status_code == 400 and "price: expected a number" in bad.json["error"]["message"]


def test_pages_show_the_declared_fields(shop):
    client = create_app(shop).test_client()
    panel = client.get("/", query_string={"facets": "1", "lang": "zh"}).get_data(as_text=True)
    assert 'data-facet="brand"' in panel and "品牌" in panel and 'name="price_from"' in panel
    page = client.get("/image/sku-4", query_string={"lang": "en"}).get_data(as_text=True)
    assert "Price" in page and "99.00" in page and "initech" in page


def test_openapi_lists_the_declared_fields(shop):
    spec = create_app(shop).test_client().get("/api/openapi.json").json
    params = {p["name"]: p for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert params["brand"]["schema"]["type"] == "array" and params["brand"]["explode"] is True
    assert {"price", "price_from", "price_to"} <= set(params)
    facet_params = {p["name"] for p in spec["paths"]["/api/facets"]["get"]["parameters"]}
    assert {"brand", "price"} <= facet_params


def test_command_line_filters_by_the_declared_fields(shop, monkeypatch, capsys):
    monkeypatch.setenv("IMGSEARCH_INDEX_ALIAS", shop.index_alias)
    monkeypatch.setenv("IMGSEARCH_FIELDS", str(shop.fields_file))
    monkeypatch.setenv("IMGSEARCH_DATA_DIR", str(shop.data_dir))
    assert cli_main(["search", "--brand", "acme", "--json"]) == 0
    assert sorted(hit["id"] for hit in json.loads(capsys.readouterr().out)["hits"]) == ["sku-1", "sku-2"]
    assert cli_main(["search", "--filter", "price=..20", "--filter", "brand=globex", "--json"]) == 0
    assert [hit["id"] for hit in json.loads(capsys.readouterr().out)["hits"]] == ["sku-3"]
    assert cli_main(["search", "--filter", "colour=red"]) == 2
    assert "known:" in capsys.readouterr().err


def test_a_changed_type_is_refused_and_points_to_reindex(shop, tmp_path):
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps({"fields": [{"name": "brand", "type": "integer"},
                                              {"name": "price", "type": "float"}]}), encoding="utf-8")
    with pytest.raises(SchemaMismatch, match=r"brand: the index has keyword, the schema says integer(.|\n)*reindex"):
        ensure_index(build_client(shop), shop.with_overrides(fields_file=changed), DIMS)


def test_a_new_field_is_added_to_the_existing_index(shop, tmp_path):
    grown = tmp_path / "grown.json"
    grown.write_text(json.dumps({"fields": SCHEMA["fields"] + [{"name": "collection", "type": "keyword"}]}),
                     encoding="utf-8")
    es = build_client(shop)
    ensure_index(es, shop.with_overrides(fields_file=grown), DIMS)
    properties = next(iter(es.indices.get_mapping(index=shop.index_alias).values()))["mappings"]["properties"]
    assert properties["collection"] == {"type": "keyword"}
