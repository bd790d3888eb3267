"""The field registry: built-in fields, schema files, and what is derived from them."""

from __future__ import annotations

import json

import pytest

from es_search.errors import ConfigError
from es_search.fields import RESERVED_PARAMS, VECTOR_FIELD, load_registry, mapping_differences
from es_search.index import load_mapping_file, render_index_body
from es_search.search.filters import parse_filters


def write_schema(tmp_path, fields, name="fields.json"):
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps({"fields": fields}), encoding="utf-8")
    else:
        import yaml

        path.write_text(yaml.safe_dump({"fields": fields}, allow_unicode=True), encoding="utf-8")
    return path


def test_builtin_registry_describes_every_mapped_field_once():
    registry = load_registry()
    names = [spec.name for spec in registry]
    assert len(names) == len(set(names))
    assert {"title", "tags", "category", "color_scheme", "width", "taken_at", VECTOR_FIELD} <= set(names)
    assert [spec.param for spec in registry.facets] == ["tag", "has_text", "category", "color", "format", "person",
                                                        "people_count", "camera", "modality", "body_part",
                                                        "institution", "department"]
    assert registry.by_param("min_width").name == "width"
    assert registry.by_param("date_to").fallback == "file_modified_at"
    assert all(spec.label_in("zh") and spec.label_in("en") for spec in registry)


def test_mapping_is_derived_from_the_registry_and_stays_strict(base_settings):
    body = render_index_body(base_settings, dims=512)
    properties = body["mappings"]["properties"]
    assert body["mappings"]["dynamic"] == "strict"
    assert list(properties) == [spec.name for spec in load_registry()]
    assert properties["tags"] == {"type": "keyword", "fields": {"text": {"type": "text"}}}
    assert properties["thumbnail"] == {"type": "keyword", "index": False}
    assert properties[VECTOR_FIELD]["index_options"]["type"] == base_settings.vector_index_type
    assert "properties" not in load_mapping_file()["mappings"]  # the file holds only index settings now


def test_user_fields_join_the_registry_with_defaults(tmp_path):
    path = write_schema(tmp_path, [
        {"name": "brand", "type": "keyword", "facet": True, "label": {"en": "Brand", "zh": "品牌"}},
        {"name": "price", "type": "float", "show": True, "label": "Price"},
        {"name": "in_stock", "type": "boolean"},
        {"name": "description", "type": "text", "search": 1},
    ], name="catalogue.yaml")
    registry = load_registry(path)
    brand, price, stock, description = registry.user_fields
    assert (brand.filter, brand.facet, brand.label_in("zh")) == ("terms", True, "品牌")
    assert (price.filter, price.from_param, price.to_param) == ("range", "price_from", "price_to")
    assert stock.filter == "terms" and description.filter is None
    assert "description" in registry.bm25_fields()
    filters = parse_filters({"brand": ["acme"], "price": "..20", "in_stock": "true"}, registry)
    assert filters.selected("brand") == ("acme",) and filters.bounds("price") == (None, 20.0)
    assert filters.selected("in_stock") == (True,)


@pytest.mark.parametrize("fields,message", [
    ([{"name": "brand", "type": "string"}], "unknown type 'string'"),
    ([{"name": "size", "type": "keyword"}], "parameter 'size'"),
    ([{"name": "title", "type": "keyword", "filter": None}], "declared twice"),
    ([{"name": "price", "type": "keyword", "filter": "range"}], "range filter needs a number or date"),
    ([{"name": "notes", "type": "text", "facet": True}], "only a field filtered by terms can be a facet"),
    ([{"name": "brand", "type": "keyword", "colour": "red"}], "unknown keys"),
    ([{"name": "9lives", "type": "keyword"}], "field name"),
    ([{"name": "shop", "type": "keyword", "param": "color"}], "both filter under 'color'"),
])
def test_bad_schemas_are_refused_with_what_is_wrong(tmp_path, fields, message):
    with pytest.raises(ConfigError, match=message):
        load_registry(write_schema(tmp_path, fields))


def test_unreadable_schema_files_are_config_errors(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_registry(broken)
    with pytest.raises(ConfigError, match="cannot read"):
        load_registry(tmp_path / "missing.json")


def test_reserved_parameters_include_every_search_parameter():
    assert {"q", "similar", "vec", "page", "size", "mode", "min_similarity", "facets"} <= RESERVED_PARAMS


def test_mapping_differences_tell_additions_from_conflicts():
    wanted = {"brand": {"type": "keyword"}, "price": {"type": "float"}, "title": {"type": "text"}}
    existing = {"brand": {"type": "text"}, "title": {"type": "text"}}
    conflicts, additions = mapping_differences(wanted, existing)
    assert conflicts == ["brand: the index has text, the schema says keyword"]
    assert additions == {"price": {"type": "float"}}


def test_the_tutorials_field_names_are_mapped_but_neither_shown_nor_filtered(base_settings):
    registry = load_registry()
    properties = render_index_body(base_settings, dims=512)["mappings"]["properties"]
    assert properties["image_id"] == {"type": "keyword"}
    assert properties["relative_path"] == {"type": "keyword"}
    assert properties["image_name"] == {"type": "alias", "path": "file_name.keyword"}
    derived = {spec.name for spec in (*registry.filters, *registry.facets, *registry.shown)}
    assert not derived & {"image_id", "image_name", "relative_path"}
    assert all(registry.get(name).label.keys() == {"en", "zh"} for name in ("image_id", "image_name", "relative_path"))


@pytest.mark.parametrize(("path", "ok"), [
    ("maker", True), ("maker.text", True), ("maker.raw", False), ("nothing", False), ("maker_alias", False)])
def test_an_alias_may_name_a_field_or_one_of_its_multi_fields(tmp_path, path, ok):
    fields = [{"name": "maker", "type": "keyword", "mapping": {"fields": {"text": {"type": "text"}}}},
              {"name": "maker_alias", "type": "alias", "path": "maker"},
              {"name": "other", "type": "alias", "path": path}]
    schema = write_schema(tmp_path, fields)
    if ok:
        assert load_registry(schema).get("other").mapping_entry() == {"type": "alias", "path": path}
    else:
        with pytest.raises(ConfigError, match="which is not a field"):
            load_registry(schema)
