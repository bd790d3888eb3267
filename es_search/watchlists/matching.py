"""Which references and prompts an image matches, and what that makes of it (pure).

A reference matches when the kNN found it at or above its list's cosine similarity *and* one of the image's
perceptual hashes (`phash`, `phash_trimmed`) is within the list's distance of one of the reference's hashes.
A reference carries the hashes of its picture and of its mirror image, each whole and centre-cropped by
6 and 12 % a side (ingest/watchlist_refs.py), and it is indexed twice, as itself and mirrored: a copy
that was cropped, framed or flipped is still both near in vector and near in hash. The vector finds
candidates cheaply; the hash confirms them, since a vector alone also joins two photos of one scene.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from es_search.duplicates.grouping import phash_distance
from es_search.fields import VECTOR_FIELD
from es_search.watchlists.lists import POLICIES, STATUS_OF, Watchlist, strongest

HASH_FIELDS = ("phash", "phash_trimmed")
MATCH_FIELDS = ("watchlist_status", "watchlists", "watchlist_matches")
REFUSED = STATUS_OF["refuse"]
# Matches kept on a document, the strongest policy and the closest first: a list holding many look-alike
# references must not swell every document that matches it.
MAX_MATCHES = 10


@dataclass(frozen=True)
class Candidate:
    """An image at the door: its unit vector and its perceptual hashes."""

    vector: np.ndarray
    hashes: tuple[str, ...]

    @classmethod
    def of_content(cls, content: Mapping) -> Candidate:
        """From an image document's content part (ingest/document.py)."""
        vector = np.asarray(content[VECTOR_FIELD], dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        return cls(vector / norm if norm else vector, tuple(content[f] for f in HASH_FIELDS if content.get(f)))


@dataclass(frozen=True)
class Match:
    """One reason an image matched a list: a reference image (`reference`, with the hash `distance`) or a
    prompt (`prompt`)."""

    list: str
    policy: str
    similarity: float
    reference: str | None = None
    reference_name: str | None = None
    distance: int | None = None
    prompt: str | None = None

    def to_dict(self) -> dict:
        body = {"list": self.list, "policy": self.policy, "similarity": round(self.similarity, 4)}
        if self.reference is not None:
            body.update(reference=self.reference, reference_name=self.reference_name, distance=self.distance)
        if self.prompt is not None:
            body["prompt"] = self.prompt
        return body


@dataclass(frozen=True)
class Verdict:
    """Every match of one image; the strongest policy among them decides."""

    matches: tuple[Match, ...] = ()

    @property
    def policy(self) -> str | None:
        return strongest([match.policy for match in self.matches])

    @property
    def refused(self) -> bool:
        return self.policy == "refuse"

    @property
    def lists(self) -> list[str]:
        return list(dict.fromkeys(match.list for match in self.matches))

    def fields(self) -> dict:
        """The document fields the verdict sets (none for an image that matched nothing)."""
        if not self.matches:
            return {}
        return {"watchlist_status": STATUS_OF[self.policy], "watchlists": self.lists,
                "watchlist_matches": [match.to_dict() for match in self.matches]}

    def message(self) -> str:
        """Why an image was refused, naming the lists and what matched."""
        refusing = [match for match in self.matches if match.policy == "refuse"]
        lists = list(dict.fromkeys(match.list for match in refusing))
        first = refusing[0]
        what = f"prompt {first.prompt!r}" if first.prompt else \
            f"reference {first.reference_name or first.reference} (similarity {first.similarity:.3f}, " \
            f"hash distance {first.distance})"
        return f"matches watchlist {', '.join(lists)} ({what}); not indexed"


def verdict_of(matches: Sequence[Match]) -> Verdict:
    """The verdict of an image's matches: at most MAX_MATCHES of them, the strongest policy first (so the
    policy that decides is always kept), then the closest hash, then the highest similarity."""
    ranked = sorted(matches, key=lambda m: (-POLICIES.index(m.policy), m.distance or 0, -m.similarity))
    return Verdict(tuple(ranked[:MAX_MATCHES]))


def refusal_message(content: Mapping) -> str:
    """Why a refused content part (its verdict's fields) was not indexed."""
    matches = [Match(**match) for match in content.get("watchlist_matches") or ()]
    return Verdict(tuple(matches)).message()


def min_distance(hashes: Sequence[str], others: Sequence[str]) -> int | None:
    """The fewest bits in which any of `hashes` differs from any of `others`; None when nothing compares."""
    distances = [d for a in hashes for b in others if (d := phash_distance(a, b)) is not None]
    return min(distances) if distances else None


def reference_matches(candidate: Candidate, hits: Sequence[Mapping], lists: Mapping[str, Watchlist]) -> list[Match]:
    """The confirmed reference matches among one kNN answer over the references; each reference once per list,
    its best orientation kept."""
    best: dict[tuple[str, str], Match] = {}
    for hit in hits:
        source = hit.get("_source") or {}
        watchlist = lists.get(source.get("list"))
        if watchlist is None:
            continue
        similarity = 2.0 * float(hit["_score"]) - 1.0  # cosine from Elasticsearch's (1 + cos) / 2
        distance = min_distance(candidate.hashes, source.get("phashes") or ())
        if similarity < watchlist.similarity or distance is None or distance > watchlist.phash_distance:
            continue
        key = (watchlist.name, source["reference"])
        match = Match(watchlist.name, watchlist.policy, similarity, source["reference"], source.get("name"), distance)
        if key not in best or (distance, -similarity) < (best[key].distance, -best[key].similarity):
            best[key] = match
    return list(best.values())


def prompt_matches(candidate: Candidate, lists: Sequence[Watchlist]) -> list[Match]:
    """The prompts the image's vector reaches."""
    found = []
    for watchlist in lists:
        for prompt in watchlist.prompts:
            if len(prompt.vector) != len(candidate.vector):
                continue  # encoded by another model: add the prompt again (`imgsearch watchlist prompt`)
            similarity = float(np.dot(candidate.vector, np.asarray(prompt.vector, dtype=np.float32)))
            if similarity >= prompt.threshold:
                found.append(Match(watchlist.name, watchlist.policy, similarity, prompt=prompt.text))
    return found
