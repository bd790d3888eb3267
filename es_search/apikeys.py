"""API keys for the web app: created, listed and revoked here, checked on every guarded request.

A key is `isk_<id>_<secret>`: `id` (16 hex digits) names its document, `secret` is 32 random bytes. Only a
hash of the whole key is stored, in the index `<alias>-apikeys` of the cluster, so every worker and every
replica of the app sees the same keys; the index is created on the first `create_key`, with a strict mapping.
The key itself is returned once by `create_key` and never stored, listed or logged.

Checking (`KeyChecker`) reads the key's document by its id, then compares hashes in constant time. Documents
are cached per process for `api_key_cache_seconds` (IMGSEARCH_API_KEY_CACHE_SECONDS): a revoked key stops
working in every worker within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_exceptions

from es_search.config import Settings
from es_search.elastic_errors import translate
from es_search.errors import ApiKeyNotFound, QueryError
from es_search.values import now_text

Scope = Literal["read", "write"]
SCOPES: tuple[Scope, ...] = ("read", "write")
KEY_PREFIX = "isk_"
KEY_PATTERN = re.compile(r"isk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
CACHE_ENTRIES = 1024  # documents remembered per process; random unknown ids cannot grow it past this

KEYS_MAPPING = {
    "dynamic": "strict",
    "properties": {
        "name": {"type": "keyword"},
        "scope": {"type": "keyword"},
        # Only compared after a read by id: never searched, never aggregated.
        "hash": {"type": "keyword", "index": False, "doc_values": False},
        "created": {"type": "date"},
        "revoked": {"type": "date"},
        # A scoped key's filter, {"department": ["radiology"]} as JSON text: read with the key, never searched.
        "filter": {"type": "keyword", "index": False, "doc_values": False},
    },
}


@dataclass(frozen=True)
class ApiKey:
    """A stored key as anyone may see it: no secret, no hash."""

    id: str
    name: str
    scope: Scope
    created: str
    revoked: str | None = None
    # The images this key sees and writes: filter parameter → values (a document must hold one, for each);
    # empty: every image (es_search/visibility.py applies it).
    filter: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def active(self) -> bool:
        return self.revoked is None

    def allows(self, needed: Scope) -> bool:
        """A write key also passes a read check."""
        return self.active and (needed == "read" or self.scope == "write")

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "scope": self.scope, "created": self.created,
                "revoked": self.revoked, "filter": {param: list(values) for param, values in self.filter}}


def keys_index(settings: Settings) -> str:
    """The index holding the keys of the app serving `settings.index_alias`."""
    return f"{settings.index_alias}-apikeys"


def hash_key(key: str) -> str:
    # A plain SHA-256 suffices: the key carries 256 random bits, so no dictionary or brute-force attack on
    # a leaked hash is possible, and a slow password hash would only cost every request its time.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_key(key: str) -> str | None:
    """The key's id when `key` has the shape of one of ours, else None."""
    match = KEY_PATTERN.fullmatch(key)
    return match.group(1) if match else None


def create_key(es: Elasticsearch, settings: Settings, *, name: str, scope: str = "write",
               filter: Mapping[str, Sequence[str]] | None = None, key: str | None = None) -> str:
    """Store a new key's hash under `name` and return the key: the only time it exists in the clear. A
    `filter` ({"department": ["radiology"]}, filter parameters of keyword fields, checked by the caller against
    the registry) scopes it to those images. `key`: one made for another collection, which this one shall
    accept too (the same key for several collections: each stores its hash)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise QueryError("a key needs a name of 1 to 100 characters")
    if scope not in SCOPES:
        raise QueryError(f"a key's scope is one of {', '.join(SCOPES)}, got {scope!r}")
    _ensure_keys_index(es, settings)
    if any(k.active and k.name == name for k in list_keys(es, settings)):
        raise QueryError(f"an active key named {name!r} exists; revoke it or choose another name")
    if key is None:
        key = f"{KEY_PREFIX}{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}"
    key_id = parse_key(key)
    if key_id is None:
        raise QueryError("not a key of this project")
    document = {"name": name, "scope": scope, "hash": hash_key(key), "created": now_text()}
    if filter:
        document["filter"] = json.dumps({param: list(values) for param, values in filter.items()}, sort_keys=True)
    _call(settings, lambda: es.create(index=keys_index(settings), id=key_id, document=document, refresh="wait_for"))
    return key


def list_keys(es: Elasticsearch, settings: Settings) -> list[ApiKey]:
    """Every key, active and revoked, oldest first; none when no key was ever made."""
    response = _call(settings, lambda: es.search(index=keys_index(settings), size=10_000, sort=["created"],
                                                 source_excludes=["hash"], ignore_unavailable=True))
    return [_key_of(hit["_id"], hit["_source"]) for hit in response["hits"]["hits"]]


def revoke_key(es: Elasticsearch, settings: Settings, id_or_name: str) -> list[ApiKey]:
    """Revoke the key with that id, or the active key with that name; ApiKeyNotFound when there is none.
    A revoked key stays listed, with the time of its revocation."""
    found = [k for k in list_keys(es, settings) if k.active and id_or_name in (k.id, k.name)]
    if not found:
        raise ApiKeyNotFound(f"no active API key has the id or name {id_or_name!r}")
    revoked = now_text()
    for key in found:
        _call(settings, lambda key=key: es.update(index=keys_index(settings), id=key.id, doc={"revoked": revoked},
                                                  refresh="wait_for"))
    return [ApiKey(k.id, k.name, k.scope, k.created, revoked) for k in found]


class KeyChecker:
    """Finds the stored key behind a presented key, with a short per-process cache of documents."""

    def __init__(self, es: Elasticsearch, settings: Settings, clock=time.monotonic):
        self.es = es
        self.settings = settings
        self.ttl = settings.api_key_cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[float, dict | None]] = OrderedDict()

    def check(self, key: str) -> ApiKey | None:
        """The stored key when `key` is one of ours and matches its hash (revoked keys included; the caller
        asks `allows`); None for a malformed or unknown key."""
        key_id = parse_key(key)
        if key_id is None:
            return None
        document = self._document(key_id)
        if document is None or not hmac.compare_digest(str(document.get("hash", "")), hash_key(key)):
            return None
        return _key_of(key_id, document)

    def _document(self, key_id: str) -> dict | None:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key_id)
            if cached is not None and now - cached[0] < self.ttl:
                return cached[1]
        document = self._fetch(key_id)
        with self._lock:
            self._cache[key_id] = (now, document)
            self._cache.move_to_end(key_id)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return document

    def _fetch(self, key_id: str) -> dict | None:
        try:
            response = self.es.get(index=keys_index(self.settings), id=key_id)
        except es_exceptions.NotFoundError:  # no such key, or no key was ever made
            return None
        except (es_exceptions.ApiError, es_exceptions.TransportError) as exc:
            raise _translated(self.settings, exc) from None
        return response["_source"]


def _ensure_keys_index(es: Elasticsearch, settings: Settings) -> None:
    index = keys_index(settings)
    if _call(settings, lambda: es.indices.exists(index=index)):
        # An index made before scoped keys: its strict mapping learns the new field (additive, in place).
        _call(settings, lambda: es.indices.put_mapping(index=index,
                                                       properties={"filter": KEYS_MAPPING["properties"]["filter"]}))
        return
    try:
        es.indices.create(index=index, mappings=KEYS_MAPPING,
                          settings={"number_of_shards": 1, "auto_expand_replicas": "0-1"})
    except es_exceptions.BadRequestError as exc:
        if "resource_already_exists" not in str(exc):  # another process made it first: fine
            raise _translated(settings, exc) from None
    except (es_exceptions.ApiError, es_exceptions.TransportError) as exc:
        raise _translated(settings, exc) from None


def _key_of(key_id: str, source: dict) -> ApiKey:
    given = json.loads(source["filter"]) if source.get("filter") else {}
    scope_filter = tuple(sorted((param, tuple(values)) for param, values in given.items()))
    return ApiKey(key_id, source["name"], source["scope"], source["created"], source.get("revoked"), scope_filter)


def _call(settings: Settings, fn):
    try:
        return fn()
    except (es_exceptions.ApiError, es_exceptions.TransportError) as exc:
        raise _translated(settings, exc) from None


def _translated(settings: Settings, exc: Exception):
    return translate(exc, url=settings.node_url, missing=f"no API key index {keys_index(settings)!r}")


def key_filter(pairs: Sequence[str], registry) -> dict[str, tuple[str, ...]]:
    """A key's filter from `param=value` pairs (repeatable; a parameter given twice takes both values): terms
    parameters of keyword fields of the registry, values converted as a filter's are. QueryError otherwise."""
    from es_search.values import ValueProblem, convert_value

    scope: dict[str, tuple[str, ...]] = {}
    for pair in pairs:
        param, sep, raw = pair.partition("=")
        spec = registry.by_param(param.strip())
        if not sep or spec is None or spec.filter != "terms" or spec.type != "keyword" or not raw.strip():
            raise QueryError(f"a key's filter is PARAM=VALUE with a keyword field's filter parameter "
                             f"(department=radiology), got {pair!r}")
        try:
            value = str(convert_value(spec, raw.strip()))
        except ValueProblem as exc:
            raise QueryError(f"{param}: {exc}") from None
        scope[spec.param] = tuple(dict.fromkeys((*scope.get(spec.param, ()), value)))
    return scope


def scope_fields(key: ApiKey, registry) -> dict[str, tuple[str, ...]]:
    """The key's filter by field name (what es_search.visibility.scope_to takes); a parameter the registry no
    longer has keeps its name, and so matches nothing: a scope never widens."""
    fields = {}
    for param, values in key.filter:
        spec = registry.by_param(param)
        fields[spec.name if spec is not None else param] = values
    return fields
