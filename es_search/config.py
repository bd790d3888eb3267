"""All configuration in one place: read from the environment and an optional `.env`, validated once.

Every other module receives a `Settings`; none reads the environment itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from es_search.errors import ConfigError

# The pinned server. Elasticsearch 9 needs Java 21+; the `elasticsearch` client and `eland`
# are pinned to the same major in setup.cfg (a 9.x client refuses to talk to an 8.x server).
ES_VERSION = "9.5.4"
ES_MIN_JAVA = 21
ES_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"

REPO_ROOT = Path(__file__).resolve().parent.parent

VECTOR_INDEX_TYPES = ("int8_hnsw", "bbq_hnsw", "hnsw")
IMAGE_BACKENDS = ("torch", "onnx-fp32", "onnx-int8")
TEXT_BACKENDS = ("local", "elasticsearch", "auto")
TEXT_QUANTIZE = ("none", "int8")
SHOW_PATHS = ("relative", "full", "hidden")
DEFAULT_CATEGORIES = (
    "animal", "architecture", "food", "landscape", "people", "plant",
    "vehicle", "clothing", "art", "document", "object", "sky",
)


def default_cache_dir() -> Path:
    """Where the server download and unpacked copy live, outside the repository.

    Root's home is closed to the unprivileged user the node runs as, so root uses /var/cache.
    """
    if os.geteuid() == 0:
        return Path("/var/cache/es-image-search")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "es-image-search"




@dataclass(frozen=True)
class Settings:
    # Elasticsearch connection. With `es_url` unset, the local node manager starts a node.
    es_url: str | None = None
    es_api_key: str | None = None
    es_username: str | None = None
    es_password: str | None = None
    es_ca_certs: str | None = None
    es_verify_certs: bool = True
    es_request_timeout: float = 30.0

    # Local development node.
    es_host: str = "127.0.0.1"
    es_port: int = 9200
    es_transport_port: int = 9300
    es_heap: str = "1g"
    es_cache_dir: Path = field(default_factory=default_cache_dir)
    es_java_home: str | None = None
    es_run_user: str = "esnode"
    es_start_timeout: float = 120.0

    # Project data: node data and logs, thumbnails, ingest reports.
    data_dir: Path = REPO_ROOT / ".data"

    # Index.
    index_alias: str = "images"
    vector_index_type: str = "int8_hnsw"
    hnsw_m: int = 16
    hnsw_ef_construction: int = 100
    shards: int = 1
    replicas: int = 0

    # Models.
    image_model: str = "clip-ViT-B-32"
    text_model: str = "clip-ViT-B-32-multilingual-v1"
    image_backend: str = "torch"
    text_backend: str = "local"
    device: str = "auto"
    es_model_id: str = "sentence-transformers__clip-vit-b-32-multilingual-v1"
    text_max_length: int = 128
    # int8: dynamic int8 quantisation of the local text model's linear layers on CPU (faster queries,
    # vectors at cosine ~0.9995 to fp32). Images are never affected.
    text_quantize: str = "none"

    # Ingest.
    batch_size: int = 32
    decode_workers: int = 2
    bulk_chunk: int = 256
    max_image_pixels: int = 40_000_000
    thumbnail_size: int = 256
    categories: tuple[str, ...] = DEFAULT_CATEGORIES

    # Search and web.
    max_result_window: int = 1000
    default_page_size: int = 24
    max_page_size: int = 100
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    web_workers: int = 2
    max_upload_bytes: int = 20 * 1024 * 1024
    image_roots: tuple[Path, ...] = field(default_factory=tuple)
    # How the web app shows an image's paths to visitors: relative to the image root it is under (a file
    # outside every root shows its name only), the full server path, or not at all.
    show_paths: str = "relative"
    # kNN depth: num_candidates = min(10000, max(k * factor, minimum)); hybrid fusion's RRF rank constant.
    # 1000 candidates: what reached recall@10 ≥ 0.95 on 1M vectors in bench/search.py, for ~0.3 ms more than 100.
    knn_candidates_factor: int = 4
    knn_min_candidates: int = 1000
    rrf_rank_constant: int = 60

    @property
    def node_url(self) -> str:
        return self.es_url or f"http://{self.es_host}:{self.es_port}"

    @property
    def uses_local_node(self) -> bool:
        return not self.es_url

    @property
    def node_dir(self) -> Path:
        return self.data_dir / "es-node"

    @property
    def thumbnails_dir(self) -> Path:
        return self.data_dir / "thumbnails"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    def with_overrides(self, **changes) -> Settings:
        """A copy with some fields changed, validated again."""
        return validate(replace(self, **changes))


# Environment variable → field. ES_* names follow what Elasticsearch users already type.
ENV_NAMES = {
    "ES_URL": "es_url",
    "ES_API_KEY": "es_api_key",
    "ES_USERNAME": "es_username",
    "ES_PASSWORD": "es_password",
    "ES_CA_CERTS": "es_ca_certs",
    "ES_VERIFY_CERTS": "es_verify_certs",
    "ES_JAVA_HOME": "es_java_home",
}
ENV_PREFIX = "IMGSEARCH_"


def _field_types() -> dict[str, str]:
    return {f.name: str(f.type) for f in fields(Settings)}


def _parse(name: str, type_name: str, raw: str):
    raw = raw.strip()
    try:
        if type_name == "bool":
            lowered = raw.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "Path":
            return Path(raw).expanduser()
        if type_name.startswith("tuple[Path"):
            return tuple(Path(p).expanduser() for p in raw.split(os.pathsep) if p)
        if type_name.startswith("tuple[str"):
            return tuple(item.strip() for item in raw.split(",") if item.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {type_name}") from None
    return raw or None


def load_settings(env: dict[str, str] | None = None, dotenv_path: Path | None = None) -> Settings:
    """Build validated settings from `env` (default: the process environment plus `.env`)."""
    if env is None:
        env = dict(os.environ)
        dotenv_file = dotenv_path or REPO_ROOT / ".env"
        if dotenv_file.is_file():
            from dotenv import dotenv_values

            # The real environment wins over `.env`.
            env = {**{k: v for k, v in dotenv_values(dotenv_file).items() if v is not None}, **env}
    types = _field_types()
    values: dict[str, object] = {}
    for env_name, raw in env.items():
        name = ENV_NAMES.get(env_name)
        if name is None and env_name.startswith(ENV_PREFIX):
            name = env_name[len(ENV_PREFIX):].lower()
            if name not in types:
                raise ConfigError(f"unknown setting {env_name}; known: {', '.join(sorted(known_env_names()))}")
        if name is None:
            continue
        values[name] = _parse(env_name, types[name], raw)
    return validate(Settings(**values))


def known_env_names() -> list[str]:
    mapped = set(ENV_NAMES.values())
    return list(ENV_NAMES) + [ENV_PREFIX + f.name.upper() for f in fields(Settings) if f.name not in mapped]


def validate(s: Settings) -> Settings:
    """Raise ConfigError with a clear message for the first unusable setting."""
    problems = []
    if s.es_url and not s.es_url.startswith(("http://", "https://")):
        problems.append(f"ES_URL must start with http:// or https://, got {s.es_url!r}")
    if s.es_api_key and (s.es_username or s.es_password):
        problems.append("set either ES_API_KEY or ES_USERNAME/ES_PASSWORD, not both")
    if bool(s.es_username) != bool(s.es_password):
        problems.append("ES_USERNAME and ES_PASSWORD must be set together")
    if s.es_ca_certs and not Path(s.es_ca_certs).is_file():
        problems.append(f"ES_CA_CERTS points to {s.es_ca_certs!r}, which is not a file")
    for name in ("es_port", "es_transport_port", "web_port"):
        port = getattr(s, name)
        if not 1 <= port <= 65535:
            problems.append(f"{ENV_PREFIX}{name.upper()} must be a port number, got {port}")
    if s.vector_index_type not in VECTOR_INDEX_TYPES:
        problems.append(f"{ENV_PREFIX}VECTOR_INDEX_TYPE must be one of {VECTOR_INDEX_TYPES}, got {s.vector_index_type!r}")
    if s.image_backend not in IMAGE_BACKENDS:
        problems.append(f"{ENV_PREFIX}IMAGE_BACKEND must be one of {IMAGE_BACKENDS}, got {s.image_backend!r}")
    if s.text_backend not in TEXT_BACKENDS:
        problems.append(f"{ENV_PREFIX}TEXT_BACKEND must be one of {TEXT_BACKENDS}, got {s.text_backend!r}")
    if s.text_quantize not in TEXT_QUANTIZE:
        problems.append(f"{ENV_PREFIX}TEXT_QUANTIZE must be one of {TEXT_QUANTIZE}, got {s.text_quantize!r}")
    if s.show_paths not in SHOW_PATHS:
        problems.append(f"{ENV_PREFIX}SHOW_PATHS must be one of {SHOW_PATHS}, got {s.show_paths!r}")
    if not 2 <= s.hnsw_m <= 512:
        problems.append(f"{ENV_PREFIX}HNSW_M must be between 2 and 512, got {s.hnsw_m}")
    if not s.hnsw_m <= s.hnsw_ef_construction <= 3200:
        problems.append(f"{ENV_PREFIX}HNSW_EF_CONSTRUCTION must be between HNSW_M and 3200, got {s.hnsw_ef_construction}")
    for name in ("batch_size", "decode_workers", "bulk_chunk", "max_image_pixels", "thumbnail_size",
                 "default_page_size", "max_page_size", "max_result_window", "web_workers", "max_upload_bytes",
                 "shards", "text_max_length"):
        if getattr(s, name) < 1:
            problems.append(f"{ENV_PREFIX}{name.upper()} must be at least 1, got {getattr(s, name)}")
    for name in ("knn_candidates_factor", "knn_min_candidates", "rrf_rank_constant"):
        if not 1 <= getattr(s, name) <= 10_000:
            problems.append(f"{ENV_PREFIX}{name.upper()} must be between 1 and 10000, got {getattr(s, name)}")
    if s.replicas < 0:
        problems.append(f"{ENV_PREFIX}REPLICAS must be 0 or more, got {s.replicas}")
    if s.default_page_size > s.max_page_size:
        problems.append(f"{ENV_PREFIX}DEFAULT_PAGE_SIZE ({s.default_page_size}) exceeds MAX_PAGE_SIZE ({s.max_page_size})")
    heap = s.es_heap.lower()
    if not (len(heap) >= 2 and heap[:-1].isdigit() and heap[-1] in "mg"):
        problems.append(f"{ENV_PREFIX}ES_HEAP must look like 512m or 2g, got {s.es_heap!r}")
    if not s.categories:
        problems.append(f"{ENV_PREFIX}CATEGORIES must list at least one label")
    if not s.index_alias or s.index_alias != s.index_alias.lower() or any(c in s.index_alias for c in ' ,"*\\/<>|?#'):
        problems.append(f"{ENV_PREFIX}INDEX_ALIAS must be a lowercase Elasticsearch index name, got {s.index_alias!r}")
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    return s
