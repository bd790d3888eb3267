"""The pure rules of remote reading: location strings, the address guard, and when and how long to retry."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from ipaddress import ip_address

import pytest

from es_search.errors import FileFailure
from es_search.remote.address_guard import address_problem, check_address, embedded_ipv4, resolve_checked
from es_search.remote.locations import is_remote, parse_location, s3_location, split_s3_url
from es_search.remote.retry_policy import parse_retry_after, retry_delay, should_retry_status

# --------------------------------------------------------------------------- locations


@pytest.mark.parametrize(("text", "kind"), [
    ("/data/photos/a.jpg", "local"), ("photos/a.jpg", "local"), ("C:\\photos\\a.jpg", "local"),
    ("http://example.com/a.jpg", "http"), ("HTTPS://Example.com/a%20b.jpg?x=1", "http"),
    ("s3://bucket/a/b.jpg", "s3"), ("s3://my.bucket-1/key with spaces/ü.jpg", "s3"),
])
def test_locations_are_classified_by_their_scheme(text, kind):
    assert parse_location(text).kind == kind
    assert is_remote(text) == (kind != "local")


@pytest.mark.parametrize("text", [
    "", "   ", "ftp://example.com/a.jpg", "file:///etc/passwd", "gs://bucket/key", "s3://", "s3:///key",
    "s3://bucket", "s3://bucket/", "http://", "http:///path", "http://example.com:99999/a.jpg",
    "http://user:secret@example.com/a.jpg", "a\x00b",
])
def test_unusable_locations_are_bad_location(text):
    with pytest.raises(FileFailure) as caught:
        parse_location(text)
    assert caught.value.reason == "bad_location"
    assert "secret" not in caught.value.message


def test_s3_locations_split_and_join_back():
    assert split_s3_url("s3://bucket/a/b c.jpg") == ("bucket", "a/b c.jpg")
    assert s3_location("bucket", "a/b c.jpg") == "s3://bucket/a/b c.jpg"
    prefix = parse_location("s3://bucket/photos/", allow_prefix=True)
    assert (prefix.bucket, prefix.key) == ("bucket", "photos/")
    assert parse_location("s3://bucket", allow_prefix=True).key == ""


# --------------------------------------------------------------------------- address guard


@pytest.mark.parametrize("text", [
    "127.0.0.1", "127.8.9.10", "::1", "10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.10.10", "fe80::1",
    "fc00::1", "fd12:3456::1", "100.64.0.1", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "240.0.0.1",
    "255.255.255.255", "192.0.2.7", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "2002:7f00:1::1", "64:ff9b::a00:1",
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200",
])
def test_non_public_addresses_are_refused_by_default(text):
    assert address_problem(ip_address(text), allow_private=False)
    with pytest.raises(FileFailure) as caught:
        check_address(ip_address(text), allow_private=False)
    assert caught.value.reason == "refused_address"


@pytest.mark.parametrize("text", ["8.8.8.8", "1.1.1.1", "151.101.1.1", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(text):
    assert address_problem(ip_address(text), allow_private=False) is None


@pytest.mark.parametrize("text", ["127.0.0.1", "::1", "10.0.0.5", "192.168.1.1", "fc00::1", "::ffff:127.0.0.1"])
def test_the_setting_allows_private_and_loopback_addresses(text):
    assert address_problem(ip_address(text), allow_private=True) is None


@pytest.mark.parametrize("text", ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254",
                                  "224.0.0.1", "0.0.0.0"])
def test_metadata_multicast_and_unspecified_stay_refused_even_when_private_is_allowed(text):
    assert address_problem(ip_address(text), allow_private=True)


def test_embedded_ipv4_is_found_in_mapped_6to4_and_nat64():
    assert embedded_ipv4(ip_address("::ffff:10.0.0.1")) == ip_address("10.0.0.1")
    assert embedded_ipv4(ip_address("2002:0a00:0001::1")) == ip_address("10.0.0.1")
    assert embedded_ipv4(ip_address("64:ff9b::0a00:0001")) == ip_address("10.0.0.1")
    assert embedded_ipv4(ip_address("2606:4700::1111")) is None


def test_host_names_are_resolved_and_every_address_checked():
    with pytest.raises(FileFailure) as caught:
        resolve_checked("localhost", 80, allow_private=False)
    assert caught.value.reason == "refused_address" and "loopback" in caught.value.message
    assert all(address.is_loopback for address in resolve_checked("localhost", 80, allow_private=True))
    # Numeric spellings the resolver accepts (decimal, hex) are checked as the address they mean.
    for spelling in ("2130706433", "0x7f000001", "127.1"):
        with pytest.raises(FileFailure) as caught:
            resolve_checked(spelling, 80, allow_private=False)
        assert caught.value.reason == "refused_address"
    with pytest.raises(FileFailure) as caught:
        resolve_checked("no-such-host.invalid", 80, allow_private=True)
    assert caught.value.reason == "download_failed"


# --------------------------------------------------------------------------- retry policy


@pytest.mark.parametrize(("status", "retried"), [
    (500, True), (502, True), (503, True), (504, True), (429, True), (599, True),
    (501, False), (400, False), (401, False), (403, False), (404, False), (410, False),
])
def test_which_statuses_are_retried(status, retried):
    assert should_retry_status(status) is retried


def test_backoff_doubles_with_jitter_and_is_capped():
    rng = random.Random(7)
    for attempt in range(6):
        ceiling = min(0.5 * 2 ** attempt, 4.0)
        delays = [retry_delay(attempt, 0.5, cap=4.0, rng=rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered, not all the same


def test_retry_after_wins_within_its_cap():
    assert retry_delay(0, 0.5, retry_after=3.0, cap=30.0) == 3.0
    assert retry_delay(5, 0.5, retry_after=3600.0, cap=30.0) == 30.0
    assert retry_delay(0, 0.5, retry_after=-1.0) == 0.0


def test_retry_after_header_forms():
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7.0
    later = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, now=now) == pytest.approx(90.0)
    earlier = (now - timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(earlier, now=now) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None and parse_retry_after("") is None


def test_the_write_apis_allow_lists():
    from es_search.remote.allow_list import host_allowed, write_location_problem

    assert host_allowed("images.example.com", ["*.example.com"]) and not host_allowed("example.com", ["*.example.com"])
    assert host_allowed("CDN.Shop.org.", ["cdn.shop.org"]) and host_allowed("anything.net", ["*"])
    assert not host_allowed("evil-example.com", ["*.example.com"]) and not host_allowed("a.org", [])
    assert write_location_problem("https://cdn.shop.org/a.jpg", ["cdn.shop.org"], []) is None
    assert "IMGSEARCH_WRITE_URL_HOSTS (none now)" in write_location_problem("https://a.org/x.jpg", [], [])
    assert write_location_problem("s3://photos/a.jpg", [], ["photos"]) is None
    assert "'other'" in write_location_problem("s3://other/a.jpg", [], ["photos"])
    assert write_location_problem("/etc/passwd", [], []) is None, "not remote: the body's own rules refuse it"
