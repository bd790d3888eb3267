"""The web app against the real node: JSON API, pages, uploads, file serving and every error status.

A small gallery is ingested by the real pipeline with the tiny random models: rankings here are checked
against cosines computed in numpy, never against what the model "should" find.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from es_search.cli import main as cli_main
from es_search.encoders import build_text_encoder
from es_search.search.request import decode_vector
from tests.support.sample_gallery import HOSTILE_NAME, PHOTOS
from webapp import create_app
from webapp.files import resolve_original, resolve_thumbnail


def service_of(app):
    return app.extensions["search_service"]()


def photo_bytes(gallery, name: str) -> bytes:
    return (gallery.photos / name).read_bytes()


def assert_json_error(response, status: int, *fragments: str) -> dict:
    assert response.status_code == status, response.data[:500]
    assert response.is_json
    error = response.json["error"]
    assert error["status"] == status and error["message"]
    for fragment in fragments:
        assert fragment in error["message"] or fragment == error["code"], error
    return error


# --------------------------------------------------------------------------- searching


def test_text_search_ranks_by_cosine_computed_independently(client, app, gallery):
    response = client.get("/api/search", query_string={"q": "a red apple"})
    assert response.status_code == 200
    data = response.json
    assert data["query"]["kind"] == "text" and data["query"]["mode"] == "semantic"
    assert set(data["timings_ms"]) == {"encode_ms", "search_ms"}
    assert len(data["hits"]) == len(PHOTOS) and data["has_next"] is False
    query = build_text_encoder(gallery.settings).encode_texts(["a red apple"])[0]
    service = service_of(app)
    for hit in data["hits"]:
        expected = float(np.dot(query, service.stored_vector(hit["id"])))
        assert hit["similarity"] == pytest.approx(expected, abs=0.02)  # int8 quantisation
        assert "image_embedding" not in hit["image"]
        assert hit["links"]["thumbnail"].startswith("/thumbnails/")
    similarities = [hit["similarity"] for hit in data["hits"]]
    assert similarities == sorted(similarities, reverse=True)
    assert [hit["rank"] for hit in data["hits"]] == list(range(1, len(PHOTOS) + 1))


def test_hybrid_puts_the_keyword_match_first(client, gallery):
    data = client.get("/api/search", query_string={"q": "apple", "mode": "hybrid"}).json
    assert data["query"]["mode"] == "hybrid"
    assert data["hits"][0]["id"] == gallery.id_of("red_apple.jpg")
    assert data["hits"][0]["similarity"] is not None


def test_chinese_text_searches_titles_and_vectors(client, gallery):
    semantic = client.get("/api/search", query_string={"q": "灰色的猫"})
    assert semantic.status_code == 200 and len(semantic.json["hits"]) == len(PHOTOS)
    hybrid = client.get("/api/search", query_string={"q": "灰色的猫", "mode": "hybrid"}).json
    assert hybrid["hits"][0]["id"] == gallery.id_of("grey_cat.jpg")


@pytest.mark.parametrize("params,check", [
    ({"format": "png"}, lambda image: image["format"] == "PNG"),
    ({"min_width": "700"}, lambda image: image["width"] >= 700),
    ({"tag": "sky"}, lambda image: "sky" in image["tags"]),
    ({"color": "warm"}, lambda image: image["color_scheme"] == "warm"),
])
def test_filters_apply_to_every_hit(client, params, check):
    data = client.get("/api/search", query_string={"q": "photo", "facets": "true", **params}).json
    assert data["hits"], params
    assert all(check(hit["image"]) for hit in data["hits"])
    assert data["matching"] == len(data["hits"])  # the collection is smaller than a page


def test_filter_counts_match_the_filtered_results(client):
    facets = client.get("/api/facets").json
    for entry in facets["facets"]["category"]:
        data = client.get("/api/search", query_string={"q": "x", "category": entry["value"]}).json
        assert len(data["hits"]) == entry["count"]
    assert facets["matching"] == len(PHOTOS)
    tags = {e["value"]: e["count"] for e in facets["facets"]["tag"]}
    assert tags["sky"] == 2


def test_pages_partition_the_ranking(client):
    whole = [h["id"] for h in client.get("/api/search", query_string={"q": "sun", "size": 6}).json["hits"]]
    seen = []
    for page in (1, 2, 3):
        data = client.get("/api/search", query_string={"q": "sun", "size": 2, "page": page}).json
        seen += [h["id"] for h in data["hits"]]
        assert data["has_next"] is (page < 3)
        if page < 3:
            assert f"page={page + 1}" in data["next"]
    assert seen == whole


def test_similar_leaves_the_image_out(client, gallery):
    target = gallery.id_of("blue_sky.png")
    data = client.get(f"/api/similar/{target}").json
    assert data["query"]["kind"] == "similar"
    assert target not in [h["id"] for h in data["hits"]]
    assert len(data["hits"]) == len(PHOTOS) - 1
    first = client.get(f"/api/similar/{target}", query_string={"size": 3}).json
    assert first["next"].startswith(f"/api/similar/{target}?") and "page=2" in first["next"]
    rest = client.get(first["next"]).json
    assert [h["id"] for h in first["hits"] + rest["hits"]] == [h["id"] for h in data["hits"]]
    filtered = client.get(f"/api/similar/{target}", query_string={"tag": "sky"}).json
    assert [h["id"] for h in filtered["hits"]] == [gallery.id_of("orange_sunset.jpg")]


def test_browse_without_a_query_lists_everything(client):
    data = client.get("/api/search").json
    assert data["query"]["kind"] == "browse" and data["total"] == len(PHOTOS)


def test_one_image_document(client, gallery):
    image_id = gallery.id_of("grey_cat.jpg")
    data = client.get(f"/api/images/{image_id}").json
    assert data["id"] == image_id and data["image"]["title"] == "灰色的猫"
    assert "image_embedding" not in data["image"]
    assert "original" not in data["links"]  # no IMGSEARCH_IMAGE_ROOTS configured


# --------------------------------------------------------------------------- uploads


def test_upload_multipart_then_page_it_by_vector_token(client, gallery, tiny_models):
    response = client.post("/api/search/image", data={"image": (io.BytesIO(photo_bytes(gallery, "green_field.jpg")),
                                                                "field.jpg"), "size": "3"})
    assert response.status_code == 200, response.data
    data = response.json
    assert data["query"]["kind"] == "image" and len(data["hits"]) == 3
    # The green field itself is indexed: an upload of the same pixels finds it first.
    assert data["hits"][0]["id"] == gallery.id_of("green_field.jpg")
    assert data["hits"][0]["similarity"] > 0.95
    token = data["query"]["vector"]
    assert len(decode_vector(token)) == tiny_models.dims
    again = client.get("/api/search", query_string={"vec": token, "size": 3}).json
    assert [h["id"] for h in again["hits"]] == [h["id"] for h in data["hits"]]
    assert "vec=" in data["next"]
    second = client.get(data["next"]).json
    assert second["page"] == 2 and len(second["hits"]) == 3
    assert not {h["id"] for h in second["hits"]} & {h["id"] for h in data["hits"]}


def test_upload_as_json_base64_and_data_url(client, gallery):
    encoded = base64.b64encode(photo_bytes(gallery, "red_apple.jpg")).decode()
    plain = client.post("/api/search/image", json={"image_base64": encoded, "size": 2, "color": ["warm"]})
    assert plain.status_code == 200, plain.data
    assert plain.json["hits"][0]["id"] == gallery.id_of("red_apple.jpg")
    assert plain.json["query"]["filters"]["color"] == ["warm"]
    data_url = client.post("/api/search/image", json={"image_base64": "data:image/jpeg;base64," + encoded})
    assert data_url.status_code == 200
    assert data_url.json["hits"][0]["id"] == gallery.id_of("red_apple.jpg")


def test_bad_uploads_are_clear_4xx(client, gallery):
    assert_json_error(client.post("/api/search/image", data={"image": (io.BytesIO(b"not an image at all"), "x.jpg")}),
                      400, "not_an_image")
    assert_json_error(client.post("/api/search/image", data={"image": (io.BytesIO(b""), "x.jpg")}), 400, "empty")
    truncated = photo_bytes(gallery, "red_apple.jpg")[:200]
    assert client.post("/api/search/image", data={"image": (io.BytesIO(truncated), "x.jpg")}).status_code == 400
    assert_json_error(client.post("/api/search/image", data={}), 400, "missing_image")
    assert_json_error(client.post("/api/search/image", json={"image_base64": "@@@"}), 400, "bad_base64")
    assert_json_error(client.post("/api/search/image", json=["a list"]), 400, "bad_json")
    assert_json_error(client.post("/api/search/image", data="{broken", content_type="application/json"), 400)
    assert_json_error(client.post("/api/search/image", json={"image_base64": base64.b64encode(b"x").decode(),
                                                              "q": "cat"}), 400, "q is not part of this request")
    assert_json_error(client.get("/api/search/image"), 405)


def test_upload_limits_size_and_pixels(gallery):
    strict = create_app(gallery.settings.with_overrides(max_upload_bytes=20_000, max_image_pixels=100_000))
    client = strict.test_client()
    big = os.urandom(30_000)
    assert_json_error(client.post("/api/search/image", data={"image": (io.BytesIO(big), "big.jpg")}), 413)
    assert_json_error(client.post("/api/search/image",
                                  json={"image_base64": base64.b64encode(big).decode()}), 413)
    # A request body far past the limit is refused before it is read.
    assert_json_error(client.post("/api/search/image", data={"image": (io.BytesIO(os.urandom(200_000)), "b.jpg")}),
                      413)
    bomb = io.BytesIO()
    Image.new("L", (1000, 1000)).save(bomb, format="PNG")  # a few KB on the wire, 1 Mpx decoded
    assert len(bomb.getvalue()) < 20_000
    assert_json_error(client.post("/api/search/image", data={"image": (io.BytesIO(bomb.getvalue()), "bomb.png")}),
                      400, "too_many_pixels")
    page = client.post("/search/image", data={"image": (io.BytesIO(big), "big.jpg")})
    assert page.status_code == 413 and b"<html" in page.data


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("query,fragment", [
    ({"page": "0"}, "page must be at least 1"),
    ({"size": "5000"}, "size must be at most 100"),
    ({"page": " 2"}, "page must be a whole number"),
    ({"min_similarity": "abc"}, "min_similarity"),
    ({"mode": "magic"}, "mode must be one of"),
    ({"mode": "HYBRID"}, "mode must be one of"),
    ({"similar": "a/b"}, "similar breaks the rule"),
    ({"date_from": "31/12/2020"}, "date_from"),
    ({"vec": "%%%"}, "vec"),
    ({"vec": "AACAPw"}, "dimensions"),  # a valid 1-d vector token: wrong size for the index
])
def test_bad_parameters_are_400_with_the_reason(client, query, fragment):
    assert_json_error(client.get("/api/search", query_string=query), 400, fragment)


def test_a_page_past_the_deepest_one_is_empty_and_says_why(client):
    answer = client.get("/api/search", query_string={"q": "x", "page": "500"})
    assert answer.status_code == 200 and answer.json["hits"] == [] and answer.json["has_next"] is False
    assert "goes past the 1000 best results" in answer.json["notice"] and answer.json["max_page"] == 41


def test_a_text_beside_an_indexed_image_is_one_more_part(client, gallery):
    apple = gallery.id_of("red_apple.jpg")
    answer = client.get("/api/search", query_string={"q": "fruit", "similar": apple}).json
    assert answer["query"]["kind"] == "text"
    assert [(p["kind"], p["value"]) for p in answer["query"]["parts"]] == [("text", "fruit"), ("image", apple)]


def test_unknown_things_are_404_json(client):
    assert_json_error(client.get("/api/images/" + "0" * 64), 404, "no indexed image")
    assert_json_error(client.get("/api/similar/" + "0" * 64), 404)
    assert_json_error(client.get("/api/images/" + "x" * 600), 400, "1 to 128 characters")
    assert_json_error(client.get("/api/nothing-here"), 404)
    not_allowed = client.delete("/api/search")
    assert_json_error(not_allowed, 405)
    assert set(not_allowed.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert_json_error(client.post("/api/search"), 400, "the body must be JSON")


def test_missing_index_is_503_and_health_says_why(gallery):
    empty = create_app(gallery.settings.with_overrides(index_alias="test-web-no-such-alias"))
    client = empty.test_client()
    assert_json_error(client.get("/api/search", query_string={"q": "cat"}), 503, "index_missing")
    health = client.get("/api/health")
    assert health.status_code == 503 and health.json == {"ok": False, "status": "no_index"}
    page = client.get("/?q=cat")
    assert page.status_code == 503 and "imgsearch ingest" in page.get_data(as_text=True)


def test_unreachable_elasticsearch_is_503_not_500(gallery):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = create_app(gallery.settings.with_overrides(es_url=f"http://127.0.0.1:{port}")).test_client()
    assert_json_error(down.get("/api/search", query_string={"q": "cat"}), 503, "elasticsearch_unavailable")
    assert_json_error(down.get("/api/images/" + "a" * 64), 503, "cannot reach")
    health = down.get("/api/health")
    assert health.status_code == 503 and health.json == {"ok": False, "status": "unavailable"}
    page = down.get("/", query_string={"q": "cat"})
    assert page.status_code == 503 and "cannot reach Elasticsearch" in page.get_data(as_text=True)


def test_health_tells_anonymous_visitors_only_whether_it_works(client):
    data = client.get("/api/health").json
    assert data == {"ok": True, "status": data["status"]} and data["status"] in ("green", "yellow")


def test_health_details_are_for_a_key_or_a_private_deployment_and_name_no_path(gallery):
    private = create_app(gallery.settings.with_overrides(health_details=True)).test_client()
    details = private.get("/api/health").json["details"]
    assert details["documents"] == len(PHOTOS) and details["elasticsearch"]["versions"]
    assert details["models"]["image"] == Path(gallery.settings.image_model).name  # a folder's name, not its path
    text = json.dumps(details)
    for secret in (str(gallery.settings.image_model), str(gallery.settings.text_model), str(gallery.settings.data_dir)):
        assert secret not in text


def test_openapi_describes_every_api_route(client, app):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in spec["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in spec["paths"][path], (path, method)


# --------------------------------------------------------------------------- pages


def test_search_page_shows_results_filters_and_escapes_file_names(client, gallery):
    response = client.get("/", query_string={"q": "sky", "size": 4})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count('class="card"') == 4
    assert "Find similar" in html and 'rel="next"' in html
    assert 'name="color"' in html and 'class="count"' in html
    everything = client.get("/").get_data(as_text=True)
    assert HOSTILE_NAME not in everything and "<b>bold</b>" not in everything
    assert "&lt;img src=x onerror=alert(1)&gt;" in everything
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_search_page_with_hostile_query_text_is_escaped(client):
    html = client.get("/", query_string={"q": '"><script>alert(1)</script>'}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_bad_page_parameters_render_an_error_page(client):
    response = client.get("/", query_string={"page": "-4"})
    assert response.status_code == 400 and "page must be at least 1" in response.get_data(as_text=True)
    assert client.get("/image/" + "0" * 64).status_code == 404


def test_language_switch_is_remembered(client):
    chinese = client.get("/", query_string={"lang": "zh"})
    assert "搜索" in chinese.get_data(as_text=True) and 'lang="zh-Hans"' in chinese.get_data(as_text=True)
    assert "lang=zh" in chinese.headers["Set-Cookie"]
    assert "筛选" in client.get("/").get_data(as_text=True)  # the cookie keeps it
    english = client.get("/", query_string={"lang": "en"}).get_data(as_text=True)
    assert "Filters" in english
    fresh = create_app_client_with_language(client, "zh-CN,zh;q=0.9")
    assert "以图搜图" in fresh


def create_app_client_with_language(client, header: str) -> str:
    client.delete_cookie("lang")
    return client.get("/", headers={"Accept-Language": header}).get_data(as_text=True)


def test_image_page_shows_metadata_colours_and_similar_images(client, gallery):
    image_id = gallery.id_of("orange_sunset.jpg")
    html = client.get(f"/image/{image_id}").get_data(as_text=True)
    assert "orange sunset" in html and "800 × 600" in html
    assert re.search(r'<rect [^>]*fill="#[0-9a-f]{6}"', html)
    assert html.count('class="card"') == len(PHOTOS) - 1
    assert f'/image/{image_id}"' not in html.split('class="similar"')[1]  # itself not among the similar
    assert "IMGSEARCH_IMAGE_ROOTS" in html  # the thumbnail stands in for the original


def test_page_upload_shows_preview_and_pages_by_vector(client, gallery):
    response = client.post("/search/image", data={"image": (io.BytesIO(photo_bytes(gallery, "blue_sky.png")), "s.png"),
                                                  "size": "2"}, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'src="data:image/jpeg;base64,' in html
    next_link = re.search(r'rel="next" href="([^"]+)"', html).group(1)
    assert "vec=" in next_link
    second = client.get(next_link.replace("&amp;", "&"))
    assert second.status_code == 200 and second.get_data(as_text=True).count('class="card"') == 2


# --------------------------------------------------------------------------- files


def test_thumbnails_are_served_and_traversal_is_not(client, gallery):
    data = client.get("/api/search", query_string={"size": 1}).json
    thumb = data["hits"][0]["links"]["thumbnail"]
    ok = client.get(thumb)
    assert ok.status_code == 200 and ok.mimetype == "image/jpeg"
    assert "sandbox" in ok.headers["Content-Security-Policy"]
    secret = gallery.settings.data_dir / "secret.jpg"
    secret.write_bytes(b"\xff\xd8 TOP-SECRET-BYTES")
    for path in ("/thumbnails/../secret.jpg", "/thumbnails/%2e%2e/secret.jpg", "/thumbnails/..%2fsecret.jpg",
                 "/thumbnails/%2e%2e%2fsecret.jpg", "/thumbnails//etc/passwd", "/thumbnails/%2Fetc%2Fpasswd",
                 "/thumbnails/%252e%252e/secret.jpg", "/thumbnails/..\\secret.jpg", "/thumbnails/a/../../secret.jpg",
                 "/thumbnails/%00.jpg"):
        response = client.get(path, follow_redirects=True)  # "//" is merged by a redirect, then refused
        assert response.status_code in (400, 404), path
        assert b"TOP-SECRET-BYTES" not in response.data
    link = gallery.settings.thumbnails_dir / "escape.jpg"
    link.symlink_to(secret)
    assert client.get("/thumbnails/escape.jpg").status_code == 404
    (gallery.settings.thumbnails_dir / "page.html").write_text("<script>alert(1)</script>")
    assert client.get("/thumbnails/page.html").status_code == 404


def test_originals_only_from_configured_roots(gallery, tmp_path):
    image_id = gallery.id_of("red_apple.jpg")
    closed = create_app(gallery.settings).test_client()
    assert closed.get(f"/original/{image_id}").status_code == 404
    open_app = create_app(gallery.settings.with_overrides(image_roots=(gallery.photos,))).test_client()
    response = open_app.get(f"/original/{image_id}")
    assert response.status_code == 200 and response.data == photo_bytes(gallery, "red_apple.jpg")
    assert "original" in open_app.get(f"/api/images/{image_id}").json["links"]
    elsewhere = create_app(gallery.settings.with_overrides(image_roots=(tmp_path,))).test_client()
    assert elsewhere.get(f"/original/{image_id}").status_code == 404


def test_original_resolution_refuses_symlinks_out_of_the_roots(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "x.jpg").write_bytes(b"x")
    (root / "inside.jpg").write_bytes(b"y")
    (root / "link.jpg").symlink_to(outside / "x.jpg")
    assert resolve_original([str(root / "link.jpg")], [root], "JPEG") is None
    assert resolve_original([str(root / "../outside/x.jpg")], [root], "JPEG") is None
    assert resolve_original([str(root / "inside.jpg")], [root], "JPEG") == ((root / "inside.jpg").resolve(),
                                                                             "image/jpeg")
    assert resolve_original([str(root / "inside.jpg")], [root], "SVG") is None  # only image types we know
    assert resolve_original([str(root / "inside.jpg")], [], "JPEG") is None
    assert resolve_thumbnail(root, "../outside/x.jpg") is None
    assert resolve_thumbnail(root, "inside.jpg") == ((root / "inside.jpg").resolve(), "image/jpeg")


# --------------------------------------------------------------------------- CLI


def test_cli_searches_with_the_same_service(gallery, gallery_env, capsys):
    assert cli_main(["search", "apple", "--hybrid", "--json", "--size", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hits"][0]["id"] == gallery.id_of("red_apple.jpg") and len(data["hits"]) == 2
    assert cli_main(["search", "--image", str(gallery.photos / "grey_cat.jpg")]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[1].split()[2] == gallery.id_of("grey_cat.jpg")[:12]
    assert cli_main(["search", "--similar", gallery.id_of("grey_cat.jpg"), "--color", "cool"]) == 0
    assert "grey_cat" not in capsys.readouterr().out
    assert cli_main(["search", "x", "--page", "0"]) == 2
    assert "page must be at least 1" in capsys.readouterr().err
    assert cli_main(["search", "--image", "/no/such/file.jpg"]) == 2
    assert cli_main(["search", "--similar", "0" * 64]) == 1


# --------------------------------------------------------------------------- the production server


def test_web_settings_file_overrides_the_environment(gallery, tmp_path):
    from es_search.config import ConfigError
    from webapp.cli import web_settings

    overrides = tmp_path / "demo.env"
    overrides.write_text("# written by a demo\nIMGSEARCH_INDEX_ALIAS=demo-images\nIMGSEARCH_WEB_WORKERS=3\n")
    applied = web_settings(gallery.settings, overrides)
    assert applied.index_alias == "demo-images" and applied.web_workers == 3
    assert applied.text_model == gallery.settings.text_model  # what the file does not name stays
    assert web_settings(gallery.settings, None) is gallery.settings
    overrides.write_text("IMGSEARCH_WEB_WORKERS=many\n")
    with pytest.raises(ConfigError, match="IMGSEARCH_WEB_WORKERS"):
        web_settings(gallery.settings, overrides)
    with pytest.raises(ConfigError, match="does not exist"):
        web_settings(gallery.settings, tmp_path / "missing.env")


def test_imgsearch_web_serves_the_gallery_with_gunicorn(gallery, tmp_path):
    import http.client
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings_file = tmp_path / "web.env"
    settings_file.write_text(f"IMGSEARCH_INDEX_ALIAS={gallery.settings.index_alias}\n"
                             f"IMGSEARCH_IMAGE_MODEL={gallery.settings.image_model}\n"
                             f"IMGSEARCH_TEXT_MODEL={gallery.settings.text_model}\n"
                             f"IMGSEARCH_DATA_DIR={gallery.settings.data_dir}\n")
    server = subprocess.Popen([sys.executable, "-m", "es_search.cli", "web", "--port", str(port), "--workers", "1",
                               "--settings-file", str(settings_file)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, answer = time.time() + 120, None
        while answer is None and time.time() < deadline and server.poll() is None:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("GET", "/api/search?q=apple&mode=hybrid&size=1")
                response = connection.getresponse()
                answer = (response.status, json.loads(response.read()), response.getheader("Server"))
            except OSError:
                time.sleep(0.5)
        assert answer is not None, server.communicate(timeout=5)[0] if server.poll() is not None else "no answer"
        status, body, software = answer
        assert status == 200 and "gunicorn" in software.lower()
        assert body["hits"][0]["id"] == gallery.id_of("red_apple.jpg")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_every_interface_text_has_english_and_chinese():
    from webapp.i18n import LANGUAGES, MESSAGES, choose_language, translate

    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGUAGES), key
        assert all(value.strip() for value in texts.values()), key
    assert translate("matching", "zh", count=3) == "3 张图片符合筛选条件"
    assert choose_language("zh-TW", None) == "zh"
    assert choose_language(None, "en", ["zh-CN"]) == "en"  # the cookie beats the browser
    assert choose_language("fr", None, ["de", "zh"]) == "zh"
    assert choose_language(None, None, ["fr"]) == "en"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pages_show_no_untranslated_keys(client, gallery, lang):
    image_id = gallery.id_of("orange_sunset.jpg")
    pages = [client.get("/", query_string={"lang": lang, "facets": "1"}),
             client.get("/", query_string={"lang": lang, "q": "sun", "mode": "hybrid"}),
             client.get("/", query_string={"lang": lang, "similar": image_id}),
             client.get(f"/image/{image_id}", query_string={"lang": lang}),
             client.get("/", query_string={"lang": lang, "page": "0"}),
             client.get("/nowhere", query_string={"lang": lang})]
    for response in pages:
        html = response.get_data(as_text=True)
        keys = [key for key in re.findall(r"\b(?:field|facet|results|color|mode|date|min)_[a-z_]+\b", html)
                if key not in ("date_from", "date_to", "min_width", "min_height", "min_similarity")]
        assert keys == [], (response.request.url, keys)


# --------------------------------------------------------------------------- links keep filters, paths shown safely


def similar_hrefs(html: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in re.findall(r'class="[^"]*similar-link[^"]*" href="([^"]+)"', html)]


def test_find_similar_links_keep_the_active_filters(client, gallery):
    data = client.get("/api/search", query_string={"q": "photo", "tag": "sky", "min_width": "500"}).json
    assert len(data["hits"]) == 2
    for hit in data["hits"]:
        assert "tag=" not in hit["links"]["page"]  # an image's page shows its neighbours in the whole collection
        for name in ("similar", "api_similar"):
            assert "tag=sky" in hit["links"][name] and "width=500.." in hit["links"][name], hit["links"]
    sky = gallery.id_of("blue_sky.png")
    [from_sky] = [hit for hit in data["hits"] if hit["id"] == sky]
    followed = client.get(from_sky["links"]["api_similar"]).json
    assert [h["id"] for h in followed["hits"]] == [gallery.id_of("orange_sunset.jpg")]  # still only the sky tag

    html = client.get("/", query_string={"q": "photo", "tag": "sky", "min_width": "500"}).get_data(as_text=True)
    hrefs = similar_hrefs(html)
    assert len(hrefs) == 2 and all("tag=sky" in h and "width=500.." in h for h in hrefs)
    page = client.get(hrefs[0]).get_data(as_text=True)
    assert page.count('class="card"') == 1  # the filters still apply on the similar-images page
    assert all("tag=sky" in h for h in similar_hrefs(page))

    image_page = client.get(f"/image/{sky}", query_string={"tag": "sky"}).get_data(as_text=True)
    assert image_page.count('class="card"') == 1  # the image's own similar list is narrowed as well
    assert all("tag=sky" in h for h in similar_hrefs(image_page)) and similar_hrefs(image_page)

    unfiltered = similar_hrefs(client.get("/", query_string={"q": "photo"}).get_data(as_text=True))
    assert unfiltered and not any("tag=" in h for h in unfiltered)


def shown_paths_of(settings, gallery, name: str) -> tuple[dict, dict, str]:
    """What one image's paths look like under `settings`: in its JSON document, in a search hit, on its page."""
    web = create_app(settings).test_client()
    image_id = gallery.id_of(name)
    document = web.get(f"/api/images/{image_id}").json["image"]
    [hit] = [h["image"] for h in web.get("/api/search", query_string={"size": 50}).json["hits"] if h["id"] == image_id]
    return document, hit, web.get(f"/image/{image_id}").get_data(as_text=True)


def test_paths_are_shown_relative_to_their_image_root_by_default(gallery):
    full = str(gallery.photos / "red_apple.jpg")
    under_root = gallery.settings.with_overrides(image_roots=(gallery.photos,))
    assert under_root.show_paths == "relative"
    document, hit, page = shown_paths_of(under_root, gallery, "red_apple.jpg")
    assert document["paths"] == hit["paths"] == ["red_apple.jpg"]
    assert "<code>red_apple.jpg</code>" in page and str(gallery.photos) not in page

    parent_root = gallery.settings.with_overrides(image_roots=(gallery.photos.parent,))
    document, _, _ = shown_paths_of(parent_root, gallery, "red_apple.jpg")
    assert document["paths"] == ["photos/red_apple.jpg"]

    no_root = gallery.settings  # outside every root (none configured): the file name, never the server path
    document, hit, page = shown_paths_of(no_root, gallery, "red_apple.jpg")
    assert document["paths"] == hit["paths"] == ["red_apple.jpg"] and str(gallery.photos) not in page

    document, hit, page = shown_paths_of(gallery.settings.with_overrides(show_paths="full"), gallery, "red_apple.jpg")
    assert document["paths"] == hit["paths"] == [full] and f"<code>{full}</code>" in page

    document, hit, page = shown_paths_of(gallery.settings.with_overrides(show_paths="hidden"), gallery,
                                         "red_apple.jpg")
    assert "paths" not in document and "paths" not in hit
    assert "red_apple.jpg</code>" not in page and document["file_name"] == "red_apple.jpg"


def test_show_paths_setting_is_validated():
    from es_search.config import ConfigError, load_settings

    assert load_settings(env={"IMGSEARCH_SHOW_PATHS": "hidden"}).show_paths == "hidden"
    with pytest.raises(ConfigError, match="IMGSEARCH_SHOW_PATHS must be one of"):
        load_settings(env={"IMGSEARCH_SHOW_PATHS": "everything"})


def test_relative_paths_take_the_deepest_root_and_never_a_name_prefix(tmp_path):
    from webapp.path_display import relative_to_roots, shown_paths

    outer, inner = tmp_path / "photos", tmp_path / "photos" / "2024"
    assert relative_to_roots(str(inner / "a" / "b.jpg"), [outer, inner]) == "a/b.jpg"
    assert relative_to_roots(str(tmp_path / "photos-private" / "c.jpg"), [outer]) == "c.jpg"  # not under photos/
    assert relative_to_roots(str(outer / ".." / "secret" / "d.jpg"), [outer]) == "d.jpg"
    assert shown_paths([str(outer / "x.jpg")], [outer], "full") == [str(outer / "x.jpg")]
    assert shown_paths([str(outer / "x.jpg")], [outer], "hidden") is None


def test_recommendations_leave_the_history_out_and_page_as_themselves(client, gallery):
    viewed = [gallery.id_of("blue_sky.png"), gallery.id_of("orange_sunset.jpg")]
    data = client.get("/api/recommend", query_string={"viewed": viewed, "size": 50}).json
    assert data["query"]["kind"] == "compound"
    ids = [hit["id"] for hit in data["hits"]]
    assert len(ids) == len(PHOTOS) - 2 and not set(ids) & set(viewed)
    first = client.get("/api/recommend", query_string={"viewed": viewed, "size": 2}).json
    assert first["next"].startswith("/api/recommend?") and "page=2" in first["next"]
    second = client.get(first["next"]).json
    assert [h["id"] for h in first["hits"] + second["hits"]] == ids[:4]
    # The same as JSON, with weights: a like and a dislike change the order, never the history's absence.
    posted = client.post("/api/recommend", json={"viewed": [{"id": viewed[0], "weight": 1.0}],
                                                 "liked": [viewed[1]], "disliked": [ids[0]], "size": 50}).json
    assert not {h["id"] for h in posted["hits"]} & {*viewed, ids[0]}
    assert_json_error(client.get("/api/recommend"), 400, "viewed")
    assert_json_error(client.post("/api/recommend", json={"disliked": [viewed[0]]}), 400, "viewed or liked")
    gone = client.get("/api/recommend", query_string={"viewed": ["not-indexed-1"]}).json
    assert gone["hits"] == [] and "nothing to recommend" in gone["notice"]
