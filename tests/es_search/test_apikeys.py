"""API keys (es_search/apikeys.py) and `imgsearch apikey`, against the real node: only hashes are stored,
the key is printed once, listing shows neither, revocation reaches a caching checker within its bound."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from elasticsearch import exceptions as es_exceptions

from es_search.apikeys import KeyChecker, create_key, hash_key, keys_index, list_keys, parse_key, revoke_key
from es_search.errors import EXIT_NOT_FOUND, ApiKeyNotFound, QueryError


@pytest.fixture
def key_settings(settings, es):
    yield settings
    es.indices.delete(index=keys_index(settings), ignore_unavailable=True)


class ManualClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_has_our_shape_and_only_its_hash_is_stored(es, key_settings):
    key = create_key(es, key_settings, name="shop", scope="write")
    key_id = parse_key(key)
    assert key_id is not None and key.startswith("isk_")
    stored = es.get(index=keys_index(key_settings), id=key_id)["_source"]
    assert stored["hash"] == hash_key(key) and stored["name"] == "shop" and stored["scope"] == "write"
    assert key not in json.dumps(stored) and key.split("_", 2)[2] not in json.dumps(stored)
    # The mapping is strict: nothing else can be slipped into a key's document.
    with pytest.raises(es_exceptions.BadRequestError):
        es.index(index=keys_index(key_settings), id="x", document={"name": "n", "secret": "s"})


def test_listing_shows_neither_keys_nor_hashes(es, key_settings):
    keys = [create_key(es, key_settings, name=f"app-{n}", scope="read") for n in range(2)]
    listed = list_keys(es, key_settings)
    assert [k.name for k in listed] == ["app-0", "app-1"] and {k.scope for k in listed} == {"read"}
    text = json.dumps([k.to_dict() for k in listed])
    for key in keys:
        assert key not in text and hash_key(key) not in text
    assert "hash" not in listed[0].to_dict()


def test_the_checker_accepts_the_key_and_refuses_lookalikes(es, key_settings):
    key = create_key(es, key_settings, name="writer", scope="write")
    checker = KeyChecker(es, key_settings)
    found = checker.check(key)
    assert found is not None and found.name == "writer" and found.allows("write") and found.allows("read")
    same_id_other_secret = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert checker.check(same_id_other_secret) is None
    assert checker.check("isk_" + "0" * 16 + "_" + "a" * 43) is None  # well-formed, unknown
    for malformed in ("", "isk_", key + "x", key.upper(), "Bearer " + key):
        assert checker.check(malformed) is None


def test_a_read_key_does_not_allow_writes(es, key_settings):
    found = KeyChecker(es, key_settings).check(create_key(es, key_settings, name="reader", scope="read"))
    assert found.allows("read") and not found.allows("write")


def test_revocation_reaches_a_caching_checker_once_its_cache_time_is_over(es, key_settings):
    key = create_key(es, key_settings, name="rotating", scope="write")
    clock = ManualClock()
    checker = KeyChecker(es, key_settings, clock=clock)
    assert checker.check(key).active
    revoked = revoke_key(es, key_settings, "rotating")
    assert [k.name for k in revoked] == ["rotating"] and revoked[0].revoked
    clock.now += key_settings.api_key_cache_seconds / 2
    assert checker.check(key).active  # still the cached document: the documented bound, not yet over
    clock.now += key_settings.api_key_cache_seconds
    found = checker.check(key)
    assert found is not None and not found.active and not found.allows("read")
    # A fresh checker (another worker) refuses it at once.
    assert not KeyChecker(es, key_settings).check(key).allows("read")
    listed = list_keys(es, key_settings)
    assert len(listed) == 1 and listed[0].revoked == revoked[0].revoked


def test_revoke_by_id_and_the_errors_of_create_and_revoke(es, key_settings):
    key = create_key(es, key_settings, name="one", scope="read")
    with pytest.raises(QueryError, match="active key named 'one'"):
        create_key(es, key_settings, name="one", scope="write")
    with pytest.raises(QueryError, match="scope"):
        create_key(es, key_settings, name="two", scope="admin")
    with pytest.raises(QueryError, match="name"):
        create_key(es, key_settings, name="  ", scope="read")
    assert revoke_key(es, key_settings, parse_key(key))[0].name == "one"
    with pytest.raises(ApiKeyNotFound):
        revoke_key(es, key_settings, "one")  # already revoked
    create_key(es, key_settings, name="one", scope="write")  # the name is free again


def test_no_keys_yet_means_an_empty_list_and_unknown_keys(es, key_settings):
    assert list_keys(es, key_settings) == []
    assert KeyChecker(es, key_settings).check("isk_" + "1" * 16 + "_" + "b" * 43) is None


def imgsearch(settings, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "IMGSEARCH_"))}
    env.update({"ES_URL": settings.node_url, "IMGSEARCH_INDEX_ALIAS": settings.index_alias,
                "IMGSEARCH_DATA_DIR": str(settings.data_dir)})
    return subprocess.run([sys.executable, "-m", "es_search.cli", "apikey", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_the_command_prints_the_key_once_and_never_again(es, key_settings):
    created = imgsearch(key_settings, "create", "--name", "cli-app", "--scope", "read")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert parse_key(key) is not None and key not in created.stderr
    assert KeyChecker(es, key_settings).check(key).scope == "read"
    listed = imgsearch(key_settings, "list")
    assert listed.returncode == 0
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["scope"], r["revoked"]) for r in rows] == [("cli-app", "read", None)]
    assert key not in listed.stdout + listed.stderr and hash_key(key) not in listed.stdout
    revoked = imgsearch(key_settings, "revoke", rows[0]["id"])
    assert revoked.returncode == 0 and json.loads(revoked.stdout)[0]["revoked"]
    assert key not in revoked.stdout + revoked.stderr
    again = imgsearch(key_settings, "revoke", "cli-app")
    assert again.returncode == EXIT_NOT_FOUND and "error: no active API key" in again.stderr
    assert "Traceback" not in again.stderr


def test_a_key_may_carry_a_filter_checked_against_the_registry(es, key_settings, capsys, monkeypatch):
    settings = key_settings
    from es_search.apikeys import key_filter, list_keys, scope_fields
    from es_search.cli import main as cli_main
    from es_search.fields import load_registry

    registry = load_registry()
    assert key_filter(["department=radiology", "department=oncology", "modality=ct"], registry) == {
        "department": ("radiology", "oncology"), "modality": ("ct",)}, "a parameter twice takes both values"
    for bad in ("department", "width=300", "nothing=1", "department="):
        with pytest.raises(QueryError):
            key_filter([bad], registry)
    monkeypatch.setenv("IMGSEARCH_INDEX_ALIAS", settings.index_alias)
    assert cli_main(["apikey", "create", "--name", "radiology", "--scope", "read", "--filter",
                     "department=radiology"]) == 0
    assert "only department=radiology" in capsys.readouterr().err
    key = next(k for k in list_keys(es, settings) if k.name == "radiology")
    assert key.to_dict()["filter"] == {"department": ["radiology"]}
    assert scope_fields(key, registry) == {"department": ("radiology",)}
    assert cli_main(["apikey", "create", "--name", "bad", "--scope", "read", "--filter", "width=3"]) == 2
