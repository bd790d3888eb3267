"""The image index: its body built from `mappings/images.json`, kept behind an alias so re-indexing swaps atomically."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from elasticsearch import ApiError, Elasticsearch, helpers

from es_search.config import REPO_ROOT, Settings
from es_search.errors import ConfigError, SchemaMismatch
from es_search.fields import VECTOR_FIELD, FieldRegistry, mapping_differences, registry_for

MAPPING_PATH = REPO_ROOT / "mappings" / "images.json"


def load_mapping_file(path: Path = MAPPING_PATH) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def vector_index_options(settings: Settings) -> dict:
    """`index_options` for the dense_vector field: int8_hnsw (default), bbq_hnsw or float hnsw."""
    return {"type": settings.vector_index_type, "m": settings.hnsw_m, "ef_construction": settings.hnsw_ef_construction}


def render_index_body(settings: Settings, dims: int, template: dict | None = None,
                      registry: FieldRegistry | None = None) -> dict:
    """The create-index body: index settings from the mapping file, field mappings from the registry, and
    dims, index_options and sizing from settings."""
    if dims < 1 or dims > 4096:
        raise ConfigError(f"vector dims must be between 1 and 4096, got {dims}")
    if settings.vector_index_type == "bbq_hnsw" and dims < 64:
        raise ConfigError(f"bbq_hnsw needs at least 64 dims, got {dims}; use int8_hnsw or hnsw for this model")
    body = copy.deepcopy(template if template is not None else load_mapping_file())
    index_settings = body.setdefault("settings", {}).setdefault("index", {})
    index_settings["number_of_shards"] = settings.shards
    index_settings["number_of_replicas"] = settings.replicas
    index_settings["max_result_window"] = settings.max_result_window
    registry = registry or registry_for(settings)
    body.setdefault("mappings", {})["properties"] = registry.mapping_properties()
    vector = body["mappings"]["properties"][VECTOR_FIELD]
    vector["dims"] = dims
    vector["index_options"] = vector_index_options(settings)
    return body


def new_index_name(alias: str, now: datetime | None = None) -> str:
    """A physical index name under the alias, ordered by creation time."""
    now = now or datetime.now(timezone.utc)
    return f"{alias}-{now.strftime('%Y%m%d-%H%M%S-%f')}"


def indices_behind(es: Elasticsearch, alias: str) -> list[str]:
    if not es.indices.exists_alias(name=alias):
        return []
    return sorted(es.indices.get_alias(name=alias).keys())


def ensure_index(es: Elasticsearch, settings: Settings, dims: int) -> str:
    """The index behind the configured alias, created when missing. Returns the physical index name.

    An existing index whose vector dims differ from `dims` is a SchemaMismatch: mixing models would give
    nonsense; so is a plain index under the alias's name, and a field the registry changed the type of.
    """
    alias = settings.index_alias
    existing = indices_behind(es, alias)
    if existing:
        current = existing[-1]
        mapped = es.indices.get_mapping(index=current)[current]["mappings"]["properties"][VECTOR_FIELD]["dims"]
        if mapped != dims:
            raise SchemaMismatch(f"index {current!r} (alias {alias!r}) holds {mapped}-d vectors but the encoder makes "
                             f"{dims}-d ones; use another IMGSEARCH_INDEX_ALIAS or `imgsearch index reindex`.")
        sync_mapping(es, settings, current)
        return current
    if es.indices.exists(index=alias):  # true of an alias as well as of a plain index
        if indices_behind(es, alias):  # another shard of this ingest made the index since we looked
            return ensure_index(es, settings, dims)
        raise SchemaMismatch(f"{alias!r} is a plain index, not an alias; delete it or choose another IMGSEARCH_INDEX_ALIAS")
    name = new_index_name(alias)
    body = render_index_body(settings, dims)
    try:
        es.indices.create(index=name, settings=body["settings"], mappings=body["mappings"],
                          aliases={alias: {"is_write_index": True}})
    except ApiError:
        # Shards of one ingest start together: when another created the index first, ours is refused
        # (the alias would have two write indices) and theirs is the one to use.
        if not indices_behind(es, alias):
            raise
        return ensure_index(es, settings, dims)
    return name


def sync_mapping(es: Elasticsearch, settings: Settings, index: str) -> list[str]:
    """Bring an existing index's mapping in line with the registry: new fields are added in place; a field
    whose type changed cannot be, and is a SchemaMismatch naming each difference. Returns the added fields."""
    existing = es.indices.get_mapping(index=index)[index]["mappings"].get("properties", {})
    wanted = registry_for(settings).mapping_properties()
    wanted.pop(VECTOR_FIELD)  # its dims and index options are checked and set apart
    conflicts, additions = mapping_differences(wanted, existing)
    if conflicts:
        raise SchemaMismatch(f"the field schema does not fit index {index!r} (alias {settings.index_alias!r}):\n  - "
                             + "\n  - ".join(conflicts)
                             + "\nA field's type cannot change in place: run `imgsearch index reindex` to build a new "
                               "index from the current schema and copy the documents over.")
    if additions:
        es.indices.put_mapping(index=index, properties=without_missing_analyzers(es, index, additions))
    return sorted(additions)


def without_missing_analyzers(es: Elasticsearch, index: str, additions: dict) -> dict:
    """New fields as an index made before their analyzer existed can take them: an analyzer can only be added
    to a closed index, so such a field (or sub-field) gets the standard analyzer in place (Chinese is then
    found by single characters only) until `imgsearch index reindex` builds the index anew."""
    ours = set(load_mapping_file().get("settings", {}).get("analysis", {}).get("analyzer", {}))
    settings = es.indices.get_settings(index=index)[index]["settings"]["index"]
    missing = ours - set(settings.get("analysis", {}).get("analyzer", {}))
    if not missing:
        return additions

    def fitted(spec: dict) -> dict:
        spec = {key: value for key, value in spec.items() if key != "analyzer" or value not in missing}
        if isinstance(spec.get("fields"), dict):
            spec["fields"] = {name: fitted(sub) for name, sub in spec["fields"].items()}
        return spec

    return {name: fitted(spec) for name, spec in additions.items()}


def swap_alias(es: Elasticsearch, alias: str, new_index: str) -> list[str]:
    """Point `alias` at `new_index` alone, in one atomic request. Returns the indices it left."""
    old = [name for name in indices_behind(es, alias) if name != new_index]
    actions = [{"remove": {"index": name, "alias": alias}} for name in old]
    actions.append({"add": {"index": new_index, "alias": alias, "is_write_index": True}})
    es.indices.update_aliases(actions=actions)
    return old


def _copy_actions(es: Elasticsearch, source: str, target: str) -> Iterator[dict]:
    for hit in helpers.scan(es, index=source, query={"query": {"match_all": {}}}, size=500):
        yield {"_index": target, "_id": hit["_id"], "_source": hit["_source"]}


def reindex(es: Elasticsearch, settings: Settings, dims: int | None = None, delete_old: bool = False) -> dict:
    """Copy every document into a fresh index built from the current settings, then swap the alias atomically.

    Searches keep answering from the old index until the swap. Useful after changing `index_options`.
    """
    alias = settings.index_alias
    existing = indices_behind(es, alias)
    if not existing:
        raise ValueError(f"no index behind alias {alias!r} to re-index")
    source = existing[-1]
    if dims is None:
        dims = es.indices.get_mapping(index=source)[source]["mappings"]["properties"][VECTOR_FIELD]["dims"]
    target = new_index_name(alias)
    body = render_index_body(settings, dims)
    es.indices.create(index=target, settings=body["settings"], mappings=body["mappings"])
    copied, errors = helpers.bulk(es, _copy_actions(es, source, target), chunk_size=500, raise_on_error=False)
    if errors:
        es.indices.delete(index=target)
        raise RuntimeError(f"re-index into {target} failed for {len(errors)} documents; alias left on {source}")
    es.indices.refresh(index=target)
    old = swap_alias(es, alias, target)
    if delete_old:
        for name in old:
            es.indices.delete(index=name)
    return {"alias": alias, "from": source, "to": target, "documents": copied, "deleted": old if delete_old else []}


def delete_index(es: Elasticsearch, alias: str) -> list[str]:
    """Delete every index behind the alias. Returns their names."""
    names = indices_behind(es, alias)
    for name in names:
        es.indices.delete(index=name)
    return names


def index_info(es: Elasticsearch, alias: str) -> dict:
    """What a user wants to see: indices behind the alias, document count, size, and the vector field's mapping."""
    names = indices_behind(es, alias)
    if not names:
        return {"alias": alias, "exists": False}
    current = names[-1]
    mapping = es.indices.get_mapping(index=current)[current]["mappings"]["properties"][VECTOR_FIELD]
    stats = es.indices.stats(index=current, metric="docs,store,segments")["indices"][current]["primaries"]
    return {
        "alias": alias,
        "exists": True,
        "indices": names,
        "documents": es.count(index=alias)["count"],
        "store_bytes": stats["store"]["size_in_bytes"],
        "segments": stats["segments"]["count"],  # many after a large load: see `imgsearch index optimize`
        "vector": {k: mapping.get(k) for k in ("dims", "similarity", "index_options")},
    }
