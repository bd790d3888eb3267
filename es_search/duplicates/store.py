"""Reading images for grouping and writing group fields onto documents: the Elasticsearch edge of the
duplicates package.

Only members of groups of two or more carry the group fields; an image without near-duplicates has none.
So a pass writes to the few grouped documents, never to the whole collection (an update re-indexes the
vector, which is the costly part at a million images).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from elasticsearch import Elasticsearch, helpers

from es_search.duplicates.grouping import GROUP_FIELDS, NO_GROUP, group_fields
from es_search.duplicates.neighbours import Probe, probe_from_hit
from es_search.fields import VECTOR_FIELD
from es_search.visibility import HELD, without

# What choosing a representative reads, besides the group fields.
REPRESENTATIVE_SOURCE = ["width", "height", "byte_size", "taken_at", "file_modified_at", "indexed_at"]
SCAN_SORT = [{"sha256": "asc"}]
CHUNK = 500


def scan_probes(es: Elasticsearch, index: str, *, after: list | None, size: int,
                query: dict | None = None, sort: list | None = None) -> tuple[list[Probe], list | None]:
    """One page of images with their vectors, in a stable order after `after`. Returns (probes, last sort)."""
    body: dict = {"query": without(query, HELD), "sort": sort or SCAN_SORT, "size": size,
                  "track_total_hits": False}
    if after:
        body["search_after"] = after
    response = es.search(index=index, source_includes=[VECTOR_FIELD, "phash"], source_exclude_vectors=False,
                         **body)
    hits = response["hits"]["hits"]
    return [probe_from_hit(hit) for hit in hits], (hits[-1]["sort"] if hits else None)


def sources_of(es: Elasticsearch, index: str, ids: Iterable[str], fields: list[str]) -> dict[str, dict]:
    """The named fields of each existing document among `ids`."""
    ids = list(dict.fromkeys(ids))
    found: dict[str, dict] = {}
    for start in range(0, len(ids), CHUNK):
        response = es.mget(index=index, ids=ids[start:start + CHUNK], source_includes=fields)
        found.update({doc["_id"]: doc.get("_source") or {} for doc in response["docs"] if doc.get("found")})
    return found


def members_of(es: Elasticsearch, index: str, groups: Iterable[str]) -> dict[str, str]:
    """{id: group} for every current member of the named groups."""
    groups = sorted(set(groups))
    members: dict[str, str] = {}
    for start in range(0, len(groups), CHUNK):
        query = {"terms": {"duplicate_group": groups[start:start + CHUNK]}}
        for hit in helpers.scan(es, index=index, query={"query": query, "_source": ["duplicate_group"]}, size=CHUNK):
            members[hit["_id"]] = hit["_source"]["duplicate_group"]
    return members


def grouped_ids(es: Elasticsearch, index: str) -> Iterator[str]:
    """Every document that carries group fields now."""
    query = {"query": {"exists": {"field": "duplicate_group"}}, "_source": False}
    for hit in helpers.scan(es, index=index, query=query, size=CHUNK):
        yield hit["_id"]


def desired_fields(es: Elasticsearch, index: str, groups: list[list[str]]) -> tuple[dict[str, dict], dict[str, dict]]:
    """(what each member's group fields should be, what they are now) for `groups`."""
    sources = sources_of(es, index, (m for group in groups for m in group), REPRESENTATIVE_SOURCE + list(GROUP_FIELDS))
    wanted: dict[str, dict] = {}
    for group in groups:
        present = {m: sources[m] for m in group if m in sources}  # a member deleted meanwhile drops out
        if len(present) >= 2:
            wanted.update(group_fields(present))
    return wanted, sources


def write_group_fields(es: Elasticsearch, index: str, wanted: Mapping[str, dict],
                       current: Mapping[str, Mapping], clear: Iterable[str] = ()) -> int:
    """Update documents whose group fields differ from `wanted`, and remove them from the `clear` ids.
    Returns how many documents changed."""
    actions = []
    for doc_id, fields in wanted.items():
        now = current.get(doc_id, {})
        if any(now.get(name) != value for name, value in fields.items()):
            actions.append({"_op_type": "update", "_index": index, "_id": doc_id, "doc": fields})
    actions += [{"_op_type": "update", "_index": index, "_id": doc_id, "doc": NO_GROUP}
                for doc_id in clear if doc_id not in wanted]
    if not actions:
        return 0
    done, errors = helpers.bulk(es, actions, chunk_size=CHUNK, refresh="wait_for", raise_on_error=False)
    # A document deleted since it was read (404) simply drops out; anything else is a real failure.
    serious = [e for e in errors if next(iter(e.values())).get("status") != 404]
    if serious:
        raise RuntimeError(f"{len(serious)} group updates failed, first: {serious[0]}")
    return done
