"""The search service: one code path behind the gallery pages, the JSON API and `imgsearch search`.

A `SearchRequest` (from `es_search.search.request`) is turned into a query vector — a text encoded by the text
model, an uploaded image by the image model, or the stored vector of an indexed image — and searched with
kNN under the filters; hybrid mode fuses that ranking with a BM25 ranking by reciprocal rank fusion here in
Python (the server-side RRF retriever needs a paid licence).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_exceptions

from es_search.boosts import Signal, merged
from es_search.config import Settings
from es_search.decode import decode_upload
from es_search.elastic_errors import missing_index_message, search_error, translate
from es_search.errors import ImageNotFound, QueryError
from es_search.fields import HIDDEN_FIELDS, VECTOR_FIELD, FieldRegistry, registry_for
from es_search.limits import ModelGate
from es_search.search.bodies import (
    PageWindow,
    build_bm25_search,
    build_browse_search,
    build_keyword_match,
    build_knn_search,
    build_vectors_search,
    deepened,
    page_window,
)
from es_search.search.collapse import one_per_group
from es_search.search.explain import explain_hit, part_cosines
from es_search.search.filters import SearchFilters, build_facets_search, parse_facets
from es_search.search.fusion import cosine_from_score, reciprocal_rank_fusion, words_first_fusion
from es_search.search.parts import CANCELLED, QueryPart, combine_parts
from es_search.search.query_image import QueryImages
from es_search.search.ranking import (
    Cutoff,
    CutoffRule,
    boosted_scores,
    find_cutoff,
    hybrid_cutoff,
    order_good_first,
)
from es_search.search.recommend import Feedback, image_weights
from es_search.search.request import SearchRequest, check_image_id, decode_vector, encode_vector
from es_search.search.results import SearchHit, SearchResult
from es_search.search.understanding import DATE_PARAM, Piece, read_query, words_of
from es_search.visibility import current_scope, in_scope, is_hidden, visibility_fields, visible_only

EncoderFactory = Callable[[Settings], object]
NOTHING_TO_BE_LIKE = "none of the viewed or liked images is indexed (or dislikes cancel them): nothing to recommend"
TEXT_CACHE_SIZE = 512  # query texts whose vectors are kept (a vector is 2 KB)
VALUES_TTL_S = 60.0  # how long the understood fields' values are trusted (a new brand is understood within this)
MAX_UNDERSTOOD_VALUES = 1000  # per field: the most common ones
MAX_VALUE_SCOPES = 64  # scopes whose understood values are cached at once
TITLE_CANDIDATES = 20  # titles holding a query's words compared with it whole
PARTIAL_RETRIES = 2  # searches asked again when shards failed (a node lost mid-search); then the partial answer


def snippet(highlight: dict | None) -> str | None:
    """The fragment a results list shows for a keyword match: the text in the image first, else the first
    field that matched (fragments are HTML-escaped by Elasticsearch, the matches in <em>)."""
    if not highlight:
        return None
    field = "ocr_text" if "ocr_text" in highlight else next(iter(highlight))
    return highlight[field][0] if highlight[field] else None


def keyword_text(request: SearchRequest) -> tuple[str, SearchRequest]:
    """What the keyword leg searches (`SearchRequest.keywords`), and the request: words beside a semantic
    search make it hybrid (they have no vector of their own to count otherwise)."""
    if request.words and request.mode == "semantic":
        request = replace(request, mode="hybrid")
    return request.keywords(), request


def search_window(settings: Settings, page: int, size: int, *, narrowed: bool) -> PageWindow:
    """The kNN depth of a page. `narrowed`: filters (or a scoped key) leave part of the images, so the floor
    of candidates is IMGSEARCH_KNN_FILTERED_CANDIDATES rather than IMGSEARCH_KNN_MIN_CANDIDATES: a filtered
    walk of the graph costs more per candidate (docs/benchmarks.md, "Filtered kNN")."""
    return page_window(page, size, max_depth=settings.max_result_window, rescore_oversample=settings.knn_rescore,
                       candidates_factor=settings.knn_candidates_factor,
                       min_candidates=settings.knn_filtered_candidates if narrowed else settings.knn_min_candidates)


class SearchService:
    """Searches the index behind `settings.index_alias`. Encoders are built on first use (or injected)."""

    def __init__(self, es: Elasticsearch, settings: Settings, *, text_encoder=None, image_encoder=None,
                 text_encoder_factory: EncoderFactory | None = None,
                 image_encoder_factory: EncoderFactory | None = None,
                 image_decoder: Callable[[bytes, Settings], object] | None = None,
                 registry: FieldRegistry | None = None,
                 image_bytes: Callable[[dict], bytes | None] | None = None):
        self.es = es
        self.settings = settings
        self.registry = registry or registry_for(settings)
        self._text_encoder = text_encoder
        self._image_encoder = image_encoder
        self._text_factory = text_encoder_factory
        self._image_factory = image_encoder_factory
        self._image_decoder = image_decoder
        self.query_images = QueryImages(settings, image_bytes)
        self._lock = threading.Lock()
        self._text_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        # By scope (a scoped key's requests understand only the values of the images they see).
        self._field_values: dict[tuple, tuple[float, dict[str, list[str]]]] = {}
        # Image encodes at once in this process (uploads here, writes through the app's writer): es_search/limits.py
        self.model_gate = ModelGate(settings.model_concurrency, settings.model_queue, settings.model_wait_seconds)

    # ------------------------------------------------------------------ encoders

    @property
    def text_encoder(self):
        if self._text_encoder is None:
            with self._lock:
                if self._text_encoder is None:
                    if self._text_factory is not None:
                        self._text_encoder = self._text_factory(self.settings)
                    else:
                        from es_search.encoders import build_text_encoder

                        # With text_backend=elasticsearch/auto the text is embedded by the node's ML model.
                        self._text_encoder = build_text_encoder(self.settings, self.es)
        return self._text_encoder

    @property
    def image_encoder(self):
        if self._image_encoder is None:
            with self._lock:
                if self._image_encoder is None:
                    factory = self._image_factory
                    if factory is None:
                        from es_search.encoders import build_image_encoder as factory
                    self._image_encoder = factory(self.settings)
        return self._image_encoder

    def loaded_models(self) -> dict[str, bool]:
        """Which encoders are loaded (built) in this process; asking loads nothing."""
        return {"text": self._text_encoder is not None, "image": self._image_encoder is not None}

    def warm_up(self) -> None:
        """Load the text model now (one tiny encode), so the first visitor does not wait for it."""
        self.text_encoder.encode_texts(["warm up"])

    def encode_text(self, text: str) -> np.ndarray:
        """The text's vector; recent texts are remembered, so paging and filtering do not re-run the model."""
        with self._lock:
            cached = self._text_vectors.get(text)
            if cached is not None:
                self._text_vectors.move_to_end(text)
                return cached
        vector = np.asarray(self.text_encoder.encode_texts([text])[0], dtype=np.float32)
        vector.setflags(write=False)
        with self._lock:
            self._text_vectors[text] = vector
            while len(self._text_vectors) > TEXT_CACHE_SIZE:
                self._text_vectors.popitem(last=False)
        return vector

    def encode_image_bytes(self, data: bytes) -> tuple[np.ndarray, object]:
        """Decode an upload with the ingest decoder (bomb-safe) and encode it. Returns (vector, image).
        The bytes were checked where they arrived (es_search/uploads.py)."""
        decoder = self._image_decoder or decode_upload
        image = decoder(data, self.settings)
        with self.model_gate.slot():  # Overloaded (503) when too many wait for the model
            vector = np.asarray(self.image_encoder.encode_images([image])[0], dtype=np.float32)
        return vector, image

    # ------------------------------------------------------------------ searching

    def search(self, request: SearchRequest, image: bytes | None = None) -> SearchResult:
        """Run one search: the query's parts (an uploaded image, texts, indexed images, vectors) summed into
        one vector, or (none of them) browse. Dates and names in the main text are filters first
        (`understand`); the answer's request is the one asked, with what was understood beside it."""
        understood_request, pieces = self.understand(request)
        result = self._search(understood_request, image)
        if pieces:
            result.request = replace(result.request, text=request.text, words=request.words, filters=request.filters)
            result.understood = pieces
        return result

    def understand(self, request: SearchRequest) -> tuple[SearchRequest, tuple[Piece, ...]]:
        """The request with the dates and field values of its main text as filters, and those pieces
        (es_search/search/understanding.py); as it is with `literal`, or when nothing is understood. A filter
        the request already sets is not taken from its words."""
        if request.literal or not request.text or not self.settings.understand_queries:
            return request, ()
        given = frozenset(request.filters.terms) | frozenset(request.filters.ranges)
        date_spec = self.registry.by_param(DATE_PARAM)
        skip = given | (frozenset() if date_spec is not None and date_spec.type == "date" else {DATE_PARAM})
        reading = read_query(request.text, today=datetime.now(UTC).date(), values=self.field_values(),
                             is_title=self.in_titles, as_text=request.as_text, skip=skip)
        if not reading.pieces:
            return request, ()
        terms, ranges = dict(request.filters.terms), dict(request.filters.ranges)
        for piece in reading.pieces:
            if piece.kind == "date":
                ranges[piece.param] = (piece.start, piece.end)
            else:
                terms[piece.param] = tuple(dict.fromkeys((*terms.get(piece.param, ()), piece.value)))
        return replace(request, text=reading.text or None, filters=SearchFilters(terms=terms, ranges=ranges)), \
            reading.pieces

    def field_values(self) -> dict[str, list[str]]:
        """The values of the understood fields (by filter parameter), as the visible images hold them (people:
        their names); read again after VALUES_TTL_S."""
        scope = current_scope()
        scope_key = tuple(sorted((scope or {}).items()))
        with self._lock:
            cached = self._field_values.get(scope_key)
        if cached is not None and time.monotonic() - cached[0] < VALUES_TTL_S:
            return cached[1]
        specs = [spec for spec in self.registry.understood() if spec.name != "people"]
        values: dict[str, list[str]] = {}
        if specs:
            body = {"size": 0, "aggs": {spec.param: {"terms": {"field": spec.name, "size": MAX_UNDERSTOOD_VALUES}}
                                        for spec in specs}}
            aggregations = self._msearch([body])[0].get("aggregations", {})
            values = {spec.param: [str(bucket["key"]) for bucket in aggregations.get(spec.param, {}).get("buckets", [])]
                      for spec in specs}
        people = self.registry.get("people")
        if people is not None and people.understand and not scope:  # names are not scoped: a scoped key reads none
            values[people.param] = self._call(lambda: self.people().all_names(MAX_UNDERSTOOD_VALUES))
        with self._lock:
            if len(self._field_values) >= MAX_VALUE_SCOPES:
                self._field_values.clear()
            self._field_values[scope_key] = (time.monotonic(), values)
        return values

    def shows_content(self, sha256: str) -> bool:
        """Whether some image this context sees has these bytes (a thumbnail is named by its content hash)."""
        body = {"size": 0, "terminate_after": 1, "track_total_hits": 1, "query": {"term": {"sha256": sha256}}}
        return self._msearch([body])[0]["hits"]["total"]["value"] > 0

    def forget_field_values(self) -> None:
        """Read the understood fields' values again at the next search (a person was just named)."""
        with self._lock:
            self._field_values.clear()

    def in_titles(self, phrase: str, whole: bool = False) -> bool:
        """Whether some visible image's title (or caption, or file name) holds `phrase`'s words in this order;
        with `whole`, is nothing else (compared as words, without regard to case and punctuation)."""
        fields = [spec.name for spec in self.registry if spec.type == "text" and spec.search and spec.name != "ocr_text"]
        if not fields:
            return False
        body = {"size": TITLE_CANDIDATES if whole else 0, "_source": fields, "track_total_hits": 1,
                "query": {"multi_match": {"query": phrase, "type": "phrase", "fields": fields}}}
        hits = self._msearch([body])[0]["hits"]
        if not whole:
            return hits["total"]["value"] > 0
        wanted = words_of(phrase)
        return any(words_of(str(value)) == wanted for hit in hits["hits"]
                   for value in hit.get("_source", {}).values() if isinstance(value, str))

    def _search(self, request: SearchRequest, image: bytes | None = None) -> SearchResult:
        started = time.perf_counter()
        request = replace(request, filters=self.with_person_ids(request.filters))
        if request.group == "video":
            return self._by_video(request, image, started)
        window = self._window(request)
        if window.beyond:
            return self._empty(request, window, request.kind(with_image=image is not None), started,
                               window.beyond_notice())
        decoded = upload = None
        kind = request.kind(with_image=image is not None)
        if image is not None:
            if request.text or request.similar_to or request.vector is not None:
                raise QueryError("an image search takes no q, similar or vec as well "
                                 "(add further parts with like=, unlike=, not=)")
            if request.box is not None:
                image = self.query_images.region(image, request.box)
            upload, decoded = self.encode_image_bytes(image)
            request = self.query_images.with_text(request, image, decoded)
        elif request.box is not None and request.similar_to:
            # The marked region of an indexed image, searched as an upload of it; the image itself left out.
            region = self.query_images.region(self.query_images.of_indexed(self.get_image(request.similar_to)),
                                                request.box)
            upload, decoded = self.encode_image_bytes(region)
        if kind == "browse" and request.words:
            # Words alone are a text query whose words come first (they need a vector to rank the rest by).
            request = replace(request, text=request.words, words=None,
                              mode="text" if request.mode == "semantic" else request.mode)
            kind = request.kind()
        if kind == "browse":
            return self._browse(request, window, started)
        # A region of `similar` stands in for that image's stored vector (the image is still left out).
        by_region = upload is not None and image is None
        vector, parts = self.query_vector(replace(request, similar_to=None) if by_region else request, upload)
        if vector is None:
            return self._empty(request, window, kind, started, CANCELLED)
        encoded = time.perf_counter()
        exclude = tuple(dict.fromkeys(([request.similar_to] if request.similar_to else []) +
                                      [p.value for p in request.parts if p.kind == "image" and p.negative] +
                                      list(request.exclude)))
        result = self._vector_search(request, window, kind, vector, parts, exclude, started)
        result.query_image = decoded
        if any(part.kind == "text" for part, _ in parts) or upload is not None:
            result.encode_ms = (encoded - started) * 1000
        return result

    def recommend(self, feedback: Feedback, request: SearchRequest) -> SearchResult:
        """Images like those a visitor viewed and liked, unlike those disliked, none of them included
        (es_search/search/recommend.py); `request` brings the paging, filters and similarity floor. An id the
        index no longer holds (a visitor's old history) is passed over."""
        weights = image_weights(feedback)
        indexed = self.stored_vectors(list(weights), required=False)
        parts = tuple(QueryPart("image", image, weight) for image, weight in weights.items() if image in indexed)
        request = replace(request, text=None, similar_to=None, vector=None, parts=parts, exclude=feedback.seen())
        if not any(part.weight > 0 for part in parts):
            return self._empty(request, self._window(request), "compound", time.perf_counter(), NOTHING_TO_BE_LIKE)
        return self.search(request)

    def _by_video(self, request: SearchRequest, image: bytes | None, started: float) -> SearchResult:
        """group=video: the best hits, as deep as the result window, folded by video (search/appearances.py);
        the answer's page is a page of groups, each shown by its best hit."""
        from es_search.search.appearances import group_by_video

        self._window(request)  # the size rule
        step = self.settings.max_page_size
        first = deep = self._search(replace(request, group=None, page=1, size=step), image=image)
        hits = list(first.hits)
        follow = first.request if first.kind != "image" else replace(
            first.request, vector=tuple(float(x) for x in first.query_vector))
        while deep.has_next and len(hits) < self.settings.max_result_window:
            deep = self._search(replace(follow, group=None, page=deep.page + 1, size=step, with_facets=False))
            hits += deep.hits
        groups = group_by_video(hits, gap=self.video_gap(), source=lambda hit: hit.source, hit_id=lambda hit: hit.id)
        offset = (request.page - 1) * request.size
        shown = groups[offset:offset + request.size]
        return replace(first, request=replace(first.request, group="video", page=request.page, size=request.size),
                       hits=[group.best for group in shown], groups=shown, page=request.page, size=request.size,
                       has_next=len(groups) > offset + request.size, took_ms=(time.perf_counter() - started) * 1000)

    def query_vector(self, request: SearchRequest, upload: np.ndarray | None = None
                     ) -> tuple[np.ndarray | None, list[tuple[QueryPart, np.ndarray]]]:
        """The query's unit vector (es_search.search.parts.combine_parts; None when its parts cancel out) and
        each part with its vector: texts encoded (cached), indexed images read in one request, vectors as
        they came (an upload's array, a token decoded once)."""
        parts = request.query_parts()
        if upload is not None:  # the upload is the main part, weighing 1
            parts.insert(0, QueryPart("vector", encode_vector(upload), 1.0, vector=upload))
        stored = self.stored_vectors([p.value for p in parts if p.kind == "image"])
        vectors = [self.encode_text(p.value) if p.kind == "text" else stored[p.value] if p.kind == "image"
                   else p.vector if p.vector is not None else np.asarray(decode_vector(p.value), dtype=np.float32)
                   for p in parts]
        for vector in vectors:
            self._check_dims(np.asarray(vector).reshape(-1))
        return combine_parts(vectors, [p.weight for p in parts]), list(zip(parts, vectors, strict=True))

    def similar(self, image_id: str, size: int = 12, filters: SearchFilters | None = None) -> SearchResult:
        """The images most like an indexed one, the image itself left out."""
        return self.search(SearchRequest(similar_to=image_id, size=size, filters=filters or SearchFilters()))

    def _window(self, request: SearchRequest) -> PageWindow:
        if request.size > self.settings.max_page_size:
            raise QueryError(f"size must be at most {self.settings.max_page_size}, got {request.size}")
        return search_window(self.settings, request.page, request.size,
                             narrowed=not request.filters.is_empty() or bool(current_scope()))

    def _vector_search(self, request: SearchRequest, window: PageWindow, kind: str, vector: np.ndarray,
                       parts: list[tuple[QueryPart, np.ndarray]], exclude: Sequence[str],
                       started: float) -> SearchResult:
        """kNN (fused with BM25 in hybrid mode) ranked from the top as deep as the cutoff needs; the good
        matches first (sorted when asked), then the rest; one page of that, explained when asked."""
        texts, request = keyword_text(request)
        # hybrid and text modes add the keyword leg; they differ in how it is fused (fusion.py).
        hybrid = request.mode in ("hybrid", "text") and bool(texts)
        words_first = hybrid and request.mode == "text"
        rule = self.cutoff_rule()
        deep = deepened(window, rule.window, self.settings.knn_candidates_factor)
        bodies = [build_knn_search(vector, deep, request.filters, exclude_ids=exclude,
                                   min_similarity=request.min_similarity, with_source=not hybrid, from_top=True,
                                   registry=self.registry)]
        if hybrid:
            bodies.append(build_bm25_search(texts, deep.fetch, request.filters, exclude_ids=exclude,
                                            registry=self.registry, highlight=True))
        if request.one_per_group:
            bodies = [one_per_group(body) for body in bodies]
        if request.with_facets:
            bodies.append(build_facets_search(request.filters, self.registry))
        search_started = time.perf_counter()
        responses = self._msearch(bodies)
        facets = parse_facets(responses[-1].get("aggregations", {}), request.filters, self.registry) if request.with_facets else None
        knn_hits = responses[0]["hits"]["hits"]
        similarity = {h["_id"]: cosine_from_score(h["_score"]) for h in knn_hits}
        sources = {} if hybrid else {h["_id"]: h.get("_source", {}) for h in knn_hits}
        keyword_ids = [h["_id"] for h in responses[1]["hits"]["hits"]] if hybrid else None
        if hybrid:
            knn_ids, constant = [h["_id"] for h in knn_hits], self.settings.rrf_rank_constant
            ranked = (words_first_fusion(knn_ids, keyword_ids, constant) if words_first
                      else reciprocal_rank_fusion([knn_ids, keyword_ids], rank_constant=constant))[:window.max_depth]
        else:
            ranked = [(h["_id"], similarity[h["_id"]]) for h in knn_hits]
        cutoff = find_cutoff([similarity[h["_id"]] for h in knn_hits], rule)
        if words_first and keyword_ids:
            # The images that say the words are the good matches (their number: those the keyword leg found).
            matched = min(len(set(keyword_ids)), len(ranked))
            known = [similarity[doc_id] for doc_id, _ in ranked[:matched] if doc_id in similarity]
            cutoff = replace(cutoff, good=matched, no_good_match=False, similarity=min(known) if known else None)
        elif hybrid:
            cutoff = hybrid_cutoff(cutoff, ranked, similarity, keywords_found=bool(keyword_ids), rule=rule)
        good = {doc_id for doc_id, _ in ranked[:cutoff.good]}
        scores = dict(ranked)
        if hybrid and request.sort != "relevance":
            sources = self._sources(sorted(good))  # the fused good matches may come from the keywords alone
        signals = self.signals(request)
        boosted = boosted_scores(sorted(good), scores, sources, signals, datetime.now(UTC),
                                 cosines=not hybrid) if signals else {}
        order = order_good_first([doc_id for doc_id, _ in ranked], good, sources, request.sort,
                                 {doc_id: b.score for doc_id, b in boosted.items()})
        page_ids = order[window.offset:window.offset + window.size]
        missing = [doc_id for doc_id in page_ids if doc_id not in sources]
        if missing:
            sources = dict(sources, **self._sources(missing))
        highlights = {h["_id"]: h.get("highlight", {}) for h in responses[1]["hits"]["hits"]} if hybrid else {}
        hits = [SearchHit(id=doc_id, score=scores[doc_id], similarity=similarity.get(doc_id),
                          source=sources[doc_id], good_match=doc_id in good, snippet=snippet(highlights.get(doc_id)),
                          boost=boosted.get(doc_id))
                for doc_id in page_ids if doc_id in sources]
        if request.explain:
            highlights = highlights if hybrid else None
            self._explain(hits, parts, [h["_id"] for h in knn_hits], keyword_ids, highlights)
        finished = time.perf_counter()
        return SearchResult(request=request, kind=kind, mode=request.mode if hybrid else "semantic", hits=hits,
                            page=window.page, size=window.size, has_next=len(order) > window.offset + window.size,
                            max_page=window.max_page, took_ms=(finished - started) * 1000, facets=facets,
                            query_vector=vector, search_ms=(finished - search_started) * 1000, cutoff=cutoff,
                            parts=[part for part, _ in parts])

    def signals(self, request: SearchRequest) -> tuple[Signal, ...]:
        """The ranking signals of a search: the registry's, then the request's (replacing one for the same
        field and value); none when it asks for relevance alone."""
        return () if request.sort == "relevance" else merged(self.registry.signals(), request.boosts)

    def _explain(self, hits: list[SearchHit], parts, vector_ranking: list[str], keyword_ranking, highlights) -> None:
        stored = self.stored_vectors([hit.id for hit in hits], required=False)
        for hit in hits:
            hit.explain = explain_hit(hit.id, stored.get(hit.id), parts, vector_ranking=vector_ranking,
                                      keyword_ranking=keyword_ranking, highlights=highlights)
            if hit.boost is not None:
                hit.explain["boost"] = hit.boost.to_dict()

    def explain_image(self, request: SearchRequest, image_id: str) -> dict:
        """Why one image answers a query (its page, reached from a result): its cosine to the whole query
        and to each part."""
        vector, parts = self.query_vector(request)
        stored = self.stored_vector(image_id)
        unit = stored / max(float(np.linalg.norm(stored)), 1e-12)
        similarity = None if vector is None else round(float(unit @ vector), 6)
        why = {"similarity": similarity, "parts": part_cosines(stored, parts)}
        texts, request = keyword_text(request)
        if request.mode in ("hybrid", "text") and texts:
            found = self._msearch([build_keyword_match(texts, image_id, self.registry)])[0]["hits"]["hits"]
            why["matched"] = found[0].get("highlight", {}) if found else {}
        return why

    def cutoff_rule(self) -> CutoffRule:
        return CutoffRule(window=self.settings.cutoff_window, margin=self.settings.cutoff_margin,
                          min_spread=self.settings.cutoff_min_spread)

    def _empty(self, request: SearchRequest, window: PageWindow, kind: str, started: float, notice: str
               ) -> SearchResult:
        """An answer with no hits that says why (a page past the deepest one, parts that cancel out)."""
        browse = kind == "browse"
        return SearchResult(request=request, kind=kind, mode="browse" if browse else request.mode, hits=[],
                            page=window.page, size=window.size, has_next=False, max_page=window.max_page,
                            took_ms=(time.perf_counter() - started) * 1000, notice=notice,
                            total=None, cutoff=None if browse else Cutoff(0, None, True, None))

    def _browse(self, request: SearchRequest, window: PageWindow, started: float) -> SearchResult:
        bodies = [build_browse_search(window, request.filters, self.registry)]
        if request.one_per_group:
            bodies = [one_per_group(bodies[0])]
        if request.with_facets:
            bodies.append(build_facets_search(request.filters, self.registry))
        responses = self._msearch(bodies)
        found = responses[0]["hits"]["hits"]
        hits = [SearchHit(id=h["_id"], score=None, similarity=None, source=h.get("_source", {}))
                for h in found[:window.size]]
        facets = parse_facets(responses[-1].get("aggregations", {}), request.filters, self.registry) if request.with_facets else None
        return SearchResult(request=request, kind="browse", mode="browse", hits=hits, page=window.page,
                            size=window.size, has_next=len(found) > window.size, max_page=window.max_page,
                            took_ms=(time.perf_counter() - started) * 1000,
                            total=responses[0]["hits"]["total"]["value"], facets=facets)

    # ------------------------------------------------------------------ people and faces

    def people(self):
        """The people of the index (es_search/faces/store.py)."""
        from es_search.faces.store import PeopleStore

        return PeopleStore(self.es, self.settings.index_alias, self.settings.face_match_distance)

    def with_person_ids(self, filters: SearchFilters) -> SearchFilters:
        """The filters with each `person=` name turned into its person's id (ids stay as they are)."""
        spec = self.registry.get("people")
        values = filters.selected(spec.param) if spec is not None and spec.param else ()
        if not values:
            return filters
        resolved = self._call(lambda: self.people().resolve(values))
        return replace(filters, terms={**filters.terms, spec.param: resolved})

    def search_faces(self, filters: SearchFilters, *, image: bytes | None = None, image_id: str | None = None,
                     face: int = 0, page: int = 1, size: int = 24, group: str | None = None):
        """Images with a face like those of an uploaded image, or like face number `face` of an indexed image
        (that image left out); es_search/search/face_search.py."""
        from es_search.errors import EncoderUnavailable
        from es_search.faces.engine import DETECT_SIDE, INSTALL_HINT, Face, faces_available, shared_face_engine
        from es_search.search.face_search import search_faces

        if (image is None) == (image_id is None):
            raise QueryError("a face search takes an uploaded image or an indexed image's id, not both")
        if size > self.settings.max_page_size:
            raise QueryError(f"size must be at most {self.settings.max_page_size}, got {size}")
        exclude: tuple[str, ...] = ()
        if image is not None:
            if not faces_available():
                raise EncoderUnavailable(f"finding the faces of an uploaded image needs the face models: {INSTALL_HINT}")
            faces = shared_face_engine().faces(decode_upload(image, self.settings, long_side=DETECT_SIDE))
        else:
            check_image_id(image_id)
            source = self._call(lambda: self.es.get(index=self.settings.index_alias, id=image_id,
                                                    source_includes=["faces", *visibility_fields()],
                                                    source_exclude_vectors=False),
                                image_id)["_source"]
            if is_hidden(source):
                raise ImageNotFound(f"no indexed image has id {image_id}")
            stored = source.get("faces") or []
            if not 0 <= face < len(stored):
                raise QueryError(f"image {image_id} has {len(stored)} faces; face must be 0 to {len(stored) - 1}"
                                 if stored else f"image {image_id} has no faces")
            entry = stored[face]
            vector = tuple(entry["vector"]) if entry.get("vector") else None
            faces = [Face(tuple(entry["box"]), entry.get("score") or 0.0, entry.get("quality") or "ok", vector)]
            exclude = (image_id,)
        filters = self.with_person_ids(filters)
        return self._call(lambda: search_faces(
            self.es, self.settings.index_alias, faces, threshold=self.settings.face_match_distance,
            filters=filters, registry=self.registry, page=page, size=size,
            max_depth=self.settings.max_result_window, exclude_ids=exclude, group=group, gap=self.video_gap()))

    def video_gap(self) -> float:
        """Frames this close in time (seconds) are one appearance: a few sampling intervals."""
        from es_search.search.appearances import DEFAULT_GAP_INTERVALS

        return DEFAULT_GAP_INTERVALS * self.settings.video_interval

    # ------------------------------------------------------------------ documents and facets

    def facets(self, filters: SearchFilters) -> dict:
        """Facet counts for the filter panel: {"facets": {...}, "matching": n}."""
        filters = self.with_person_ids(filters)
        response = self._msearch([build_facets_search(filters, self.registry)])[0]
        return parse_facets(response.get("aggregations", {}), filters, self.registry)

    def study(self, study_uid: str):
        """A DICOM study's series and their images, in the scanner's order (es_search/search/studies.py)."""
        from es_search.errors import StudyNotFound
        from es_search.search.studies import STUDY_UID_PATTERN, build_study_search, fold_study

        if not re.fullmatch(STUDY_UID_PATTERN, study_uid):
            raise QueryError("a study UID is 1 to 128 digits, dots, letters, '-' or '_'")
        response = self._msearch([build_study_search(study_uid, self.settings.max_result_window)])[0]
        hits = response["hits"]["hits"]
        if not hits:
            raise StudyNotFound(f"no indexed image belongs to study {study_uid}")
        return fold_study(study_uid, hits, response["hits"]["total"]["value"])

    def get_image(self, image_id: str, *, held_too: bool = False) -> dict:
        """One image's document (without its vector); ImageNotFound when there is none, or when a watchlist
        holds it for review (`held_too`: the write API answering its writer, the review queue)."""
        check_image_id(image_id)
        response = self._call(lambda: self.es.get(index=self.settings.index_alias, id=image_id,
                                                  source_excludes=list(HIDDEN_FIELDS)), image_id)
        source = response["_source"]
        if not in_scope(source) or (not held_too and is_hidden(source)):  # outside a key's scope: never there
            raise ImageNotFound(f"no indexed image has id {image_id}")
        return source

    def stored_vector(self, image_id: str) -> np.ndarray:
        """The vector indexed for an image; ImageNotFound when there is none."""
        return self.stored_vectors([image_id])[image_id]

    def stored_vectors(self, image_ids: Sequence[str], *, required: bool = True) -> dict[str, np.ndarray]:
        """The vectors indexed for some images, in one request. With `required`, an id without one is
        ImageNotFound (a query part naming an unknown image)."""
        ids = list(dict.fromkeys(check_image_id(image_id) for image_id in image_ids))
        if not ids:
            return {}
        response = self._msearch([build_vectors_search(ids)])[0]
        found = {h["_id"]: np.asarray(h["_source"][VECTOR_FIELD], dtype=np.float32)
                 for h in response["hits"]["hits"] if h.get("_source", {}).get(VECTOR_FIELD)}
        missing = [image_id for image_id in ids if image_id not in found]
        if required and missing:
            raise ImageNotFound(f"no indexed image with id {missing[0]} (or it has no stored vector)")
        return found

    def health(self, details: bool = False) -> dict:
        """Whether searching can work, for /api/health (es_search/search/health.py)."""
        from es_search.search.health import search_health

        return search_health(self.es, self.settings, self.loaded_models(), details)

    # ------------------------------------------------------------------ Elasticsearch I/O

    def sources(self, ids: list[str]) -> dict[str, dict]:
        """Some images' documents (without vectors) by id, in one request; unknown ids are left out."""
        return self._sources(ids)

    def _sources(self, ids: list[str]) -> dict[str, dict]:
        if not ids:
            return {}
        response = self._call(lambda: self.es.mget(index=self.settings.index_alias, ids=ids,
                                                   source_excludes=list(HIDDEN_FIELDS)))
        return {doc["_id"]: doc.get("_source", {}) for doc in response["docs"]
                if doc.get("found") and not is_hidden(doc.get("_source"))}

    def _msearch(self, bodies: list[dict]) -> list[dict]:
        searches: list[dict] = []
        for body in bodies:
            searches += [{}, visible_only(body)]  # images a watchlist holds are nobody's result
        for attempt in range(PARTIAL_RETRIES + 1):
            response = self._call(lambda: self.es.msearch(index=self.settings.index_alias, searches=searches))
            results = response["responses"]
            # A node lost between a search's phases leaves its shards out of that answer (a kNN search's later
            # phases go back to the copies that answered first); asked again, it goes to the copies that remain.
            if attempt == PARTIAL_RETRIES or not any(item.get("_shards", {}).get("failed") for item in results):
                break
            time.sleep(0.1 * (attempt + 1))
        for error in (item for item in results if "error" in item):
            raise search_error(error["error"], error.get("status", 500), missing=self._missing_message(),
                               url=self.settings.node_url)
        return results

    def _call(self, fn, image_id: str | None = None):
        try:
            return fn()
        except (es_exceptions.ApiError, es_exceptions.TransportError) as exc:
            raise translate(exc, url=self.settings.node_url, missing=self._missing_message(),
                            image_id=image_id) from None

    def _missing_message(self) -> str:
        return missing_index_message(self.settings.index_alias)

    def _check_dims(self, vector: np.ndarray) -> None:
        dims = self.index_dims()
        if dims is not None and vector.shape[0] != dims:
            raise QueryError(f"the query vector has {vector.shape[0]} dimensions but the index holds {dims}-d "
                             "vectors (was the index built with another model?)")

    def index_dims(self) -> int | None:
        """Vector dims of the index behind the alias (read once), or None when there is no index."""
        cached = getattr(self, "_dims", None)
        if cached is not None:
            return cached
        mapping = self._call(lambda: self.es.indices.get_mapping(index=self.settings.index_alias))
        dims = None
        for index_mapping in mapping.values():
            dims = index_mapping["mappings"]["properties"].get(VECTOR_FIELD, {}).get("dims")
        self._dims = dims
        return dims
