"""Search results and documents as pages and JSON show them: the service's data plus links."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlencode

from flask import url_for

from es_search.search.request import SearchRequest
from es_search.search.results import SearchResult
from webapp.files import resolve_original

_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def image_links(image_id: str, source: dict) -> dict:
    """Where to see an image: its thumbnail, its page, similar images (page and API), its JSON document."""
    thumbnail = source.get("thumbnail")
    return {
        "thumbnail": url_for("pages.thumbnail", relative=thumbnail) if isinstance(thumbnail, str) and thumbnail
        else None,
        "page": url_for("pages.image", image_id=image_id),
        "similar": url_for("pages.search", similar=image_id),
        "api_similar": url_for("api.similar", image_id=image_id),
        "document": url_for("api.image", image_id=image_id),
    }


def result_to_json(result: SearchResult) -> dict:
    """The API's body for a search: the service's result with links on every hit."""
    data = result.to_dict()
    for hit in data["hits"]:
        hit["links"] = image_links(hit["id"], hit["image"])
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
    if resolve_original(source.get("paths") or [], settings.image_roots, source.get("format")):
        links["original"] = url_for("pages.original", image_id=image_id)
    return {"id": image_id, "image": source, "links": links}


def search_link(request: SearchRequest, endpoint: str = "pages.search", **changes) -> str:
    """A link to the same search with some parameters changed (page, lang...)."""
    pairs = request.to_params(**{k: v for k, v in changes.items() if k != "lang"})
    if changes.get("lang"):
        pairs.append(("lang", changes["lang"]))
    return url_for(endpoint) + ("?" + urlencode(pairs) if pairs else "")


def safe_colors(colors) -> list[str]:
    """Only well-formed `#rrggbb` values reach the page (they become SVG fill attributes)."""
    return [c for c in (colors or []) if isinstance(c, str) and _HEX_COLOR.match(c)]


def _multi(request: SearchRequest, **changes) -> dict:
    grouped: dict[str, list[str]] = {}
    for key, value in request.to_params(**changes):
        grouped.setdefault(key, []).append(value)
    return grouped
