"""What a search returns: hits and a page of results, as the API and pages show them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from es_search.boosts import Boosted
from es_search.search.parts import QueryPart
from es_search.search.ranking import Cutoff
from es_search.search.request import SearchRequest, encode_vector
from es_search.search.understanding import Piece


@dataclass
class SearchHit:
    id: str
    score: float | None  # what ranks: cosine similarity (semantic), RRF score (hybrid), None (browse)
    similarity: float | None  # cosine similarity to the query vector, when the kNN leg found the image
    source: dict
    good_match: bool | None = None  # above the query's cutoff (es_search.search.ranking); None when browsing
    explain: dict | None = None  # why it is here, when asked (es_search.search.explain)
    snippet: str | None = None  # where its words matched the keyword leg: HTML-escaped, matches in <em>
    boost: Boosted | None = None  # a good match's score under the ranking signals (es_search/boosts.py)

    def to_dict(self) -> dict:
        data = {"id": self.id, "score": _rounded(self.score), "similarity": _rounded(self.similarity),
                "good_match": self.good_match, "image": self.source}
        if self.explain is not None:
            data["explain"] = self.explain
        if self.snippet is not None:
            data["snippet"] = self.snippet
        if self.boost is not None:
            data["boosted_score"] = _rounded(self.boost.score)
        return data


@dataclass
class SearchResult:
    request: SearchRequest
    kind: str  # text | image | similar | vector | browse
    mode: str  # semantic | hybrid | text | browse
    hits: list[SearchHit]
    page: int
    size: int
    has_next: bool
    max_page: int
    took_ms: float
    total: int | None = None  # known only when browsing; a vector search ranks every image
    facets: dict | None = None  # {"facets": {...}, "matching": n} when asked for
    query_vector: np.ndarray | None = field(default=None, repr=False)
    query_image: object | None = field(default=None, repr=False)  # the decoded upload, for a preview
    search_ms: float | None = None  # time in Elasticsearch requests
    encode_ms: float | None = None  # time turning the text or image into a vector (0 when cached)
    cutoff: Cutoff | None = None  # where the good matches end; None when browsing
    parts: list[QueryPart] = field(default_factory=list)  # every part, an upload first as a vector part
    notice: str | None = None  # why a page is empty though the search was right (past the last page...)
    groups: list | None = None  # group=video: the page's VideoGroups (search/appearances.py), one per hit
    understood: tuple[Piece, ...] = ()  # the pieces of the text read as filters (search/understanding.py), in text order

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def vector_token(self) -> str | None:
        """For image searches: the token that pages the same search without a new upload."""
        if self.kind != "image" or self.query_vector is None:
            return None
        return encode_vector(self.query_vector)

    def to_dict(self) -> dict:
        query = {"kind": self.kind, "mode": self.mode, "text": self.request.text,
                 "similar": self.request.similar_to, "vector": self.vector_token, "words": self.request.words,
                 "parts": [part.to_dict() for part in self.parts], "sort": self.request.sort,
                 "min_similarity": self.request.min_similarity, "filters": self.request.filters.to_dict(),
                 "understood": [piece.to_dict() for piece in self.understood]}
        timings = {"encode_ms": self.encode_ms, "search_ms": self.search_ms}
        data = {"query": query, "page": self.page, "size": self.size, "has_next": self.has_next,
                "max_page": self.max_page, "took_ms": round(self.took_ms, 2),
                "timings_ms": {k: round(v, 2) for k, v in timings.items() if v is not None},
                "hits": [dict(hit.to_dict(), rank=self.offset + i + 1) for i, hit in enumerate(self.hits)]}
        if self.cutoff is not None:
            data["cutoff"] = self.cutoff.to_dict()
            data["no_good_match"] = self.cutoff.no_good_match
        if self.total is not None:
            data["total"] = self.total
        if self.notice is not None:
            data["notice"] = self.notice
        if self.facets is not None:
            data["facets"] = self.facets["facets"]
            data["matching"] = self.facets["matching"]
        if self.groups is not None:
            data["groups"] = [groups_entry(group, lambda hit: hit.id) for group in self.groups]
        return data


def groups_entry(group, hit_id) -> dict:
    """A VideoGroup as answers list it: the video, its best hit's id, the time ranges of its matches."""
    return {"video_id": group.video_id, "best": hit_id(group.best), "frames": len(group.hits),
            "appearances": [a.to_dict() for a in group.appearances]}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)
