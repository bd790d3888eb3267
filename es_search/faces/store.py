"""People in Elasticsearch: grouping the faces no person holds yet, and what a person can be asked to do
(be named, merged into another, split, removed). The arithmetic is in people.py; this module reads and
writes.

Where things live:
- a face's person is `faces.person` in its image's document, and `people` lists an image's persons, so
  filtering and faceting by person is a plain terms filter on the image index;
- names live in a small index of their own, `<alias>-people` (one document per named person), so naming a
  person writes one document, and a person without a name needs none.
Scripts are not used (the distribution has no painless): an image's faces are read, changed and written
back whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch, NotFoundError, helpers

from es_search.errors import ImageNotFound, QueryError
from es_search.faces.people import FaceMatch, assign_people, face_key, is_person_id, new_person_id, people_of, split_key
from es_search.visibility import hidden_clause, without

FACE_VECTOR = "faces.vector"
NEIGHBOURS = 10  # faces asked for per new face
MIN_CANDIDATES = 100
BATCH = 200  # images read per grouping round
MAX_NAME = 100
MAX_PEOPLE_DEPTH = 10_000  # people listed at most, most images first (a page past them is empty)


class PersonNotFound(ImageNotFound):
    """No image shows a face of this person (a 404, as an unknown image is)."""


class NameTaken(QueryError):
    """Another person has this name already (a 409: merge them instead)."""

    http_status, code = 409, "conflict"


class MergeRefused(QueryError):
    """A merge that cannot be made as asked (a person into itself): a 409."""

    http_status, code = 409, "conflict"


@dataclass
class GroupingResult:
    faces: int = 0  # new faces given a person
    joined: int = 0  # of those, joined to a person who existed before
    new_people: int = 0


@dataclass
class Person:
    id: str
    name: str | None
    images: int
    cover_image: str | None = None
    cover_box: list[float] | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "images": self.images, "cover_image": self.cover_image,
                "cover_box": self.cover_box}


def distance_from_score(score: float) -> float:
    """The Euclidean distance behind Elasticsearch's l2_norm score, 1 / (1 + d²)."""
    return math.sqrt(max(0.0, 1.0 / max(score, 1e-12) - 1.0))


def face_neighbours_body(vector, threshold: float, k: int = NEIGHBOURS) -> dict:
    """Pure: the nested kNN body for one face's closest faces (distance at most `threshold`), each image
    with the faces that matched (inner hits: their offset and person)."""
    return {"knn": {"field": FACE_VECTOR, "query_vector": [float(x) for x in vector], "k": k,
                    "num_candidates": max(k * 10, MIN_CANDIDATES), "similarity": threshold,
                    "inner_hits": {"size": 3, "_source": ["faces.person"]}},
            "size": k, "_source": False, "track_total_hits": False}


def matches_from_hits(face: str, hits: list[dict], threshold: float) -> list[FaceMatch]:
    """Pure: the faces one kNN answer found for `face`, as FaceMatches (itself left out)."""
    found = []
    for hit in hits:
        for inner in hit.get("inner_hits", {}).get("faces", {}).get("hits", {}).get("hits", []):
            other = face_key(hit["_id"], inner["_nested"]["offset"])
            distance = distance_from_score(inner["_score"])
            if other != face and distance <= threshold:
                found.append(FaceMatch(face, other, round(distance, 6), (inner.get("_source") or {}).get("person")))
    return found


def count_faces(es: Elasticsearch, index: str, since: str) -> tuple[int, int]:
    """(faces, faces without a descriptor) in the images indexed at or after `since`."""
    response = es.search(index=index, size=0, query={"range": {"indexed_at": {"gte": since}}},
                         aggs={"faces": {"nested": {"path": "faces"}, "aggs": {
                             "not_compared": {"filter": {"bool": {"must_not": {"exists": {"field": FACE_VECTOR}}}}}}}})
    faces = response["aggregations"]["faces"]
    return int(faces["doc_count"]), int(faces["not_compared"]["doc_count"])


PENDING_QUERY = {"nested": {"path": "faces", "query": {"bool": {
    "filter": [{"exists": {"field": FACE_VECTOR}}], "must_not": [{"exists": {"field": "faces.person"}}]}}}}


class PeopleStore:
    """The people of the image index behind `alias`."""

    def __init__(self, es: Elasticsearch, alias: str, threshold: float):
        self.es, self.alias, self.threshold = es, alias, threshold
        self.names_index = f"{alias}-people"

    # ------------------------------------------------------------------ grouping

    def group_pending(self, progress: Callable[[int], None] | None = None) -> GroupingResult:
        """Give every described face without a person one (people.py's rule), in rounds of BATCH images."""
        result = GroupingResult()
        self.es.indices.refresh(index=self.alias)
        seen_rounds: set[tuple] = set()
        while True:
            docs = self.es.search(index=self.alias, query=PENDING_QUERY, size=BATCH,
                                  source={"includes": ["faces"], "exclude_vectors": False})["hits"]["hits"]
            if not docs:
                return result
            round_ids = tuple(sorted(d["_id"] for d in docs))
            if round_ids in seen_rounds:  # the writes did not take: stop rather than loop
                raise RuntimeError("grouping faces made no progress (the image index refused the updates)")
            seen_rounds.add(round_ids)
            faces = {face_key(d["_id"], i): f for d in docs for i, f in enumerate(d["_source"].get("faces") or [])
                     if f.get("vector") and not f.get("person")}
            matches = self._matches(faces)
            before = {m.person for m in matches if m.person}
            assigned = assign_people(sorted(faces), matches, self.threshold)
            self._write_persons({d["_id"]: d["_source"]["faces"] for d in docs}, assigned)
            result.faces += len(assigned)
            result.joined += sum(person in before for person in assigned.values())
            result.new_people += len(set(assigned.values()) - before)
            if progress:
                progress(len(assigned))

    def _matches(self, faces: dict[str, dict]) -> list[FaceMatch]:
        keys = sorted(faces)
        matches: list[FaceMatch] = []
        for start in range(0, len(keys), 100):
            chunk = keys[start:start + 100]
            searches: list[dict] = []
            for key in chunk:
                searches += [{}, face_neighbours_body(faces[key]["vector"], self.threshold)]
            responses = self.es.msearch(index=self.alias, searches=searches)["responses"]
            for key, response in zip(chunk, responses, strict=True):
                if "error" in response:
                    raise RuntimeError(f"face search for {key} failed: {response['error']}")
                matches += matches_from_hits(key, response["hits"]["hits"], self.threshold)
        return matches

    def _write_persons(self, faces_by_image: dict[str, list[dict]], assigned: dict[str, str]) -> None:
        changed: dict[str, list[dict]] = {}
        for key, person in assigned.items():
            image_id, index = split_key(key)
            faces = changed.setdefault(image_id, [dict(f) for f in faces_by_image[image_id]])
            faces[index]["person"] = person
        self._update_faces(changed)

    def _update_faces(self, changed: dict[str, list[dict]]) -> None:
        actions = ({"_op_type": "update", "_index": self.alias, "_id": image_id,
                    "doc": {"faces": faces, "people": people_of(faces), "people_count": len(faces)}}
                   for image_id, faces in changed.items())
        helpers.bulk(self.es, actions, refresh="wait_for", raise_on_error=True)

    # ------------------------------------------------------------------ reading

    def _faces_of(self, person: str) -> dict[str, list[dict]]:
        """{image id: its faces, descriptors included} of every image showing `person`."""
        body = {"query": {"term": {"people": person}}, "_source": {"includes": ["faces"], "exclude_vectors": False}}
        found = {hit["_id"]: hit["_source"].get("faces") or []
                 for hit in helpers.scan(self.es, index=self.alias, query=body, size=500)}
        if not found:
            raise PersonNotFound(f"no image shows a person with id {person}")
        return found

    def names(self, ids: Iterable[str]) -> dict[str, str]:
        ids = list(ids)
        if not ids or not self.es.indices.exists(index=self.names_index):
            return {}
        docs = self.es.mget(index=self.names_index, ids=ids)["docs"]
        return {d["_id"]: d["_source"]["name"] for d in docs if d.get("found")}

    def all_names(self, limit: int = 1000) -> list[str]:
        """The names people were given (at most `limit`): what a query's words may name."""
        if not self.es.indices.exists(index=self.names_index):
            return []
        hits = self.es.search(index=self.names_index, size=limit, source=["name"])["hits"]["hits"]
        return [hit["_source"]["name"] for hit in hits if hit.get("_source", {}).get("name")]

    def resolve(self, values: Iterable[str]) -> tuple[str, ...]:
        """Person ids for `person=` values: an id stays itself, a name becomes its person's id (names are
        unique, matched without regard to case); an unknown name stays as it is, and so matches nothing."""
        resolved = []
        for value in values:
            value = str(value)
            if is_person_id(value):
                resolved.append(value)
                continue
            found = self._by_name(value)
            resolved.append(found or value)
        return tuple(dict.fromkeys(resolved))

    def _by_name(self, name: str) -> str | None:
        if not self.es.indices.exists(index=self.names_index):
            return None
        hits = self.es.search(index=self.names_index, query={"term": {"name_key": name.strip().casefold()}},
                              size=1, source=False)["hits"]["hits"]
        return hits[0]["_id"] if hits else None

    def list(self, page: int = 1, size: int = 50) -> tuple[list[Person], int]:
        """A page of people, most images first, each with a cover face; and how many people there are. Past
        the MAX_PEOPLE_DEPTH first, a page is empty."""
        if page < 1 or not 1 <= size <= 500:
            raise QueryError("page must be 1 or more and size from 1 to 500")
        top = page * size
        total_agg = {"total": {"cardinality": {"field": "people"}}}
        if top > MAX_PEOPLE_DEPTH:  # past the deepest page listed: an empty page, as a search's
            response = self.es.search(index=self.alias, size=0, aggs=total_agg, query=without(None, hidden_clause()))
            return [], int(response["aggregations"]["total"]["value"])
        aggs = {"people": {"terms": {"field": "people", "size": top, "order": [{"_count": "desc"}, {"_key": "asc"}]},
                           "aggs": {"cover": {"top_hits": {"size": 1, "_source": ["faces.box", "faces.person",
                                                                                  "faces.score"]}}}},
                **total_agg}
        # An image a watchlist holds is nobody's cover, and counts for nobody, until released.
        response = self.es.search(index=self.alias, size=0, aggs=aggs, query=without(None, hidden_clause()))
        buckets = response["aggregations"]["people"]["buckets"][(page - 1) * size:top]
        names = self.names(b["key"] for b in buckets)
        people = [self._person(b["key"], names.get(b["key"]), b["doc_count"], b["cover"]["hits"]["hits"])
                  for b in buckets]
        return people, int(response["aggregations"]["total"]["value"])

    def get(self, person: str) -> Person:
        response = self.es.search(index=self.alias, query=without({"term": {"people": person}}, hidden_clause()), size=1,
                                  source=["faces.box", "faces.person", "faces.score"], track_total_hits=True)
        total = response["hits"]["total"]["value"]
        if not total:
            raise PersonNotFound(f"no image shows a person with id {person}")
        return self._person(person, self.names([person]).get(person), total, response["hits"]["hits"])

    @staticmethod
    def _person(person: str, name: str | None, images: int, cover_hits: list[dict]) -> Person:
        cover_image = cover_box = None
        if cover_hits:
            cover_image = cover_hits[0]["_id"]
            faces = [f for f in cover_hits[0]["_source"].get("faces") or [] if f.get("person") == person]
            if faces:
                cover_box = max(faces, key=lambda f: f.get("score") or 0)["box"]
        return Person(person, name, images, cover_image, cover_box)

    # ------------------------------------------------------------------ changing

    def rename(self, person: str, name: str | None) -> Person:
        """Name a person (None or "" takes the name away). A name another person has is refused (409)."""
        self.get(person)
        name = (name or "").strip()
        if len(name) > MAX_NAME:
            raise QueryError(f"a name is at most {MAX_NAME} characters")
        if not name:
            if self.es.indices.exists(index=self.names_index):
                self.es.options(ignore_status=404).delete(index=self.names_index, id=person, refresh="wait_for")
            return self.get(person)
        holder = self._by_name(name)
        if holder and holder != person:
            raise NameTaken(f"{holder} is already named {name!r}; merge the two people instead")
        self._ensure_names_index()
        self.es.index(index=self.names_index, id=person, document={"name": name, "name_key": name.casefold()},
                      refresh="wait_for")
        return self.get(person)

    def merge(self, person: str, into: str) -> Person:
        """Every face of `person` becomes `into`'s; `into` keeps its name (or takes `person`'s)."""
        self.get(person)
        self.get(into)
        if person == into:
            raise MergeRefused("a person cannot be merged into itself")
        faces = self._faces_of(person)
        for image_faces in faces.values():
            for face in image_faces:
                if face.get("person") == person:
                    face["person"] = into
        self._update_faces(faces)
        names = self.names([person, into])
        if person in names:
            self._drop_name(person)
            if into not in names:
                self.rename(into, names[person])
        return self.get(into)

    def split(self, person: str, image_ids: Iterable[str]) -> Person:
        """The faces of `person` in `image_ids` become a new person (returned)."""
        image_ids = list(dict.fromkeys(image_ids))
        faces = self._faces_of(person)
        unknown = [i for i in image_ids if i not in faces]
        if not image_ids or unknown:
            raise QueryError(f"split takes images showing {person}; these do not: {unknown[:5]}" if unknown
                             else "split takes at least one image")
        if len(image_ids) == len(faces):
            raise QueryError("splitting off every image of a person leaves it empty; rename it instead")
        keys = sorted(face_key(i, n) for i in image_ids for n, f in enumerate(faces[i]) if f.get("person") == person)
        new = new_person_id("split:" + keys[0])
        changed = {i: faces[i] for i in image_ids}
        for image_faces in changed.values():
            for face in image_faces:
                if face.get("person") == person:
                    face["person"] = new
        self._update_faces(changed)
        return self.get(new)

    def remove(self, person: str) -> int:
        """Remove a person: every face of theirs (box, descriptor) is taken off its image, and their name
        forgotten. Returns the number of images changed."""
        faces = self._faces_of(person)
        changed = {i: [f for f in image_faces if f.get("person") != person] for i, image_faces in faces.items()}
        self._update_faces(changed)
        self._drop_name(person)
        return len(changed)

    def remove_all(self) -> int:
        """Remove every face and every person from the index (faces off for good: set IMGSEARCH_FACES=off
        too). Returns the number of images changed."""
        self.es.indices.refresh(index=self.alias)
        actions = ({"_op_type": "update", "_index": self.alias, "_id": hit["_id"],
                    "doc": {"faces": None, "people": None, "people_count": None}}
                   for hit in helpers.scan(self.es, index=self.alias, _source=False, size=500,
                                           query={"query": {"exists": {"field": "people_count"}}}))
        changed, _ = helpers.bulk(self.es, actions, refresh="wait_for", raise_on_error=True)
        self.es.indices.delete(index=self.names_index, ignore_unavailable=True)
        return changed

    def _drop_name(self, person: str) -> None:
        if self.es.indices.exists(index=self.names_index):
            try:
                self.es.delete(index=self.names_index, id=person, refresh="wait_for")
            except NotFoundError:
                pass

    def _ensure_names_index(self) -> None:
        if not self.es.indices.exists(index=self.names_index):
            self.es.options(ignore_status=400).indices.create(
                index=self.names_index, settings={"number_of_shards": 1},
                mappings={"dynamic": "strict", "properties": {"name": {"type": "keyword"},
                                                              "name_key": {"type": "keyword"}}})
