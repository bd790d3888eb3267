"""The Duplicates page, GET /api/duplicates and the one-per-group search option, on image families
ingested for real (tiny random model, default thresholds)."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from es_search.index import delete_index
from ingest.runner import run_ingest
from tests.support.image_families import write_families
from webapp import create_app
from webapp.schemas import DuplicatesBody, SearchResultBody


@pytest.fixture(scope="module")
def ingested(es, base_settings, tiny_models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("families")
    settings = base_settings.with_overrides(index_alias=f"test-{uuid.uuid4().hex[:12]}", data_dir=folder / "data",
                                            image_model=str(tiny_models.image), text_model=str(tiny_models.text))
    files = write_families(folder / "photos", families=3, unrelated=5)
    run_ingest(settings, [folder / "photos"])
    yield create_app(settings), files
    delete_index(es, settings.index_alias)


@pytest.fixture
def client(ingested):
    app, files = ingested
    return app.test_client(), files


def test_groups_page_through_with_members_and_similarities(client):
    client, files = client
    first = client.get("/api/duplicates?size=2")
    assert first.status_code == 200
    body = DuplicatesBody.model_validate(first.get_json())
    assert body.total == 3 and body.has_next and len(body.groups) == 2
    second = DuplicatesBody.model_validate(client.get("/api/duplicates?size=2&page=2").get_json())
    assert not second.has_next and len(second.groups) == 1
    every = {g.id for g in body.groups + second.groups}
    assert every == {hashlib.sha256(f[0].read_bytes()).hexdigest() for n, f in files.items() if n != "unrelated"}
    for group in body.groups:
        assert group.size == 6 and group.members[0].representative and group.members[0].id == group.id
        assert all(m.similarity is not None and m.similarity >= 0.95 for m in group.members)


@pytest.mark.parametrize("query", ["size=0", "size=abc", "page=0", "size=101"])
def test_bad_paging_is_a_400(client, query):
    response = client[0].get(f"/api/duplicates?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_a_page_past_the_listed_groups_is_empty(client):
    response = client[0].get("/api/duplicates?size=100&page=11")
    assert response.status_code == 200 and response.json["groups"] == [] and response.json["has_next"] is False


def test_collapse_shows_one_image_per_group(client):
    client, files = client
    everything = SearchResultBody.model_validate(client.get("/api/search?size=50").get_json())
    one_each = SearchResultBody.model_validate(client.get("/api/search?size=50&collapse=true").get_json())
    assert len(everything.hits) == 3 * 6 + 5
    assert len(one_each.hits) == 3 + 5
    assert client.get("/api/search?collapse=maybe").status_code == 400


@pytest.mark.parametrize("lang, heading", [("en", "Near-duplicate groups"), ("zh", "近似重复图片组")])
def test_the_duplicates_page_shows_groups_side_by_side(client, lang, heading):
    client, files = client
    page = client.get(f"/duplicates?lang={lang}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert heading in html
    assert html.count('class="duplicate-group"') == 3
    assert html.count('class="card representative"') == 3
    for path in files["family0"]:
        assert path.name in html
    assert "unrelated" not in html and "other0.jpg" not in html


def test_an_image_page_links_to_its_group(client):
    client, files = client
    member = hashlib.sha256(files["family1"][3].read_bytes()).hexdigest()
    representative = hashlib.sha256(files["family1"][0].read_bytes()).hexdigest()
    html = client.get(f"/image/{member}").get_data(as_text=True)
    assert f"/duplicates?group={representative}" in html and "(5)" in html
    group = client.get(f"/duplicates?group={representative}").get_data(as_text=True)
    assert group.count('class="duplicate-group"') == 1 and group.count('data-id="') == 6
    assert client.get("/duplicates?group=" + "0" * 64).status_code == 404
    assert client.get("/duplicates?page=abc").status_code == 400
