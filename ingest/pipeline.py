"""The one ingest driver: a source's items → fetch → plan → decode + enrich → encode → document → bulk.

Every source (a folder, a records file, an object-storage prefix, the write API's uploads) is a stream of
`Item`s run through the same stages, joined by bounded queues so memory stays flat however many items:
- the feeder thread fetches each item's identity ahead (ingest/fetch.py), and hands batches to the writer
  (ingest/writer.py), which plans each document and submits the contents that need encoding to the decode
  pool, in order;
- the calling thread takes decoded images in batches, encodes them, runs the vector enrichers and hands
  each content back to the writer, which builds its documents;
- the bulk thread sends the actions in chunks and has the writer settle each one once Elasticsearch answered.
An item is counted, recorded and reported only when its fate is known. Ctrl-C, a lost cluster or a bug end
the run with what is done kept and a summary of why.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import numpy as np
from elasticsearch import ApiError, Elasticsearch, TransportError

from es_search.config import Settings
from es_search.device_decode import jpeg_decoder_for
from es_search.encoders.base import EncoderUnavailable
from es_search.watchlists.screen import Screener
from ingest.document import content_fields, content_keys
from ingest.encode import encode_batch, pixel_preprocessor
from ingest.enrichers import Enricher, of_need
from ingest.failures import FileFailure
from ingest.fetch import Reader, fetch_ahead
from ingest.index_io import BULK_MAX_RETRIES, ClusterFailure, describe_es_error, send_bulk
from ingest.items import Fetched, Item, ItemProblem
from ingest.prepare import PreparedImage, prepare_image
from ingest.seen import SeenKeys
from ingest.state import IndexedFiles
from ingest.writer import DocumentWriter, Sink

# Decoding may run this many batches ahead of the model.
DECODE_AHEAD_BATCHES = 2
# After the first image of a batch arrives, wait at most this long for the rest before encoding a short batch.
BATCH_FILL_SECONDS = 0.5
# Send a partly filled bulk chunk after this long, so acknowledgements (and the progress bar) keep moving.
BULK_FLUSH_SECONDS = 1.0
# How long an interrupted run waits for the bulk thread to send what was already encoded.
FLUSH_ON_STOP_SECONDS = 60.0
POLL_SECONDS = 0.1

_END = object()


@dataclass
class RunOptions:
    batch_size: int
    decode_workers: int
    bulk_chunk: int
    fetch_width: int
    refresh: str | None = None  # the bulk requests' refresh (the write API waits for its writes)
    # An ingest waits out a busy cluster (429) and stops at a write block; a request answers at once, per item.
    bulk_retries: int = BULK_MAX_RETRIES
    stop_on_block: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, *, fetch_width: int | None = None, refresh: str | None = None,
                      answer_now: bool = False) -> RunOptions:
        """`answer_now`: a request waiting for its answer (the write API): no 429 backoff, blocks per item."""
        return cls(settings.batch_size, settings.decode_workers, settings.bulk_chunk,
                   fetch_width or settings.decode_workers, refresh, 0 if answer_now else BULK_MAX_RETRIES,
                   not answer_now)


@dataclass
class RunEnd:
    """How a run ended: `stopped` None for a complete run, else interrupted, cluster or error."""

    stopped: str | None = None
    error: str | None = None
    exception: BaseException | None = None
    unfinished: int = 0


@dataclass
class _Stop:
    kind: str = ""
    message: str = ""
    exception: BaseException | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, kind: str, message: str, exception: BaseException | None = None) -> None:
        with self.lock:
            if not self.kind:  # the first cause is the one worth telling
                self.kind, self.message, self.exception = kind, message, exception


class Pipeline:
    """One run over a stream of items. Build it, call `run(items)`, read the returned RunEnd."""

    def __init__(self, es: Elasticsearch, settings: Settings, image_encoder, *, sink: Sink,
                 options: RunOptions | None = None, enrichers: Sequence[Enricher] = (),
                 state: IndexedFiles | None = None, seen: SeenKeys | None = None, read_remote: Reader | None = None,
                 roots: Sequence[str] = (), recheck: bool = False,
                 on_watchlist_match: Callable[[str, str], None] | None = None):
        self.es, self.settings, self.encoder = es, settings, image_encoder
        self.options = options or RunOptions.from_settings(settings)
        self.read_remote = read_remote
        self._known = None if recheck else state  # --recheck: hash every file again, ignoring the record
        self._pixel_enrichers = [e for e in enrichers if e.needs in ("small", "image")]
        self._vector_enrichers = of_need(enrichers, "vector")
        self._preprocess = pixel_preprocessor(image_encoder)
        self._jpeg_decoder = jpeg_decoder_for(settings)
        self.stop = threading.Event()
        self.fatal = _Stop()
        self._decoded: queue.Queue = queue.Queue(maxsize=DECODE_AHEAD_BATCHES * self.options.batch_size)
        self._outgoing: queue.Queue = queue.Queue(maxsize=2 * self.options.bulk_chunk)
        self._decode_ended = False
        self.writer = DocumentWriter(es, settings.index_alias, settings.node_url, model=image_encoder.name,
                                     content_keys=content_keys(enrichers), sink=sink, decode=self._submit_decode,
                                     send=lambda action: self._put(self._outgoing, action), state=state, seen=seen,
                                     roots=roots, thumbnails_dir=settings.thumbnails_dir,
                                     stop_on_block=self.options.stop_on_block,
                                     screener=Screener(es, settings.index_alias, on_match=on_watchlist_match))
        self.sink = sink

    # ------------------------------------------------------------------ driver (calling thread)

    def run(self, items: Iterable[Item | ItemProblem]) -> RunEnd:
        """Run every item; Ctrl-C stops it cleanly (stopped='interrupted')."""
        self._decode_pool = ThreadPoolExecutor(self.options.decode_workers, thread_name_prefix="imgsearch-decode")
        heavy = [e for e in self._pixel_enrichers if e.cost == "heavy"]
        self._heavy_pool = ThreadPoolExecutor(max(e.workers for e in heavy), thread_name_prefix="imgsearch-enrich") \
            if heavy else None
        feeder = threading.Thread(target=self._feed, args=(items,), name="imgsearch-feeder", daemon=True)
        bulk = threading.Thread(target=self._write, name="imgsearch-bulk", daemon=True)
        interrupted = False
        bulk.start()
        feeder.start()
        try:
            self._encode_loop()
        except KeyboardInterrupt:
            interrupted = True
        except Exception as exc:  # a bug here must still end in a summary, with the work done so far kept
            self.fatal.set("error", f"{type(exc).__name__}: {exc}", exc)
        finally:
            if interrupted or self.fatal.kind:
                self.stop.set()
            interrupted |= self._finish(feeder, bulk)
        stopped = "interrupted" if interrupted and not self.fatal.kind else (self.fatal.kind or None)
        return RunEnd(stopped, self.fatal.message or None, self.fatal.exception, self.writer.unfinished())

    def _finish(self, feeder: threading.Thread, bulk: threading.Thread) -> bool:
        """Let the bulk thread send what is already encoded, then stop the pools. True if a second Ctrl-C cut it short."""
        try:
            while bulk.is_alive():
                try:
                    self._outgoing.put(_END, timeout=POLL_SECONDS)
                    break
                except queue.Full:
                    continue
            bulk.join(FLUSH_ON_STOP_SECONDS)
            if bulk.is_alive():
                self.fatal.set("cluster", f"Elasticsearch did not answer within {FLUSH_ON_STOP_SECONDS:.0f} s")
            self.stop.set()
            feeder.join(5)
            return False
        except KeyboardInterrupt:
            self.stop.set()
            return True
        finally:
            for pool in (self._decode_pool, self._heavy_pool):
                if pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)

    def _encode_loop(self) -> None:
        while not self.stop.is_set():
            batch = self._take_batch()
            if batch is None:
                return
            prepared: list[PreparedImage] = []
            for sha256, future in batch:
                try:
                    prepared.append(future.result())
                except FileFailure as failure:
                    self.writer.content_failed(sha256, failure.reason, failure.message)
                except EncoderUnavailable:
                    raise  # the model is gone, not the file: the run stops
                except Exception as exc:  # prepare_image maps known failures; anything else is a damaged file
                    self.writer.content_failed(sha256, "corrupt", f"{type(exc).__name__}: {exc}")
            if prepared and not self._encode_and_hand_back(prepared):
                return

    def _encode_and_hand_back(self, prepared: list[PreparedImage]) -> bool:
        pixels = [p.pixels for p in prepared] if self._preprocess is not None else None
        vectors = encode_batch(self.encoder, [p.image for p in prepared], pixels)
        encoded = []
        for item, vector in zip(prepared, vectors, strict=True):
            if isinstance(vector, FileFailure):
                self.writer.content_failed(item.facts.sha256, vector.reason, vector.message, item.fresh_thumbnail)
            else:
                encoded.append((item, vector))
        if not encoded:
            return True
        extra: list[dict] = [{} for _ in encoded]
        stacked = np.stack([vector for _, vector in encoded])
        for enricher in self._vector_enrichers:
            enricher.load()
            for fields, more in zip(extra, enricher.enrich_vectors(stacked), strict=True):
                fields.update(more)
        contents = []
        for (item, vector), fields in zip(encoded, extra, strict=True):
            self._join_heavy(item)
            contents.append(content_fields(item, vector, self.encoder.name, fields))
        try:
            self.writer.screen(contents)  # the watchlists, after encoding and before indexing
        except (ApiError, TransportError) as exc:
            self._stop_run("cluster", f"the watchlist check failed: {describe_es_error(exc, self.settings.node_url)}",
                           exc)
            return False
        for (item, _), content in zip(encoded, contents, strict=True):
            if not self.writer.content_ready(item.facts.sha256, content, item.fresh_thumbnail):
                return False
        return True

    def _join_heavy(self, item: PreparedImage) -> None:
        """The heavy enrichers' fields; one that failed or ran out of time costs its fields only (the image is
        indexed, the reason noted in the report)."""
        for enricher, future in item.pending:
            try:
                item.fields.update(future.result(timeout=enricher.timeout))
            except FutureTimeout:
                future.cancel()
                self.writer.content_note(item.facts.sha256, f"{enricher.name}_timeout",
                                         f"no answer within {enricher.timeout:g} s")
            except Exception as exc:
                self.writer.content_note(item.facts.sha256, f"{enricher.name}_failed", f"{type(exc).__name__}: {exc}")
        item.pending.clear()

    def _take_batch(self) -> list[tuple[str, Future]] | None:
        """Up to batch_size queued decodes; None when the feeder is done and nothing is left."""
        if self._decode_ended:
            return None
        batch: list[tuple[str, Future]] = []
        deadline = None
        while len(batch) < self.options.batch_size:
            timeout = POLL_SECONDS if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                entry = self._decoded.get(timeout=timeout)
            except queue.Empty:
                if self.stop.is_set():
                    return None
                if deadline is not None:
                    break  # the feeder is slower than the model right now: encode what we have
                continue
            if entry is _END:
                self._decode_ended = True
                break
            batch.append(entry)
            if deadline is None:
                deadline = time.monotonic() + BATCH_FILL_SECONDS
        return batch or None

    # ------------------------------------------------------------------ decode pool

    def _submit_decode(self, fetched: Fetched) -> bool:
        future = self._decode_pool.submit(self._prepare, fetched.facts, fetched.data)
        fetched.data = None
        return self._put(self._decoded, (fetched.facts.sha256, future))

    def _prepare(self, facts, data: bytes | None) -> PreparedImage:
        """Decode-pool work for one content: decode, thumbnail, pixel enrichers and, if the encoder allows,
        preprocessing."""
        item = prepare_image(facts, self.settings, data, self._pixel_enrichers, self._submit_heavy, self._jpeg_decoder)
        if self._preprocess is not None:
            try:
                item.pixels = self._preprocess(item.image)
            except EncoderUnavailable:
                raise
            except Exception as exc:
                raise FileFailure("encode_failed", f"preprocessing: {type(exc).__name__}: {exc}") from None
        return item

    def _submit_heavy(self, enricher: Enricher, image, original: bytes | None) -> Future:
        def work() -> dict:
            enricher.load()
            return enricher.enrich(image, original)

        return self._heavy_pool.submit(work)

    # ------------------------------------------------------------------ feeder thread

    def _feed(self, items: Iterable[Item | ItemProblem]) -> None:
        batch: list = []
        try:
            fetched = fetch_ahead(items, self.read_remote, self._known, self.options.fetch_width,
                                  ahead=max(2 * self.options.fetch_width, 2 * self.options.batch_size))
            for result in fetched:
                if self.stop.is_set():
                    return
                batch.append(result)
                if len(batch) >= self.options.batch_size:
                    if not self.writer.take(batch):
                        return
                    batch = []
            if batch and not self.stop.is_set():
                self.writer.take(batch)
        except (ApiError, TransportError) as exc:
            self._stop_run("cluster", describe_es_error(exc, self.settings.node_url), exc)
        except Exception as exc:  # a walk or hash bug must end in a summary, not a silent hang
            if not self.stop.is_set():  # once stopping, the pools refuse work: that is no news
                self._stop_run("error", f"{type(exc).__name__}: {exc}", exc)
        finally:
            self._put(self._decoded, _END)

    # ------------------------------------------------------------------ bulk thread

    def _write(self) -> None:
        try:
            ended = False
            while not ended:
                chunk, ended = self._collect_chunk()
                for ok, answer in send_bulk(self.es, chunk, self.options.refresh, self.options.bulk_retries) if chunk else ():
                    self.writer.settle(ok, answer)
        except (ApiError, TransportError) as exc:
            self._stop_run("cluster", describe_es_error(exc, self.settings.node_url), exc)
        except ClusterFailure as exc:
            self._stop_run("cluster", str(exc), exc)
        except Exception as exc:
            self._stop_run("error", f"{type(exc).__name__}: {exc}", exc)

    def _collect_chunk(self) -> tuple[list[dict], bool]:
        chunk: list[dict] = []
        deadline = None
        while len(chunk) < self.options.bulk_chunk:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                action = self._outgoing.get(timeout=timeout)
            except queue.Empty:
                break
            if action is _END:
                return chunk, True
            chunk.append(action)
            if deadline is None:
                deadline = time.monotonic() + BULK_FLUSH_SECONDS
        return chunk, False

    # ------------------------------------------------------------------ shared

    def _stop_run(self, kind: str, message: str, exception: BaseException | None = None) -> None:
        self.fatal.set(kind, message, exception)
        self.stop.set()

    def _put(self, target: queue.Queue, entry) -> bool:
        """Put without blocking forever: False when the run is stopping."""
        while True:
            try:
                target.put(entry, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                if self.stop.is_set():
                    return False
