"""Collections: several image collections in one deployment, declared in one file (IMGSEARCH_COLLECTIONS), each
with its own alias, field schema, image roots and, where it makes sense, its own model and index settings.

    # collections.yaml
    collections:
      - name: xray
        alias: hospital-xray               # default: the name
        fields: xray-fields.yaml           # its IMGSEARCH_FIELDS (relative to this file)
        image_roots: [/srv/pacs/xray]
        settings: {vector_index_type: int8_hnsw, faces: "off"}   # any other setting, by its name
      - name: products
        fields: shop-fields.yaml

The deployment's own settings are the collection named `default`, which keeps its URLs: `/`, `/api/...`.
Every other is served under `/c/<name>/` and `/api/c/<name>/` by the same app (webapp/collections.py), and
its commands run as `imgsearch --collection <name> ...`. A collection is the deployment's settings with its
entries over them, so it inherits the cluster, the limits and the keys' rules; its keys live with its alias.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from es_search.config import Settings
from es_search.errors import ConfigError
from es_search.fields import read_schema_file

DEFAULT = "default"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# What a collection may not change: the cluster it lives in and the deployment's own files and process.
FIXED = frozenset({"es_url", "es_api_key", "es_username", "es_password", "es_ca_certs", "es_verify_certs",
                   "data_dir", "es_cache_dir", "web_host", "web_port", "web_workers", "web_threads",
                   "collections_file", "collection", "index_alias", "fields_file", "image_roots"})


@dataclass(frozen=True)
class Collection:
    name: str
    alias: str
    fields_file: Path | None = None
    image_roots: tuple[Path, ...] = ()
    overrides: Mapping[str, object] = field(default_factory=dict)


def load_collections(settings: Settings) -> dict[str, Collection]:
    """The declared collections by name (empty without IMGSEARCH_COLLECTIONS); ConfigError names a mistake."""
    if not settings.collections_file:
        return {}
    path = Path(settings.collections_file)
    source = str(path)
    entries = read_schema_file(path, key="collections", what="collections file")
    found: dict[str, Collection] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{source}: each collection is an object, got {entry!r}")
        unknown = set(entry) - {"name", "alias", "fields", "image_roots", "settings", "_comment"}
        name = entry.get("name")
        if not isinstance(name, str) or not NAME.match(name) or name == DEFAULT:
            raise ConfigError(f"{source}: a collection's name is lower-case letters, digits, - and _ (not "
                              f"{DEFAULT!r}), got {name!r}")
        if unknown:
            raise ConfigError(f"{source}: collection {name!r} has unknown keys {sorted(unknown)}")
        if name in found:
            raise ConfigError(f"{source}: collection {name!r} is declared twice")
        overrides = dict(entry.get("settings") or {})
        fixed = sorted(set(overrides) & FIXED)
        if fixed:
            raise ConfigError(f"{source}: collection {name!r} cannot set {', '.join(fixed)} (give alias, fields "
                              "and image_roots as its own keys; the rest belongs to the deployment)")
        unknown_settings = sorted(set(overrides) - set(Settings.model_fields))
        if unknown_settings:
            raise ConfigError(f"{source}: collection {name!r} names unknown settings {unknown_settings}")
        fields = entry.get("fields")
        roots = entry.get("image_roots") or []
        if isinstance(roots, str):
            roots = [roots]
        found[name] = Collection(
            name=name, alias=str(entry.get("alias") or name),
            fields_file=(path.parent / fields).resolve() if fields else None,
            image_roots=tuple(Path(root).expanduser() for root in roots), overrides=overrides)
    # From a collection's own settings the deployment's alias is not known here: its own is among `found`.
    aliases = [c.alias for c in found.values()] + ([] if settings.collection else [settings.index_alias])
    if len(set(aliases)) != len(aliases):
        raise ConfigError(f"{source}: two collections (or one and the deployment's own) share an alias")
    return found


def collection_settings(settings: Settings, name: str | None) -> Settings:
    """The settings of collection `name` (None or "default": the deployment's own)."""
    if not name or name == DEFAULT:
        return settings
    collections = load_collections(settings)
    if name not in collections:
        known = ", ".join([DEFAULT, *collections]) if collections else f"{DEFAULT} (no IMGSEARCH_COLLECTIONS file)"
        raise ConfigError(f"no collection {name!r}; known: {known}")
    chosen = collections[name]
    return settings.with_overrides(index_alias=chosen.alias, fields_file=chosen.fields_file,
                                   image_roots=chosen.image_roots or settings.image_roots, collection=name,
                                   **chosen.overrides)


def deployment_settings(settings: Settings) -> Settings:
    """The deployment's own settings, from the settings of one of its collections (read again from the
    environment, as the command's were)."""
    from es_search.config import load_settings

    return load_settings() if settings.collection else settings
