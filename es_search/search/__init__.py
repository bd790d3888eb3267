"""Searching the index: request parsing, filters from the field registry, pure body builders, fusion, and the
service that sends them (one code path behind the gallery, the JSON API and `imgsearch search`)."""

from es_search.search.request import SearchRequest, parse_search_request
from es_search.search.results import SearchHit, SearchResult
from es_search.search.service import SearchService

__all__ = ["SearchHit", "SearchRequest", "SearchResult", "SearchService", "parse_search_request"]
