"""Load benchmark: concurrent clients drive the running web app over loopback for a bounded time with a mix
of text search, image search, similar, facets and a share of writes. The last line printed is one JSON
object: per kind and overall throughput, p50 / p90 / p99, answers by status class, unanswered requests, the
load average before and after, and the issue's targets judged on what was measured.

    python bench/load.py                              # 100k documents, app started here, 60 s, 5 % writes
    python bench/load.py --url http://127.0.0.1:8000 --writes 0 --seconds 15
    python bench/load.py --docs 20000 --clients 6 --flood 8     # the same run without, then with, a flood

`--flood N` adds N connections that upload a 1024×768 image from one address as fast as they are answered,
and makes the run twice, back to back: without them, then with them. Each client names its own address in
X-Forwarded-For (the app started here trusts one proxy hop, IMGSEARCH_PROXY_HOPS=1), so the rate of
expensive requests per address (webapp/overload.py) sees the flood as one client and the others apart.

Without --url the app is started as bench/search.py starts it, on --docs documents of its corpus (an alias of
our own), with the full-size random text model and CLIP ViT-B/32 (random weights cost what trained ones do).
The clients are threads of this process, each a closed loop on its own http.client connection: they wait on
sockets, which releases the GIL, so they cost the two cores little (`client.cpu_cores` says how little);
client processes would add an interpreter each and buy nothing. Writes carry a write key
(es_search.apikeys.create_key, or LOAD_BENCH_API_KEY) and are deleted after the run, as is a key made here.
Figures and how to read them: docs/benchmarks.md, "Load".
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import itertools
import json
import os
import random
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search import (  # noqa: E402
    CATEGORIES,
    Mixture,
    load_api_documents,
    log,
    make_full_size_text_model,
    query_texts,
)
from web_server import start_web  # noqa: E402

from es_search.client import build_client, check_cluster  # noqa: E402
from es_search.config import Settings, load_settings  # noqa: E402

LOAD_ALIAS = "bench-load"
DIMS = 512
PAGE = 24
READ_MIX = {"text": 50, "image": 15, "similar": 15, "facets": 15}  # shares of the reads, in percent
SCHEMES = ("warm", "cool", "neutral")
KEY_ENV = "LOAD_BENCH_API_KEY"
TARGET_TEXT_P99_MS = 250.0


# --------------------------------------------------------------------------- what is sent


def make_jpeg(seed: int, size: tuple[int, int]) -> bytes:
    """A distinct smooth photo-like JPEG for each seed: an 8 × 6 grid of random colours, upsampled."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(grid).resize(size, Image.Resampling.BILINEAR).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def mix_weights(writes_percent: float, read_mix: dict[str, float] = READ_MIX) -> dict[str, float]:
    """The probability of each kind: the reads share 100 − writes percent in the proportions of read_mix."""
    if not 0 <= writes_percent <= 100:
        raise ValueError("writes is a percentage, 0 to 100")
    total = sum(read_mix.values())
    weights = {kind: (100 - writes_percent) * share / total / 100 for kind, share in read_mix.items()}
    if writes_percent:
        weights["write"] = writes_percent / 100
    return {kind: weight for kind, weight in weights.items() if weight > 0}


@dataclass
class Workload:
    """What the clients send, all made before the clock starts: texts, images, indexed ids, images to write."""

    texts: list[str]
    search_images: list[str]  # base64
    ids: list[str]
    write_images: list[str] = field(default_factory=list)
    write_key: str | None = None
    wait_for_refresh: bool = True
    _text_counter: itertools.count = field(default_factory=itertools.count)
    _write_counter: itertools.count = field(default_factory=itertools.count)

    def request(self, kind: str, rng: random.Random) -> tuple[str, str, bytes | None, dict[str, str]]:
        """(method, path, body, headers) of one request of `kind`."""
        if kind == "text":
            params = {"q": self.texts[next(self._text_counter) % len(self.texts)], "size": PAGE}
            if rng.random() < 0.25:
                params["category"] = rng.choice(CATEGORIES)
            return "GET", "/api/search?" + urllib.parse.urlencode(params), None, {}
        if kind == "image":
            body = json.dumps({"image_base64": rng.choice(self.search_images)}).encode()
            return "POST", f"/api/search/image?size={PAGE}", body, {"Content-Type": "application/json"}
        if kind == "similar":
            return "GET", f"/api/similar/{rng.choice(self.ids)}?size={PAGE}", None, {}
        if kind == "facets":
            params = rng.choice(({}, {"category": rng.choice(CATEGORIES)}, {"color": rng.choice(SCHEMES)}))
            return "GET", "/api/facets?" + urllib.parse.urlencode(params), None, {}
        if kind == "write":
            n = next(self._write_counter)
            image = self.write_images[n] if n < len(self.write_images) else \
                base64.b64encode(make_jpeg(10_000_000 + n, (320, 240))).decode()
            body = json.dumps({"image_base64": image,
                               "fields": {"title": f"load bench {n}", "tags": ["load-bench"]}}).encode()
            path = "/api/images" + ("" if self.wait_for_refresh else "?refresh=false")
            return "POST", path, body, {"Content-Type": "application/json",
                                        "Authorization": f"ApiKey {self.write_key}"}
        raise ValueError(f"unknown kind {kind!r}")


# --------------------------------------------------------------------------- the clients


@dataclass(frozen=True)
class Record:
    kind: str
    started: float  # perf_counter
    ms: float
    status: int  # 0: no answer (see error)
    error: str | None = None
    service_ms: float | None = None  # the search's own took_ms: the rest is queueing, HTTP and JSON


def send(connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None,
         headers: dict[str, str]) -> tuple[int, bytes]:
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def parse_answer(answer: bytes) -> dict:
    try:
        return dict(json.loads(answer))
    except (ValueError, TypeError):  # not a JSON object: counted by its status alone
        return {}


def client_address(index: int) -> str:
    """Each client's own address, as a proxy in front of the app would pass it on (X-Forwarded-For)."""
    return f"10.0.{index // 250}.{index % 250 + 1}"


FLOOD_ADDRESS = "10.66.0.1"


def run_client(index: int, url: str, workload: Workload, weights: dict[str, float], end: float,
               records: list[Record], written: list[str], timeout: float) -> None:
    rng = random.Random(index)
    kinds, chances = list(weights), list(weights.values())
    connection = connect(url, timeout)
    while time.perf_counter() < end:
        kind = rng.choices(kinds, chances)[0]
        method, path, body, headers = workload.request(kind, rng)
        headers = {**headers, "X-Forwarded-For": client_address(index)}
        started = time.perf_counter()
        try:
            status, answer = send(connection, method, path, body, headers)
            error = None
        except (OSError, http.client.HTTPException) as exc:
            status, answer, error = 0, b"", type(exc).__name__
            connection.close()  # the next request opens a fresh connection
        ms = (time.perf_counter() - started) * 1000
        body = parse_answer(answer) if status in (200, 201) and kind != "facets" else {}
        records.append(Record(kind, started, ms, status, error, body.get("took_ms")))
        if kind == "write" and status == 201:
            written.append(body.get("id"))
    connection.close()


def run_flood(url: str, image: bytes, end: float, records: list[Record], timeout: float) -> None:
    """One of the flood's connections: the same 1024×768 upload from one address, again as soon as answered."""
    connection = connect(url, timeout)
    headers = {"Content-Type": "application/json", "X-Forwarded-For": FLOOD_ADDRESS}
    while time.perf_counter() < end:
        started = time.perf_counter()
        try:
            status, _ = send(connection, "POST", f"/api/search/image?size={PAGE}", image, headers)
            error = None
        except (OSError, http.client.HTTPException) as exc:
            status, error = 0, type(exc).__name__
            connection.close()
        records.append(Record("flood", started, (time.perf_counter() - started) * 1000, status, error))
    connection.close()


def drive(url: str, workload: Workload, weights: dict[str, float], clients: int, warmup: float, seconds: float,
          timeout: float, flood: int = 0) -> dict:
    """Run the clients (and `flood` flooding connections) for warmup + seconds; the figures count requests
    started after the warm-up."""
    records: list[Record] = []
    written: list[str] = []
    start = time.perf_counter()
    measure_from, end = start + warmup, start + warmup + seconds
    load_before = os.getloadavg()
    threads = [threading.Thread(target=run_client, daemon=True,
                                args=(i, url, workload, weights, end, records, written, timeout))
               for i in range(clients)]
    flood_image = json.dumps({"image_base64": base64.b64encode(make_jpeg(424242, (1024, 768))).decode()}).encode()
    threads += [threading.Thread(target=run_flood, daemon=True, args=(url, flood_image, end, records, timeout))
                for _ in range(flood)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    cpu_from = time.process_time()
    for thread in threads:
        thread.join()
    window = time.perf_counter() - measure_from
    cpu = time.process_time() - cpu_from
    measured = [r for r in records if r.started >= measure_from]
    return {"window_s": round(window, 2), "load_average": {"before": [round(x, 2) for x in load_before],
                                                           "after": [round(x, 2) for x in os.getloadavg()]},
            "client": {"threads": clients, "cpu_cores": round(cpu / window, 3),
                       "warmup_requests": len(records) - len(measured)},
            "records": measured, "written": written}


# --------------------------------------------------------------------------- figures


def summarise(records: list[Record], window_s: float) -> dict:
    """Throughput, latency percentiles (of answered requests, any status), status classes, client errors."""
    answered = np.asarray([r.ms for r in records if r.status], dtype=np.float64)
    status: dict[str, int] = {}
    errors: dict[str, int] = {}
    for record in records:
        if record.status:
            key = f"{record.status // 100}xx"
            status[key] = status.get(key, 0) + 1
        else:
            errors[record.error] = errors.get(record.error, 0) + 1
    figures = {"requests": len(records), "per_s": round(len(records) / window_s, 2) if window_s else None,
               "status": dict(sorted(status.items())), "errors": errors}
    if answered.size:
        figures.update({f"p{q}_ms": round(float(np.percentile(answered, q)), 1) for q in (50, 90, 99)})
        figures["max_ms"] = round(float(answered.max()), 1)
    service = np.asarray([r.service_ms for r in records if r.service_ms is not None], dtype=np.float64)
    if service.size:
        figures.update({f"service_p{q}_ms": round(float(np.percentile(service, q)), 1) for q in (50, 99)})
    return figures


def judge(kinds: dict, overall: dict) -> dict:
    """The issue's targets on what was measured (None: not measured); a request never answered is a fault."""
    no_5xx = overall["status"].get("5xx", 0) == 0 and not overall["errors"]
    text = kinds.get("text", {})
    text_p99 = text["p99_ms"] <= TARGET_TEXT_P99_MS if "p99_ms" in text else None
    return {"zero_5xx": no_5xx, "text_search_p99_le_250ms": text_p99,
            "all_met": no_5xx and bool(text_p99) if text_p99 is not None else None}


def judge_flood(calm: dict, flooded: dict) -> dict:
    """The flood targets: the normal clients' text p99 within 2× of the calm run's, the flood refused with
    429s (or 503s with Retry-After), the normal clients never a 5xx."""
    calm_p99, flooded_p99 = calm.get("text", {}).get("p99_ms"), flooded["kinds"].get("text", {}).get("p99_ms")
    ratio = round(flooded_p99 / calm_p99, 2) if calm_p99 and flooded_p99 else None
    flood_status = flooded["flood"]["status"]
    return {"text_p99_ratio": ratio, "text_p99_within_2x": ratio is not None and ratio <= 2.0,
            "flood_got_429": flood_status.get("4xx", 0) > 0,
            "normal_zero_5xx": flooded["overall"]["status"].get("5xx", 0) == 0 and not flooded["overall"]["errors"]}


# --------------------------------------------------------------------------- the app and its data


def connect(url: str, timeout: float = 120) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port or 80,
                                      timeout=timeout)


def fetch_json(url: str, path: str) -> dict:
    connection = connect(url)
    status, body = send(connection, "GET", path, None, {})
    connection.close()
    if status != 200:
        raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")
    return json.loads(body)


def indexed_ids(url: str, wanted: int = 1000) -> list[str]:
    """Ids to ask similar images for, browsed through the API (so --url needs no cluster access for reads)."""
    ids: list[str] = []
    for page in range(1, wanted // 100 + 1):
        hits = fetch_json(url, f"/api/search?size=100&page={page}")["hits"]
        ids += [hit["id"] for hit in hits]
        if len(hits) < 100:
            break
    if not ids:
        raise RuntimeError("the index is empty: nothing to ask similar images for")
    return ids


def start_app(settings: Settings, es, args) -> tuple[object, dict]:
    """Load the corpus (unless --reuse-index finds it whole) and start `imgsearch web` on it."""
    from es_search.tiny_model import make_random_clip

    models = settings.data_dir / "bench-models"
    text_model = make_full_size_text_model(models / "full-size-multilingual-text")
    image_model = make_random_clip(models / "random-clip-vit-b-32", full_size=True)
    app_settings = settings.with_overrides(text_model=str(text_model), image_model=str(image_model))
    count = es.options(ignore_status=404).count(index=args.alias).get("count")
    if args.reuse_index and count == args.docs:
        log(f"reusing the {count} documents under alias {args.alias}")
    else:
        log(f"loading {args.docs} image documents into alias {args.alias}")
        mixture = Mixture(dims=DIMS, n=args.docs, seed=21)
        load_api_documents(es, app_settings, mixture, mixture.centres())
    # The clients name their own addresses (X-Forwarded-For), as a proxy in front of the app would.
    env = {"IMGSEARCH_INDEX_ALIAS": args.alias, "IMGSEARCH_TEXT_MODEL": str(text_model),
           "IMGSEARCH_IMAGE_MODEL": str(image_model), "IMGSEARCH_TEXT_BACKEND": "local", "IMGSEARCH_PROXY_HOPS": "1"}
    server = start_web(env, workers=args.workers)
    return server, {"started_here": True, "workers": args.workers,
                    "server": f"gunicorn, {settings.web_threads} thread(s) per worker", "text_model": "random DistilBERT 6x768 + Dense 512",
                    "image_model": "random CLIP ViT-B/32", "text_runtime": settings.text_runtime}


def write_key(es, settings: Settings) -> tuple[str, str | None]:
    """(key, its name when made here): LOAD_BENCH_API_KEY, or a fresh write key from the key store."""
    given = os.environ.get(KEY_ENV)
    if given:
        return given, None
    try:
        from es_search.apikeys import create_key
    except ImportError:
        raise SystemExit(f"writes need a write key: set {KEY_ENV}, or use a build with es_search.apikeys; "
                         "or run with --writes 0") from None
    name = f"bench-load-{int(time.time())}"
    return create_key(es, settings, name=name, scope="write"), name


def drop_corpus(es, settings: Settings) -> None:
    """The corpus started here, and its key index if a key was made for it."""
    from es_search.index import delete_index

    delete_index(es, settings.index_alias)
    try:
        from es_search.apikeys import keys_index
    except ImportError:
        return
    es.options(ignore_status=404).indices.delete(index=keys_index(settings))


def delete_written(url: str, ids: list[str], key: str) -> int:
    """Delete what the run wrote (untimed); returns how many deletes were answered 200."""
    connection = connect(url)
    deleted = 0
    for image_id in filter(None, ids):
        status, _ = send(connection, "DELETE", f"/api/images/{urllib.parse.quote(image_id)}?refresh=false",
                         None, {"Authorization": f"ApiKey {key}"})
        deleted += status == 200
    connection.close()
    return deleted


# --------------------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app (default: start one here on --docs documents)")
    parser.add_argument("--docs", type=int, default=100_000, help="documents of the corpus started here")
    parser.add_argument("--alias", default=LOAD_ALIAS, help="index alias of the corpus started here")
    parser.add_argument("--reuse-index", action="store_true", help="keep the corpus if it has --docs documents")
    parser.add_argument("--keep", action="store_true", help="keep the corpus afterwards (for --reuse-index)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the app started here")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60, help="measured time")
    parser.add_argument("--warmup", type=float, default=20, help="seconds of load before measuring")
    parser.add_argument("--writes", type=float, default=5, help="percent of requests that are writes (0: none)")
    parser.add_argument("--no-wait-refresh", action="store_true", help="writes with ?refresh=false")
    parser.add_argument("--timeout", type=float, default=60, help="seconds a client waits for an answer")
    parser.add_argument("--flood", type=int, default=0, metavar="N",
                        help="also N connections uploading 1024×768 images from one address as fast as they can: "
                             "the run is made twice, without them and with them, back to back")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    weights = mix_weights(args.writes)
    settings = load_settings()
    if not args.url:
        settings = settings.with_overrides(index_alias=args.alias)
    es = None
    if not args.url or ("write" in weights and not os.environ.get(KEY_ENV)):  # else no cluster access needed
        es = build_client(settings.with_overrides(es_request_timeout=600))
        check_cluster(es, settings)
    server, app = (None, {"started_here": False, "url": args.url}) if args.url else start_app(settings, es, args)
    url = args.url or f"http://127.0.0.1:{server.port}"
    key, key_name = None, None
    try:
        if "write" in weights:
            key, key_name = write_key(es, settings)
        log("making the workload: query texts, images, indexed ids")
        workload = Workload(texts=query_texts(2000), ids=indexed_ids(url),
                            search_images=[base64.b64encode(make_jpeg(i, (640, 480))).decode() for i in range(32)],
                            write_images=[base64.b64encode(make_jpeg(10_000_000 + i, (320, 240))).decode()
                                          for i in range(400 if key else 0)],
                            write_key=key, wait_for_refresh=not args.no_wait_refresh)
        app["documents"] = fetch_json(url, "/api/facets").get("matching")
        log(f"driving {url} with {args.clients} clients: {args.warmup:.0f} s warm-up, {args.seconds:.0f} s measured")
        run = drive(url, workload, weights, args.clients, args.warmup, args.seconds, args.timeout)
        records, written = run.pop("records"), run.pop("written")
        kinds = {kind: summarise([r for r in records if r.kind == kind], run["window_s"]) for kind in weights}
        overall = summarise(records, run["window_s"])
        if args.flood:
            log(f"again, with {args.flood} connections flooding image uploads")
            flooded = drive(url, workload, weights, args.clients, args.warmup, args.seconds, args.timeout,
                            flood=args.flood)
            flood_records, more_written = flooded.pop("records"), flooded.pop("written")
            written += more_written
            normal = [r for r in flood_records if r.kind != "flood"]
            flooded["kinds"] = {kind: summarise([r for r in normal if r.kind == kind], flooded["window_s"])
                                for kind in weights}
            flooded["flood"] = summarise([r for r in flood_records if r.kind == "flood"], flooded["window_s"])
            flooded["overall"] = summarise(normal, flooded["window_s"])
            run["with_flood"] = flooded
            run["flood_judged"] = judge_flood(kinds, flooded)
        if written:
            run["written_then_deleted"] = [len(written), delete_written(url, written, key)]
    finally:
        if key_name:
            from es_search.apikeys import revoke_key

            revoke_key(es, settings, key_name)
        if server is not None:
            server.stop()
            if not args.keep:
                drop_corpus(es, settings)
    result = {"benchmark": "load", "app": app, "clients": args.clients, "warmup_s": args.warmup,
              "mix": {k: round(v, 4) for k, v in weights.items()},
              "writes_wait_for_refresh": not args.no_wait_refresh, "page_size": PAGE,
              "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
              **run, "kinds": kinds, "overall": overall}
    result["targets"] = judge(kinds, overall)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
