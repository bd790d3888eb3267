"""The ingest end to end, on a real node with the tiny random models.

What the README promises: a folder of anything gives exactly the expected indexed / failed counts and
reasons; a rerun indexes nothing new; a run killed or interrupted midway, then rerun, indexes every image
exactly once; losing the cluster midway stops the run with a clear error and a non-zero exit.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from es_search.decode import decode_image
from es_search.encoders import build_image_encoder
from es_search.errors import EXIT_CLUSTER, EXIT_INTERRUPTED, EXIT_MODEL
from es_search.index import VECTOR_FIELD
from ingest.report import read_report
from ingest.runner import run_ingest
from ingest.thumbnails import thumbnail_relpath
from tests.support.ingest_cases import MIXED_MAX_PIXELS, jpeg, make_mixed_folder

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ingest_settings(tiny_settings):
    # Small batches and bulk chunks, so even a small folder goes through several of each.
    return tiny_settings.with_overrides(max_image_pixels=MIXED_MAX_PIXELS, batch_size=4, bulk_chunk=5)


def sha256_of(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def all_docs(es, alias) -> dict[str, dict]:
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=1000, query={"match_all": {}})["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


def assert_each_path_indexed_once(es, alias, expected_paths: set[str]) -> None:
    docs = all_docs(es, alias)
    listed = [path for doc in docs.values() for path in doc["paths"]]
    assert sorted(listed) == sorted(expected_paths)  # every path present, none twice
    for sha, doc in docs.items():
        assert all(sha256_of(path) == sha for path in doc["paths"])  # the id is the content's hash


# --------------------------------------------------------------------------- one folder of everything


# "device": JPEG pixels through torchvision's batched decoder (nvJPEG on a GPU, its CPU decoder here), every
# check still Pillow's: the same counts, reasons and fields.
@pytest.mark.parametrize("jpeg_decoder", ["auto", "device"])
def test_a_folder_of_everything_gives_exactly_the_expected_counts_and_reasons(ingest_settings, es, tmp_path,
                                                                              jpeg_decoder):
    if jpeg_decoder == "device":
        pytest.importorskip("torchvision")
    ingest_settings = ingest_settings.with_overrides(jpeg_decoder=jpeg_decoder)
    folder = make_mixed_folder(tmp_path / "photos")

    summary = run_ingest(ingest_settings, [folder.root])

    assert summary.stopped is None
    assert summary.indexed == len(folder.indexed)
    assert summary.already_present == len(folder.copies)  # the copy: same content, one document, both paths
    assert summary.failed == len(folder.failed)
    expected_reasons = {}
    for reason in folder.failed.values():
        expected_reasons[reason] = expected_reasons.get(reason, 0) + 1
    assert summary.failure_reasons == expected_reasons

    failures, report_summary = read_report(Path(summary.report))
    assert {f["path"]: f["reason"] for f in failures} == folder.failed
    assert all(f["message"] for f in failures)
    assert report_summary["indexed"] == summary.indexed

    docs = all_docs(es, ingest_settings.index_alias)
    assert len(docs) == len(folder.indexed)
    assert_each_path_indexed_once(es, ingest_settings.index_alias, folder.all_image_paths)
    copy, original = next(iter(folder.copies.items()))
    assert sorted(docs[sha256_of(original)]["paths"]) == sorted([original, copy])

    rotated = docs[sha256_of(folder.root / "odd" / "rotated.jpg")]
    assert (rotated["width"], rotated["height"]) == (100, 200)
    assert rotated["taken_at"].startswith("2021-07-04T18:30:00")
    cmyk = docs[sha256_of(folder.root / "odd" / "cmyk.jpg")]
    assert cmyk["color_scheme"] == "cool" and cmyk["format"] == "JPEG"
    for sha, doc in docs.items():
        assert doc["category"] in ingest_settings.categories
        assert 0.0 <= doc["category_score"] <= 1.0
        assert doc["model"] == "tiny-clip"
        assert doc["thumbnail"] == thumbnail_relpath(sha)
        assert (ingest_settings.thumbnails_dir / doc["thumbnail"]).is_file()


def test_a_rerun_indexes_nothing_new_and_does_not_even_read_unchanged_files(ingest_settings, es, tmp_path):
    folder = make_mixed_folder(tmp_path / "photos")
    first = run_ingest(ingest_settings, [folder.root])

    again = run_ingest(ingest_settings, [folder.root])
    assert (again.indexed, again.already_present, again.failed) == (0, first.indexed + first.already_present,
                                                                     first.failed)
    assert again.skipped_unchanged == len(folder.all_image_paths)  # known from the local state: not hashed

    # Without the local state, the content hashes are checked against Elasticsearch: still nothing new.
    rechecked = run_ingest(ingest_settings, [folder.root], recheck=True)
    assert (rechecked.indexed, rechecked.skipped_unchanged) == (0, 0)
    assert rechecked.already_present == len(folder.all_image_paths)
    assert len(all_docs(es, ingest_settings.index_alias)) == len(folder.indexed)


def test_a_copy_under_a_new_name_adds_its_path_to_the_existing_document(ingest_settings, es, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(jpeg(1))
    run_ingest(ingest_settings, [photos])

    (photos / "later").mkdir()
    (photos / "later" / "a again.jpg").write_bytes(jpeg(1))
    summary = run_ingest(ingest_settings, [photos])

    assert (summary.indexed, summary.already_present) == (0, 2)
    (doc,) = all_docs(es, ingest_settings.index_alias).values()
    assert doc["paths"] == [str(photos / "a.jpg"), str(photos / "later" / "a again.jpg")]


def test_an_indexed_image_is_found_first_by_its_own_vector(ingest_settings, es, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(12):
        (photos / f"p{seed:02d}.jpg").write_bytes(jpeg(seed, size=(320, 240)))
    run_ingest(ingest_settings, [photos])
    es.indices.refresh(index=ingest_settings.index_alias)

    encoder = build_image_encoder(ingest_settings)
    for name in ("p03.jpg", "p07.jpg"):
        vector = encoder.encode_images([decode_image(photos / name, ingest_settings).image])[0]
        hits = es.search(index=ingest_settings.index_alias, knn={
            "field": VECTOR_FIELD, "query_vector": vector.tolist(), "k": 3, "num_candidates": 20,
        })["hits"]["hits"]
        assert hits[0]["_id"] == sha256_of(photos / name)


def test_ingest_never_swaps_a_missing_model_for_another(ingest_settings, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(jpeg(1))
    result = run_cli(ingest_settings, tmp_path, ["ingest", str(photos), "--no-progress"],
                     extra_env={"IMGSEARCH_IMAGE_MODEL": str(tmp_path / "no-such-model")})
    assert result.returncode == EXIT_MODEL
    assert "no-such-model" in result.stderr and "Traceback" not in result.stderr


# --------------------------------------------------------------------------- stopping midway


class BulkCountingProxy:
    """A TCP proxy on 127.0.0.1 in front of the real node that calls `on_bulk(n)` when it sees the n-th
    `_bulk` request pass, and can `cut()` every connection and stop listening: the cluster "goes away"."""

    def __init__(self, target_host: str, target_port: int, on_bulk):
        self.target = (target_host, target_port)
        self.on_bulk = on_bulk
        self.bulk_requests = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._cut:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_client: bool):
        try:
            while data := source.recv(65536):
                if from_client and b"/_bulk" in data:
                    with self._lock:
                        first = self.bulk_requests + 1
                        self.bulk_requests += data.count(b"/_bulk")
                        seen = range(first, self.bulk_requests + 1)
                    for n in seen:  # every count once, even when one read carried two requests
                        self.on_bulk(self, n)
                if self._cut:
                    return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        self._cut = True
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


def target_of(settings) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(settings.node_url)
    return parts.hostname, parts.port or 9200


def cli_env(settings, tmp_path, es_url: str | None = None, extra_env: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMGSEARCH_", "ES_URL"))}
    env.update({
        "IMGSEARCH_INDEX_ALIAS": settings.index_alias,
        "IMGSEARCH_DATA_DIR": str(settings.data_dir),
        "IMGSEARCH_IMAGE_MODEL": settings.image_model,
        "IMGSEARCH_TEXT_MODEL": settings.text_model,
        "IMGSEARCH_MAX_IMAGE_PIXELS": str(settings.max_image_pixels),
        "IMGSEARCH_BATCH_SIZE": str(settings.batch_size),
        "IMGSEARCH_BULK_CHUNK": str(settings.bulk_chunk),
    })
    if es_url or settings.es_url:
        env["ES_URL"] = es_url or settings.es_url
    env.update(extra_env or {})
    return env


def run_cli(settings, tmp_path, args, extra_env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "es_search.cli", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env=cli_env(settings, tmp_path, extra_env=extra_env))


def start_cli_through_proxy(settings, tmp_path, folder, on_bulk):
    proxy = BulkCountingProxy(*target_of(settings), on_bulk=on_bulk)
    env = cli_env(settings, tmp_path, es_url=f"http://127.0.0.1:{proxy.port}")
    # Ctrl-C as a terminal delivers it: a test run started in the background by a non-interactive shell has
    # SIGINT ignored, which children inherit, and Python then never raises KeyboardInterrupt.
    process = subprocess.Popen([sys.executable, "-m", "es_search.cli", "ingest", str(folder), "--no-progress"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_default_sigint)
    return proxy, process


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def make_photos(folder: Path, count: int) -> set[str]:
    folder.mkdir(parents=True)
    paths = set()
    for seed in range(count):
        path = folder / f"photo-{seed:03d}.jpg"
        path.write_bytes(jpeg(100 + seed, size=(160, 120)))
        paths.add(str(path))
    return paths


PHOTOS = 40


@pytest.fixture
def stop_settings(ingest_settings):
    # One document per bulk request: the run is still midway when the third request goes out.
    return ingest_settings.with_overrides(bulk_chunk=1, batch_size=2)


def test_a_killed_run_rerun_indexes_every_image_exactly_once(stop_settings, es, tmp_path):
    paths = make_photos(tmp_path / "photos", PHOTOS)

    def kill_at_third_bulk(proxy, seen):
        if seen == 3:
            process.send_signal(signal.SIGKILL)  # no chance to clean up: the hard case

    proxy, process = start_cli_through_proxy(stop_settings, tmp_path, tmp_path / "photos", kill_at_third_bulk)
    process.communicate(timeout=300)
    proxy.cut()
    assert process.returncode == -signal.SIGKILL
    indexed_before = len(all_docs(es, stop_settings.index_alias))
    assert 0 < indexed_before < PHOTOS  # it really stopped midway

    summary = run_ingest(stop_settings, [tmp_path / "photos"])
    assert summary.stopped is None and summary.failed == 0
    assert summary.indexed + summary.already_present == PHOTOS
    assert summary.indexed == PHOTOS - indexed_before
    assert_each_path_indexed_once(es, stop_settings.index_alias, paths)
    assert run_ingest(stop_settings, [tmp_path / "photos"]).indexed == 0


def test_an_interrupted_run_exits_non_zero_with_a_summary_and_the_rerun_finishes(stop_settings, es, tmp_path):
    paths = make_photos(tmp_path / "photos", PHOTOS)

    def interrupt_at_third_bulk(proxy, seen):
        if seen == 3:
            process.send_signal(signal.SIGINT)  # what Ctrl-C sends

    proxy, process = start_cli_through_proxy(stop_settings, tmp_path, tmp_path / "photos", interrupt_at_third_bulk)
    stdout, stderr = process.communicate(timeout=300)
    proxy.cut()
    assert process.returncode == EXIT_INTERRUPTED, (stdout, stderr)
    assert "ingest INTERRUPTED" in stdout and "indexed (new documents):" in stdout
    assert "run the same command again" in stdout
    assert "Traceback" not in stderr
    reports = sorted((stop_settings.reports_dir).glob("ingest-*.jsonl"))
    assert read_report(reports[-1])[1]["stopped"] == "interrupted"

    summary = run_ingest(stop_settings, [tmp_path / "photos"])
    assert summary.stopped is None
    assert_each_path_indexed_once(es, stop_settings.index_alias, paths)


def test_a_terminated_run_exits_130_with_a_summary_and_the_command_rerun_finishes(stop_settings, es, tmp_path):
    paths = make_photos(tmp_path / "photos", PHOTOS)

    def terminate_at_third_bulk(proxy, seen):
        if seen == 3:
            process.send_signal(signal.SIGTERM)  # what `kill` and service managers send

    proxy, process = start_cli_through_proxy(stop_settings, tmp_path, tmp_path / "photos", terminate_at_third_bulk)
    stdout, stderr = process.communicate(timeout=300)
    proxy.cut()
    assert process.returncode == EXIT_INTERRUPTED, (stdout, stderr)
    assert "ingest INTERRUPTED" in stdout and "run the same command again" in stdout
    assert "Traceback" not in stderr
    indexed_before = len(all_docs(es, stop_settings.index_alias))
    assert 0 < indexed_before < PHOTOS

    rerun = run_cli(stop_settings, tmp_path, ["ingest", str(tmp_path / "photos"), "--no-progress"])
    assert rerun.returncode == 0, rerun.stderr
    assert f"indexed (new documents): {PHOTOS - indexed_before}\n" in rerun.stdout
    assert "failed:                  0" in rerun.stdout
    assert_each_path_indexed_once(es, stop_settings.index_alias, paths)


def test_losing_the_cluster_midway_stops_with_a_clear_error_and_a_non_zero_exit(stop_settings, es, tmp_path):
    paths = make_photos(tmp_path / "photos", PHOTOS)

    def cut_at_third_bulk(proxy, seen):
        if seen == 3:
            proxy.cut()

    proxy, process = start_cli_through_proxy(stop_settings, tmp_path, tmp_path / "photos", cut_at_third_bulk)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == EXIT_CLUSTER, stderr
    assert f"127.0.0.1:{proxy.port}" in stderr and "error:" in stderr
    assert "Traceback" not in stderr
    assert "ingest STOPPED: Elasticsearch failed" in stdout

    summary = run_ingest(stop_settings, [tmp_path / "photos"])  # straight to the node this time
    assert summary.stopped is None
    assert_each_path_indexed_once(es, stop_settings.index_alias, paths)


def test_the_onnx_backend_indexes_and_finds_images_the_same_way(ingest_settings, es, tmp_path):
    settings = ingest_settings.with_overrides(image_backend="onnx-int8")
    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(6):
        (photos / f"p{seed}.jpg").write_bytes(jpeg(seed, size=(320, 240)))
    summary = run_ingest(settings, [photos])
    assert (summary.indexed, summary.failed) == (6, 0)
    es.indices.refresh(index=settings.index_alias)
    encoder = build_image_encoder(settings)
    vector = encoder.encode_images([decode_image(photos / "p4.jpg", settings).image])[0]
    hits = es.search(index=settings.index_alias, knn={
        "field": VECTOR_FIELD, "query_vector": vector.tolist(), "k": 3, "num_candidates": 10})["hits"]["hits"]
    assert hits[0]["_id"] == sha256_of(photos / "p4.jpg")


def test_the_command_line_refuses_missing_folders_up_front(ingest_settings, tmp_path):
    result = run_cli(ingest_settings, tmp_path, ["ingest", str(tmp_path / "no-such-folder")])
    assert result.returncode == 2
    assert "no such file or folder" in result.stderr and "Traceback" not in result.stderr


def test_overlapping_sources_and_lists_name_each_file_once(ingest_settings, es, tmp_path):
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    (photos / "sub" / "a.jpg").write_bytes(jpeg(1))
    (photos / "b.png").write_bytes(jpeg(2))
    listing = tmp_path / "list.txt"
    listing.write_text(f"{photos / 'b.png'}\n")

    summary = run_ingest(ingest_settings, [photos, photos / "sub"], [listing])

    assert (summary.indexed, summary.failed) == (2, 0)
    assert_each_path_indexed_once(es, ingest_settings.index_alias, {str(photos / "sub" / "a.jpg"), str(photos / "b.png")})
