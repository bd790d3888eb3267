"""All configuration in one place: read from the environment and an optional `.env`, validated once.

`Settings` is a frozen pydantic-settings model. Its field declarations carry the types, the ranges and
the environment names (ES_* for the connection, IMGSEARCH_* for the rest), so there is no parser of our
own. Only `load_settings` reads the environment; every other module receives a `Settings`, and
`Settings(...)` is its defaults plus its arguments, so the surrounding environment never leaks into an
object built in code or in a test.

A bad configuration is refused with ONE ConfigError that names every bad setting by its environment
variable (config_messages.py words pydantic's errors), so a user fixes them all in one go.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from es_search.config_messages import CONFLICT_ERROR, describe_errors, is_secret
from es_search.config_sources import EnvMappingSource, read_dotenv
from es_search.config_types import (
    AtLeastOne,
    DeviceName,
    ExistingFile,
    ExistingFileName,
    Folder,
    Folders,
    HeapSize,
    HttpUrls,
    IndexName,
    KnnBound,
    Labels,
    Names,
    Oversample,
    Port,
    Seconds,
)
from es_search.errors import ConfigError

# The pinned server. Elasticsearch 9 needs Java 21+; the `elasticsearch` client and `eland`
# are pinned to the same major in setup.cfg (a 9.x client refuses to talk to an 8.x server).
ES_VERSION = "9.5.4"
ES_MIN_JAVA = 21
ES_ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "IMGSEARCH_"

DEFAULT_IMAGE_MODEL = "clip-ViT-B-32"
DEFAULT_TEXT_MODEL = "clip-ViT-B-32-multilingual-v1"
DEFAULT_CATEGORIES = (
    "animal", "architecture", "food", "landscape", "people", "plant",
    "vehicle", "clothing", "art", "document", "object", "sky",
)

VectorIndexType = Literal["int8_hnsw", "bbq_hnsw", "hnsw"]
ImageBackend = Literal["torch", "onnx-fp32", "onnx-int8"]
TextBackend = Literal["local", "elasticsearch", "auto"]
TextQuantize = Literal["none", "int8"]
TextRuntime = Literal["onnx", "torch"]
ShowPaths = Literal["relative", "full", "hidden"]
OcrMode = Literal["auto", "on", "off"]
FacesMode = Literal["on", "off"]
JpegDecoder = Literal["auto", "cpu", "device"]
GpuPrecision = Literal["fp16", "fp32"]
S3AddressingStyle = Literal["auto", "path", "virtual"]
RemoteOriginals = Literal["proxy", "presigned", "off"]
VECTOR_INDEX_TYPES = get_args(VectorIndexType)
IMAGE_BACKENDS = get_args(ImageBackend)
TEXT_BACKENDS = get_args(TextBackend)
TEXT_QUANTIZE = get_args(TextQuantize)
TEXT_RUNTIMES = get_args(TextRuntime)



def default_cache_dir() -> Path:
    """Where the server download and unpacked copy live, outside the repository.

    Root's home is closed to the unprivileged user the node runs as, so root uses /var/cache.
    """
    if os.geteuid() == 0:
        return Path("/var/cache/es-image-search")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "es-image-search"


def _env(field_name: str, env_name: str) -> AliasChoices:
    """A field read from `env_name` instead of IMGSEARCH_<FIELD>; its own name still works as a keyword."""
    return AliasChoices(field_name, env_name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid", frozen=True)

    # Elasticsearch connection, under the names Elasticsearch users already type. With `es_url` unset,
    # the local node manager starts a node. `es_url` may name several nodes of one cluster, comma-separated:
    # the client then carries on through the others when one is lost.
    es_url: HttpUrls = Field(None, validation_alias=_env("es_url", "ES_URL"))
    es_api_key: SecretStr | None = Field(None, validation_alias=_env("es_api_key", "ES_API_KEY"))
    es_username: str | None = Field(None, validation_alias=_env("es_username", "ES_USERNAME"))
    es_password: SecretStr | None = Field(None, validation_alias=_env("es_password", "ES_PASSWORD"))
    es_ca_certs: ExistingFileName = Field(None, validation_alias=_env("es_ca_certs", "ES_CA_CERTS"))
    es_verify_certs: bool = Field(True, validation_alias=_env("es_verify_certs", "ES_VERIFY_CERTS"))
    es_request_timeout: Seconds = 30.0

    # Local development node; `es_nodes` > 1 makes a local cluster, node i on es_port + i, es_transport_port + i.
    es_nodes: Annotated[int, Field(ge=1, le=9)] = 1
    es_host: str = "127.0.0.1"
    es_port: Port = 9200
    es_transport_port: Port = 9300
    es_heap: HeapSize = "1g"
    es_cache_dir: Folder = Field(default_factory=default_cache_dir)
    es_java_home: str | None = Field(None, validation_alias=_env("es_java_home", "ES_JAVA_HOME"))
    es_run_user: str = "esnode"
    es_start_timeout: Seconds = 120.0
    # Cluster security of the local node (es_search/node/security.py): x-pack security on, ES_USERNAME and
    # ES_PASSWORD its superuser (file realm). HTTP stays plain: the node listens on loopback only.
    es_security: bool = False

    # Project data: node data and logs, thumbnails, ingest reports.
    data_dir: Folder = REPO_ROOT / ".data"

    # Index. `fields_file`: the field-schema file (JSON or YAML); relative paths from the current directory.
    index_alias: IndexName = "images"
    vector_index_type: VectorIndexType = "int8_hnsw"
    # m 24 rather than Elasticsearch's 16: on bench/hnsw_sweep.py's clustered vectors some m-16 graphs leave
    # neighbourhoods hard to reach, and no num_candidates wins them back (docs/benchmarks.md, "HNSW settings").
    hnsw_m: int = Field(24, ge=2, le=512)
    hnsw_ef_construction: int = Field(100, ge=2, le=3200)  # and at least hnsw_m: checked with it below
    shards: AtLeastOne = 1
    replicas: int = Field(0, ge=0)
    fields_file: ExistingFile = Field(None, validation_alias=_env("fields_file", ENV_PREFIX + "FIELDS"))
    # Collections (es_search/collections.py): several in one deployment, declared in one file; `collection`
    # names the one a command serves (`imgsearch --collection NAME ...`), unset: the deployment's own.
    collections_file: ExistingFile = Field(None, validation_alias=_env("collections_file", ENV_PREFIX + "COLLECTIONS"))
    collection: str | None = None

    # Models.
    image_model: str = DEFAULT_IMAGE_MODEL
    text_model: str = DEFAULT_TEXT_MODEL
    image_backend: ImageBackend = "torch"
    text_backend: TextBackend = "local"
    device: DeviceName = "auto"
    # The torch image model on a GPU runs in float16 (autocast) unless this is fp32 (es_search/encoders/local.py).
    gpu_precision: GpuPrecision = "fp16"
    es_model_id: str = "sentence-transformers__clip-vit-b-32-multilingual-v1"
    text_max_length: AtLeastOne = 128
    # int8: the local text model quantised on CPU (faster; rankings move: docs/benchmarks.md). Not images.
    text_quantize: TextQuantize = "none"
    # The local text model on a CPU: ONNX Runtime (same vectors, faster: encoders/onnx_text.py) or PyTorch.
    text_runtime: TextRuntime = "onnx"
    # ONNX Runtime threads for one text query: while a query is encoded, Elasticsearch waits for its vector,
    # so a second core is free to share the work (docs/benchmarks.md, "Text query").
    text_threads: int = Field(2, ge=1, le=64)

    # Ingest. Categories are written comma-separated, not as JSON (NoDecode).
    batch_size: AtLeastOne = 32
    decode_workers: AtLeastOne = 2
    # Where the ingest decodes JPEG pixels (es_search/device_decode.py): auto decodes them on the GPU (nvJPEG)
    # when the torch model runs on one and torchvision is installed (`make setup-gpu`), else with Pillow.
    jpeg_decoder: JpegDecoder = "auto"
    bulk_chunk: AtLeastOne = 256
    max_image_pixels: AtLeastOne = 40_000_000
    thumbnail_size: AtLeastOne = 256
    categories: Annotated[Labels, NoDecode] = DEFAULT_CATEGORIES
    # Text inside images (es_search/ocr, ingest/enrichers/ocr.py): auto reads the images a cheap detection
    # pass finds text in, on reads every image, off none. auto costs smooth text-free photos nothing and
    # textured ones about a fifth of the ingest's speed on 2 cores (docs/benchmarks.md, "Text inside
    # images"); without rapidocr installed it reads nothing.
    ocr: OcrMode = "auto"
    ocr_workers: int = Field(1, ge=1, le=64)
    ocr_timeout: Seconds = 60.0
    # Faces (es_search/faces, ingest/enrichers/faces.py): off unless asked for, as faces are biometric data
    # (docs/faces.md); on finds the faces of every image, describes those large and sharp enough, and groups
    # them into people after each run.
    faces: FacesMode = "off"
    faces_workers: int = Field(1, ge=1, le=64)
    faces_timeout: Seconds = 60.0
    # Videos (ingest/video.py, ingest/sources/video.py): a frame every `video_interval` seconds, and one at
    # each scene change (a mean grey difference over `video_scene_threshold`, 0..255, between frames).
    video_interval: Seconds = 2.0
    video_scene_threshold: float = Field(30.0, gt=0, le=255)
    # DICOM (es_search/dicom, docs/dicom.md): patient identifiers are never written; with a key, a keyed
    # pseudonym of the patient id (HMAC-SHA256) groups one patient's studies. A file flagged with burned-in
    # annotations gets no thumbnail unless allowed here.
    dicom_pseudonym_key: SecretStr | None = None
    dicom_burned_in_thumbnails: bool = False
    # Two faces closer than this (Euclidean distance of their descriptors) are one person: the threshold
    # dlib's authors give for their network; on the test photos the same person measured 0.04–0.43,
    # different people 0.81–0.88 (docs/faces.md).
    face_match_distance: float = Field(0.6, gt=0.0, le=1.5)

    # Search and web. Image roots are separated like PATH (os.pathsep), not written as JSON.
    max_result_window: AtLeastOne = 1000
    default_page_size: AtLeastOne = 24
    max_page_size: AtLeastOne = 100
    web_host: str = "127.0.0.1"
    web_port: Port = 8000
    web_workers: AtLeastOne = 2
    # Requests in flight per worker (gunicorn's gthread workers when > 1; 1 is the sync worker). Threads share
    # the worker's models; a write waiting for its refresh or a long image encode no longer holds up the
    # short text searches queued behind it (docs/benchmarks.md, "Load").
    web_threads: int = Field(4, ge=1, le=64)
    # Reverse proxies in front of the app that add X-Forwarded-For (nginx, a load balancer): the client's
    # address (request logs, the rate of expensive requests) is then the one they saw. 0: the socket's peer.
    proxy_hops: int = Field(0, ge=0, le=5)
    max_upload_bytes: AtLeastOne = 20 * 1024 * 1024
    image_roots: Annotated[Folders, NoDecode] = ()
    # How image pages show a file's path: relative to its image root, in full, or not at all.
    show_paths: ShowPaths = "relative"
    # kNN depth: num_candidates = min(10000, max(k * factor, minimum)); hybrid fusion's RRF rank constant.
    # 1500 candidates with rescoring ×4: recall@10 ≥ 0.986 on every 1M build of bench/hnsw_sweep.py (1000 gave
    # 0.963 on one), for well under a millisecond more (docs/benchmarks.md, "HNSW settings").
    knn_candidates_factor: KnnBound = 4
    knn_min_candidates: KnnBound = 1500
    # Fewer under a filter that narrows the images (facets, dates, a scoped key's part): below 60 % of the
    # documents Elasticsearch walks the graph with ACORN, and there 1500 candidates made a 50 % filter's p99
    # 117 ms at 1M against 9 ms for 750, at recall@10 0.96–1.0 (docs/benchmarks.md, "Filtered kNN").
    knn_filtered_candidates: KnnBound = 750
    # Quantized vectors (int8_hnsw, bbq_hnsw): re-rank the best k × this many on the float vectors; 0: never.
    knn_rescore_oversample: Oversample = 4.0
    rrf_rank_constant: KnnBound = 60
    # The good-match cutoff, relative to each query's own scores (rule in es_search/search/ranking.py):
    # look at the best `window` cosines; nothing is good when best − median < min_spread; good matches are
    # within margin × (best − median) of the best and end at the largest drop.
    cutoff_window: KnnBound = 50
    cutoff_margin: Annotated[float, Field(gt=0, le=1)] = 0.5
    cutoff_min_spread: Annotated[float, Field(ge=0, le=2)] = 0.03

    # Remote images (es_search/remote): S3 settings left unset fall back to boto3's chain (AWS_* variables).
    s3_endpoint_url: HttpUrls = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_session_token: SecretStr | None = None
    s3_addressing_style: S3AddressingStyle = "auto"
    fetch_concurrency: AtLeastOne = 16
    fetch_connect_timeout: Seconds = 5.0
    fetch_read_timeout: Seconds = 30.0  # between two reads of the body; fetch_total_timeout bounds the whole
    fetch_total_timeout: Seconds = 120.0
    fetch_retries: int = Field(3, ge=0, le=20)
    fetch_backoff: Seconds = 0.5  # first retry's delay; doubled each time, with jitter
    fetch_retry_after_cap: Seconds = 30.0  # the longest Retry-After honoured
    max_download_bytes: AtLeastOne | None = None  # unset: max_upload_bytes, the cap an uploaded image has
    fetch_max_redirects: int = Field(5, ge=0, le=30)
    # Loopback, private, link-local and reserved addresses are refused for URLs unless this is set.
    allow_private_addresses: bool = False
    # How the web app serves an original kept at a URL or in S3 (webapp/remote_originals.py says why).
    remote_originals: RemoteOriginals = "proxy"
    presigned_expiry: int = Field(300, ge=1, le=7 * 24 * 3600)

    # API keys and operations (es_search/apikeys.py, webapp/auth.py): write endpoints always need a write key;
    # searches and pages need a read key only when require_read_key is set. A worker remembers a key's stored
    # document this long, so a revoked key is refused by every worker at most this many seconds later.
    require_read_key: bool = False
    # An image page shows "Recommended next" from the visitor's last views, kept in their browser only (no
    # server-side tracking): off unless the operator turns it on.
    recommend_next: bool = False
    # Dates and values of understood fields in a query's text become filters (es_search/search/understanding.py);
    # a request's `literal=true` reads its words as typed.
    understand_queries: bool = True
    # /api/health tells anonymous visitors only whether it works; its details (cluster, versions, models)
    # need an API key, unless a private deployment opens them to everyone.
    health_details: bool = False
    api_key_cache_seconds: float = Field(10.0, ge=0, le=300)
    # Write API (webapp/writes.py): one POST /api/images/_bulk request's bounds; its images are encoded
    # `batch_size` at a time.
    write_bulk_max_bytes: AtLeastOne = 100 * 1024 * 1024
    write_bulk_max_items: AtLeastOne = 1000
    # The gallery's key session (webapp/key_session.py): the cookie's signing secret (unset: one made once in
    # DATA_DIR/session-secret) and whether the cookie is sent over HTTPS only (set it behind TLS).
    session_secret: SecretStr | None = None
    session_cookie_secure: bool = False
    # What the write API may fetch (es_search/remote/allow_list.py): image URLs on these hosts (`*.example.com`
    # for its subdomains, `*` for any) and S3 objects in these buckets; nothing by default. Records files and
    # `imgsearch ingest` may name any location.
    write_url_hosts: Annotated[Names, NoDecode] = ()
    write_s3_buckets: Annotated[Names, NoDecode] = ()
    # Overload (es_search/limits.py): per worker, at most `model_concurrency` image encodes at once and
    # `model_queue` waiting, each waiting at most `model_wait_seconds` (past either: 503 with Retry-After).
    # Expensive requests (image searches, compound queries with an image, writes, bulk) per client and worker:
    # an address without a key `expensive_rate` a second in bursts of `expensive_burst`; an API key (an
    # application adding images all day) `key_expensive_rate` in bursts of `key_expensive_burst`; past it a 429.
    # A rate of 0 turns that limit off.
    model_concurrency: AtLeastOne = 2
    model_queue: int = Field(4, ge=0, le=1000)
    model_wait_seconds: float = Field(3.0, gt=0, le=300)
    expensive_rate: float = Field(2.0, ge=0, le=10_000)
    expensive_burst: AtLeastOne = 10
    key_expensive_rate: float = Field(20.0, ge=0, le=10_000)
    key_expensive_burst: AtLeastOne = 100
    # Backups (es_search/snapshots.py): Elasticsearch snapshots in one repository. A shared-filesystem one at
    # `snapshot_location` (as the cluster's nodes see it; the local node's own `path.repo` folder when unset), or
    # an S3 one in `snapshot_s3_bucket` where the cluster has the repository-s3 module. Thumbnails are files,
    # not documents: each snapshot copies the new ones into `snapshot_thumbnails_dir` (DATA_DIR/backups when unset).
    snapshot_repository: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")] = "imgsearch-backups"
    snapshot_location: str | None = None
    snapshot_s3_bucket: str | None = None
    snapshot_thumbnails_dir: Folder | None = None
    # Audit log (es_search/audit.py): one JSON line per write, key change and restore; a file path, `index`
    # (the `<alias>-audit` index) or `off`. DATA_DIR/audit.log when unset.
    audit_log: str | None = None

    # Near-duplicates (es_search/duplicates/): one group when cosine ≥ similarity AND phash bits differ ≤
    # distance; each image asks for its `neighbours` nearest, `batch` images per _msearch request.
    duplicate_similarity: float = Field(0.95, ge=0.5, le=1.0)
    duplicate_phash_distance: int = Field(14, ge=0, le=32)
    duplicate_neighbours: int = Field(10, ge=1, le=100)
    duplicate_batch: int = Field(100, ge=1, le=1000)

    # Watchlists (es_search/watchlists/): the defaults a new list takes. A reference matches when cosine ≥
    # similarity AND a perceptual hash is within distance bits; a prompt when the image-to-text cosine reaches
    # its threshold (docs/watchlists.md gives the reasons for each default).
    watchlist_similarity: float = Field(0.90, ge=0.5, le=1.0)
    watchlist_phash_distance: int = Field(12, ge=0, le=32)
    watchlist_prompt_threshold: float = Field(0.30, gt=0.0, le=1.0)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        # Only load_settings reads the environment (through EnvMappingSource), so that an explicit `env`
        # is the whole truth and `Settings(...)` built in code is its arguments and defaults alone.
        return (init_settings,)

    @model_validator(mode="after")
    def _settings_agree(self) -> Settings:
        # Runs once every field is valid on its own; all disagreements are reported together.
        problems = []
        if self.es_api_key and (self.es_username or self.es_password):
            problems.append("set either ES_API_KEY or ES_USERNAME/ES_PASSWORD, not both")
        if bool(self.es_username) != bool(self.es_password):
            problems.append("ES_USERNAME and ES_PASSWORD must be set together")
        if self.es_security and self.uses_local_node:
            problems.extend(self._local_security_problems())
        if bool(self.s3_access_key_id) != bool(self.s3_secret_access_key):
            problems.append(f"{ENV_PREFIX}S3_ACCESS_KEY_ID and {ENV_PREFIX}S3_SECRET_ACCESS_KEY must be set together")
        if self.hnsw_ef_construction < self.hnsw_m:
            problems.append(f"{ENV_PREFIX}HNSW_EF_CONSTRUCTION must be between HNSW_M ({self.hnsw_m}) and 3200, "
                            f"got {self.hnsw_ef_construction}")
        if self.default_page_size > self.max_page_size:
            problems.append(f"{ENV_PREFIX}DEFAULT_PAGE_SIZE ({self.default_page_size}) exceeds "
                            f"{ENV_PREFIX}MAX_PAGE_SIZE ({self.max_page_size})")
        if problems:
            raise PydanticCustomError(CONFLICT_ERROR, "{detail}", {"detail": "; ".join(problems), "problems": problems})
        return self

    def _local_security_problems(self) -> list[str]:
        """What a local node with security needs: its superuser's name and password, and one node (a cluster
        of several would need transport TLS, which the node manager does not set up)."""
        problems = []
        if not self.es_username or self.es_api_key:
            problems.append(f"{ENV_PREFIX}ES_SECURITY needs ES_USERNAME and ES_PASSWORD: the superuser the local "
                            "node is started with")
        elif self.es_password is not None and len(self.es_password.get_secret_value()) < 6:
            problems.append("ES_PASSWORD must have at least 6 characters for the local node's superuser")
        if self.es_nodes > 1:
            problems.append(f"{ENV_PREFIX}ES_SECURITY works with one local node only (IMGSEARCH_ES_NODES=1)")
        return problems

    @property
    def node_url(self) -> str:
        return self.es_url or f"http://{self.es_host}:{self.es_port}"

    @property
    def node_urls(self) -> list[str]:
        """Every node the client may talk to: those in ES_URL, or each node of the local cluster."""
        if self.es_url:
            return [url.strip() for url in self.es_url.split(",") if url.strip()]
        return [f"http://{self.es_host}:{self.es_port + i}" for i in range(self.es_nodes)]

    @property
    def uses_local_node(self) -> bool:
        return not self.es_url

    @property
    def download_byte_cap(self) -> int:
        """The most bytes one remote image may have: IMGSEARCH_MAX_DOWNLOAD_BYTES, else the upload cap."""
        return self.max_download_bytes or self.max_upload_bytes

    @property
    def knn_rescore(self) -> float:
        """The oversample kNN queries rescore with: only quantized vectors have coarser scores to correct."""
        return self.knn_rescore_oversample if self.vector_index_type in ("int8_hnsw", "bbq_hnsw") else 0.0

    @property
    def node_dir(self) -> Path:
        return self.data_dir / "es-node"

    @property
    def thumbnails_dir(self) -> Path:
        return self.data_dir / "thumbnails"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def demo_env_file(self) -> Path:
        """Where `imgsearch demo` records the settings it ran with, for `imgsearch web --demo`."""
        return self.data_dir / "demo.env"

    @property
    def samples_dir(self) -> Path:
        """Where `imgsearch demo` writes its sample images; `imgsearch web --demo` serves originals from here."""
        return self.data_dir / "samples"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields (by field name) changed, validated again; ConfigError if that fails."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        try:
            return type(self).model_validate({**values, **changes})
        except ValidationError as exc:
            raise _config_error(describe_errors(exc, type(self).model_fields, env_name_of)) from None

    def public_dict(self) -> dict[str, Any]:
        """Every setting as JSON-able values under its field name, secrets shown as "***" when set."""
        values = self.model_dump(mode="json")
        for name in SECRET_FIELDS:
            values[name] = "***" if getattr(self, name) else None
        return values


SECRET_FIELDS = tuple(name for name, info in Settings.model_fields.items() if is_secret(info))


def env_name_of(field_name: str) -> str:
    """The environment variable that sets `field_name`."""
    alias = Settings.model_fields[field_name].validation_alias
    if isinstance(alias, AliasChoices):
        return next(choice for choice in alias.choices if choice != field_name)
    return ENV_PREFIX + field_name.upper()


def known_env_names() -> list[str]:
    """Every environment variable read: the ES_* connection names first, then the IMGSEARCH_* ones."""
    names = [env_name_of(name) for name in Settings.model_fields]
    return [n for n in names if not n.startswith(ENV_PREFIX)] + [n for n in names if n.startswith(ENV_PREFIX)]


# Environment variable → field, for the variables not named IMGSEARCH_<FIELD> (webapp/cli.py reads it).
ENV_NAMES = {env_name_of(name): name for name in Settings.model_fields
             if env_name_of(name) != ENV_PREFIX + name.upper()}


def load_settings(env: Mapping[str, str] | None = None, dotenv_path: Path | None = None) -> Settings:
    """Settings from `env`, or by default from the process environment over `.env` (the environment wins).

    Raises one ConfigError naming every bad or unknown IMGSEARCH_* setting; other variables are ignored.
    """
    if env is None:
        env = {**read_dotenv(dotenv_path or REPO_ROOT / ".env"), **os.environ}
    known = known_env_names()
    unknown = [f"unknown setting {name}" for name in sorted(env) if name.startswith(ENV_PREFIX) and name not in known]
    values = EnvMappingSource(Settings, {name: value for name, value in env.items() if name in known})()
    try:
        settings, problems = Settings(**values), []
    except ValidationError as exc:
        problems = describe_errors(exc, Settings.model_fields, env_name_of)
    if unknown:
        problems = [*unknown, *problems, f"known settings: {', '.join(known)}"]
    if problems:
        raise _config_error(problems)
    return settings


def _config_error(problems: list[str]) -> ConfigError:
    return ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
