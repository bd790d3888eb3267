"""The one rule for a document id, for records files, the write API and every read by id.

An id is 1 to 128 characters (so at most 512 bytes, Elasticsearch's limit, in any script) without white
space, control characters or "/", and does not start with "_" or "." (a path segment such as `_bulk`, `.`
or `..` would be read as another address). A content hash (64 hexadecimal characters, the id of an image
given without one) follows the rule. `ID_PATTERN` is the same rule as a regular expression, written with
explicit characters so that it reads the same in Python and in the OpenAPI description's ECMA-262 dialect.
Pure.
"""

from __future__ import annotations

import re

from es_search.values import is_utf8

MAX_ID_CHARS = 128
# White space as both dialects know it, spelled out (Python's \s and ECMA-262's \s differ at the edges).
_SPACE = r"\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_FORBIDDEN = _SPACE + r"\x00-\x1f\x7f/"
ID_PATTERN = f"^[^{_FORBIDDEN}._][^{_FORBIDDEN}]{{0,{MAX_ID_CHARS - 1}}}$"
ID_RULE = (f"an id is 1 to {MAX_ID_CHARS} characters without spaces, control characters or '/', not starting "
           "with '_' or '.'")
_ID = re.compile(ID_PATTERN)


class BadId(ValueError):
    """An id that breaks the rule; its message is ID_RULE."""


def check_doc_id(raw: object) -> str:
    """`raw` itself when it is a valid id, else BadId. Nothing is trimmed: a records file's cells are
    stripped where they are read, and an id in a request is taken as sent."""
    if isinstance(raw, str) and _ID.fullmatch(raw) and is_utf8(raw):
        return raw
    raise BadId(ID_RULE)
