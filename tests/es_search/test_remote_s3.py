"""S3 reading, listing and presigning against moto's real S3-protocol server on loopback. The code under test
gets only the endpoint URL and credentials, through Settings (or boto3's own AWS_* chain)."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

import pytest

from es_search.config import REPO_ROOT, Settings, load_settings
from es_search.errors import FileFailure, SourceUnavailable
from es_search.remote import RemoteObject, RemoteReader, list_s3, presigned_url
from tests.support.http_server import Route
from tests.support.s3_server import ACCESS_KEY, REGION, SECRET_KEY, MotoServer, free_port

IMAGE = os.urandom(40_000)


@pytest.fixture(scope="module")
def s3_settings(s3_server) -> Settings:
    return Settings(**s3_server.settings_overrides(), fetch_retries=1, fetch_backoff=0.01)


@pytest.fixture
def bucket(s3_server) -> str:
    return s3_server.create_bucket()


def failure_of(reader: RemoteReader, location: str) -> FileFailure:
    with pytest.raises(FileFailure) as caught:
        reader.read(location)
    return caught.value


def test_objects_are_read_by_location(s3_server, s3_settings, bucket):
    location = s3_server.put(bucket, "photos/red apple ü.jpg", IMAGE)
    with RemoteReader(s3_settings) as reader:
        assert reader.read(location) == IMAGE
        assert b"".join(reader.open(location)) == IMAGE
        assert failure_of(reader, f"s3://{bucket}/photos/none.jpg").reason == "not_found"
        missing_bucket = failure_of(reader, "s3://no-such-bucket-here/a.jpg")
        assert missing_bucket.reason == "not_found" and "bucket" in missing_bucket.message


def test_the_size_cap_holds_for_objects(s3_server, s3_settings, bucket):
    location = s3_server.put(bucket, "big.jpg", IMAGE)
    with RemoteReader(s3_settings.with_overrides(max_download_bytes=len(IMAGE) - 1)) as reader:
        assert failure_of(reader, location).reason == "too_large"
    with RemoteReader(s3_settings.with_overrides(max_download_bytes=len(IMAGE))) as reader:
        assert reader.read(location) == IMAGE


def test_bad_credentials_are_forbidden_and_the_secret_is_never_shown(bucket):
    with MotoServer(enforce_auth=True) as strict:
        settings = Settings(**strict.settings_overrides(), fetch_retries=0)
        with RemoteReader(settings) as reader:
            failure = failure_of(reader, f"s3://{bucket}/a.jpg")
        assert failure.reason == "forbidden"
        assert SECRET_KEY not in failure.message
        with pytest.raises(SourceUnavailable) as caught:
            list(list_s3(f"s3://{bucket}/", settings))
        assert SECRET_KEY not in str(caught.value)


def test_an_endpoint_that_is_down(bucket):
    down = Settings(s3_endpoint_url=f"http://127.0.0.1:{free_port()}", s3_region=REGION,
                    s3_access_key_id=ACCESS_KEY, s3_secret_access_key=SECRET_KEY, fetch_retries=0,
                    fetch_connect_timeout=1.0)
    with RemoteReader(down) as reader:
        assert failure_of(reader, f"s3://{bucket}/a.jpg").reason == "download_failed"
    with pytest.raises(SourceUnavailable) as caught:
        list(list_s3(f"s3://{bucket}/", down))
    assert "cannot list" in str(caught.value) and caught.value.http_status == 502


def test_listing_pages_through_a_prefix(s3_server, s3_settings, bucket):
    for i in range(7):
        s3_server.put(bucket, f"photos/{i:02d}.jpg", IMAGE[: 100 + i])
    s3_server.put(bucket, "photos/sub/deep.jpg", b"deep")
    s3_server.put(bucket, "photos/folder/", b"")  # a folder marker, not an image
    s3_server.put(bucket, "other/x.jpg", b"elsewhere")
    listing = list_s3(f"s3://{bucket}/photos/", s3_settings, page_size=2)
    first = next(listing)  # a generator: the first object comes before the last page is asked for
    assert first == RemoteObject(location=f"s3://{bucket}/photos/00.jpg", size=100, etag=first.etag,
                                 last_modified=first.last_modified)
    rest = list(listing)
    locations = [first.location] + [item.location for item in rest]
    assert locations == [f"s3://{bucket}/photos/{i:02d}.jpg" for i in range(7)] + [f"s3://{bucket}/photos/sub/deep.jpg"]
    assert [item.size for item in rest[:6]] == [101, 102, 103, 104, 105, 106]
    assert all(len(item.etag) == 32 and '"' not in item.etag for item in rest)
    whole = [item.location for item in list_s3(f"s3://{bucket}", s3_settings)]
    assert len(whole) == 9 and f"s3://{bucket}/other/x.jpg" in whole
    assert list(list_s3(f"s3://{bucket}/nothing-here/", s3_settings)) == []


@pytest.mark.parametrize("prefix", ["s3://no-such-bucket-here/", "http://example.com/", "s3://"])
def test_a_listing_that_cannot_start_is_source_unavailable(s3_settings, prefix):
    with pytest.raises(SourceUnavailable) as caught:
        list(list_s3(prefix, s3_settings))
    assert caught.value.exit_code == 6 and caught.value.code == "source_unavailable"


def test_presigned_urls_fetch_without_credentials(s3_server, s3_settings, bucket):
    location = s3_server.put(bucket, "share/a b.jpg", IMAGE)
    url = presigned_url(location, s3_settings, expires=120)
    assert "Signature=" in url or "X-Amz-Signature=" in url
    assert SECRET_KEY not in url
    with urllib.request.urlopen(url, timeout=10) as answer:  # a plain client, no credentials
        assert answer.read() == IMAGE
    with RemoteReader(Settings(allow_private_addresses=True)) as reader:
        assert reader.read(url) == IMAGE
    tampered = url.replace("share/a%20b.jpg", "share/other.jpg")
    assert tampered != url
    with pytest.raises(FileFailure) as caught, RemoteReader(Settings(allow_private_addresses=True)) as reader:
        reader.read(tampered)
    assert caught.value.reason in ("forbidden", "not_found")
    with pytest.raises(FileFailure):
        presigned_url("https://example.com/a.jpg", s3_settings)


def test_the_standard_aws_variables_are_honoured(s3_server, bucket, monkeypatch):
    location = s3_server.put(bucket, "env.jpg", IMAGE)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with RemoteReader(Settings(s3_addressing_style="path")) as reader:  # no IMGSEARCH_S3_* at all
        assert reader.read(location) == IMAGE
    assert [o.location for o in list_s3(f"s3://{bucket}/env", Settings(s3_addressing_style="path"))] == [location]


def test_s3_settings_come_from_the_environment_and_the_secret_stays_hidden():
    settings = load_settings(env={"IMGSEARCH_S3_ENDPOINT_URL": "http://minio.lan:9000",
                                  "IMGSEARCH_S3_ACCESS_KEY_ID": ACCESS_KEY, "IMGSEARCH_S3_SECRET_ACCESS_KEY": SECRET_KEY,
                                  "IMGSEARCH_S3_SESSION_TOKEN": "token-never-print"})
    assert settings.s3_secret_access_key.get_secret_value() == SECRET_KEY
    public = settings.public_dict()
    assert public["s3_secret_access_key"] == "***" and public["s3_session_token"] == "***"
    assert public["s3_access_key_id"] == ACCESS_KEY and public["s3_endpoint_url"] == "http://minio.lan:9000"
    assert SECRET_KEY not in repr(settings) and "token-never-print" not in str(public)
    with pytest.raises(Exception, match="S3_SECRET_ACCESS_KEY must be set together"):
        load_settings(env={"IMGSEARCH_S3_ACCESS_KEY_ID": ACCESS_KEY})
    with pytest.raises(Exception, match="IMGSEARCH_S3_ENDPOINT_URL"):
        load_settings(env={"IMGSEARCH_S3_ENDPOINT_URL": "minio.lan:9000"})


def test_the_config_command_hides_the_s3_secret():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "IMGSEARCH_", "AWS_"))}
    env = {**clean, "IMGSEARCH_S3_ACCESS_KEY_ID": ACCESS_KEY, "IMGSEARCH_S3_SECRET_ACCESS_KEY": SECRET_KEY}
    done = subprocess.run([sys.executable, "-m", "es_search.cli", "config"], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"s3_secret_access_key": "***"' in done.stdout
    assert SECRET_KEY not in done.stdout and SECRET_KEY not in done.stderr


def test_an_object_body_cut_short_is_fetched_again(http_server):
    # botocore retries requests, not bodies: an S3 endpoint (the scripted server speaking path-style S3)
    # that cuts the body short twice must still give the whole object.
    http_server.add("/shop/cut.jpg", Route(body=IMAGE, truncate_times=2, content_type="image/jpeg"))
    settings = Settings(s3_endpoint_url=http_server.base_url, s3_region=REGION, s3_access_key_id=ACCESS_KEY,
                        s3_secret_access_key=SECRET_KEY, s3_addressing_style="path", fetch_backoff=0.01)
    with RemoteReader(settings) as reader:
        assert reader.read("s3://shop/cut.jpg") == IMAGE
    assert http_server.hits("/shop/cut.jpg") == 3
    http_server.add("/shop/always-cut.jpg", Route(body=IMAGE, truncate_times=100))
    with RemoteReader(settings.with_overrides(fetch_retries=1)) as reader:
        assert failure_of(reader, "s3://shop/always-cut.jpg").reason == "download_failed"
    assert http_server.hits("/shop/always-cut.jpg") == 2


def test_the_shared_remote_settings_fixture_reaches_both_servers(remote_settings, s3_server, http_server, bucket):
    # The fixture the ingest tests use: the test S3 server's endpoint and keys, loopback URLs allowed.
    location = s3_server.put(bucket, "fixture.jpg", IMAGE)
    url = http_server.add("/fixture.jpg", Route(body=IMAGE))
    with RemoteReader(remote_settings) as reader:
        assert reader.read(location) == IMAGE and reader.read(url) == IMAGE
