"""The Elasticsearch calls of the ingest, and how their answers and failures are told.

- `fetch_indexed`: what the index holds under some ids (realtime mget: sees writes not yet refreshed);
- `borrow_contents`: the content part of documents with these content hashes (a search: refreshed writes);
- `send_bulk`: one chunk of actions, 429s retried with backoff, an outcome per action;
- `add_paths` / `remove_paths`: read, merge, write back with if_seq_no until nobody wrote in between
  (optimistic concurrency, no scripts: the distribution has no painless).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from elasticsearch import ApiError, ConflictError, Elasticsearch, helpers

from es_search.elastic_errors import access_denied_message, is_access_denied, root_reason
from ingest.document import content_from_document, location_fields
from ingest.plan import INDEXED_FIELDS, Indexed, indexed_from
from ingest.write_ops import read_only_message

MGET_CHUNK = 500
BULK_MAX_RETRIES = 6  # 429 backoff 1, 2, 4, 8, 16, 30 s: about a minute of patience for a busy cluster
BULK_INITIAL_BACKOFF = 1.0
BULK_MAX_BACKOFF = 30.0
MERGE_ATTEMPTS = 10
_PATH_FIELDS = ["paths", "relative_path"]


class ClusterFailure(RuntimeError):
    """Elasticsearch cannot take our requests any more; the run stops."""


def fetch_indexed(es: Elasticsearch, alias: str, ids: Sequence[str]) -> dict[str, Indexed]:
    found: dict[str, Indexed] = {}
    ids = list(dict.fromkeys(ids))
    for start in range(0, len(ids), MGET_CHUNK):
        response = es.mget(index=alias, ids=ids[start:start + MGET_CHUNK], source_includes=INDEXED_FIELDS)
        for doc in response["docs"]:
            if doc.get("found"):
                found[doc["_id"]] = indexed_from(doc)
    return found


def borrow_contents(es: Elasticsearch, alias: str, hashes: Iterable[str], model: str,
                    keys: Sequence[str]) -> dict[str, dict]:
    """Contents indexed already (under any id) by the same model: their derived fields and vector."""
    wanted = sorted(set(hashes))
    if not wanted:
        return {}
    response = es.search(index=alias, query={"terms": {"sha256": wanted}}, size=len(wanted),
                         collapse={"field": "sha256"}, source_includes=list(keys), source_exclude_vectors=False)
    found = {}
    for hit in response["hits"]["hits"]:
        content = content_from_document(hit["_source"], model, keys)
        if content is not None:
            found[content["sha256"]] = content
    return found


def send_bulk(es: Elasticsearch, actions: list[dict], refresh: str | None = None,
              retries: int = BULK_MAX_RETRIES) -> Iterator[tuple[bool, dict]]:
    """Send one chunk; (ok, item) for every action once Elasticsearch answered for it.

    429 answers are retried `retries` times with exponential backoff; other per-document errors come back
    as not ok; a cluster that cannot be reached raises (elasticsearch.ConnectionError / ApiError).
    """
    extra = {"refresh": refresh} if refresh is not None else {}
    for ok, result in helpers.streaming_bulk(
        es, actions, chunk_size=max(1, len(actions)), max_retries=retries,
        initial_backoff=BULK_INITIAL_BACKOFF, max_backoff=BULK_MAX_BACKOFF, raise_on_error=False,
        raise_on_exception=True, **extra,
    ):
        _op_type, item = result.popitem()
        yield ok, item


def bulk_outcome(ok: bool, item: dict, url: str, alias: str = "", stop_on_block: bool = True) -> tuple[str, str]:
    """("ok" | "conflict" | "rejected", message) for one bulk item; ClusterFailure when 429 outlasted the retries,
    when the credentials in use may not write (403 of the security layer), or (`stop_on_block`) when a write
    block is set on the index: no later document would be taken either.

    A conflict (409) means the content is there already (a `create`) or the document changed since it was
    read (an update guarded by if_seq_no): the caller merges instead.
    """
    status, error = item.get("status"), item.get("error") or {}
    if ok:
        return "ok", ""
    if status == 409:
        return "conflict", ""
    if isinstance(error, dict) and error.get("type") == "cluster_block_exception":
        if stop_on_block:
            raise ClusterFailure(read_only_message(alias, str(error.get("reason", ""))))
        return "rejected", str(error.get("reason", ""))
    if status == 429:
        raise ClusterFailure(f"Elasticsearch at {url} is overloaded (429) even after retries with backoff; "
                             "try a smaller IMGSEARCH_BULK_CHUNK")
    if is_access_denied(status, error):  # no document of the run could be written: stop, saying which privilege
        raise ClusterFailure(access_denied_message(root_reason(error), url))
    if isinstance(error, dict):
        return "rejected", f"{status}: {error.get('type', '')}: {error.get('reason', error)}"
    return "rejected", f"{status}: {error}"


def describe_es_error(exc: Exception, url: str) -> str:
    """One line that says what went wrong with Elasticsearch and where."""
    if isinstance(exc, ApiError) and is_access_denied(exc.status_code, exc.body):
        return access_denied_message(root_reason(exc.body), url)
    if isinstance(exc, ApiError):
        return f"Elasticsearch at {url} answered {exc.status_code}: {exc.message}"
    return f"lost Elasticsearch at {url}: {type(exc).__name__}: {str(exc)[:300]}"


def add_paths(es: Elasticsearch, alias: str, doc_id: str, new_paths: Iterable[str], roots: Sequence[str] = ()) -> bool:
    """Merge paths into a document until no one else wrote in between. True when paths were added."""
    new_paths = list(new_paths)
    for _ in range(MERGE_ATTEMPTS):
        existing = indexed_from(es.get(index=alias, id=doc_id, source_includes=_PATH_FIELDS))
        merged = list(dict.fromkeys([*existing.paths, *new_paths]))
        if merged == existing.paths:
            return False
        try:
            es.update(index=alias, id=doc_id, doc=location_fields(merged, roots, existing.known_relative()),
                      if_seq_no=existing.seq_no, if_primary_term=existing.primary_term)
            return True
        except ConflictError:
            continue  # another writer got there first: read again
    raise RuntimeError(f"could not add paths to {doc_id} after {MERGE_ATTEMPTS} attempts (constant conflicts)")


def paths_removal(existing: Indexed, gone: Iterable[str]) -> dict | None:
    """The partial document taking `gone` off a document's paths, or None when no path would be left."""
    gone = set(gone)
    known = existing.known_relative()
    kept = [path for path in existing.paths if path not in gone]
    if not kept:
        return None
    return {"paths": kept, "relative_path": [known.get(path, path) for path in kept]}


def remove_paths(es: Elasticsearch, alias: str, doc_id: str, gone: Iterable[str]) -> str:
    """Take paths off a document, deleting it when none is left: "deleted", "updated" or "absent"."""
    gone = list(gone)
    for _ in range(MERGE_ATTEMPTS):
        response = es.options(ignore_status=404).get(index=alias, id=doc_id, source_includes=_PATH_FIELDS)
        if not response.get("found"):
            return "absent"
        existing = indexed_from(response)
        if not set(gone) & set(existing.paths):
            return "absent"
        update = paths_removal(existing, gone)
        try:
            if update is None:
                es.delete(index=alias, id=doc_id, if_seq_no=existing.seq_no, if_primary_term=existing.primary_term)
                return "deleted"
            es.update(index=alias, id=doc_id, doc=update, if_seq_no=existing.seq_no,
                      if_primary_term=existing.primary_term)
            return "updated"
        except ConflictError:
            continue
    raise RuntimeError(f"could not remove paths from {doc_id} after {MERGE_ATTEMPTS} attempts (constant conflicts)")
