"""One image per near-duplicate group in search results.

Elasticsearch's field collapsing does work with a kNN search (checked on 9.5.4), but it collapses every
document *missing* the field into one null group, and only members of groups carry `duplicate_group`
(writing it to every image would re-index every vector). So instead the group's other members are left
out by a filter: `duplicate_representative: false` is excluded, which keeps representatives and every
ungrouped image. It goes inside the kNN filter (pre-filtering, so each page is full), the BM25 query and
the browse query alike, and paging stays exact. Pure: bodies in, bodies out.
"""

from __future__ import annotations

from es_search.visibility import excluding

NON_REPRESENTATIVES = {"term": {"duplicate_representative": False}}


def one_per_group(body: dict) -> dict:
    """`body` (a kNN, keyword or browse search) with the non-representative members of groups left out."""
    return excluding(body, NON_REPRESENTATIVES)
