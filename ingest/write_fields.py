"""What a write through the API may set (pure): its fields checked and converted by the registry, its id.

The same rules as a records file's columns (ingest/records.py): the fields of the user's schema and the
descriptive built-ins (title, caption, tags) may be set, each value converted to its field's type by the one
converter (es_search/values.py), strictly, since a JSON client states its types; everything the ingest derives
from the image (vector, sha256, colours, size...) is refused, so a write cannot contradict its image. Ids
follow the one id rule (es_search/ids.py). A record's problem is one bad row; here it is one bad request.
"""

from __future__ import annotations

from collections.abc import Mapping

from es_search.errors import WriteRejected
from es_search.fields import VECTOR_FIELD, FieldRegistry
from es_search.ids import BadId, check_doc_id
from es_search.values import ValueProblem, convert_value, stored
from ingest.records import RecordColumns

# Fields the ingest writes for its own bookkeeping: not in a write's power either.
_BOOKKEEPING = ("paths", "relative_path", "file_name", "sources", "record_digest", "image_id", "indexed_at",
                VECTOR_FIELD, "model")


def check_fields(fields: object, registry: FieldRegistry, *, strict: bool = True) -> dict[str, object]:
    """`fields` (a JSON object) as the document stores them; None for a value that clears its field.

    WriteRejected: not an object (bad_json), a field the registry does not have (bad_field), one computed
    from the image (derived_field), a value of the wrong type (bad_field). `strict`: JSON values must have
    their field's JSON type; form fields (multipart) are text and are parsed (strict=False).
    """
    if fields is None:
        return {}
    if not isinstance(fields, Mapping):
        raise WriteRejected("bad_json", "fields must be a JSON object: {\"title\": ..., \"tags\": [...]}")
    settable = RecordColumns.from_registry(registry).settable
    converted: dict[str, object] = {}
    for name, raw in fields.items():
        spec = settable.get(name)
        if spec is None:
            known = registry.get(name)
            if (known is not None and known.builtin) or name in _BOOKKEEPING:
                raise WriteRejected("derived_field", f"{name!r} is computed from the image and cannot be set; "
                                                     f"settable: {', '.join(sorted(settable))}")
            raise WriteRejected("bad_field", f"unknown field {name!r}: declare it in the schema file named by "
                                             f"IMGSEARCH_FIELDS (settable now: {', '.join(sorted(settable))})")
        try:
            converted[name] = stored(convert_value(spec, raw, strict=strict))
        except ValueProblem as exc:
            raise WriteRejected("bad_field", f"field {name!r} ({spec.type}): {exc}") from None
    return converted


def check_write_id(raw: object) -> str:
    """An id given by the caller, by the one id rule; WriteRejected(bad_id) otherwise."""
    try:
        return check_doc_id(raw)
    except BadId as exc:
        raise WriteRejected("bad_id", str(exc)) from None
