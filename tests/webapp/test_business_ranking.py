"""Ranking signals and understood queries through the API, the gallery and the command line: a catalogue whose
schema declares a signal (in stock first) and a brand, searched with the tiny random text model."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from bs4 import BeautifulSoup

from es_search.cli import main as cli_main
from es_search.client import build_client
from es_search.fields import VECTOR_FIELD
from es_search.index import ensure_index
from es_search.search.request import encode_vector
from webapp import create_app
from webapp.schemas import SearchResultBody

PRODUCTS = {  # id → (brand, in stock, price, taken, cosine with e0: four good matches for `vec` e0, one not)
    "sku-1": ("Acme", False, 9.5, "2023-07-03T10:00:00Z", 0.95),
    "sku-2": ("Acme", True, 25.0, "2023-07-20T10:00:00Z", 0.94),
    "sku-3": ("Globex", True, 12.0, "2023-07-09T10:00:00Z", 0.93),
    "sku-4": ("Acme", True, 99.0, "2021-01-01T10:00:00Z", 0.92),
    **{f"sku-{n}": ("Initech", False, 5.0, "2023-08-01T10:00:00Z", 0.15 - 0.02 * n) for n in range(5, 10)},
}
SCHEMA = {"fields": [
    {"name": "brand", "type": "keyword", "facet": True, "show": True, "label": {"en": "Brand", "zh": "品牌"}},
    {"name": "in_stock", "type": "boolean", "boost": {"values": {"true": 1.2}}},
    {"name": "price", "type": "float", "show": True},
]}


@pytest.fixture
def shop(tiny_settings, tiny_models, tmp_path):
    schema = tmp_path / "catalogue-fields.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    shop_settings = tiny_settings.with_overrides(fields_file=schema)
    es = build_client(shop_settings)
    ensure_index(es, shop_settings, tiny_models.dims)
    for axis, (doc_id, (brand, in_stock, price, taken, cosine)) in enumerate(PRODUCTS.items(), start=1):
        vector = np.zeros(tiny_models.dims)
        vector[0], vector[axis] = cosine, np.sqrt(1 - cosine * cosine)
        es.index(index=shop_settings.index_alias, id=doc_id, document={
            "title": f"{brand} product", "brand": brand, "in_stock": in_stock, "price": price, "taken_at": taken,
            "format": "JPEG", VECTOR_FIELD: vector.tolist()})
    es.indices.refresh(index=shop_settings.index_alias)
    return shop_settings


def shop_dims(settings) -> int:
    mapping = build_client(settings).indices.get_mapping(index=settings.index_alias)
    return next(iter(mapping.values()))["mappings"]["properties"][VECTOR_FIELD]["dims"]


def test_the_api_says_what_it_understood_and_filters_by_it(shop):
    client = create_app(shop).test_client()
    answer = client.get("/api/search", query_string={"q": "acme red bag July 2023", "size": 10}).json
    SearchResultBody.model_validate(answer)
    assert sorted(hit["id"] for hit in answer["hits"]) == ["sku-1", "sku-2"]
    assert answer["query"]["text"] == "acme red bag July 2023" and answer["query"]["filters"] == {}
    assert answer["query"]["understood"] == [
        {"text": "acme", "kind": "value", "param": "brand", "value": "Acme"},
        {"text": "July 2023", "kind": "date", "param": "date", "from": "2023-07-01", "to": "2023-07-31"}]
    literal = client.get("/api/search", query_string={"q": "acme red bag July 2023", "literal": "true",
                                                      "size": 10}).json
    assert literal["query"]["understood"] == [] and len(literal["hits"]) == len(PRODUCTS)
    body = client.post("/api/search", json={"q": ["acme 2021"], "as_text": ["2021"], "size": 10}).json
    assert sorted(hit["id"] for hit in body["hits"]) == ["sku-1", "sku-2", "sku-4"]


def test_the_api_boosts_and_explains(shop):
    client = create_app(shop).test_client()
    e0 = encode_vector(np.eye(shop_dims(shop))[0])
    answer = client.get("/api/search", query_string={"vec": e0, "boost": "price:reciprocal^5", "explain": "true",
                                                      "size": 10}).json
    SearchResultBody.model_validate(answer)
    assert answer["query"]["sort"] == "boosted"
    good = [hit for hit in answer["hits"] if hit["good_match"]]
    assert len(good) == 4 and not answer["hits"][-1]["good_match"] and "boosted_score" not in answer["hits"][-1]
    for hit in good:
        signals = {s["signal"]: s["factor"] for s in hit["explain"]["boost"]["signals"]}
        _, in_stock, price, _, _ = PRODUCTS[hit["id"]]
        assert signals == pytest.approx({"in_stock:true^1.2": 1.2 if in_stock else 1.0,
                                         "price:reciprocal^5": 1 + 5 / (1 + price)})
        assert hit["boosted_score"] == pytest.approx(hit["explain"]["boost"]["score"], abs=1e-6)
    # (1 + cos) / 2 × in stock × 1 + 5 / (1 + price): sku-1 .975 × 1.476, sku-2 .97 × 1.2 × 1.192, sku-3 .965 ×
    # 1.2 × 1.385, sku-4 .96 × 1.2 × 1.05
    assert [hit["id"] for hit in good] == ["sku-3", "sku-1", "sku-2", "sku-4"]
    bad = client.get("/api/search", query_string={"q": "x", "boost": "price:cube"})
    assert bad.status_code == 400 and "boost: 'price:cube'" in bad.json["error"]["message"]
    spec = client.get("/api/openapi.json").json
    params = {p["name"]: p for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert params["boost"]["schema"]["items"]["format"] == "ranking-signal" and "literal" in params


def test_the_gallery_shows_chips_a_literal_switch_and_the_boosted_sort(shop):
    client = create_app(shop).test_client()
    page = BeautifulSoup(client.get("/", query_string={"q": "acme bag July 2023", "lang": "en"}).data, "html.parser")
    chips = page.select("#understood .understood-chip")
    assert [(chip["data-param"], chip["data-text"]) for chip in chips] == [("brand", "acme"), ("date", "July 2023")]
    assert "Brand: Acme" in chips[0].get_text() and "2023-07-01 – 2023-07-31" in chips[1].get_text()
    removed = parse_qs(urlsplit(chips[1].select_one("a.remove")["href"]).query)
    assert removed["as_text"] == ["July 2023"] and removed["q"] == ["acme bag July 2023"]
    switch = page.select_one("#literal-switch")
    assert switch.get_text() == "Search my words literally" and parse_qs(urlsplit(switch["href"]).query)["literal"]
    literal = BeautifulSoup(client.get(switch["href"]).data, "html.parser")
    assert not literal.select(".understood-chip") and "Understand dates" in literal.select_one("#literal-switch").text
    assert literal.select_one('#filter-form input[name="literal"]')["value"] == "true", "filters keep the switch"
    sorts = [a["data-sort"] for a in page.select(".sort-links a")]
    assert "relevance" in sorts and page.select_one(".sort-links strong").get_text() == "best match with boosts"
    plain = BeautifulSoup(client.get(page.select_one('.sort-links a[data-sort="relevance"]')["href"]).data,
                          "html.parser")
    assert plain.select_one(".sort-links strong").get_text() == "relevance"
    zh = BeautifulSoup(client.get("/", query_string={"q": "acme 去年", "lang": "zh"}).data, "html.parser")
    assert "品牌: Acme" in zh.select(".understood-chip")[0].get_text()


def test_the_command_line_prints_what_it_understood_and_the_boosts(shop, monkeypatch, capsys):
    for name, value in {"IMGSEARCH_INDEX_ALIAS": shop.index_alias, "IMGSEARCH_FIELDS": str(shop.fields_file),
                        "IMGSEARCH_DATA_DIR": str(shop.data_dir), "IMGSEARCH_TEXT_MODEL": shop.text_model,
                        "IMGSEARCH_IMAGE_MODEL": shop.image_model}.items():
        monkeypatch.setenv(name, value)
    assert cli_main(["search", "globex July 2023", "--boost", "price:log", "--explain"]) == 0
    out = capsys.readouterr().out
    assert "understood 'globex' as brand=Globex" in out and "understood 'July 2023' as date=2023-07-01..2023-07-31" in out
    assert "Globex product" in out and "boosted" in out and "price:log^1" in out
    assert cli_main(["search", "globex July 2023", "--literal", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["query"]["understood"] == []
