"""拍照搜题 through the API: a question bank written with the write API (its text read on the way in), a
reading corrected with PATCH, and a phone photo of a printed question finding that question first, by the
words read in the photo, with the tiny random image model (so the words must carry it)."""

from __future__ import annotations

import base64
import io
import json
import uuid

import pytest

from demo.rendered_text import phone_photo, png_bytes, question_bank, text_free_photos
from es_search.apikeys import create_key, keys_index
from es_search.index import delete_index
from webapp import create_app

BANK = 24
SCHEMA = {"fields": [
    {"name": "knowledge_point", "type": "keyword", "facet": True, "label": {"en": "Knowledge point", "zh": "知识点"}},
    {"name": "difficulty", "type": "integer", "label": {"en": "Difficulty", "zh": "难度"}},
]}


@pytest.fixture(scope="module")
def bank():
    return question_bank(BANK, seed=9)


@pytest.fixture(scope="module")
def client(es, base_settings, tiny_models, tmp_path_factory, bank):
    folder = tmp_path_factory.mktemp("questions")
    schema = folder / "bank-fields.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    settings = base_settings.with_overrides(
        index_alias=f"test-bank-{uuid.uuid4().hex[:12]}", data_dir=folder / "data", fields_file=schema, ocr="auto",
        image_model=str(tiny_models.image), text_model=str(tiny_models.text))
    client = create_app(settings).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"ApiKey {create_key(es, settings, name='bank', scope='write')}"
    for question in bank:
        answer = client.post("/api/images?refresh=false", json={
            "id": question.question_id, "image_base64": base64.b64encode(png_bytes(question.image)).decode(),
            "fields": {"knowledge_point": question.knowledge_point, "difficulty": question.difficulty}})
        assert answer.status_code == 201, answer.json
    es.indices.refresh(index=settings.index_alias)
    yield client
    delete_index(es, settings.index_alias)
    es.indices.delete(index=keys_index(settings), ignore_unavailable=True)


def test_a_written_question_answers_with_the_text_read_in_it(client, bank):
    question = bank[0]
    doc = client.get(f"/api/images/{question.question_id}").json["image"]
    assert doc["has_text"] is True and "第1题" in doc["ocr_text"].replace(" ", "")
    assert doc["knowledge_point"] == question.knowledge_point and doc["ocr_lines"][0]["confidence"] > 0.6


def test_patch_corrects_what_was_read(client, bank):
    question = bank[1]
    corrected = question.text.replace("\n", " ")
    answer = client.patch(f"/api/images/{question.question_id}", json={"fields": {"ocr_text": corrected}})
    assert answer.status_code == 200 and answer.json["image"]["ocr_text"] == corrected


def test_a_phone_photo_of_a_question_finds_it_first(client, bank):
    for question in bank[2:10]:
        photo = phone_photo(question.image, seed=int(question.question_id[1:]))
        answer = client.post("/api/search/image?size=5", json={"image_base64": base64.b64encode(photo).decode()})
        assert answer.status_code == 200, answer.json
        query = answer.json["query"]
        assert query["mode"] == "text" and query["words"], query
        assert answer.json["hits"][0]["id"] == question.question_id, (question.text, query["words"])
        # The next page keeps the words read in the photo, with the vector token instead of the upload.
        again = client.get("/api/search", query_string={"vec": query["vector"], "words": query["words"],
                                                        "mode": "text", "size": 5})
        assert again.status_code == 200 and again.json["hits"][0]["id"] == question.question_id


def test_an_image_search_of_a_photo_without_text_stays_semantic(client):
    out = io.BytesIO()
    text_free_photos(1, seed=3)[0].save(out, "JPEG")
    answer = client.post("/api/search/image", json={"image_base64": base64.b64encode(out.getvalue()).decode()})
    assert answer.status_code == 200 and answer.json["query"]["mode"] == "semantic"
    assert answer.json["query"].get("words") is None


def test_results_show_where_the_words_matched_and_the_image_page_marks_those_lines(client, bank):
    question = bank[3]
    number = question.text.split()[0]  # "第4题"
    answer = client.get("/api/search", query_string={"q": number, "mode": "text", "size": 3})
    first = answer.json["hits"][0]
    assert first["id"] == question.question_id and "<em>" in first["snippet"]
    page = client.get("/", query_string={"q": number, "mode": "text", "size": 3}).get_data(as_text=True)
    assert '<p class="snippet">' in page and "<em>" in page
    image_page = client.get(f"/image/{question.question_id}", query_string={"q": number, "mode": "text"})
    html = image_page.get_data(as_text=True)
    assert image_page.status_code == 200 and html.count('class="text-box matched"') == 1
    assert html.count('<rect class="text-box') == len(client.get(f"/api/images/{question.question_id}").json["image"]["ocr_lines"])
    plain = client.get(f"/image/{question.question_id}").get_data(as_text=True)
    assert '<rect class="text-box"' in plain and 'text-box matched' not in plain


def test_the_questions_that_match_can_be_ordered_by_a_field_of_the_bank(client, bank):
    def difficulties(sort: str) -> list[int]:
        answer = client.get("/api/search", query_string={"q": "三角形", "mode": "text", "sort": sort, "size": 50})
        assert answer.status_code == 200, answer.json
        good = [hit for hit in answer.json["hits"] if hit["good_match"]]
        assert good and all("三角形" in hit["image"]["ocr_text"] for hit in good)
        return [hit["image"]["difficulty"] for hit in good]

    up, down = difficulties("difficulty"), difficulties("-difficulty")
    assert up == sorted(up) and down == sorted(down, reverse=True) and len(set(up)) > 1
    assert client.get("/api/search", query_string={"q": "x", "sort": "ocr_lines"}).status_code == 400
    page = client.get("/", query_string={"q": "三角形", "mode": "text"}).get_data(as_text=True)
    assert 'data-sort="difficulty"' in page
