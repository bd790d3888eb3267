"""The review queue: images a watchlist flagged or holds, beside the references they matched; release.

Deleting one is the write API's delete (its thumbnail goes too). Releasing sets `watchlist_status` to
`released`: the image is shown again, and keeps its lists and matches, so a filter can still find it.
"""

from __future__ import annotations

from dataclasses import dataclass

from elasticsearch import Elasticsearch, NotFoundError

from es_search.errors import ImageNotFound, NotUnderReview, QueryError
from es_search.fields import HIDDEN_FIELDS
from es_search.watchlists.lists import RELEASED, STATUS_OF
from es_search.watchlists.store import WatchlistStore

REVIEWED = (STATUS_OF["hold"], STATUS_OF["flag"])


@dataclass
class ReviewPage:
    total: int
    page: int
    size: int
    items: list[dict]  # {"id", "source", "references": {(list, reference): reference document}}


def review_queue(es: Elasticsearch, alias: str, *, status: str | None = None, watchlist: str | None = None,
                 page: int = 1, size: int = 24, max_depth: int = 1000) -> ReviewPage:
    """Images to review, newest first: held and flagged (or only `status`), of every list (or `watchlist`).
    Only the `max_depth` newest are listed (the index's result window): a page past them is empty, its
    total still counting them all."""
    if status is not None and status not in REVIEWED:
        raise QueryError(f"status must be one of {', '.join(REVIEWED)}, got {status!r}")
    if page < 1 or not 1 <= size <= 100:
        raise QueryError("page is 1 or more, and size 1 to 100")
    filters: list[dict] = [{"terms": {"watchlist_status": [status] if status else list(REVIEWED)}}]
    if watchlist:
        filters.append({"term": {"watchlists": watchlist}})
    start = min((page - 1) * size, max_depth)
    try:
        response = es.search(index=alias, query={"bool": {"filter": filters}}, size=min(size, max_depth - start),
                             from_=start,
                             sort=[{"indexed_at": {"order": "desc", "unmapped_type": "date"}}, {"image_id": "asc"}],
                             source_excludes=list(HIDDEN_FIELDS), track_total_hits=True)
    except NotFoundError:
        return ReviewPage(0, page, size, [])
    hits = response["hits"]["hits"]
    pairs = [(m["list"], m["reference"]) for hit in hits for m in hit["_source"].get("watchlist_matches") or ()
             if m.get("reference")]
    references = WatchlistStore(es, alias).references_by_id(pairs)
    return ReviewPage(response["hits"]["total"]["value"], page, size,
                      [{"id": hit["_id"], "source": hit["_source"], "references": references} for hit in hits])


def release(es: Elasticsearch, alias: str, image_id: str, refresh: str = "wait_for") -> dict:
    """Show a flagged or held image again; ImageNotFound when there is none, NotUnderReview when no watchlist
    flagged or holds it."""
    try:
        source = es.get(index=alias, id=image_id, source_includes=["watchlist_status"])["_source"]
    except NotFoundError:
        raise ImageNotFound(f"no indexed image has id {image_id}") from None
    if source.get("watchlist_status") not in REVIEWED:
        raise NotUnderReview(f"image {image_id} is not under review (its watchlist status is "
                         f"{source.get('watchlist_status') or 'none'})")
    es.update(index=alias, id=image_id, doc={"watchlist_status": RELEASED}, refresh=refresh)
    return {"id": image_id, "watchlist_status": RELEASED}
