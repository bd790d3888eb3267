"""What a document needs (pure): given the items that make it and what the index holds under its id.

The id is the item's record id, else the content hash: then the same bytes under several names are one
document listing every location, and copies met later only add their location. A document needs one of:
- `present`: nothing (the same bytes, and for a record the same digest, source and location);
- `add_paths`: a folder's copy under a new name: the merged paths;
- `update`: a record whose bytes are indexed under its id already: its fields, name, locations and source,
  no decode and no encode;
- `encode`: its content's vector (`new`, or `replace` when a record's image changed);
- `refuse`: a write API `create` naming an id that exists (409).
Updates of a content-hash document are guarded by the version read (if_seq_no): several writers may add
locations to one content's document at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.document import location_fields, merged, update_document
from ingest.items import Fetched


@dataclass(frozen=True)
class Indexed:
    """What the index holds under a document id, as far as deciding what to write needs."""

    sha256: str
    digest: str | None
    paths: list[str]
    sources: list[str]
    relative_paths: list[str]
    seq_no: int
    primary_term: int

    def known_relative(self) -> dict[str, str]:
        """Stored relative path by path; empty when the document predates the field or the lists disagree."""
        if len(self.relative_paths) != len(self.paths):
            return {}
        return dict(zip(self.paths, self.relative_paths, strict=True))


INDEXED_FIELDS = ["sha256", "record_digest", "paths", "sources", "relative_path"]


def indexed_from(doc: dict) -> Indexed:
    """An Indexed from a get/mget answer that found the document."""
    source = doc.get("_source", {})
    return Indexed(sha256=source.get("sha256", ""), digest=source.get("record_digest"),
                   paths=list(source.get("paths") or []), sources=list(source.get("sources") or []),
                   relative_paths=list(source.get("relative_path") or []), seq_no=doc["_seq_no"],
                   primary_term=doc["_primary_term"])


@dataclass
class Decision:
    kind: str  # present, add_paths, update, encode, refuse
    doc: dict | None = None  # the partial document of add_paths and update
    guarded: bool = False  # write only on the version read
    replace: bool = False  # encode: a record's document whose image changed
    status: int = 0  # refuse
    message: str = ""
    paths: list[str] = field(default_factory=list)


def lead_of(members: Sequence[Fetched]) -> Fetched:
    """The item whose fields a document takes: the last row of a records file (later rows win), the first
    file of a folder (the document's name)."""
    return members[-1] if members[-1].item.is_record else members[0]


def document_paths(members: Sequence[Fetched], indexed: Indexed | None) -> list[str]:
    """A document's locations: a content-hash document lists every location it was met at; a record's
    document is where its record says (or keeps what it had, for bytes uploaded without a location)."""
    lead = lead_of(members)
    if lead.item.record_id is None:
        return merged(indexed.paths if indexed else [], [m.item.location for m in members if m.item.location])
    if lead.item.location:
        return [lead.item.location]
    return list(indexed.paths) if indexed else []


def plan_document(members: Sequence[Fetched], indexed: Indexed | None, roots: Sequence[str]) -> Decision:
    """What the document made of `members` (same id, one content) needs; see the module's list."""
    lead = lead_of(members)
    item = lead.item
    if indexed is None:
        return Decision("encode", paths=document_paths(members, None))
    if item.create_only:
        return Decision("refuse", status=409, message=f"[{lead.doc_id}]: version conflict, document already exists")
    if indexed.sha256 != lead.facts.sha256:
        return Decision("encode", replace=True, paths=document_paths(members, indexed))
    paths = document_paths(members, indexed)
    guarded = item.record_id is None
    locations = [m.item.location for m in members if m.item.location]
    if not item.is_record:
        if set(locations) <= set(indexed.paths):
            return Decision("present")
        return Decision("add_paths", guarded=True, paths=paths, doc=paths_doc(paths, roots, indexed))
    if (not item.always_write and indexed.digest == item.digest and item.origin in indexed.sources
            and set(locations) <= set(indexed.paths)):
        return Decision("present")
    keep_paths = None if not item.location and item.record_id is not None else paths
    doc = update_document(item, keep_paths, roots, indexed.sources, indexed.known_relative())
    return Decision("update", doc=doc, guarded=guarded, paths=paths)


def paths_doc(paths: Sequence[str], roots: Sequence[str], indexed: Indexed) -> dict:
    return location_fields(paths, roots, indexed.known_relative())


def update_action(alias: str, doc_id: str, decision: Decision, indexed: Indexed) -> dict:
    action = {"_op_type": "update", "_index": alias, "_id": doc_id, "doc": decision.doc}
    if decision.guarded:
        action.update(if_seq_no=indexed.seq_no, if_primary_term=indexed.primary_term)
    return action


def document_action(alias: str, doc_id: str, doc: dict, *, content_id: bool, create_only: bool) -> dict:
    """A whole document: `create` for a content-hash document (never overwrite another writer's: a conflict
    means it is there, and our locations are merged into it) and for the API's create; else `index`."""
    op = "create" if content_id or create_only else "index"
    return {"_op_type": op, "_index": alias, "_id": doc_id, "_source": doc}
