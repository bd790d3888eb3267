"""Originals kept in object storage (moto) or at a URL (the scripted HTTP server), served by the web app.

Documents of a real ingested gallery get remote `paths` (the form the catalogue ingest writes); the web app
must stream them, redirect to presigned URLs when told, and answer a remote that fails or is refused with a
clean 404/502/504, never a 500.
"""

from __future__ import annotations

import urllib.request

import pytest

from tests.support.http_server import Route
from webapp import create_app

QUICK = {"allow_private_addresses": True, "fetch_backoff": 0.01, "fetch_read_timeout": 1.0,
         "fetch_connect_timeout": 1.0, "fetch_retries": 1}


@pytest.fixture(scope="module")
def bucket(s3_server):
    return s3_server.create_bucket()


def relocate(es, gallery, file_name: str, location: str) -> str:
    """Point one document's `paths` at `location`, as a catalogue ingest would have written it."""
    image_id = gallery.id_of(file_name)
    es.update(index=gallery.settings.index_alias, id=image_id, doc={"paths": [location]}, refresh=True)
    return image_id


def app_client(gallery, s3_server, **changes):
    settings = gallery.settings.with_overrides(**{**s3_server.settings_overrides(), **QUICK, **changes})
    return create_app(settings).test_client()


def test_an_s3_original_is_streamed_with_the_local_originals_headers(es, gallery, s3_server, bucket):
    data = (gallery.photos / "red_apple.jpg").read_bytes()
    image_id = relocate(es, gallery, "red_apple.jpg", s3_server.put(bucket, "shop/red_apple.jpg", data))
    client = app_client(gallery, s3_server)
    response = client.get(f"/original/{image_id}")
    assert response.status_code == 200 and response.data == data
    assert response.mimetype == "image/jpeg"  # from the document's decoded format
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert client.get(f"/api/images/{image_id}").json["links"]["original"] == f"/original/{image_id}"
    page = client.get(f"/image/{image_id}").get_data(as_text=True)
    assert f'src="/original/{image_id}"' in page
    assert "bucket" not in client.get(f"/api/images/{image_id}").json["image"]["paths"][0]  # shown by file name


def test_an_http_original_is_streamed_and_the_remote_type_is_not_trusted(es, gallery, s3_server, http_server):
    data = (gallery.photos / "blue_sky.png").read_bytes()
    url = http_server.add("/sky.png", Route(body=data, content_type="text/html"))
    image_id = relocate(es, gallery, "blue_sky.png", url)
    response = app_client(gallery, s3_server).get(f"/original/{image_id}")
    assert response.status_code == 200 and response.data == data and response.mimetype == "image/png"


@pytest.mark.parametrize(("route", "status", "words"), [
    (Route(status=404), 404, ""),
    (Route(status=403), 502, "HTTP 403"),
    (Route(fail_times=100, fail_status=503), 502, "HTTP 503"),
    (Route(body=b"x" * 5000), 502, "more than 1000"),
    (Route(body=b"x" * 500, latency=3.0), 504, "no answer in time"),
    (Route(redirect_to="http://169.254.169.254/latest/meta-data/"), 502, "cloud metadata address"),
])
def test_a_failing_remote_is_a_clean_error_never_a_500(es, gallery, s3_server, http_server, route, status, words):
    image_id = relocate(es, gallery, "green_field.jpg", http_server.add("/field.jpg", route))
    client = app_client(gallery, s3_server, max_download_bytes=1000)
    response = client.get(f"/original/{image_id}")
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert f"({status})" in page and words in page
    assert "Traceback" not in page


def test_a_body_that_stalls_after_the_answer_only_ends_early(es, gallery, s3_server, http_server):
    # The status is sent by then: the body is cut short (and logged), the worker is not left hanging.
    image_id = relocate(es, gallery, "green_field.jpg", http_server.add("/stall.jpg", Route(body=b"y" * 800,
                                                                                             stall=True)))
    response = app_client(gallery, s3_server).get(f"/original/{image_id}")
    assert response.status_code == 200 and len(response.data) < 800


def test_private_urls_are_refused_by_default(es, gallery, s3_server, http_server):
    url = http_server.add("/private.jpg", Route(body=b"secret admin page"))
    image_id = relocate(es, gallery, "grey_cat.jpg", url)
    response = app_client(gallery, s3_server, allow_private_addresses=False).get(f"/original/{image_id}")
    assert response.status_code == 502 and b"secret admin page" not in response.data
    assert "refused" in response.get_data(as_text=True)
    assert http_server.hits("/private.jpg") == 0


def test_a_missing_object_is_404_and_an_unreachable_store_502(es, gallery, s3_server, bucket):
    image_id = relocate(es, gallery, "orange_sunset.jpg", f"s3://{bucket}/gone.jpg")
    assert app_client(gallery, s3_server).get(f"/original/{image_id}").status_code == 404
    from tests.support.s3_server import free_port

    down = app_client(gallery, s3_server, s3_endpoint_url=f"http://127.0.0.1:{free_port()}", fetch_retries=0)
    assert down.get(f"/original/{image_id}").status_code == 502


def test_presigned_mode_redirects_s3_originals_and_allows_that_origin_on_the_page(es, gallery, s3_server, bucket,
                                                                                   http_server):
    data = (gallery.photos / "red_apple.jpg").read_bytes()
    image_id = relocate(es, gallery, "red_apple.jpg", s3_server.put(bucket, "shop/signed.jpg", data))
    client = app_client(gallery, s3_server, remote_originals="presigned", presigned_expiry=120)
    response = client.get(f"/original/{image_id}")
    assert response.status_code == 302
    target = response.headers["Location"]
    assert target.startswith(s3_server.endpoint_url) and "no-store" in response.headers["Cache-Control"]
    with urllib.request.urlopen(target, timeout=10) as answer:
        assert answer.read() == data
    page = client.get(f"/image/{image_id}")
    assert f"img-src 'self' data: {s3_server.endpoint_url};" in page.headers["Content-Security-Policy"]
    assert s3_server.endpoint_url not in client.get("/").headers["Content-Security-Policy"]
    # URLs are still proxied in that mode: they pass the address guard and the cap.
    url_id = relocate(es, gallery, "blue_sky.png", http_server.add("/b.png", Route(body=b"png bytes")))
    assert client.get(f"/original/{url_id}").data == b"png bytes"


def test_remote_originals_can_be_turned_off(es, gallery, s3_server, bucket):
    image_id = relocate(es, gallery, "grey_cat.jpg", s3_server.put(bucket, "cat.jpg", b"cat"))
    client = app_client(gallery, s3_server, remote_originals="off")
    assert client.get(f"/original/{image_id}").status_code == 404
    assert "original" not in client.get(f"/api/images/{image_id}").json["links"]
