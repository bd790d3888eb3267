"""Collections on a real node: two declared beside the deployment's own, each with its alias and schema, served
by one app under /c/<name>/ and /api/c/<name>/, worked on by `imgsearch --collection`, with keys of their own
(or one key for several)."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
import yaml
from elasticsearch import helpers

from es_search.apikeys import keys_index
from es_search.cli import main as cli_main
from es_search.collections import collection_settings, load_collections
from es_search.errors import ConfigError
from es_search.index import delete_index, ensure_index
from webapp import create_app

DIMS = 8


def test_a_collections_file_is_read_and_checked(base_settings, tmp_path):
    (tmp_path / "xray-fields.yaml").write_text(yaml.safe_dump([{"name": "ward", "type": "keyword", "facet": True}]))
    path = tmp_path / "collections.yaml"
    path.write_text(yaml.safe_dump({"collections": [
        {"name": "xray", "alias": "hospital-xray", "fields": "xray-fields.yaml", "image_roots": ["/srv/xray"],
         "settings": {"faces": "off", "max_page_size": 50, "s3_access_key_id": "xray-reader",
                      "s3_secret_access_key": "xray-secret"}},
        {"name": "products"}]}))
    settings = base_settings.with_overrides(collections_file=path)
    found = load_collections(settings)
    assert sorted(found) == ["products", "xray"] and found["products"].alias == "products"
    xray = collection_settings(settings, "xray")
    assert (xray.index_alias, xray.fields_file, xray.max_page_size, xray.collection, xray.s3_access_key_id) == (
        "hospital-xray", tmp_path / "xray-fields.yaml", 50, "xray", "xray-reader"), "its own storage credentials"
    assert [str(p) for p in xray.image_roots] == ["/srv/xray"]
    assert collection_settings(settings, "default") is settings and collection_settings(settings, None) is settings
    with pytest.raises(ConfigError, match="no collection .nope.; known: default, xray, products"):
        collection_settings(settings, "nope")
    for bad in ([{"name": "Bad Name"}], [{"name": "a"}, {"name": "a"}], [{"name": "a", "settings": {"es_url": "x"}}],
                [{"name": "a", "settings": {"no_such_setting": 1}}], [{"name": "a", "colour": 1}],
                [{"name": "default"}], [{"name": "a", "alias": base_settings.index_alias}]):
        path.write_text(yaml.safe_dump({"collections": bad}))
        with pytest.raises(ConfigError):
            load_collections(settings)


@pytest.fixture(scope="module")
def deployment(es, base_settings, tmp_path_factory):
    folder = tmp_path_factory.mktemp("collections")
    tag = uuid.uuid4().hex[:8]
    (folder / "shop.yaml").write_text(yaml.safe_dump([{"name": "brand", "type": "keyword", "facet": True}]))
    (folder / "collections.yaml").write_text(yaml.safe_dump({"collections": [
        {"name": "xray", "alias": f"test-xray-{tag}"},
        {"name": "shop", "alias": f"test-shop-{tag}", "fields": "shop.yaml"}]}))
    main = base_settings.with_overrides(index_alias=f"test-main-{tag}", data_dir=folder / "data",
                                        collections_file=folder / "collections.yaml")
    rng = np.random.default_rng(5)
    for name, count in ((None, 2), ("xray", 3), ("shop", 4)):
        settings = collection_settings(main, name)
        ensure_index(es, settings, DIMS)
        extra = {"brand": "acme"} if name == "shop" else {}
        helpers.bulk(es, [{"_index": settings.index_alias, "_id": f"{name or 'main'}-{n}".ljust(16, "0"), "_source": {
            "file_name": f"{name}-{n}.jpg", "image_embedding": rng.normal(size=DIMS).tolist(), **extra}}
            for n in range(count)], refresh="wait_for")
    yield main
    for name in (None, "xray", "shop"):
        settings = collection_settings(main, name)
        delete_index(es, settings.index_alias)
        es.indices.delete(index=keys_index(settings), ignore_unavailable=True)


def test_one_app_serves_each_collection_under_its_prefix(deployment):
    client = create_app(deployment).test_client()
    assert len(client.get("/api/search?size=50").json["hits"]) == 2, "the deployment's own keeps its URLs"
    xray = client.get("/api/c/xray/search?size=50").json
    assert len(xray["hits"]) == 3 and all(h["id"].startswith("xray-") for h in xray["hits"])
    assert xray["hits"][0]["links"]["api_similar"].startswith("/c/xray/api/similar/"), "links stay inside"
    assert len(client.get("/c/shop/api/search?size=50").json["hits"]) == 4, "both prefixes reach it"
    shop_facets = client.get("/api/c/shop/facets").json["facets"]
    assert shop_facets["brand"] == [{"value": "acme", "count": 4, "selected": False}], "its own schema"
    assert "brand" not in client.get("/api/facets").json["facets"]
    page = client.get("/c/xray/", query_string={"lang": "en"}).get_data(as_text=True)
    assert 'href="/c/xray/static/' in page and 'data-collection="shop"' in page and 'href="/c/shop/"' in page
    assert client.get("/api/c/nothing/search").status_code == 404
    spec = client.get("/api/c/shop/openapi.json").json
    assert "brand" in {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}


def test_commands_take_a_collection_and_keys_belong_to_theirs(deployment, es, monkeypatch, capsys):
    monkeypatch.setenv("IMGSEARCH_INDEX_ALIAS", deployment.index_alias)
    monkeypatch.setenv("IMGSEARCH_DATA_DIR", str(deployment.data_dir))
    monkeypatch.setenv("IMGSEARCH_COLLECTIONS", str(deployment.collections_file))
    assert cli_main(["--collection", "shop", "search", "--json", "--size", "50"]) == 0
    assert len(json.loads(capsys.readouterr().out)["hits"]) == 4
    assert cli_main(["collection", "list"]) == 0
    listed = {row["collection"]: row["documents"] for row in json.loads(capsys.readouterr().out)}
    assert listed == {"default": 2, "xray": 3, "shop": 4}
    assert cli_main(["collection", "info", "xray"]) == 0 and json.loads(capsys.readouterr().out)["documents"] == 3
    assert cli_main(["--collection", "nothing", "search"]) == 2 and "no collection 'nothing'" in capsys.readouterr().err

    assert cli_main(["--collection", "xray", "apikey", "create", "--name", "xray-only", "--scope", "read"]) == 0
    xray_key = capsys.readouterr().out.strip()
    assert cli_main(["--collection", "xray", "apikey", "create", "--name", "both", "--scope", "read",
                     "--also-collection", "shop"]) == 0
    both_key = capsys.readouterr().out.strip()
    closed = create_app(deployment.with_overrides(require_read_key=True)).test_client()

    def status(path: str, key: str) -> int:
        return closed.get(path, headers={"Authorization": f"ApiKey {key}"}).status_code

    assert status("/api/c/xray/search", xray_key) == 200
    assert status("/api/c/shop/search", xray_key) == 401 and status("/api/search", xray_key) == 401
    assert status("/api/c/xray/search", both_key) == 200 and status("/api/c/shop/search", both_key) == 200
    assert status("/api/search", both_key) == 401, "not for a collection it was not made for"
    assert 'data-collection=' not in closed.get("/c/xray/", headers={"Authorization": f"ApiKey {xray_key}"}).get_data(
        as_text=True), "where reads need a key, no names of other collections"
