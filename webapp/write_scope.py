"""A scoped key's writes (`imgsearch apikey create --filter department=radiology`): it creates, changes and
deletes images inside its filter only, and nothing else (people, watchlists, the review queue are the
deployment's, not a department's).

- A new image gets the filter's value where it names none (the filter has one value), must name one of its
  values otherwise (403 `outside_scope`), and is created, never written over: the same bytes indexed outside
  the scope are a 409, not a change to that image. An explicit id already held outside the scope is a 403.
- A change or a delete finds only the images the key sees (404 otherwise, as for an id that does not exist),
  and cannot move an image out of the filter (403).
Pure but for the read of an existing document (`lookup`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from es_search.errors import ImageNotFound, WriteRejected
from ingest.write_ops import WriteOp

SCOPED_ENDPOINTS = frozenset({"writes.add_image", "writes.patch_image", "writes.delete_image", "writes.bulk"})


def outside(message: str) -> WriteRejected:
    return WriteRejected("outside_scope", message, status=403)


def scoped_op(op: WriteOp, scope: Mapping[str, tuple[str, ...]], lookup: Callable[[str], dict | None]) -> WriteOp:
    """`op` as a key limited to `scope` (field → allowed values) may make it; WriteRejected or ImageNotFound
    otherwise. `lookup(id)` is the stored document with that id, in or out of the scope, or None."""
    if not scope:
        return op
    if op.action in ("update", "delete"):
        existing = lookup(op.doc_id) if op.doc_id else None
        if existing is None or not _inside(existing, scope):
            raise ImageNotFound(f"no indexed image has id {op.doc_id}")
        if op.action == "update":
            for name, allowed in scope.items():
                if name in op.fields and not _values_inside(op.fields[name], allowed):
                    raise outside(f"this key may not move an image out of {name}={'|'.join(allowed)}")
        return op
    fields = dict(op.fields)
    for name, allowed in scope.items():
        if fields.get(name) is None:
            if len(allowed) != 1:
                raise outside(f"this key writes images of {name}={'|'.join(allowed)}: say which in `fields`")
            fields[name] = allowed[0]
        elif not _values_inside(fields[name], allowed):
            raise outside(f"this key writes images of {name}={'|'.join(allowed)} only")
    if op.doc_id is not None:
        existing = lookup(op.doc_id)
        if existing is not None and not _inside(existing, scope):
            raise outside(f"the id {op.doc_id} is not this key's to write")
        return replace(op, fields=fields, action=op.action if existing is not None else "create")
    return replace(op, fields=fields, action="create")


def _values_inside(value, allowed: tuple[str, ...]) -> bool:
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(v is not None and str(v) in allowed for v in values)


def _inside(source: Mapping, scope: Mapping[str, tuple[str, ...]]) -> bool:
    from es_search.visibility import in_scope

    return in_scope(source, scope)
