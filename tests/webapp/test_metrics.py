"""/metrics (webapp/metrics.py) in one process, on the real app and node: requests by route template and
status, latency, encoding time, time in Elasticsearch, loaded models. Under gunicorn: test_web_server.py."""

from __future__ import annotations

import re
import uuid

import pytest

from webapp import create_app
from webapp.metrics import method_label, operation_label, route_label


@pytest.fixture(scope="module")
def metrics_app(gallery):
    return create_app(gallery.settings)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text, 0 when it is not there yet."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith((name + "{", name + " ")):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
        if found == labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def test_labels_stay_bounded():
    assert route_label("/api/images/<image_id>") == "/api/images/<image_id>" and route_label(None) == "unmatched"
    assert method_label("GET") == "GET" and method_label("BREW") == "OTHER"
    assert operation_label("/images-1/_msearch") == "_msearch"
    assert operation_label("/images/_doc/_odd_id?refresh=true") == "_doc"
    assert operation_label("/_nodes/_local/_none") == "_nodes" and operation_label("/some-index") == "index"


def test_requests_are_counted_by_route_template_and_status(metrics_app, gallery):
    client = metrics_app.test_client()
    image_id = gallery.id_of("red_apple.jpg")
    before = scrape(client)
    for _ in range(3):
        assert client.get(f"/api/images/{image_id}").status_code == 200
    assert client.get("/api/images/" + "f" * 64).status_code == 404
    odd = f"/api/no-such-thing-{uuid.uuid4().hex}"
    assert client.get(odd).status_code == 404
    after = scrape(client)
    route = "/api/images/<image_id>"
    assert sample(after, "imgsearch_http_requests_total", route=route, method="GET", status="200") \
        - sample(before, "imgsearch_http_requests_total", route=route, method="GET", status="200") == 3
    assert sample(after, "imgsearch_http_requests_total", route=route, method="GET", status="404") \
        - sample(before, "imgsearch_http_requests_total", route=route, method="GET", status="404") == 1
    assert sample(after, "imgsearch_http_request_duration_seconds_count", route=route, method="GET") \
        - sample(before, "imgsearch_http_request_duration_seconds_count", route=route, method="GET") == 4
    assert sample(after, "imgsearch_http_requests_total", route="unmatched", method="GET", status="404") >= 1
    assert image_id not in after and odd not in after  # raw paths never become labels


def test_encoding_time_elasticsearch_time_and_loaded_models(metrics_app):
    client = metrics_app.test_client()
    before = scrape(client)
    query = f"a query never asked before {uuid.uuid4().hex}"
    assert client.get("/api/search", query_string={"q": query}).status_code == 200
    after = scrape(client)
    assert sample(after, "imgsearch_encode_duration_seconds_count", kind="text") \
        - sample(before, "imgsearch_encode_duration_seconds_count", kind="text") >= 1
    assert sample(after, "imgsearch_elasticsearch_request_duration_seconds_count", operation="_msearch") \
        - sample(before, "imgsearch_elasticsearch_request_duration_seconds_count", operation="_msearch") >= 1
    assert sample(after, "imgsearch_model_loaded", model="text") == 1.0
    assert query not in after
