"""The field registry: every field of an image document, described once.

Built-in fields come from `mappings/fields.json`; a user's schema file (`IMGSEARCH_FIELDS`, JSON or YAML,
same form) adds business fields such as brand or price. Everything else is derived from the registry: the
index mapping, which request parameters filter and how they are parsed, the facets, the filter panel, the
image page's detail rows, the OpenAPI parameters and the command line's filter options.

An entry says: `name`, `type` (keyword, text, integer, long, float, double, date, boolean), `filter`
(terms, range or null; by default keyword and boolean fields filter by terms, numbers and dates by range,
text not at all), `facet`, `show` (on the image page), `label` ({"en": ..., "zh": ...}), and optionally
`param` (the request parameter, default the name), `from_param`/`to_param` (range bounds, default
`<param>_from`/`<param>_to`), `min`/`max` (range values), `case` ("upper": values are upper-cased),
`fallback` (a range on documents lacking the field uses this one), `facet_size`, `search` (BM25 boost in
hybrid mode), `display` ("bytes"), `mapping` (what the Elasticsearch mapping needs beyond the type), `boost`
(ranking signals, es_search/boosts.py) and `understand` (a keyword facet whose values a query's words may name,
es_search/search/understanding.py; the default for a user's keyword facets).
Built-in fields may also be of the system types (dense_vector, alias, object, nested: an image's faces),
which never filter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from es_search.boosts import BadSignal, Signal, signals_of_entry
from es_search.errors import ConfigError

BUILTIN_FIELDS_PATH = Path(__file__).resolve().parent.parent / "mappings" / "fields.json"
VECTOR_FIELD = "image_embedding"
# What no page or answer shows of a document: its image vector and its faces' descriptors.
HIDDEN_FIELDS = (VECTOR_FIELD, "faces.vector")
USER_TYPES = ("keyword", "text", "integer", "long", "float", "double", "date", "boolean")
SYSTEM_TYPES = ("dense_vector", "alias", "object", "nested")
NUMERIC_TYPES = ("integer", "long", "float", "double")
FILTER_KINDS = ("terms", "range")
SORTABLE_TYPES = (*NUMERIC_TYPES, "date", "keyword", "boolean")
LANGUAGES = ("en", "zh")
# Request parameters the search itself takes: no field may filter under these names.
RESERVED_PARAMS = frozenset({
    "q", "similar", "vec", "mode", "words", "page", "size", "min_similarity", "facets", "lang", "image", "image_base64",
    "like", "unlike", "not", "sort", "explain", "id", "filter", "json", "hybrid", "text", "collapse",
    "boost", "literal", "as_text", "group", "box", "exclude",
})
_KEYS = {"name", "type", "filter", "facet", "show", "label", "param", "from_param", "to_param", "min", "max",
         "case", "fallback", "facet_size", "search", "display", "mapping", "path", "boost", "understand"}


@dataclass(frozen=True)
class FieldSpec:
    """One document field and everything the project derives from it."""

    name: str
    type: str
    label: Mapping[str, str]
    filter: str | None = None
    facet: bool = False
    show: bool = False
    param: str | None = None
    from_param: str | None = None
    to_param: str | None = None
    min: float | None = None
    max: float | None = None
    case: str | None = None
    fallback: str | None = None
    facet_size: int = 10
    search: float | None = None
    display: str | None = None
    mapping: Mapping = field(default_factory=dict)
    path: str | None = None  # for aliases: the field it names
    builtin: bool = True
    boost: tuple[Signal, ...] = ()  # ranking signals this field declares (es_search/boosts.py)
    understand: bool = False  # a query's words naming one of its values filter by it (search/understanding.py)

    def label_in(self, lang: str) -> str:
        return self.label.get(lang) or self.label.get("en") or self.name

    @property
    def params(self) -> tuple[str, ...]:
        """Every request parameter that filters on this field."""
        if self.filter == "terms":
            return (self.param,)
        if self.filter == "range":
            return (self.param, self.from_param, self.to_param)
        return ()

    def mapping_entry(self) -> dict:
        if self.type == "alias":
            return {"type": "alias", "path": self.path}
        return {"type": self.type, **self.mapping}

    def search_target(self) -> str | None:
        """The field a keyword (BM25) search reads, with its boost, or None when it is not searched."""
        if not self.search:
            return None
        target = self.name if self.type == "text" else f"{self.name}.text"
        return target if self.search == 1 else f"{target}^{self.search:g}"


class FieldRegistry:
    """The ordered fields of one index: built-in ones first, then the user's."""

    def __init__(self, specs: Iterable[FieldSpec]):
        self.fields: tuple[FieldSpec, ...] = tuple(specs)
        self._by_name = {spec.name: spec for spec in self.fields}
        self._by_param: dict[str, FieldSpec] = {}
        for spec in self.fields:
            for param in spec.params:
                self._by_param[param] = spec
        _check_registry(self)

    def __iter__(self):
        return iter(self.fields)

    def get(self, name: str) -> FieldSpec | None:
        return self._by_name.get(name)

    def by_param(self, param: str) -> FieldSpec | None:
        return self._by_param.get(param)

    @property
    def filters(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if spec.filter)

    @property
    def facets(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if spec.facet)

    @property
    def shown(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if spec.show)

    @property
    def user_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if not spec.builtin)

    def signals(self) -> tuple[Signal, ...]:
        """The ranking signals the registry declares (each field's `boost`), in field order."""
        return tuple(signal for spec in self.fields for signal in spec.boost)

    def understood(self) -> tuple[FieldSpec, ...]:
        """The facet fields whose values a query's words may name (`understand`)."""
        return tuple(spec for spec in self.fields if spec.understand)

    def sortable(self) -> list[str]:
        """Fields a search may order its good matches by: the user's fields and the shown built-ins that hold
        one number, date, keyword or boolean."""
        return [spec.name for spec in self.fields if spec.type in SORTABLE_TYPES and (spec.show or not spec.builtin)]

    def gram_fields(self) -> list[str]:
        """The trigram sub-fields of the searched fields (a `grams` sub-field in their mapping)."""
        return [f"{spec.name}.grams" for spec in self.fields
                if spec.search and "grams" in (spec.mapping.get("fields") or {})]

    def filter_params(self) -> frozenset[str]:
        return frozenset(self._by_param)

    def bm25_fields(self) -> list[str]:
        return [target for spec in self.fields if (target := spec.search_target())]

    def mapping_properties(self) -> dict:
        """The `properties` of the index mapping, in registry order."""
        return {spec.name: spec.mapping_entry() for spec in self.fields}


# --------------------------------------------------------------------------- reading entries


def spec_from_entry(entry: Mapping, *, builtin: bool, source: str) -> FieldSpec:
    """A FieldSpec from one schema entry, with defaults filled in; ConfigError names what is wrong."""
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{source}: each field must be an object, got {entry!r}")
    name = entry.get("name")
    where = f"{source}: field {name!r}"
    if not isinstance(name, str) or not name or not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise ConfigError(f"{source}: a field name is letters, digits and _ (not first a digit), got {name!r}")
    unknown = set(entry) - _KEYS - {"_comment"}
    if unknown:
        raise ConfigError(f"{where} has unknown keys {sorted(unknown)}; known: {sorted(_KEYS)}")
    kind = entry.get("type")
    allowed = USER_TYPES + (SYSTEM_TYPES if builtin else ("alias",))
    if kind not in allowed:
        raise ConfigError(f"{where} has unknown type {kind!r}; use one of {', '.join(allowed)}")
    filter_kind = entry.get("filter", _default_filter(kind))
    if filter_kind not in (None, *FILTER_KINDS):
        raise ConfigError(f"{where}: filter must be terms, range or null, got {filter_kind!r}")
    if filter_kind == "range" and kind not in (*NUMERIC_TYPES, "date"):
        raise ConfigError(f"{where}: a range filter needs a number or date field, not {kind}")
    if filter_kind == "terms" and kind not in ("keyword", "boolean", "integer", "long"):
        raise ConfigError(f"{where}: a terms filter needs a keyword, boolean or whole-number field, not {kind}")
    facet = bool(entry.get("facet", False))
    if facet and filter_kind != "terms":
        raise ConfigError(f"{where}: only a field filtered by terms can be a facet")
    label = entry.get("label") or {}
    if isinstance(label, str):
        label = {"en": label}
    if not isinstance(label, Mapping) or not all(isinstance(v, str) for v in label.values()):
        raise ConfigError(f"{where}: label must be text or {{\"en\": ..., \"zh\": ...}}")
    mapping = dict(entry.get("mapping") or {})
    if "type" in mapping:
        raise ConfigError(f"{where}: give the type as `type`, not inside `mapping`")
    param = entry.get("param") or name
    if kind == "alias" and not isinstance(entry.get("path"), str):
        raise ConfigError(f"{where}: an alias needs `path`, the field it names")
    try:
        boost = tuple(signals_of_entry(name, kind, entry["boost"])) if "boost" in entry else ()
    except BadSignal as exc:
        raise ConfigError(f"{where}: {exc}") from None
    # By default a user's keyword facets (brand, collection) are understood in queries; built-ins say so.
    understand = entry.get("understand", facet and kind == "keyword" and not builtin)
    if understand not in (True, False) or (understand and not (facet and kind == "keyword")):
        raise ConfigError(f"{where}: understand is true or false, and only a keyword facet can be understood")
    return FieldSpec(
        name=name, type=kind, label=dict(label) or {"en": name}, filter=filter_kind if kind != "alias" else None,
        facet=facet, show=bool(entry.get("show", False)), param=param if filter_kind else None,
        from_param=(entry.get("from_param") or f"{param}_from") if filter_kind == "range" else None,
        to_param=(entry.get("to_param") or f"{param}_to") if filter_kind == "range" else None,
        min=entry.get("min"), max=entry.get("max"), case=entry.get("case"), fallback=entry.get("fallback"),
        facet_size=int(entry.get("facet_size", 10)), search=entry.get("search"), display=entry.get("display"),
        mapping=mapping, path=entry.get("path"), builtin=builtin, boost=boost, understand=understand,
    )


def _default_filter(kind: str) -> str | None:
    if kind in ("keyword", "boolean"):
        return "terms"
    if kind in (*NUMERIC_TYPES, "date"):
        return "range"
    return None


def _check_registry(registry: FieldRegistry) -> None:
    seen: dict[str, str] = {}
    names: set[str] = set()
    for spec in registry.fields:
        if spec.name in names:
            raise ConfigError(f"field {spec.name!r} is declared twice (a schema field cannot replace a built-in one)")
        names.add(spec.name)
        for param in spec.params:
            if param in RESERVED_PARAMS:
                raise ConfigError(f"field {spec.name!r} would filter under the parameter {param!r}, which the "
                                  f"search itself uses; give the field another \"param\"")
            if param in seen:
                raise ConfigError(f"fields {seen[param]!r} and {spec.name!r} both filter under {param!r}")
            seen[param] = spec.name
    for spec in registry.fields:
        if spec.type == "alias" and not _names_a_field(registry, spec.path):
            raise ConfigError(f"alias {spec.name!r} names {spec.path!r}, which is not a field")
        if spec.fallback and spec.fallback not in names:
            raise ConfigError(f"field {spec.name!r} falls back to {spec.fallback!r}, which is not a field")


def _names_a_field(registry: FieldRegistry, path: str | None) -> bool:
    """Whether `path` is a field or one of a field's multi-fields (`file_name.keyword`): what an alias may name."""
    base, _, sub = (path or "").partition(".")
    spec = registry.get(base)
    if spec is None or spec.type == "alias":
        return False
    return not sub or sub in (spec.mapping.get("fields") or {})


# --------------------------------------------------------------------------- schema files


def read_schema_file(path: Path, key: str = "fields", what: str = "field schema") -> list:
    """The entries of a JSON or YAML file: a list, or an object with a `key` list (a field schema's `fields`,
    a collections file's `collections`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    try:
        if Path(path).suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # JSON and YAML parsers raise their own error types
        raise ConfigError(f"the {what} {path} is not valid {Path(path).suffix[1:].upper() or 'JSON'}: "
                          f"{exc}") from None
    entries = data.get(key) if isinstance(data, Mapping) else data
    if not isinstance(entries, list):
        raise ConfigError(f"the {what} {path} must be a list, or an object with a `{key}` list")
    return entries


@lru_cache(maxsize=8)
def _load(user_path: str | None, builtin_path: str) -> FieldRegistry:
    specs = [spec_from_entry(entry, builtin=True, source=Path(builtin_path).name)
             for entry in read_schema_file(Path(builtin_path))]
    if user_path:
        specs += [spec_from_entry(entry, builtin=False, source=str(user_path))
                  for entry in read_schema_file(Path(user_path))]
    return FieldRegistry(specs)


def load_registry(fields_file: Path | str | None = None, builtin_path: Path = BUILTIN_FIELDS_PATH) -> FieldRegistry:
    """The registry: built-in fields plus those of `fields_file` (the IMGSEARCH_FIELDS setting), if any."""
    return _load(str(fields_file) if fields_file else None, str(builtin_path))


def registry_for(settings) -> FieldRegistry:
    """The registry the settings name."""
    return load_registry(settings.fields_file)


# --------------------------------------------------------------------------- mapping compatibility


def mapping_differences(wanted: Mapping, existing: Mapping) -> tuple[list[str], dict]:
    """Compare the registry's mapping properties with an index's.

    Returns (conflicts, additions): conflicts are fields whose type (or alias path) differs and which the
    index cannot change in place; additions are new fields that can be added to the index's mapping.
    """
    conflicts: list[str] = []
    additions: dict = {}
    for name, entry in wanted.items():
        current = existing.get(name)
        if current is None:
            additions[name] = entry
            continue
        current_type = current.get("type", "object")
        if current_type != entry["type"]:
            conflicts.append(f"{name}: the index has {current_type}, the schema says {entry['type']}")
        elif entry["type"] == "alias" and current.get("path") != entry.get("path"):
            conflicts.append(f"{name}: the index's alias names {current.get('path')}, the schema {entry.get('path')}")
    return conflicts, additions
