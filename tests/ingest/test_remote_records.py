"""Records whose images are URLs and s3:// keys, and `ingest s3://bucket/prefix/`, against real servers on
loopback: moto's S3 server and the scripted HTTP server (tests/support). Nothing of the project is mocked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from es_search.errors import SourceUnavailable
from ingest.report import read_report
from ingest.runner import plan_prefix_prune, run_prefix_ingest, run_records_ingest
from tests.conftest import QUICK_FETCH
from tests.ingest.test_records_ingest import api_ids, docs_by_id
from tests.support.catalogue import BRANDS, product_row, write_csv, write_schema
from tests.support.http_server import Route
from tests.support.ingest_cases import jpeg

ROWS = 1000
IMAGES = 250  # rows share images: one image under several ids is encoded once


@pytest.fixture
def shop(tiny_settings, s3_server, tmp_path):
    return tiny_settings.with_overrides(fields_file=write_schema(tmp_path), batch_size=16, bulk_chunk=100,
                                        **s3_server.settings_overrides(), **QUICK_FETCH)


def image_bytes(n: int) -> bytes:
    return jpeg(5000 + n, size=(48, 36))


class MixedCatalogue:
    """Images spread over a local folder, the HTTP server and a bucket; rows name them by path, URL or key."""

    def __init__(self, tmp_path: Path, http_server, s3_server):
        self.folder = tmp_path / "local"
        self.folder.mkdir()
        self.http, self.s3 = http_server, s3_server
        self.bucket = s3_server.create_bucket()
        self.locations: dict[int, str] = {}
        for n in range(IMAGES):
            self.add_image(n)

    def add_image(self, n: int) -> str:
        data = image_bytes(n)
        if n % 3 == 0:
            path = self.folder / f"p{n}.jpg"
            path.write_bytes(data)
            location = str(path)
        elif n % 3 == 1:
            location = self.http.add(f"/img/p{n}.jpg", Route(body=data, content_type="image/jpeg"))
        else:
            location = self.s3.put(self.bucket, f"shop/p{n}.jpg", data)
        self.locations[n] = location
        return location

    def row(self, n: int, image: int | None = None) -> dict:
        return product_row(n, self.locations[image if image is not None else n % IMAGES])


def test_a_thousand_mixed_rows_ingest_every_good_one_report_every_bad_one_and_resync_touching_only_twenty(
        shop, es, http_server, s3_server, tmp_path):
    shop_images = MixedCatalogue(tmp_path, http_server, s3_server)
    rows = [shop_images.row(n) for n in range(ROWS)]
    bad = {  # row number → reason; the CSV line is row + 2
        17: "bad_record", 230: "bad_record", 402: "bad_record",
        55: "not_found", 312: "not_found", 688: "not_found",  # a URL that answers 404, an absent key, a lost file
        99: "forbidden", 501: "timeout", 777: "not_an_image", 901: "refused_address"}
    rows[17]["price"] = "a lot"
    rows[230]["in_stock"] = "perhaps"
    rows[402]["image"] = "ftp://example.org/x.jpg"
    rows[55]["image"] = http_server.url("/img/gone.jpg")
    rows[312]["image"] = f"s3://{shop_images.bucket}/shop/gone.jpg"
    rows[688]["image"] = str(shop_images.folder / "gone.jpg")
    rows[99]["image"] = http_server.add("/img/private.jpg", Route(status=403))
    rows[501]["image"] = http_server.add("/img/stalls.jpg", Route(body=image_bytes(1), stall=True))
    rows[777]["image"] = http_server.add("/img/page.jpg", Route(body=b"<html>not an image</html>"))
    rows[901]["image"] = "http://169.254.169.254/latest/meta-data/x.jpg"
    catalogue = write_csv(tmp_path / "catalogue.csv", rows)

    first = run_records_ingest(shop, catalogue)

    assert first.stopped is None
    assert {f["line"] - 2: f["reason"] for f in read_report(Path(first.report))[0]} == bad
    assert (first.indexed, first.failed) == (ROWS - len(bad), len(bad))
    docs = docs_by_id(es, shop.index_alias)
    good = {f"SKU-{n:04d}" for n in range(ROWS) if n not in bad}
    assert set(docs) == good
    assert {docs["SKU-0001"]["paths"][0][:4], docs["SKU-0002"]["paths"][0][:5]} == {"http", "s3://"}
    by_brand = {brand: {f"SKU-{n:04d}" for n in range(ROWS) if n not in bad and BRANDS[n % 4] == brand}
                for brand in BRANDS}
    assert api_ids(shop, brand="initech", size=100) <= by_brand["initech"]
    assert es.count(index=shop.index_alias, query={"term": {"brand": "initech"}})["count"] == len(by_brand["initech"])
    cheap = {f"SKU-{n:04d}" for n in range(ROWS) if n not in bad and n % 50 + 0.5 <= 1 and n % 7}
    assert api_ids(shop, price="..1", in_stock="true", size=100) == cheap

    # The second run: 10 rows changed (5 fields only, 5 images), 5 removed, 5 added.
    before = docs_by_id(es, shop.index_alias)
    for n in (3, 4, 5, 6, 7):
        rows[n]["price"] = "123.0"
    for k, n in enumerate((8, 9, 10, 11, 12)):
        rows[n]["image"] = shop_images.add_image(IMAGES + k)
    removed = [20, 21, 22, 23, 24]
    for k in range(5):
        shop_images.add_image(IMAGES + 10 + k)
    added = [shop_images.row(ROWS + k, image=IMAGES + 10 + k) for k in range(5)]
    rows = [row for n, row in enumerate(rows) if n not in removed] + added
    write_csv(catalogue, rows)

    second = run_records_ingest(shop, catalogue, prune=True)

    assert second.stopped is None
    assert (second.indexed, second.updated, second.pruned) == (5, 10, 5)
    after = docs_by_id(es, shop.index_alias)
    touched = {i for i in set(before) | set(after)
               if i not in before or i not in after or before[i]["_seq_no"] != after[i]["_seq_no"]}
    assert len(touched) == 20
    assert touched == {f"SKU-{n:04d}" for n in [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, *removed, *range(ROWS, ROWS + 5)]}
    assert after["SKU-0004"]["price"] == 123.0 and after["SKU-0004"]["sha256"] == before["SKU-0004"]["sha256"]


def test_a_bucket_prefix_ingests_like_a_folder_and_prunes_what_left_it(shop, es, s3_server, tmp_path):
    bucket = s3_server.create_bucket()
    for n in range(6):
        s3_server.put(bucket, f"photos/p{n}.jpg", image_bytes(n))
    s3_server.put(bucket, "photos/copy-of-p0.jpg", image_bytes(0))
    s3_server.put(bucket, "photos/notes.txt", b"not an image name: not listed")
    s3_server.put(bucket, "elsewhere/p9.jpg", image_bytes(9))
    prefix = f"s3://{bucket}/photos/"

    first = run_prefix_ingest(shop, prefix)

    assert (first.indexed, first.already_present, first.failed) == (6, 1, 0)
    docs = docs_by_id(es, shop.index_alias)
    p0 = hashlib.sha256(image_bytes(0)).hexdigest()
    assert sorted(docs[p0]["paths"]) == [f"{prefix}copy-of-p0.jpg", f"{prefix}p0.jpg"]
    assert docs[p0]["sources"] == [prefix]

    again = run_prefix_ingest(shop, prefix)  # the listing's size and time: nothing downloaded, nothing written
    assert (again.indexed, again.updated, again.already_present) == (0, 0, 7)

    s3_server.client.delete_object(Bucket=bucket, Key="photos/p3.jpg")
    s3_server.client.delete_object(Bucket=bucket, Key="photos/copy-of-p0.jpg")
    changes = plan_prefix_prune(shop, prefix)
    assert sorted(c.describe() for c in changes) == sorted([
        f"delete {hashlib.sha256(image_bytes(3)).hexdigest()} ({prefix}p3.jpg)",
        f"take off {p0}: {prefix}copy-of-p0.jpg"])
    pruned = run_prefix_ingest(shop, prefix, prune=True)
    assert (pruned.pruned, pruned.pruned_paths) == (1, 1)
    docs = docs_by_id(es, shop.index_alias)
    assert len(docs) == 5 and docs[p0]["paths"] == [f"{prefix}p0.jpg"]


def test_a_bucket_that_cannot_be_listed_stops_before_anything(shop, es):
    with pytest.raises(SourceUnavailable):
        run_prefix_ingest(shop, "s3://no-such-bucket-here/photos/")


def test_the_command_line_ingests_a_prefix_and_stops_with_exit_code_6_on_a_missing_bucket(shop, es, s3_server,
                                                                                          tmp_path):
    from tests.ingest.test_pipeline import run_cli

    bucket = s3_server.create_bucket()
    for n in range(3):
        s3_server.put(bucket, f"cli/p{n}.jpg", image_bytes(n))
    env = {f"IMGSEARCH_{name.upper()}": str(value) for name, value in s3_server.settings_overrides().items()}
    result = run_cli(shop, tmp_path, ["ingest", f"s3://{bucket}/cli/", "--no-progress"], extra_env=env)
    assert result.returncode == 0, result.stderr
    assert "indexed (new documents): 3" in result.stdout
    missing = run_cli(shop, tmp_path, ["ingest", "s3://no-such-bucket-here/x/", "--no-progress"], extra_env=env)
    assert missing.returncode == 6 and "Traceback" not in missing.stderr
