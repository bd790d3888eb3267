"""Pure people arithmetic: which person each new face joins. Nothing here talks to Elasticsearch.

Faces are matched by a nested kNN search (store.py); each match closer than the threshold is an edge.
- The new faces and their edges among themselves make sets (union-find, as near-duplicates are grouped).
- A set that matches faces already in a person joins the person of its closest such match; otherwise it
  becomes a new person, named by its first face.
- Two existing people are never merged by a new face that resembles both: that is a person's decision (the
  API's merge), as a wrong automatic merge mixes two people's photos.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from es_search.duplicates.grouping import UnionFind

PERSON_PREFIX = "p-"


@dataclass(frozen=True)
class FaceMatch:
    """A new face (`face`: "<image id>#<index>") close to another face (`other`), at `distance`; `person`
    is the other face's person, when it has one."""

    face: str
    other: str
    distance: float
    person: str | None = None


def face_key(image_id: str, index: int) -> str:
    return f"{image_id}#{index}"


def split_key(key: str) -> tuple[str, int]:
    image_id, _, index = key.rpartition("#")
    return image_id, int(index)


def new_person_id(first_face: str) -> str:
    """A person's id from the key of its first face: stable, so a rerun names the same person the same."""
    return PERSON_PREFIX + hashlib.sha1(first_face.encode("utf-8")).hexdigest()[:12]


def is_person_id(value: str) -> bool:
    return value.startswith(PERSON_PREFIX) and len(value) == len(PERSON_PREFIX) + 12 and \
        all(c in "0123456789abcdef" for c in value[len(PERSON_PREFIX):])


def assign_people(new_faces: Iterable[str], matches: Iterable[FaceMatch], threshold: float) -> dict[str, str]:
    """{face key: person id} for every new face (see the module's docstring)."""
    new_faces = list(dict.fromkeys(new_faces))
    pending = set(new_faces)
    sets = UnionFind()
    for face in new_faces:
        sets.find(face)
    closest: dict[str, tuple[float, str]] = {}  # set root → (distance, person), filled after the unions
    known: list[FaceMatch] = []
    for match in matches:
        if match.distance > threshold or match.face == match.other:
            continue
        if match.other in pending:
            sets.union(match.face, match.other)
        elif match.person:
            known.append(match)
    for match in known:
        root = sets.find(match.face)
        best = closest.get(root)
        if best is None or (match.distance, match.person) < best:
            closest[root] = (match.distance, match.person)
    members: dict[str, list[str]] = {}
    for face in new_faces:
        members.setdefault(sets.find(face), []).append(face)
    people: dict[str, str] = {}
    for root, faces in members.items():
        person = closest[root][1] if root in closest else new_person_id(min(faces))
        for face in faces:
            people[face] = person
    return people


def people_of(faces: list[Mapping]) -> list[str]:
    """An image's `people` field: the distinct persons of its faces, sorted."""
    return sorted({face["person"] for face in faces if face.get("person")})
