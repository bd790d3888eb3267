"""The settings reference (docs/configuration.md), generated from `Settings`: each setting's variable, default,
allowed values and what it does. `HELP` holds the words; everything else comes from the model itself, and
tests/es_search/test_config_reference.py fails when a setting has no words or the page is stale, as datasette
tests its own options. `imgsearch config --reference` prints the page's table.
"""

from __future__ import annotations

import typing

import annotated_types

from es_search.config import REPO_ROOT, Settings, default_cache_dir, env_name_of

# Setting → (group, what it does). Groups are printed in this order.
GROUPS = ("Elasticsearch connection", "The local node", "Index", "Models", "Ingest", "Search and web",
          "Remote images", "Keys and operations", "Near-duplicates", "Watchlists")
HELP: dict[str, tuple[str, str]] = {
    "es_url": ("Elasticsearch connection", "Use this cluster instead of the local node (then nothing is started); "
               "several nodes comma-separated, and the client carries on through the others when one is lost."),
    "es_api_key": ("Elasticsearch connection", "An Elasticsearch API key for `ES_URL` (never printed)."),
    "es_username": ("Elasticsearch connection", "A user for `ES_URL` (with `ES_PASSWORD`); with "
                    "`IMGSEARCH_ES_SECURITY`, the local node's superuser."),
    "es_password": ("Elasticsearch connection", "That user's password (never printed)."),
    "es_ca_certs": ("Elasticsearch connection", "A CA certificate file for `ES_URL` over TLS."),
    "es_verify_certs": ("Elasticsearch connection", "Check the cluster's TLS certificate."),
    "es_request_timeout": ("Elasticsearch connection", "Seconds one request to Elasticsearch may take."),
    "es_nodes": ("The local node", "Nodes of the local cluster: node i listens on the ports below plus i."),
    "es_host": ("The local node", "The address the local node binds to (loopback: never expose a development node)."),
    "es_port": ("The local node", "The local node's HTTP port."),
    "es_transport_port": ("The local node", "The local node's transport port."),
    "es_heap": ("The local node", "Each local node's Java heap, like 512m or 2g."),
    "es_cache_dir": ("The local node", "Where the downloaded server is kept (outside the repository)."),
    "es_java_home": ("The local node", "The JDK (21 or newer) the local node runs on; else `JAVA_HOME`, `java` on "
                     "PATH, `/usr/lib/jvm/*`."),
    "es_run_user": ("The local node", "The unprivileged user the node runs as when started by root."),
    "es_start_timeout": ("The local node", "Seconds to wait for the local node to answer after starting it."),
    "es_security": ("The local node", "Start the local node with Elasticsearch security on, `ES_USERNAME` and "
                    "`ES_PASSWORD` its superuser (docs/local-node.md)."),
    "data_dir": ("Ingest", "Node data and logs, thumbnails, reports, the local record of indexed files."),
    "index_alias": ("Index", "The alias searches and ingest use; a re-index swaps the index behind it."),
    "vector_index_type": ("Index", "How the vectors are indexed: int8-quantised HNSW, binary (bbq) HNSW or float."),
    "hnsw_m": ("Index", "HNSW graph links per node (a new index; docs/benchmarks.md, \"HNSW settings\")."),
    "hnsw_ef_construction": ("Index", "HNSW candidates while building (at least `IMGSEARCH_HNSW_M`)."),
    "shards": ("Index", "Primary shards of a new index (a cluster: e.g. 3)."),
    "replicas": ("Index", "Replicas of a new index (a cluster: e.g. 1)."),
    "fields_file": ("Index", "A field schema file (JSON or YAML) adding business fields (docs/search.md)."),
    "collections_file": ("Index", "A file (YAML or JSON) declaring the deployment's collections, each with its "
                         "own alias, schema, image roots and settings (docs/operations.md)."),
    "collection": ("Index", "The collection commands serve (`imgsearch --collection NAME`); unset: the "
                   "deployment's own."),
    "image_model": ("Models", "The image model: a sentence-transformers name or a local folder."),
    "text_model": ("Models", "The text model, in the image model's space: a name or a local folder."),
    "image_backend": ("Models", "What runs the image model: PyTorch, or ONNX Runtime in fp32 or int8."),
    "text_backend": ("Models", "Where texts are encoded: here, in Elasticsearch ML (`_infer`), or there when its "
                     "deployment is started (docs/ml.md)."),
    "device": ("Models", "Where models run: auto (CUDA when usable), cpu, cuda, cuda:N or mps."),
    "gpu_precision": ("Models", "The torch image model on a CUDA GPU: fp16 (autocast: faster, cosines move by "
                                "about 0.001) or fp32."),
    "es_model_id": ("Models", "The text model's id in Elasticsearch ML."),
    "text_max_length": ("Models", "Tokens of a search text the text model reads."),
    "text_quantize": ("Models", "int8: the local text model quantised on CPU (faster; rankings move a little)."),
    "text_runtime": ("Models", "What runs the local text model on a CPU: ONNX Runtime (the same vectors, faster) "
                     "or PyTorch."),
    "text_threads": ("Models", "ONNX Runtime threads for one text query."),
    "batch_size": ("Ingest", "Images per model call (ingest and the write API)."),
    "decode_workers": ("Ingest", "Decode threads (and hash threads for local files)."),
    "jpeg_decoder": ("Ingest", "Where JPEG pixels are decoded: auto (on the GPU through torchvision's nvJPEG when "
                               "the torch model runs on one), cpu (Pillow) or device (torchvision on the model's "
                               "device, even a CPU). Pillow always reads the header and makes the checks."),
    "bulk_chunk": ("Ingest", "Documents per bulk request."),
    "max_image_pixels": ("Ingest", "The most pixels an image may declare; more is refused before decoding "
                         "(decompression bombs)."),
    "thumbnail_size": ("Ingest", "The longer side of a thumbnail, in pixels."),
    "categories": ("Ingest", "Zero-shot category labels, comma-separated."),
    "ocr": ("Ingest", "Text inside images: `auto` reads the images a cheap detection pass finds text in, `on` every "
            "image, `off` none (docs/ocr.md)."),
    "ocr_workers": ("Ingest", "Threads reading text, beside the encoder (each with its own ONNX sessions)."),
    "ocr_timeout": ("Ingest", "Seconds an image's text may still take once its vector is ready; past it the image is "
                    "indexed without its text (reason `ocr_timeout` in the report)."),
    "faces": ("Ingest", "Faces: `on` finds and describes the faces of each image and groups them into people; "
              "`off` (the default) none. Faces are biometric data (docs/faces.md)."),
    "faces_workers": ("Ingest", "Threads finding faces, beside the encoder."),
    "faces_timeout": ("Ingest", "Seconds an image's faces may still take once its vector is ready; past it the image "
                      "is indexed without them (reason `faces_timeout` in the report)."),
    "video_interval": ("Ingest", "Videos: seconds between the frames kept (beside those at scene changes); each "
                       "kept frame is a document (docs/video.md)."),
    "video_scene_threshold": ("Ingest", "Videos: how different two frames must be (mean grey difference, 0 to "
                              "255) to count as a scene change, whose first frame is kept."),
    "dicom_pseudonym_key": ("Ingest", "DICOM: a secret; when set, each image gets `patient_key`, a keyed pseudonym "
                            "(HMAC-SHA256) of its patient id, so one patient's studies can be found together without "
                            "the id. Without it the patient id is not read (docs/dicom.md)."),
    "dicom_burned_in_thumbnails": ("Ingest", "DICOM: make thumbnails of images whose file says they hold burned-in "
                                   "annotations (patient data drawn into the pixels); off, they get none."),
    "face_match_distance": ("Search and web", "Two faces closer than this (Euclidean distance of their 128-d "
                            "descriptors) show one person: grouping and face search (docs/faces.md)."),
    "max_result_window": ("Search and web", "How deep a ranking goes: pages past it are empty, with a notice."),
    "default_page_size": ("Search and web", "Results per page when a request gives no size."),
    "max_page_size": ("Search and web", "The most results a page may ask for."),
    "web_host": ("Search and web", "The address `imgsearch web` listens on."),
    "web_port": ("Search and web", "Its port."),
    "web_workers": ("Search and web", "gunicorn worker processes."),
    "web_threads": ("Search and web", "Requests in flight per worker (gthread workers; 1: sync workers)."),
    "max_upload_bytes": ("Search and web", "The largest image a request may upload (413 beyond)."),
    "image_roots": ("Search and web", "Folders whose originals the web app may serve, separated like PATH."),
    "show_paths": ("Search and web", "How pages and the API show image paths: relative to their image root, in "
                   "full, or not at all."),
    "knn_candidates_factor": ("Search and web", "kNN candidates per result wanted."),
    "knn_min_candidates": ("Search and web", "The fewest kNN candidates per segment."),
    "knn_filtered_candidates": ("Search and web", "The fewest kNN candidates per segment when filters (or a "
                                                  "scoped key) narrow the images: fewer, as a filtered walk of "
                                                  "the graph costs more per candidate."),
    "knn_rescore_oversample": ("Search and web", "Re-rank the best k × this many quantised matches on the float "
                               "vectors (0: off)."),
    "rrf_rank_constant": ("Search and web", "Hybrid search's reciprocal rank fusion constant."),
    "cutoff_window": ("Search and web", "How many of the best results the good-match cutoff looks at."),
    "cutoff_margin": ("Search and web", "Good matches lie within this share of best − median of the best."),
    "cutoff_min_spread": ("Search and web", "Below this best − median, nothing is a good match."),
    "s3_endpoint_url": ("Remote images", "An S3-compatible endpoint (MinIO, OSS); unset: AWS (or `AWS_ENDPOINT_URL`)."),
    "s3_region": ("Remote images", "The storage region (else `AWS_REGION`)."),
    "s3_access_key_id": ("Remote images", "Storage credentials (else boto3's chain: `AWS_*`, profiles)."),
    "s3_secret_access_key": ("Remote images", "Their secret (never printed)."),
    "s3_session_token": ("Remote images", "A session token with them (never printed)."),
    "s3_addressing_style": ("Remote images", "Bucket addressing: auto, path or virtual host."),
    "fetch_concurrency": ("Remote images", "Downloads at a time."),
    "fetch_connect_timeout": ("Remote images", "Seconds to connect."),
    "fetch_read_timeout": ("Remote images", "Seconds between two reads of a body."),
    "fetch_total_timeout": ("Remote images", "Seconds one download may take in all."),
    "fetch_retries": ("Remote images", "Retries for 5xx, 429 and dropped connections."),
    "fetch_backoff": ("Remote images", "The first retry's delay in seconds, doubled each time, with jitter."),
    "fetch_retry_after_cap": ("Remote images", "The longest Retry-After honoured, in seconds."),
    "max_download_bytes": ("Remote images", "The largest remote image; unset: `IMGSEARCH_MAX_UPLOAD_BYTES`."),
    "fetch_max_redirects": ("Remote images", "Redirects a download may follow."),
    "allow_private_addresses": ("Remote images", "Let image URLs reach loopback and private addresses (cloud "
                                "metadata addresses stay refused)."),
    "remote_originals": ("Remote images", "How the web app serves originals kept at a URL or in S3: proxied, by a "
                         "presigned redirect, or not at all."),
    "presigned_expiry": ("Remote images", "Seconds a presigned link is valid."),
    "recommend_next": ("Search and web", "Image pages show \"Recommended next\": images like the visitor's last "
                                         "views, which stay in the browser's local storage (GET /api/recommend)."),
    "understand_queries": ("Search and web", "Dates (\"July 2023\", \"去年\") and values of understood fields (a "
                           "brand, a tag, a person) in a query's text become filters, shown as removable chips; "
                           "`literal=true` reads a query as typed."),
    "require_read_key": ("Keys and operations", "Searches and pages need a read key too (writes always need a "
                         "write key)."),
    "health_details": ("Keys and operations", "`/api/health` gives its details (cluster, versions, models) to "
                       "every caller, not only to those with a key: for private deployments."),
    "api_key_cache_seconds": ("Keys and operations", "How long a worker trusts a key it has checked (a revoked "
                              "key is refused within this)."),
    "write_bulk_max_bytes": ("Keys and operations", "The largest bulk write request."),
    "session_secret": ("Keys and operations", "The secret signing the gallery's key session cookie; unset: one "
                       "made once in DATA_DIR/session-secret (set it when several machines serve the app)."),
    "session_cookie_secure": ("Keys and operations", "The key session cookie is sent over HTTPS only (set it "
                              "behind TLS)."),
    "write_url_hosts": ("Keys and operations", "Hosts whose image URLs the write API may fetch, comma-separated "
                        "(`*.example.com` for subdomains, `*` for any); none by default (records files may name "
                        "any)."),
    "write_s3_buckets": ("Keys and operations", "S3 buckets whose objects the write API may fetch, "
                         "comma-separated; none by default."),
    "proxy_hops": ("Keys and operations", "Reverse proxies in front of the app that add X-Forwarded-For: the "
                   "client's address is the one they saw (0: the connection's)."),
    "model_concurrency": ("Keys and operations", "Image encodes one web worker runs at once (uploads, writes)."),
    "model_queue": ("Keys and operations", "Requests one web worker lets wait for the image model; past them a "
                    "503 with Retry-After."),
    "model_wait_seconds": ("Keys and operations", "How long a request waits for the image model before a 503 "
                           "with Retry-After."),
    "expensive_rate": ("Keys and operations", "Expensive requests (image searches, compound queries with an "
                       "image, writes, bulk) a second per address without a key, per web worker; past it a 429 "
                       "with Retry-After; 0: no limit."),
    "expensive_burst": ("Keys and operations", "How many expensive requests an address may make at once before "
                        "its rate applies."),
    "key_expensive_rate": ("Keys and operations", "Expensive requests a second per API key, per web worker; past "
                           "it a 429 with Retry-After; 0: no limit."),
    "key_expensive_burst": ("Keys and operations", "How many expensive requests a key may make at once before "
                            "its rate applies."),
    "snapshot_repository": ("Keys and operations", "The snapshot repository's name in Elasticsearch "
                            "(`imgsearch snapshot`)."),
    "snapshot_location": ("Keys and operations", "A shared-filesystem repository's folder, as the cluster's nodes "
                          "see it (inside their `path.repo`); unset: the local node's own snapshots folder."),
    "snapshot_s3_bucket": ("Keys and operations", "Snapshots to this S3 bucket instead (the cluster needs the "
                           "repository-s3 module); the alias is the base path."),
    "snapshot_thumbnails_dir": ("Keys and operations", "Where snapshots keep their thumbnails (files, not "
                                "documents); unset: DATA_DIR/backups."),
    "audit_log": ("Keys and operations", "The audit log of writes, key changes and restores: a file (unset: "
                  "DATA_DIR/audit.log), `index` (`<alias>-audit`) or `off`."),
    "write_bulk_max_items": ("Keys and operations", "The most operations in one bulk write request."),
    "duplicate_similarity": ("Near-duplicates", "The least cosine similarity of two near-duplicates."),
    "duplicate_phash_distance": ("Near-duplicates", "The most perceptual-hash bits two near-duplicates differ in."),
    "duplicate_neighbours": ("Near-duplicates", "Neighbours each image is compared with."),
    "duplicate_batch": ("Near-duplicates", "Images per `_msearch` of a grouping pass."),
    "watchlist_similarity": ("Watchlists", "A new watchlist's least cosine similarity between an image and a "
                                           "reference image (docs/watchlists.md)."),
    "watchlist_phash_distance": ("Watchlists", "A new watchlist's most perceptual-hash bits between an image and a "
                                               "reference image."),
    "watchlist_prompt_threshold": ("Watchlists", "A new prompt's least cosine similarity between an image and the "
                                                 "prompt's text."),
}


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    if name == "es_cache_dir":
        return f"`{default_cache_dir().name}` under the user's cache (root: /var/cache)"
    value = field.default
    if value is None:
        return "unset"
    if name == "data_dir":
        return f"`{value.relative_to(REPO_ROOT)}` in the checkout"
    if isinstance(value, tuple):
        return f"`{','.join(str(v) for v in value)}`" if value else "none"
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def _allowed(name: str) -> str:
    field = Settings.model_fields[name]
    choices = typing.get_args(field.annotation) if typing.get_origin(field.annotation) is typing.Literal else ()
    if choices:
        return ", ".join(f"`{c}`" for c in choices)
    bounds: dict[str, object] = {}
    for m in field.metadata:
        if isinstance(m, annotated_types.Ge):
            bounds["ge"] = m.ge
        elif isinstance(m, annotated_types.Gt):
            bounds["gt"] = m.gt
        elif isinstance(m, annotated_types.Le):
            bounds["le"] = m.le
    low = f"≥ {bounds['ge']}" if "ge" in bounds else f"> {bounds['gt']:g}" if "gt" in bounds else ""
    high = f"≤ {bounds['le']}" if "le" in bounds else ""
    return ", ".join(part for part in (low, high) if part)


def reference_markdown() -> str:
    """The tables of docs/configuration.md, one per group."""
    lines: list[str] = []
    for group in GROUPS:
        lines += [f"### {group}", "", "| variable | default | allowed | meaning |", "| --- | --- | --- | --- |"]
        for name in Settings.model_fields:
            if HELP[name][0] == group:
                lines.append(f"| `{env_name_of(name)}` | {_default(name)} | {_allowed(name)} | {HELP[name][1]} |")
        lines.append("")
    return "\n".join(lines)
