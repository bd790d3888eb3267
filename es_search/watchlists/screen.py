"""The check at the door: each new image against every watchlist, after encoding and before indexing.

Per batch of images: one search for the lists (so a list created or changed a moment ago counts at once,
whichever process made it), then one `_msearch` with a small kNN per image over the lists' references, and
the prompts compared in memory. With no list at all it costs that one search per batch. A failure to ask
raises: an image is never indexed unchecked (the run stops, resumable, as for any lost cluster).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from elasticsearch import Elasticsearch

from es_search.fields import VECTOR_FIELD
from es_search.watchlists.lists import Watchlist
from es_search.watchlists.matching import (
    MATCH_FIELDS,
    Candidate,
    Match,
    Verdict,
    prompt_matches,
    reference_matches,
    verdict_of,
)
from es_search.watchlists.store import REFERENCE_VECTOR, WatchlistStore

# References asked for per image (both orientations count): the vector only finds candidates, and the right
# reference must be among them even where many references look alike (with the random test model, whose
# vectors all look alike, 8 missed 2 of 40 framed copies that the hash would have confirmed; 40 missed none).
NEIGHBOURS = 40
MIN_CANDIDATES = 200
REFERENCE_SOURCE = ["list", "reference", "name", "phashes"]


def reference_search(candidate: Candidate, lists: Sequence[Watchlist], neighbours: int = NEIGHBOURS) -> dict:
    """The kNN body for one image over the references of `lists`, at the loosest of their similarities."""
    return {
        "knn": {"field": REFERENCE_VECTOR, "query_vector": [float(x) for x in candidate.vector], "k": neighbours,
                "num_candidates": max(MIN_CANDIDATES, 10 * neighbours),
                # For cosine, `similarity` is the raw cosine, not Elasticsearch's (1 + cos) / 2 score.
                "similarity": min(watchlist.similarity for watchlist in lists),
                "filter": {"terms": {"list": [watchlist.name for watchlist in lists]}}},
        "size": neighbours,
        "_source": REFERENCE_SOURCE,
        "track_total_hits": False,
    }


class Screener:
    """Checks images against the watchlists of the index behind `alias`. `on_match(list, policy)` is told of
    each image that matched a list (the web app's counter)."""

    def __init__(self, es: Elasticsearch, alias: str, *, on_match: Callable[[str, str], None] | None = None):
        self.store = WatchlistStore(es, alias)
        self.on_match = on_match

    def check(self, candidates: Sequence[Candidate], only: str | None = None) -> list[Verdict]:
        """A verdict per candidate, in order. `only`: check against that one list (a scan)."""
        if not candidates:
            return []
        lists: Mapping[str, Watchlist] = self.store.lists()
        if only is not None:
            lists = {name: watchlist for name, watchlist in lists.items() if name == only}
        if not lists:
            return [Verdict() for _ in candidates]
        found: list[list[Match]] = [prompt_matches(candidate, list(lists.values())) for candidate in candidates]
        searches: list[dict] = []
        for candidate in candidates:
            searches += [{}, reference_search(candidate, list(lists.values()))]
        responses = self.store.es.msearch(index=self.store.index, searches=searches)["responses"]
        for matches, candidate, response in zip(found, candidates, responses, strict=True):
            if "error" in response:
                raise RuntimeError(f"the watchlist check failed: {_reason(response['error'])}")
            matches[:0] = reference_matches(candidate, response["hits"]["hits"], lists)
        verdicts = [verdict_of(matches) for matches in found]
        if self.on_match is not None:
            for verdict in verdicts:
                for name, policy in dict.fromkeys((match.list, match.policy) for match in verdict.matches):
                    self.on_match(name, policy)
        return verdicts

    def check_contents(self, contents: Sequence[dict]) -> None:
        """Check image documents' content parts and set their verdict fields in place (ingest's writer)."""
        checked = [content for content in contents if content.get(VECTOR_FIELD)]
        for content, verdict in zip(checked, self.check([Candidate.of_content(c) for c in checked]), strict=True):
            for key in MATCH_FIELDS:
                content.pop(key, None)
            content.update(verdict.fields())


def _reason(error) -> str:
    if isinstance(error, dict):
        return str(error.get("root_cause", [{}])[0].get("reason") or error.get("reason") or error)
    return str(error)
