"""The search service: one code path behind the gallery pages, the JSON API and `imgsearch search`.

A `SearchRequest` (from `es_search.query`) is turned into a query vector — a text encoded by the text
model, an uploaded image by the image model, or the stored vector of an indexed image — and searched with
kNN under the filters; hybrid mode fuses that ranking with a BM25 ranking by reciprocal rank fusion here in
Python (the server-side RRF retriever needs a paid licence).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_exceptions

from es_search.client import ClusterUnavailable
from es_search.config import Settings
from es_search.errors import ImageNotFound, IndexMissing, UploadRejected
from es_search.query import (
    VECTOR_FIELD,
    PageWindow,
    QueryError,
    SearchFilters,
    SearchRequest,
    build_bm25_search,
    build_browse_search,
    build_facets_search,
    build_knn_search,
    check_image_id,
    cosine_from_score,
    encode_vector,
    page_window,
    parse_facets,
    reciprocal_rank_fusion,
)


@dataclass
class SearchHit:
    id: str
    score: float | None  # what ranks: cosine similarity (semantic), RRF score (hybrid), None (browse)
    similarity: float | None  # cosine similarity to the query vector, when the kNN leg found the image
    source: dict

    def to_dict(self) -> dict:
        return {"id": self.id, "score": _rounded(self.score), "similarity": _rounded(self.similarity),
                "image": self.source}


@dataclass
class SearchResult:
    request: SearchRequest
    kind: str  # text | image | similar | vector | browse
    mode: str  # semantic | hybrid | browse
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
                 "similar": self.request.similar_to, "vector": self.vector_token,
                 "min_similarity": self.request.min_similarity, "filters": self.request.filters.to_dict()}
        timings = {"encode_ms": self.encode_ms, "search_ms": self.search_ms}
        data = {"query": query, "page": self.page, "size": self.size, "has_next": self.has_next,
                "max_page": self.max_page, "took_ms": round(self.took_ms, 2),
                "timings_ms": {k: round(v, 2) for k, v in timings.items() if v is not None},
                "hits": [dict(hit.to_dict(), rank=self.offset + i + 1) for i, hit in enumerate(self.hits)]}
        if self.total is not None:
            data["total"] = self.total
        if self.facets is not None:
            data["facets"] = self.facets["facets"]
            data["matching"] = self.facets["matching"]
        return data


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


EncoderFactory = Callable[[Settings], object]
TEXT_CACHE_SIZE = 512  # query texts whose vectors are kept (a vector is 2 KB)


class SearchService:
    """Searches the index behind `settings.index_alias`. Encoders are built on first use (or injected)."""

    def __init__(self, es: Elasticsearch, settings: Settings, *, text_encoder=None, image_encoder=None,
                 text_encoder_factory: EncoderFactory | None = None,
                 image_encoder_factory: EncoderFactory | None = None,
                 image_decoder: Callable[[bytes, Settings], object] | None = None):
        self.es = es
        self.settings = settings
        self._text_encoder = text_encoder
        self._image_encoder = image_encoder
        self._text_factory = text_encoder_factory
        self._image_factory = image_encoder_factory
        self._image_decoder = image_decoder
        self._lock = threading.Lock()
        self._text_vectors: OrderedDict[str, np.ndarray] = OrderedDict()

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
        """Decode an upload with the ingest decoder (bomb-safe) and encode it. Returns (vector, image)."""
        if len(data) > self.settings.max_upload_bytes:
            raise UploadRejected("too_large", f"the image is {len(data)} bytes; the limit is "
                                 f"{self.settings.max_upload_bytes} bytes", status=413)
        if not data:
            raise UploadRejected("empty", "the uploaded file is empty")
        decoder = self._image_decoder or decode_upload
        image = decoder(data, self.settings)
        vector = np.asarray(self.image_encoder.encode_images([image])[0], dtype=np.float32)
        return vector, image

    # ------------------------------------------------------------------ searching

    def search(self, request: SearchRequest, image: bytes | None = None) -> SearchResult:
        """Run one search: an uploaded image, text, similar-to-id, a given vector, or (none) browse."""
        started = time.perf_counter()
        window = self._window(request)
        exclude: Sequence[str] = ()
        decoded = None
        if image is not None:
            if request.text or request.similar_to or request.vector is not None:
                raise QueryError("an image search takes no q, similar or vec as well")
            kind, (vector, decoded) = "image", self.encode_image_bytes(image)
        elif request.text:
            kind, vector = "text", self.encode_text(request.text)
        elif request.similar_to:
            kind, vector = "similar", self.stored_vector(request.similar_to)
            exclude = (request.similar_to,)
        elif request.vector is not None:
            kind, vector = "vector", np.asarray(request.vector, dtype=np.float32)
        else:
            return self._browse(request, window, started)
        encoded = time.perf_counter()
        result = self._vector_search(request, window, kind, vector, exclude, started)
        result.query_image = decoded
        if kind in ("text", "image"):
            result.encode_ms = (encoded - started) * 1000
        return result

    def search_by_vector(self, vector: Sequence[float], request: SearchRequest | None = None,
                         exclude_ids: Sequence[str] = ()) -> SearchResult:
        """kNN with a query vector given directly (tests index hand-made vectors and rank with this)."""
        request = request or SearchRequest(size=self.settings.default_page_size)
        started = time.perf_counter()
        vector = np.asarray(vector, dtype=np.float32)
        request = replace(request, vector=tuple(float(x) for x in vector))
        return self._vector_search(request, self._window(request), "vector", vector, tuple(exclude_ids), started)

    def similar(self, image_id: str, size: int = 12, filters: SearchFilters | None = None) -> SearchResult:
        """The images most like an indexed one, the image itself left out."""
        return self.search(SearchRequest(similar_to=image_id, size=size, filters=filters or SearchFilters()))

    def _window(self, request: SearchRequest) -> PageWindow:
        if request.size > self.settings.max_page_size:
            raise QueryError(f"size must be at most {self.settings.max_page_size}, got {request.size}")
        return page_window(request.page, request.size, max_depth=self.settings.max_result_window,
                           candidates_factor=self.settings.knn_candidates_factor,
                           min_candidates=self.settings.knn_min_candidates)

    def _vector_search(self, request: SearchRequest, window: PageWindow, kind: str, vector: np.ndarray,
                       exclude: Sequence[str], started: float) -> SearchResult:
        vector = _normalised(vector)
        self._check_dims(vector)
        hybrid = request.mode == "hybrid" and kind == "text"
        bodies = []
        if hybrid:
            bodies.append(build_knn_search(vector, window, request.filters, exclude_ids=exclude,
                                           min_similarity=request.min_similarity, with_source=False, from_top=True))
            bodies.append(build_bm25_search(request.text, window.fetch, request.filters, exclude_ids=exclude))
        else:
            bodies.append(build_knn_search(vector, window, request.filters, exclude_ids=exclude,
                                           min_similarity=request.min_similarity))
        if request.with_facets:
            bodies.append(build_facets_search(request.filters))
        search_started = time.perf_counter()
        responses = self._msearch(bodies)
        facets = parse_facets(responses[-1].get("aggregations", {}), request.filters) if request.with_facets else None
        if hybrid:
            hits, has_next = self._fuse(responses[0], responses[1], window)
        else:
            found = responses[0]["hits"]["hits"]
            hits = [SearchHit(id=h["_id"], score=cosine_from_score(h["_score"]),
                              similarity=cosine_from_score(h["_score"]), source=h.get("_source", {}))
                    for h in found[:window.size]]
            has_next = len(found) > window.size
        finished = time.perf_counter()
        return SearchResult(request=request, kind=kind, mode="hybrid" if hybrid else "semantic", hits=hits,
                            page=window.page, size=window.size, has_next=has_next, max_page=window.max_page,
                            took_ms=(finished - started) * 1000, facets=facets, query_vector=vector,
                            search_ms=(finished - search_started) * 1000)

    def _fuse(self, knn_response: dict, bm25_response: dict, window: PageWindow) -> tuple[list[SearchHit], bool]:
        knn_hits = knn_response["hits"]["hits"]
        bm25_hits = bm25_response["hits"]["hits"]
        similarity = {h["_id"]: cosine_from_score(h["_score"]) for h in knn_hits}
        fused = reciprocal_rank_fusion([[h["_id"] for h in knn_hits], [h["_id"] for h in bm25_hits]],
                                       rank_constant=self.settings.rrf_rank_constant)
        # Fused lists can run longer than `fetch` (the union of two lists); never page past max_depth.
        fused = fused[:window.max_depth]
        page = fused[window.offset:window.offset + window.size]
        sources = self._sources([doc_id for doc_id, _ in page])
        hits = [SearchHit(id=doc_id, score=score, similarity=similarity.get(doc_id), source=sources[doc_id])
                for doc_id, score in page if doc_id in sources]
        return hits, len(fused) > window.offset + window.size

    def _browse(self, request: SearchRequest, window: PageWindow, started: float) -> SearchResult:
        bodies = [build_browse_search(window, request.filters)]
        if request.with_facets:
            bodies.append(build_facets_search(request.filters))
        responses = self._msearch(bodies)
        found = responses[0]["hits"]["hits"]
        hits = [SearchHit(id=h["_id"], score=None, similarity=None, source=h.get("_source", {}))
                for h in found[:window.size]]
        facets = parse_facets(responses[-1].get("aggregations", {}), request.filters) if request.with_facets else None
        return SearchResult(request=request, kind="browse", mode="browse", hits=hits, page=window.page,
                            size=window.size, has_next=len(found) > window.size, max_page=window.max_page,
                            took_ms=(time.perf_counter() - started) * 1000,
                            total=responses[0]["hits"]["total"]["value"], facets=facets)

    # ------------------------------------------------------------------ documents and facets

    def facets(self, filters: SearchFilters) -> dict:
        """Facet counts for the filter panel: {"facets": {...}, "matching": n}."""
        return parse_facets(self._msearch([build_facets_search(filters)])[0].get("aggregations", {}), filters)

    def get_image(self, image_id: str) -> dict:
        """One image's document (without its vector); ImageNotFound when there is none."""
        check_image_id(image_id)
        response = self._call(lambda: self.es.get(index=self.settings.index_alias, id=image_id,
                                                  source_excludes=[VECTOR_FIELD]), image_id)
        return response["_source"]

    def stored_vector(self, image_id: str) -> np.ndarray:
        """The vector indexed for an image. Asked for explicitly: Elasticsearch 9 leaves vectors out of _source."""
        check_image_id(image_id)
        response = self._call(lambda: self.es.get(index=self.settings.index_alias, id=image_id,
                                                  source_includes=[VECTOR_FIELD], source_exclude_vectors=False),
                              image_id)
        vector = response.get("_source", {}).get(VECTOR_FIELD)
        if not vector:
            raise ImageNotFound(f"image {image_id} has no stored vector to search with")
        return np.asarray(vector, dtype=np.float32)

    def health(self) -> dict:
        """Cluster, index and model state for /api/health; `ok` is False when searching cannot work."""
        from es_search.client import check_cluster

        report: dict = {"ok": False, "index_alias": self.settings.index_alias}
        try:
            report["elasticsearch"] = check_cluster(self.es, self.settings)
        except (ClusterUnavailable, es_exceptions.TransportError, es_exceptions.ApiError) as exc:
            report["elasticsearch"] = {"error": str(exc)}
            return report
        try:
            report["documents"] = self.es.count(index=self.settings.index_alias)["count"]
        except (es_exceptions.TransportError, es_exceptions.ApiError) as exc:
            if not isinstance(exc, es_exceptions.NotFoundError):
                report["error"] = f"cannot count documents: {exc}"
                return report
            report["documents"] = None
            report["error"] = f"no index behind alias {self.settings.index_alias!r}; ingest images first"
            return report
        report["models"] = {"text": self.settings.text_model, "image": self.settings.image_model,
                            "text_loaded": self._text_encoder is not None,
                            "image_loaded": self._image_encoder is not None}
        report["ok"] = report["elasticsearch"].get("status") in ("green", "yellow")
        return report

    # ------------------------------------------------------------------ Elasticsearch I/O

    def _sources(self, ids: list[str]) -> dict[str, dict]:
        if not ids:
            return {}
        response = self._call(lambda: self.es.mget(index=self.settings.index_alias, ids=ids,
                                                   source_excludes=[VECTOR_FIELD]))
        return {doc["_id"]: doc.get("_source", {}) for doc in response["docs"] if doc.get("found")}

    def _msearch(self, bodies: list[dict]) -> list[dict]:
        searches: list[dict] = []
        for body in bodies:
            searches += [{}, body]
        response = self._call(lambda: self.es.msearch(index=self.settings.index_alias, searches=searches))
        results = response["responses"]
        for item in results:
            if "error" in item:
                self._raise_search_error(item["error"], item.get("status", 500))
        return results

    def _raise_search_error(self, error: dict, status: int) -> None:
        kind = error.get("type", "") if isinstance(error, dict) else ""
        if kind == "index_not_found_exception" or status == 404:
            raise IndexMissing(self._missing_message())
        reason = _root_reason(error)
        if status == 400:
            raise QueryError(f"Elasticsearch refused the search: {reason}")
        raise ClusterUnavailable(f"Elasticsearch failed the search ({status}): {reason}")

    def _call(self, fn, image_id: str | None = None):
        try:
            return fn()
        except es_exceptions.NotFoundError as exc:
            if _is_index_missing(exc) or image_id is None:
                raise IndexMissing(self._missing_message()) from None
            raise ImageNotFound(f"no indexed image has id {image_id}") from None
        except es_exceptions.BadRequestError as exc:
            raise QueryError(f"Elasticsearch refused the request: {_root_reason(exc.body)}") from None
        except es_exceptions.TransportError as exc:  # connection refused, timed out, TLS failure
            raise ClusterUnavailable(f"cannot reach Elasticsearch at {self.settings.node_url}: {exc}") from None
        except es_exceptions.ApiError as exc:
            raise ClusterUnavailable(f"Elasticsearch answered {exc.meta.status}: {_root_reason(exc.body)}") from None

    def _missing_message(self) -> str:
        return (f"no index behind alias {self.settings.index_alias!r} yet; ingest images first "
                "(`imgsearch ingest DIR` or `make run`)")

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
        try:
            mapping = self.es.indices.get_mapping(index=self.settings.index_alias)
        except es_exceptions.NotFoundError:
            raise IndexMissing(self._missing_message()) from None
        except es_exceptions.TransportError as exc:
            raise ClusterUnavailable(f"cannot reach Elasticsearch at {self.settings.node_url}: {exc}") from None
        dims = None
        for index_mapping in mapping.values():
            dims = index_mapping["mappings"]["properties"].get(VECTOR_FIELD, {}).get("dims")
        self._dims = dims
        return dims


def _normalised(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise QueryError("the query vector must be non-zero and finite")
    return vector / norm


def _is_index_missing(exc: es_exceptions.ApiError) -> bool:
    error = exc.body.get("error") if isinstance(exc.body, dict) else None
    return isinstance(error, dict) and error.get("type") == "index_not_found_exception"


def _root_reason(error) -> str:
    if isinstance(error, dict):
        error = error.get("error", error)
    if isinstance(error, dict):
        causes = error.get("root_cause") or []
        first = causes[0] if causes and isinstance(causes[0], dict) else error
        return str(first.get("reason") or error.get("reason") or error.get("type") or error)[:300]
    return str(error)[:300]


def decode_upload(data: bytes, settings: Settings):
    """Decode uploaded bytes with the ingest decoder (pixel limit before decoding, EXIF orientation, RGB);
    returns the PIL image. Any failure is an UploadRejected carrying the decoder's reason."""
    from ingest.decode import DecodeError, decode_image

    if not isinstance(data, bytes):
        raise UploadRejected("unreadable", "the upload must be the image's bytes")
    try:
        return decode_image(data, settings).image
    except DecodeError as exc:
        raise UploadRejected(exc.reason, f"cannot use the uploaded image ({exc.reason}): {exc.message}") from None
