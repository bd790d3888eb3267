"""The project on a node with Elasticsearch security on, with the least-privilege roles of docs/devtools.md.

The secured node (fixture `secured_node`, tests/support/own_nodes.py) has a superuser only; the security
requests of docs/devtools.md section 9 run there as written (the alias `images` replaced by this module's
own) and make the roles and the two API keys. The ingest writes with the writer key, the web app searches
with the reader key; each is refused what its role does not grant, with an error naming the privilege.
No credential (an API key, a marker password) shows in a log record, an error message, or the command
line's output.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from elasticsearch import AuthorizationException

from es_search.client import build_client, check_cluster
from es_search.config import REPO_ROOT, Settings
from es_search.errors import AccessDenied, ClusterUnavailable
from es_search.search import SearchService
from es_search.search.request import SearchRequest
from ingest.runner import run_ingest
from tests.es_search.test_devtools import DOC_PATH, parse_requests
from tests.support.ingest_cases import jpeg
from webapp import create_app

PHOTOS = 4
MARKER_PASSWORD = "Marker-Pw-7f3a9c1e"  # a test credential, looked for in every output


@dataclass
class Secured:
    """The secured node with this module's roles, keys and photos; the writer has ingested `ids`."""

    admin: Settings  # the superuser's settings (local node, security on)
    alias: str
    reader_key: str
    writer_key: str
    responses: dict[str, dict]
    ids: set[str]
    tmp: Path
    tiny_models: object

    @property
    def url(self) -> str:
        return self.admin.node_url

    def settings_with(self, *, api_key: str | None = None, username: str | None = None, password: str | None = None,
                      alias: str | None = None, name: str = "run") -> Settings:
        """Settings for a client of the node (ES_URL) with these credentials, the tiny models, a data folder."""
        return self.admin.with_overrides(
            es_url=self.url, es_security=False, es_api_key=api_key, es_username=username, es_password=password,
            index_alias=alias or self.alias, data_dir=self.tmp / f"{name}-{uuid.uuid4().hex[:6]}",
            image_model=str(self.tiny_models.image), text_model=str(self.tiny_models.text))


def _photos(folder: Path, seeds: range) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        (folder / f"photo-{seed}.jpg").write_bytes(jpeg(seed))
    return folder


def _run_doc_requests(admin_es, alias: str) -> dict[str, dict]:
    """The `requires: security` requests of docs/devtools.md as written, for this module's alias."""
    responses = {}
    for request in parse_requests(DOC_PATH.read_text(encoding="utf-8")):
        if request.requires != "security":
            continue
        body = request.body.replace('"images"', f'"{alias}"').replace('"images-*"', f'"{alias}-*"')
        response = admin_es.perform_request(request.method, request.path, body=body,
                                            headers={"accept": "application/json",
                                                     "content-type": "application/json"})
        assert 200 <= response.meta.status < 300, f"{request.name}: HTTP {response.meta.status}"
        responses[request.name] = response.body
    return responses


@pytest.fixture(scope="module")
def secured(secured_node, tiny_models, tmp_path_factory) -> Secured:
    tmp = tmp_path_factory.mktemp("secured-clients")
    alias = f"sec-{uuid.uuid4().hex[:10]}"
    admin_es = build_client(secured_node)
    responses = _run_doc_requests(admin_es, alias)
    state = Secured(admin=secured_node, alias=alias, reader_key=responses["api-key-reader"]["encoded"],
                    writer_key=responses["api-key-writer"]["encoded"], responses=responses, ids=set(), tmp=tmp,
                    tiny_models=tiny_models)
    summary = run_ingest(state.settings_with(api_key=state.writer_key, name="writer"),
                         [_photos(tmp / "photos", range(PHOTOS))])
    assert (summary.indexed, summary.failed, summary.stopped) == (PHOTOS, 0, None), summary
    admin_es.indices.refresh(index=alias)
    state.ids = {hit["_id"] for hit in admin_es.search(index=alias, size=100, source=False)["hits"]["hits"]}
    assert len(state.ids) == PHOTOS
    yield state
    made = list(admin_es.indices.get(index=f"{alias}*", expand_wildcards="all"))
    if made:  # by name: the node refuses wildcard deletes (action.destructive_requires_name)
        admin_es.indices.delete(index=",".join(made))
    admin_es.close()


# --------------------------------------------------------------------------- the documented roles and keys


def test_the_documented_requests_make_two_least_privilege_keys(secured):
    responses = secured.responses
    assert responses["role-reader"] == {"role": {"created": True}}
    assert responses["role-writer"] == {"role": {"created": True}}
    assert responses["api-key-reader"]["name"] == "imgsearch-web"
    assert responses["api-key-writer"]["name"] == "imgsearch-ingest"
    elsewhere = f"elsewhere-{uuid.uuid4().hex[:8]}"
    wanted = ["read", "view_index_metadata", "write", "create_index", "manage"]
    granted = {}
    for name, key in (("reader", secured.reader_key), ("writer", secured.writer_key)):
        es = build_client(secured.settings_with(api_key=key))
        answer = es.security.has_privileges(cluster=["monitor", "manage", "manage_security"], index=[
            {"names": [secured.alias, f"{secured.alias}-apikeys", elsewhere], "privileges": wanted}])
        granted[name] = answer
        assert answer["cluster"] == {"monitor": True, "manage": False, "manage_security": False}, name
    for index in (secured.alias, f"{secured.alias}-apikeys"):  # the alias and the project's other indices
        assert granted["reader"]["index"][index] == {
            "read": True, "view_index_metadata": True, "write": False, "create_index": False, "manage": False}
        assert granted["writer"]["index"][index] == dict.fromkeys(wanted, True)
    for name in ("reader", "writer"):
        assert granted[name]["index"][elsewhere] == dict.fromkeys(wanted, False), name


# --------------------------------------------------------------------------- the web app with the reader key


def test_the_web_app_searches_with_the_reader_key(secured):
    settings = secured.settings_with(api_key=secured.reader_key, name="web")
    service = SearchService(build_client(settings), settings)
    result = service.search(SearchRequest(text="a photo", size=10))
    assert {hit.id for hit in result.hits} == secured.ids

    client = create_app(settings).test_client()
    response = client.get("/api/search", query_string={"q": "a photo", "size": 10})
    assert response.status_code == 200, response.data[:500]
    assert {hit["id"] for hit in response.json["hits"]} == secured.ids
    assert [hit["id"] for hit in response.json["hits"]] == [hit.id for hit in result.hits]
    facets = client.get("/api/facets")
    assert facets.status_code == 200 and facets.json["matching"] == PHOTOS
    one = sorted(secured.ids)[0]
    image = client.get(f"/api/images/{one}")
    assert image.status_code == 200 and image.json["id"] == one
    health = client.get("/api/health")
    assert health.status_code == 200 and health.json["ok"] is True and "details" not in health.json


def test_the_reader_key_gets_a_clear_error_for_an_index_its_role_does_not_name(secured):
    settings = secured.settings_with(api_key=secured.reader_key, alias=f"elsewhere-{uuid.uuid4().hex[:8]}")
    response = create_app(settings).test_client().get("/api/search", query_string={"q": "a photo"})
    assert response.status_code == 503 and response.is_json
    error = response.json["error"]
    assert error["code"] == "elasticsearch_access_denied"
    assert "lack a privilege" in error["message"] and "privileges [" in error["message"]
    assert secured.reader_key not in response.get_data(as_text=True)


# --------------------------------------------------------------------------- writing: the roles' limits


def test_a_write_with_the_reader_key_stops_with_the_missing_privilege(secured):
    settings = secured.settings_with(api_key=secured.reader_key, name="reader-writes")
    summary = run_ingest(settings, [_photos(secured.tmp / "more", range(100, 103))])
    assert summary.stopped == "cluster" and summary.indexed == 0
    assert "lack a privilege" in summary.error and "indices:data/write/" in summary.error
    assert "write" in summary.error.split("privileges [", 1)[1], summary.error  # the privileges that grant it
    assert secured.reader_key not in summary.error
    admin_es = build_client(secured.admin)
    assert admin_es.count(index=secured.alias)["count"] == PHOTOS  # nothing was written

    # A new index behind an alias the role names: creating it is refused too, before any image is read.
    fresh = secured.settings_with(api_key=secured.reader_key, alias=f"{secured.alias}-fresh", name="reader-creates")
    with pytest.raises(AccessDenied, match=r"create_index") as refused:
        run_ingest(fresh, [secured.tmp / "more"])
    assert secured.reader_key not in str(refused.value)
    assert dict(admin_es.indices.get(index=f"{secured.alias}-fresh*")) == {}


def test_the_writer_key_is_refused_on_another_index(secured):
    elsewhere = f"elsewhere-{uuid.uuid4().hex[:8]}"
    settings = secured.settings_with(api_key=secured.writer_key, alias=elsewhere, name="writer-elsewhere")
    with pytest.raises(AccessDenied, match=r"lack a privilege") as refused:
        run_ingest(settings, [secured.tmp / "photos"])
    assert refused.value.http_status == 503 and refused.value.code == "elasticsearch_access_denied"
    writer_es = build_client(settings)
    with pytest.raises(AuthorizationException):
        writer_es.index(index=elsewhere, document={"title": "not here"})
    admin_es = build_client(secured.admin)
    assert dict(admin_es.indices.get(index=f"{elsewhere}*")) == {}


# --------------------------------------------------------------------------- credentials never shown


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "IMGSEARCH_", "AWS_"))}
    return subprocess.run([sys.executable, "-m", "es_search.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=REPO_ROOT, env={**clean, "PYTHONPATH": str(REPO_ROOT), **env})


def test_imgsearch_config_shows_no_credential(secured, tmp_path):
    data = {"IMGSEARCH_DATA_DIR": str(tmp_path)}
    with_key = _cli(["config"], {**data, "ES_URL": secured.url, "ES_API_KEY": secured.writer_key,
                                 "IMGSEARCH_S3_ACCESS_KEY_ID": "id", "IMGSEARCH_S3_SECRET_ACCESS_KEY": MARKER_PASSWORD})
    assert with_key.returncode == 0, with_key.stderr
    assert '"es_api_key": "***"' in with_key.stdout and '"s3_secret_access_key": "***"' in with_key.stdout
    with_password = _cli(["config"], {**data, "ES_URL": secured.url, "ES_USERNAME": "someone",
                                      "ES_PASSWORD": MARKER_PASSWORD})
    assert with_password.returncode == 0, with_password.stderr
    assert '"es_password": "***"' in with_password.stdout
    # Credentials written into the URL are refused, without echoing them.
    in_url = _cli(["config"], {**data, "ES_URL": f"http://someone:{MARKER_PASSWORD}@127.0.0.1:{secured.admin.es_port}"})
    assert in_url.returncode == 2 and "ES_URL must not carry credentials" in in_url.stderr
    for run in (with_key, with_password, in_url):
        shown = run.stdout + run.stderr
        assert secured.writer_key not in shown and MARKER_PASSWORD not in shown


def test_a_refused_login_names_no_credential(secured, tmp_path):
    wrong_key = base64.b64encode(f"{uuid.uuid4().hex}:{MARKER_PASSWORD}".encode()).decode()
    for credentials in ({"ES_API_KEY": wrong_key}, {"ES_USERNAME": "imgsearch-admin", "ES_PASSWORD": MARKER_PASSWORD}):
        run = _cli(["index", "info"], {"ES_URL": secured.url, "IMGSEARCH_DATA_DIR": str(tmp_path),
                                       "IMGSEARCH_INDEX_ALIAS": secured.alias, **credentials})
        assert run.returncode == 3, run.stderr
        assert "rejected our credentials" in run.stderr
        shown = run.stdout + run.stderr
        assert MARKER_PASSWORD not in shown and wrong_key not in shown


def test_logs_and_errors_carry_no_credential(secured, caplog):
    admin_es = build_client(secured.admin)
    user = f"web-{uuid.uuid4().hex[:8]}"
    admin_es.security.put_user(username=user, password=MARKER_PASSWORD, roles=["imgsearch_reader"])
    secrets = [MARKER_PASSWORD, base64.b64encode(f"{user}:{MARKER_PASSWORD}".encode()).decode(),
               secured.reader_key, base64.b64decode(secured.reader_key).decode().split(":", 1)[1]]
    messages = []
    with caplog.at_level(logging.DEBUG):
        reader = secured.settings_with(username=user, password=MARKER_PASSWORD, name="marker")
        client = create_app(reader).test_client()
        assert client.get("/api/search", query_string={"q": "a photo"}).status_code == 200
        summary = run_ingest(reader, [_photos(secured.tmp / "marker", range(200, 202))])
        assert summary.stopped == "cluster"
        messages.append(summary.error)
        wrong = secured.settings_with(username=user, password=MARKER_PASSWORD + "-wrong", name="wrong")
        with pytest.raises(ClusterUnavailable) as refused:
            check_cluster(build_client(wrong), wrong)
        messages.append(str(refused.value))
        keyed = secured.settings_with(api_key=secured.reader_key, name="keyed")
        denied = create_app(keyed.with_overrides(index_alias="elsewhere-x")).test_client().get(
            "/api/search", query_string={"q": "a photo"})
        messages.append(denied.get_data(as_text=True))
    assert any("POST" in record.getMessage() for record in caplog.records)  # the client's own lines were there
    logged = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    for secret in secrets:
        assert secret not in logged
        for message in messages:
            assert secret not in message
