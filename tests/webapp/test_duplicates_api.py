"""GET /api/duplicates and the one-per-group search option, on image families ingested for real."""

from __future__ import annotations

import hashlib

import pytest

from ingest.runner import run_ingest
from tests.support.image_families import write_families
from webapp import create_app
from webapp.schemas import DuplicatesBody, SearchResultBody


@pytest.fixture
def client(tiny_settings, tmp_path):
    files = write_families(tmp_path / "photos", families=3, unrelated=5)
    run_ingest(tiny_settings, [tmp_path / "photos"])
    app = create_app(tiny_settings)
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


@pytest.mark.parametrize("query", ["size=0", "size=abc", "page=0", "size=100&page=11"])
def test_bad_paging_is_a_400(client, query):
    response = client[0].get(f"/api/duplicates?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_collapse_shows_one_image_per_group(client):
    client, files = client
    everything = SearchResultBody.model_validate(client.get("/api/search?size=50").get_json())
    one_each = SearchResultBody.model_validate(client.get("/api/search?size=50&collapse=true").get_json())
    assert len(everything.hits) == 3 * 6 + 5
    assert len(one_each.hits) == 3 + 5
    assert client.get("/api/search?collapse=maybe").status_code == 400
