"""Filters and facets, derived from the field registry: parsing request parameters, filter clauses, and the
facet request and its counts.

A terms field filters by `<param>=value` (repeatable); a range field by `<param>=from..to` (either end may be
left out) or by `<from_param>` / `<to_param>`. Values are converted to the field's type by the one converter
of field values (es_search/values.py: `case`, `min`/`max` and the boolean words apply as everywhere), so a bad
value is a QueryError naming the parameter, never an Elasticsearch error. Nothing here talks to Elasticsearch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from es_search.errors import QueryError
from es_search.fields import FieldRegistry, FieldSpec, load_registry
from es_search.values import ValueProblem, convert_value, day_start, utc_text

MAX_FILTER_VALUES = 20  # values per multi-valued filter; more is not a person clicking checkboxes
MAX_VALUE_CHARS = 200
RANGE_SEPARATOR = ".."

Params = Mapping[str, Sequence[str] | str]
RangeValue = int | float | date | None


@dataclass(frozen=True)
class SearchFilters:
    """What narrows the results, keyed by request parameter: chosen values of terms fields, and (from, to)
    bounds of range fields (inclusive; None is open)."""

    terms: Mapping[str, tuple] = field(default_factory=dict)
    ranges: Mapping[str, tuple[RangeValue, RangeValue]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.terms and not self.ranges

    def selected(self, param: str) -> tuple:
        """The values chosen for a terms filter, by its parameter name."""
        return self.terms.get(param, ())

    def bounds(self, param: str) -> tuple[RangeValue, RangeValue]:
        """(from, to) of a range filter, by its parameter name; (None, None) when it is not set."""
        return self.ranges.get(param, (None, None))

    def to_params(self) -> list[tuple[str, str]]:
        """Query-string pairs that `parse_filters` reads back into an equal object (for links)."""
        pairs: list[tuple[str, str]] = []
        for param, values in self.terms.items():
            pairs.extend((param, _text(value)) for value in values)
        for param, (low, high) in self.ranges.items():
            pairs.append((param, f"{_text(low)}{RANGE_SEPARATOR}{_text(high)}"))
        return pairs

    def to_dict(self) -> dict:
        data: dict = {param: list(values) for param, values in self.terms.items()}
        for param, (low, high) in self.ranges.items():
            data[param] = {"from": _json(low), "to": _json(high)}
        return data


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return f"{value:g}" if isinstance(value, float) else str(value)


def _json(value):
    return value.isoformat() if isinstance(value, date) else value


# --------------------------------------------------------------------------- parsing


def _values(params: Params, name: str) -> list[str]:
    raw = params.get(name)
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    return [str(v).strip() for v in raw if v is not None and str(v).strip() != ""]


def single_value(params: Params, name: str) -> str | None:
    """The one value of a parameter; the same value repeated is fine, different ones are a QueryError."""
    values = _values(params, name)
    if len(values) > 1 and len(set(values)) > 1:
        raise QueryError(f"{name} was given {len(values)} different values; give it once")
    return values[0] if values else None


def filter_value(spec: FieldSpec, raw, param: str, strict: bool = False):
    """A parameter's value (text, or typed JSON with `strict`) as a value of the field's type, by the one
    converter (es_search/values.py); QueryError names the parameter otherwise."""
    try:
        return checked_filter_value(spec, raw, strict)
    except ValueProblem as exc:
        raise QueryError(f"{param}: {exc}") from None


def checked_filter_value(spec: FieldSpec, raw, strict: bool = False):
    """`filter_value` without the parameter's name: ValueProblem says what is wrong."""
    if isinstance(raw, str) and len(raw) > MAX_VALUE_CHARS:
        raise ValueProblem(f"is too long ({len(raw)} characters; at most {MAX_VALUE_CHARS})")
    value = convert_value(spec, raw, strict=strict)
    if value is None:
        raise ValueProblem("needs a value")
    return value


def _parse_terms(spec: FieldSpec, params: Params) -> tuple:
    raw = list(dict.fromkeys(_values(params, spec.param)))  # keep order, drop repeats
    if len(raw) > MAX_FILTER_VALUES:
        raise QueryError(f"{spec.param} takes at most {MAX_FILTER_VALUES} values, got {len(raw)}")
    return tuple(dict.fromkeys(filter_value(spec, value, spec.param) for value in raw))


def _parse_range(spec: FieldSpec, params: Params) -> tuple[RangeValue, RangeValue]:
    low = high = None
    combined = single_value(params, spec.param)
    if combined is not None:
        if RANGE_SEPARATOR not in combined:
            raise QueryError(f"{spec.param} is a range: give from..to, from.. or ..to, got {combined!r}")
        low_text, high_text = combined.split(RANGE_SEPARATOR, 1)
        low = filter_value(spec, low_text.strip(), spec.param) if low_text.strip() else None
        high = filter_value(spec, high_text.strip(), spec.param) if high_text.strip() else None
    for name, is_low in ((spec.from_param, True), (spec.to_param, False)):
        raw = single_value(params, name)
        if raw is None:
            continue
        if combined is not None:
            raise QueryError(f"give either {spec.param} or {spec.from_param}/{spec.to_param}, not both")
        if is_low:
            low = filter_value(spec, raw, name)
        else:
            high = filter_value(spec, raw, name)
    if low is not None and high is not None and ordered(low) > ordered(high):
        raise QueryError(f"{spec.from_param} ({_text(low)}) is after {spec.to_param} ({_text(high)})"
                         if spec.type == "date" else
                         f"{spec.from_param} ({_text(low)}) is greater than {spec.to_param} ({_text(high)})")
    return low, high


def ordered(value):
    """Days and moments of a date field compare as moments (a day is its first moment)."""
    return day_start(value) if isinstance(value, date) else value


def parse_filters(params: Params, registry: FieldRegistry | None = None) -> SearchFilters:
    """Filters from request parameters, for every filterable field of the registry (built-in by default)."""
    registry = registry or load_registry()
    terms: dict[str, tuple] = {}
    ranges: dict[str, tuple] = {}
    for spec in registry.filters:
        if spec.filter == "terms":
            values = _parse_terms(spec, params)
            if values:
                terms[spec.param] = values
        else:
            bounds = _parse_range(spec, params)
            if bounds != (None, None):
                ranges[spec.param] = bounds
    return SearchFilters(terms=terms, ranges=ranges)


# --------------------------------------------------------------------------- clauses


def filter_clauses_by_param(filters: SearchFilters, registry: FieldRegistry | None = None) -> dict[str, dict]:
    """One bool-filter clause per active filter, keyed by its parameter name.

    Keyed so that facet counts can leave their own filter out (counts for the other values of a facet
    must not be zeroed by the value already chosen).
    """
    registry = registry or load_registry()
    clauses: dict[str, dict] = {}
    for param, values in filters.terms.items():
        clauses[param] = {"terms": {registry.by_param(param).name: list(values)}}
    for param, (low, high) in filters.ranges.items():
        clauses[param] = range_clause(registry.by_param(param), low, high)
    return clauses


def range_clause(spec: FieldSpec, low: RangeValue, high: RangeValue) -> dict:
    """A range on the field. Dates are whole days (`||/d` rounds the lower bound down and the upper bound up
    to the day's ends). With a fallback field, documents lacking the field are judged by the fallback
    (photos without a capture date by their file's modification date)."""
    bounds: dict = {}
    if low is not None:
        bounds["gte"] = _bound_value(low)
    if high is not None:
        bounds["lte"] = _bound_value(high)
    clause = {"range": {spec.name: dict(bounds)}}
    if not spec.fallback:
        return clause
    return {"bool": {"minimum_should_match": 1, "should": [
        clause,
        {"bool": {"must_not": [{"exists": {"field": spec.name}}],
                  "filter": [{"range": {spec.fallback: dict(bounds)}}]}},
    ]}}


def _bound_value(value):
    """A range bound as Elasticsearch takes it: a day rounds to its ends (`||/d`), a moment is exact."""
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return f"{value.isoformat()}||/d"
    return value


def build_filter(filters: SearchFilters, exclude_ids: Sequence[str] = (),
                 registry: FieldRegistry | None = None) -> dict | None:
    """A bool query holding every filter (and ids to leave out), or None when nothing restricts."""
    clauses = list(filter_clauses_by_param(filters, registry).values())
    if not clauses and not exclude_ids:
        return None
    query: dict = {"bool": {"filter": clauses}}
    if exclude_ids:
        query["bool"]["must_not"] = [{"ids": {"values": list(exclude_ids)}}]
    return query


# --------------------------------------------------------------------------- facets


def build_facets_search(filters: SearchFilters, registry: FieldRegistry | None = None) -> dict:
    """Facet counts for the filter panel, over the whole collection.

    A semantic search ranks every image, so there is no "match set" to count; the counts say how many
    images carry each value under the *other* active filters (disjunctive facets: choosing `warm` does
    not hide the count for `cool`). `matching` counts images passing every filter.
    """
    registry = registry or load_registry()
    clauses = filter_clauses_by_param(filters, registry)
    aggs: dict = {}
    for spec in registry.facets:
        others = [clause for key, clause in clauses.items() if key != spec.param]
        aggs[spec.param] = {"filter": {"bool": {"filter": others}},
                            "aggs": {"values": {"terms": {"field": spec.name, "size": spec.facet_size}}}}
    aggs["matching"] = {"filter": {"bool": {"filter": list(clauses.values())}}}
    return {"size": 0, "query": {"match_all": {}}, "aggs": aggs, "track_total_hits": False}


def parse_facets(aggregations: Mapping, filters: SearchFilters, registry: FieldRegistry | None = None) -> dict:
    """`{"facets": {param: [{"value", "count", "selected"}]}, "matching": n}` from the facets response.

    Chosen values stay listed even with a count of 0, so they can be unticked.
    """
    registry = registry or load_registry()
    facets: dict[str, list[dict]] = {}
    for spec in registry.facets:
        buckets = aggregations.get(spec.param, {}).get("values", {}).get("buckets", [])
        chosen = [_text(value) for value in filters.selected(spec.param)]
        entries = [{"value": _bucket_value(b), "count": int(b["doc_count"]), "selected": _bucket_value(b) in chosen}
                   for b in buckets]
        listed = {entry["value"] for entry in entries}
        entries += [{"value": value, "count": 0, "selected": True} for value in chosen if value not in listed]
        facets[spec.param] = entries
    matching = int(aggregations.get("matching", {}).get("doc_count", 0))
    return {"facets": facets, "matching": matching}


def _bucket_value(bucket: Mapping) -> str:
    """Boolean terms come back as 1/0 with `key_as_string` true/false; show what a filter takes."""
    return str(bucket.get("key_as_string", bucket["key"]))
