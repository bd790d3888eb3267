"""What an image search takes from its query image beyond the vector: a region of it (search by a box) and
the text it shows (拍照搜题). Used by the search service before the image is encoded."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import replace

from es_search.decode import DecodeError, decode_bytes
from es_search.errors import QueryError, UploadRejected
from es_search.search.contract import MAX_TEXT_CHARS
from es_search.search.regions import Box, crop
from es_search.search.request import SearchRequest

# A query image showing at least this many characters (spaces aside) is a page of text: its words rank first.
QUESTION_CHARS = 8
# A region is cut from the image decoded at most this large (longer side), so a small box keeps its detail.
REGION_SIDE = 2048


class QueryImages:
    """Regions and text of query images. `image_bytes(source)`: an indexed image's bytes where the app may
    read them (its original, else its thumbnail), or None; without it, only uploads can be cut."""

    def __init__(self, settings, image_bytes: Callable[[dict], bytes | None] | None = None):
        self.settings = settings
        self._image_bytes = image_bytes
        self._ocr = None
        self._lock = threading.Lock()

    def of_indexed(self, source: dict) -> bytes:
        """An indexed image's bytes for a region search, as the app may read them (`image_bytes`: its
        original, else its thumbnail); QueryError when there are none."""
        data = self._image_bytes(source) if self._image_bytes is not None else None
        if not data:
            raise QueryError("this image has neither a readable original nor a thumbnail to take a region of")
        return data

    def region(self, data: bytes, box: Box) -> bytes:
        """The region of an image's bytes, as PNG bytes the upload path decodes, encodes and reads as any other
        (decoded at most at REGION_SIDE first, so a small region keeps its detail)."""
        try:
            image = decode_bytes(data, max_pixels=self.settings.max_image_pixels, min_side=0,
                                 min_long_side=REGION_SIDE).image
        except DecodeError as exc:
            raise UploadRejected(exc.reason, f"cannot use the image ({exc.reason}): {exc.message}") from None
        out = io.BytesIO()
        crop(image, box).save(out, "PNG")
        return out.getvalue()

    def with_text(self, request: SearchRequest, data: bytes, decoded) -> SearchRequest:
        """An image search with the text its image shows: the words join the keyword leg. A page of text
        (QUESTION_CHARS or more) ranks words first, as a printed question is known by its words; a few words
        (a sign in a photo) fuse by RRF. Nothing changes when OCR is off, or the image holds no text."""
        reader = self.ocr_reader
        if request.words is not None or reader is None:
            return request
        text = reader.read_text(data, decoded, self.settings.max_image_pixels)
        if not text:
            return request
        mode = request.mode
        if mode == "semantic":
            mode = "text" if len("".join(text.split())) >= QUESTION_CHARS else "hybrid"
        return replace(request, words=text[:MAX_TEXT_CHARS], mode=mode)

    @property
    def ocr_reader(self):
        """The reader of query images' text (es_search/ocr), or None when IMGSEARCH_OCR is off or it is not
        installed."""
        if self._ocr is None and self.settings.ocr != "off":
            from es_search.ocr.engine import QueryTextReader, ocr_available

            with self._lock:
                if self._ocr is None and ocr_available():
                    self._ocr = QueryTextReader()
        return self._ocr
