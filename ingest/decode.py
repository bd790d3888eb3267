"""Temporary: the decoder moved to `es_search.decode`.

Kept only because `es_search/search.py` (the upload search) still imports these two names from here; delete
this file once it imports `es_search.decode` instead. Nothing in ingest uses it.
"""

from es_search.decode import DecodeError, decode_image

__all__ = ["DecodeError", "decode_image"]
