"""RemoteReader over http against a real scripted server on loopback: every failure reason, retries, the size
cap with and without Content-Length, redirects and the address guard. Nothing of es_search is mocked."""

from __future__ import annotations

import os
import threading

import pytest

from es_search.config import Settings
from es_search.errors import FileFailure
from es_search.remote import REASONS, RemoteReader
from tests.support.http_server import Route

IMAGE = os.urandom(50_000)
QUICK = {"allow_private_addresses": True, "fetch_backoff": 0.01, "fetch_read_timeout": 1.0,
         "fetch_connect_timeout": 1.0, "fetch_total_timeout": 20.0, "fetch_retries": 3}


@pytest.fixture
def reader():
    with RemoteReader(Settings(**QUICK)) as built:
        yield built


def reader_with(**changes) -> RemoteReader:
    return RemoteReader(Settings(**{**QUICK, **changes}))


def failure_of(reader: RemoteReader, location: str) -> FileFailure:
    with pytest.raises(FileFailure) as caught:
        reader.read(location)
    assert caught.value.reason in REASONS
    return caught.value


def test_bytes_are_read_as_served_and_the_host_header_names_the_url_host(http_server, reader):
    url = http_server.add("/a.jpg", Route(body=IMAGE, content_type="text/html"))  # type not judged here
    assert reader.read(url) == IMAGE
    assert reader.read(url + "?size=large") == IMAGE
    port = url.split(":")[2].split("/")[0]
    assert http_server.request_headers("/a.jpg")[0]["Host"] == f"127.0.0.1:{port}"
    # A host name: resolved, checked, connected to by the address checked, and named in the Host header.
    named = url.replace("127.0.0.1", "localhost")
    assert reader.read(named) == IMAGE
    assert http_server.request_headers("/a.jpg")[-1]["Host"] == f"localhost:{port}"


@pytest.mark.parametrize(("status", "reason"), [(404, "not_found"), (410, "not_found"), (403, "forbidden"),
                                                (401, "forbidden"), (400, "download_failed"),
                                                (501, "download_failed")])
def test_client_errors_fail_at_once_with_their_reason(http_server, reader, status, reason):
    url = http_server.add("/x.jpg", Route(status=status, body=b"no"))
    assert failure_of(reader, url).reason == reason
    assert http_server.hits("/x.jpg") == 1  # never retried


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_errors_and_429_are_retried_until_success(http_server, reader, status):
    url = http_server.add("/flaky.jpg", Route(body=IMAGE, fail_times=3, fail_status=status, retry_after="0"))
    assert reader.read(url) == IMAGE
    assert http_server.hits("/flaky.jpg") == 4


def test_retries_run_out_with_download_failed(http_server):
    url = http_server.add("/down.jpg", Route(body=IMAGE, fail_times=100, fail_status=503))
    with reader_with(fetch_retries=2) as reader:
        failure = failure_of(reader, url)
    assert failure.reason == "download_failed" and "503" in failure.message
    assert http_server.hits("/down.jpg") == 3
    with reader_with(fetch_retries=0) as reader:
        failure_of(reader, url)
    assert http_server.hits("/down.jpg") == 4


def test_a_retry_after_beyond_the_total_time_ends_as_timeout_without_waiting_it(http_server):
    url = http_server.add("/later.jpg", Route(body=IMAGE, fail_times=100, fail_status=429, retry_after="3600"))
    with reader_with(fetch_total_timeout=1.0, fetch_retry_after_cap=600.0) as reader:
        failure = failure_of(reader, url)
    assert failure.reason == "timeout" and "429" in failure.message
    assert http_server.hits("/later.jpg") == 1


def test_dropped_connections_are_retried(http_server, reader):
    url = http_server.add("/drop.jpg", Route(body=IMAGE, drop_times=2))
    assert reader.read(url) == IMAGE
    assert http_server.hits("/drop.jpg") == 3
    always = http_server.add("/gone.jpg", Route(body=IMAGE, drop_times=100))
    assert failure_of(reader, always).reason == "download_failed"
    assert http_server.hits("/gone.jpg") == 4


def test_a_body_cut_short_is_retried(http_server, reader):
    # Announces more than it sends, then closes: a connection dropped mid-body.
    url = http_server.add("/short.jpg", Route(body=IMAGE[:1000], declared_length=len(IMAGE)))
    assert failure_of(reader, url).reason == "download_failed"
    assert http_server.hits("/short.jpg") == 4


def test_a_stalled_body_and_a_slow_answer_time_out(http_server, reader):
    stalled = http_server.add("/stall.jpg", Route(body=IMAGE, stall=True))
    assert failure_of(reader, stalled).reason == "timeout"
    assert http_server.hits("/stall.jpg") == 1  # a timeout is not retried
    slow = http_server.add("/slow.jpg", Route(body=IMAGE, latency=3.0))
    assert failure_of(reader, slow).reason == "timeout"


def test_latency_under_the_timeout_is_waited_for(http_server, reader):
    url = http_server.add("/late.jpg", Route(body=IMAGE, latency=0.2))
    assert reader.read(url) == IMAGE


def test_the_size_cap_holds_with_and_without_content_length(http_server):
    big = os.urandom(300_000)
    announced = http_server.add("/big.jpg", Route(body=big))
    chunked = http_server.add("/big-chunked.jpg", Route(body=big, content_length=False))
    lying = http_server.add("/claims-big.jpg", Route(body=b"tiny", declared_length=10**9))
    with reader_with(max_download_bytes=100_000) as reader:
        assert "more than 100000" in failure_of(reader, announced).message  # refused on the header
        assert failure_of(reader, chunked).reason == "too_large"  # stopped while reading
        assert failure_of(reader, lying).reason == "too_large"  # the header alone refuses it
    with reader_with(max_download_bytes=300_000) as reader:
        assert reader.read(chunked) == big and reader.read(announced) == big
    assert Settings(max_upload_bytes=1234).download_byte_cap == 1234  # unset: the upload cap


def test_redirects_are_followed_to_a_bound(http_server, reader):
    http_server.add("/final.jpg", Route(body=IMAGE))
    http_server.add("/hop2", Route(redirect_to="/final.jpg", redirect_status=307))
    http_server.add("/hop1", Route(redirect_to=http_server.url("/hop2"), redirect_status=301))
    assert reader.read(http_server.url("/hop1")) == IMAGE
    for n in range(7):
        http_server.add(f"/chain{n}", Route(redirect_to=f"/chain{n + 1}"))
    http_server.add("/chain7", Route(body=IMAGE))
    with reader_with(fetch_max_redirects=7) as enough:
        assert enough.read(http_server.url("/chain0")) == IMAGE
    with reader_with(fetch_max_redirects=6) as short:
        assert failure_of(short, http_server.url("/chain0")).reason == "too_many_redirects"
    http_server.add("/loop-a", Route(redirect_to="/loop-b"))
    http_server.add("/loop-b", Route(redirect_to="/loop-a"))
    assert failure_of(reader, http_server.url("/loop-a")).reason == "too_many_redirects"


def test_every_redirect_hop_passes_the_address_guard(http_server, reader):
    metadata = http_server.add("/to-metadata", Route(redirect_to="http://169.254.169.254/latest/meta-data/"))
    failure = failure_of(reader, metadata)
    assert failure.reason == "refused_address" and "metadata" in failure.message
    to_file = http_server.add("/to-file", Route(redirect_to="file:///etc/passwd"))
    assert failure_of(reader, to_file).reason == "bad_location"


def test_loopback_is_refused_by_default_before_any_connection(http_server):
    url = http_server.add("/a.jpg", Route(body=IMAGE))
    port = url.split(":")[2].split("/")[0]
    with RemoteReader(Settings()) as guarded:
        for location in (url, url.replace("127.0.0.1", "localhost"), f"http://[::1]:{port}/a.jpg",
                         f"http://2130706433:{port}/a.jpg", "http://169.254.169.254/latest/meta-data/",
                         "http://10.1.2.3/a.jpg", "http://[fc00::1]/a.jpg", "http://[::ffff:127.0.0.1]/a.jpg"):
            assert failure_of(guarded, location).reason == "refused_address", location
    assert http_server.hits("/a.jpg") == 0
    with reader_with(allow_private_addresses=True) as allowed:
        assert allowed.read(url) == IMAGE


@pytest.mark.parametrize("location", ["ftp://example.com/a.jpg", "http://user:pw@example.com/a.jpg", "s3://b",
                                      "gopher://x/"])
def test_unsupported_locations_are_bad_location(reader, location):
    assert failure_of(reader, location).reason == "bad_location"


def test_nothing_listening_is_download_failed(reader):
    from tests.support.s3_server import free_port

    assert failure_of(reader, f"http://127.0.0.1:{free_port()}/a.jpg").reason == "download_failed"


def test_open_streams_chunks_and_fails_before_the_first_byte(http_server, reader):
    url = http_server.add("/a.jpg", Route(body=IMAGE))
    chunks = reader.open(url)
    assert b"".join(chunks) == IMAGE
    with pytest.raises(FileFailure) as caught:
        reader.open(http_server.add("/missing.jpg", Route(status=404)))
    assert caught.value.reason == "not_found"


def test_local_paths_are_read_with_the_same_cap(tmp_path):
    (tmp_path / "a.jpg").write_bytes(IMAGE)
    with reader_with(max_download_bytes=len(IMAGE)) as reader:
        assert reader.read(str(tmp_path / "a.jpg")) == IMAGE
        assert failure_of(reader, str(tmp_path / "none.jpg")).reason == "not_found"
    with reader_with(max_download_bytes=len(IMAGE) - 1) as reader:
        assert failure_of(reader, str(tmp_path / "a.jpg")).reason == "too_large"


def test_one_reader_serves_many_threads(http_server, reader):
    bodies = {f"/img{i}.jpg": os.urandom(20_000 + i) for i in range(24)}
    for path, body in bodies.items():
        http_server.add(path, Route(body=body, latency=0.02, fail_times=i % 2 if (i := int(path[4:-4])) else 0))
    results: dict[str, bytes] = {}

    def fetch(paths):
        for path in paths:
            results[path] = reader.read(http_server.url(path))

    paths = list(bodies)
    threads = [threading.Thread(target=fetch, args=(paths[i::6],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == bodies


def test_connections_are_kept_alive_between_reads(http_server, reader):
    url = http_server.add("/a.jpg", Route(body=IMAGE))
    for _ in range(10):
        assert reader.read(url) == IMAGE
    assert http_server.hits("/a.jpg") == 10 and http_server.connections == 1


def test_a_body_cut_short_then_whole_is_read_whole(http_server, reader):
    url = http_server.add("/cut.jpg", Route(body=IMAGE, truncate_times=2))
    assert reader.read(url) == IMAGE
    assert http_server.hits("/cut.jpg") == 3
    # A stream already handed on cannot be tried again: open() ends with the failure instead.
    http_server.add("/cut-once.jpg", Route(body=IMAGE, truncate_times=1))
    with pytest.raises(FileFailure) as caught:
        b"".join(reader.open(http_server.url("/cut-once.jpg")))
    assert caught.value.reason == "download_failed"


def test_https_checks_the_certificate_against_the_url_host_not_the_pinned_address(tmp_path, monkeypatch):
    from tests.support.http_server import ScriptedHTTPServer
    from tests.support.tls import self_signed_certificate

    cert, key = self_signed_certificate(tmp_path, "localhost")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trusted as a CA by the default context
    with ScriptedHTTPServer(tls=(str(cert), str(key))) as server, reader_with() as reader:
        url = server.add("/a.jpg", Route(body=IMAGE))
        assert url.startswith("https://127.0.0.1:")
        # Connected to 127.0.0.1 (the checked address) while TLS names and verifies "localhost".
        assert reader.read(url.replace("127.0.0.1", "localhost")) == IMAGE
        # The same server by its address: the certificate does not name it, so TLS fails.
        failure = failure_of(reader, url)
        assert failure.reason == "download_failed" and "TLS" in failure.message
    assert server.hits("/a.jpg") == 1
