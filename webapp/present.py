"""Search results and documents as pages and JSON show them: the service's data plus links.

Links to similar images carry the active filters, so "find similar" keeps the narrowing the visitor chose.
Image paths are shown as `show_paths` says (webapp.path_display), never as stored unless it says "full".
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlencode

from flask import url_for

from es_search.search.filters import SearchFilters
from es_search.search.parts import PART_PARAMS, QueryPart
from es_search.search.request import SearchRequest
from es_search.search.results import SearchResult
from webapp.files import resolve_original
from webapp.path_display import public_source
from webapp.remote_originals import remote_original

_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def image_links(image_id: str, source: dict, filters: SearchFilters | None = None) -> dict:
    """Where to see an image: its thumbnail, its page, similar images (page and API), its JSON document.
    The similar-image links carry `filters`, the ones active where the link is shown; the image's own page
    does not (it shows the image with its most similar images over the whole collection)."""
    thumbnail = source.get("thumbnail")
    narrowing = multi_pairs(filters.to_params()) if filters is not None else {}
    return {
        "thumbnail": url_for("pages.thumbnail", relative=thumbnail) if isinstance(thumbnail, str) and thumbnail
        else None,
        "page": url_for("pages.image", image_id=image_id),
        "similar": url_for("pages.search", similar=image_id, **narrowing),
        "api_similar": url_for("api.similar", image_id=image_id, **narrowing),
        "document": url_for("api.image", image_id=image_id),
    }


def shown_source(source: dict, settings) -> dict:
    """An image document as visitors may see it: its paths as `settings.show_paths` says, and without what a
    watchlist matched (reference names and scores are for reviewers: GET /api/review); its status and lists
    stay, as they filter."""
    shown = public_source(source, settings.image_roots, settings.show_paths)
    shown.pop("watchlist_matches", None)
    return shown


def result_to_json(result: SearchResult, settings) -> dict:
    """The API's body for a search: the service's result with paths as visitors may see them and links
    (carrying the search's filters) on every hit."""
    data = result.to_dict()
    for hit in data["hits"]:
        hit["image"] = shown_source(hit["image"], settings)
        hit["links"] = image_links(hit["id"], hit["image"], result.request.filters)
    if result.has_next:
        request = result.request
        if result.kind == "image":  # page an upload by its vector, without sending the image again
            request = replace(request, vector=tuple(float(x) for x in result.query_vector))
        endpoint = "api.search" if result.kind != "similar" else "api.similar"
        values = _multi(replace(request, similar_to=None) if result.kind == "similar" else request,
                        page=result.page + 1)
        if result.kind == "similar":
            values["image_id"] = request.similar_to
        data["next"] = url_for(endpoint, **values)
    return data


def document_to_json(image_id: str, source: dict, settings) -> dict:
    """The API's body for one image: its document (no vector) and links, the original's when served."""
    links = image_links(image_id, source)
    paths, image_format = source.get("paths") or [], source.get("format")
    if resolve_original(paths, settings.image_roots, image_format) or \
            remote_original(paths, image_format, settings.remote_originals):
        links["original"] = url_for("pages.original", image_id=image_id)
    return {"id": image_id, "image": shown_source(source, settings), "links": links}


def study_to_json(study, settings) -> dict:
    """The API's body for a study (es_search/search/studies.py): every image with its links."""
    data = study.to_dict()
    for series in data["series"]:
        series["images"] = [{"id": entry["id"], "image": shown_source(entry["image"], settings),
                             "links": image_links(entry["id"], entry["image"])} for entry in series["images"]]
    return data


def search_link(request: SearchRequest, endpoint: str = "pages.search", **changes) -> str:
    """A link to the same search with some parameters changed (page, lang...)."""
    pairs = request.to_params(**{k: v for k, v in changes.items() if k != "lang"})
    if changes.get("lang"):
        pairs.append(("lang", changes["lang"]))
    return url_for(endpoint) + ("?" + urlencode(pairs) if pairs else "")


def feedback_links(request: SearchRequest, image_id: str) -> dict:
    """"More like this" / "Less like this" for one result: the same search with the image as a positive or
    negative part. "Less" only where the query already has a positive part (it cannot stand alone)."""
    links = {"more": search_link(request.with_part(QueryPart("image", image_id, 1.0)))}
    if request.query_parts():
        links["less"] = search_link(request.with_part(QueryPart("image", image_id, -1.0)))
    return links


def understood_chips(request: SearchRequest, pieces, registry, lang: str) -> list[dict]:
    """What was understood in the query's words, as the gallery shows it: the filter's name and value, and a
    link to the same search with those words read as words (the chip's ×)."""
    chips = []
    for piece in pieces:
        spec = registry.by_param(piece.param)
        name = spec.label_in(lang) if spec is not None else piece.param
        if piece.kind == "date":
            shown = " – ".join([piece.start.isoformat() if piece.start else "…",
                                piece.end.isoformat() if piece.end else "…"])
            shown = piece.start.isoformat() if piece.start and piece.start == piece.end else shown
        else:
            shown = piece.value
        rest = replace(request, as_text=(*request.as_text, piece.text), page=1)
        chips.append({"kind": piece.kind, "param": piece.param, "text": piece.text, "label": f"{name}: {shown}",
                      "remove": search_link(rest)})
    return chips


def query_chips(request: SearchRequest, documents: dict[str, dict]) -> list[dict]:
    """The query's parts as the gallery shows them: label, sign, weight, thumbnail (image parts) and a link to
    the same search without the part (None where what remains would have no positive part)."""
    main = request.main_part()
    chips = []
    for part in request.query_parts():
        if part is main:
            rest = replace(request, text=None, similar_to=None, vector=None, weight=1.0, page=1)
        else:
            rest = request.without_part(part)
        remaining = rest.query_parts()
        valid = not remaining or any(not p.negative for p in remaining)
        document = documents.get(part.value, {}) if part.kind == "image" else {}
        thumbnail = document.get("thumbnail")
        chips.append({"kind": part.kind, "negative": part.negative, "weight": abs(part.weight),
                      "label": part.value if part.kind == "text" else (document.get("title") or document.get("file_name")
                                                                        or part.value[:12]),
                      "value": part.value,
                      "thumbnail": url_for("pages.thumbnail", relative=thumbnail) if isinstance(thumbnail, str)
                      and thumbnail else None,
                      "remove": search_link(rest) if valid else None})
    return chips


def page_link_with_query(image_id: str, request: SearchRequest) -> str:
    """An image's page, carrying the query's parts (not its filters) so the page can say why it matched."""
    pairs = [(k, v) for k, v in replace(request, filters=SearchFilters(), page=1).to_params()
             if k in PART_PARAMS or k in ("similar", "mode")]
    return url_for("pages.image", image_id=image_id) + ("?" + urlencode(pairs) if pairs else "")


def safe_colors(colors) -> list[str]:
    """Only well-formed `#rrggbb` values reach the page (they become SVG fill attributes)."""
    return [c for c in (colors or []) if isinstance(c, str) and _HEX_COLOR.match(c)]


def _multi(request: SearchRequest, **changes) -> dict:
    return multi_pairs(request.to_params(**changes))


def multi_pairs(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Query-string pairs grouped by name, as `url_for` takes repeated parameters."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def duplicates_to_json(page, settings) -> dict:
    """A page of near-duplicate groups as GET /api/duplicates answers (schemas.DuplicatesBody), paths shown
    as `settings.show_paths` says."""
    keep = ("paths", "width", "height", "byte_size", "taken_at", "file_modified_at", "thumbnail")
    for group in page.groups:
        for member in group.members:
            member.source = shown_source(member.source, settings)
    return {"page": page.page, "size": page.size, "total": page.total, "has_next": page.has_next,
            "groups": [{"id": group.id, "size": group.size,
                        "members": [{"id": m.id, "representative": m.representative,
                                     "similarity": None if m.similarity != m.similarity else m.similarity,
                                     **{k: m.source[k] for k in keep if k in m.source}} for m in group.members]}
                       for group in page.groups]}


def face_result_to_json(result, settings) -> dict:
    """A face search as POST /api/search/faces answers it (schemas.FaceSearchBody)."""
    from es_search.search.results import groups_entry

    offset = (result.page - 1) * result.size
    groups = {} if result.groups is None else {
        "groups": [groups_entry(group, lambda hit: hit.id) for group in result.groups]}
    return {**groups, "threshold": result.threshold, "page": result.page, "size": result.size,
            "has_next": result.has_next,
            "query_faces": [{"box": list(face.box), "score": face.score, "quality": face.quality}
                            for face in result.query_faces],
            "hits": [{"id": hit.id, "rank": offset + n + 1, "distance": hit.distance, "box": hit.box,
                      "person": hit.person, "query_face": hit.query_face,
                      "image": (image := shown_source(hit.source, settings)), "links": image_links(hit.id, image)}
                     for n, hit in enumerate(result.hits)]}


def appearances_shown(group) -> list[dict]:
    """A video group's time ranges for a results card: the clock times and the best frame's page."""
    from es_search.search.appearances import clock

    if group is None or group.video_id is None:
        return []
    return [{"start": clock(a.start), "end": clock(a.end), "frames": a.frames,
             "page": url_for("pages.image", image_id=a.best_id)} for a in group.appearances]
