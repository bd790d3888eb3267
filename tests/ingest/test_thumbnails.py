"""Thumbnails: per content hash, fitted to their box, written once, never seen half written."""

from __future__ import annotations

from PIL import Image

from ingest.thumbnails import thumbnail_relpath, write_thumbnail
from tests.support.ingest_cases import scene


def test_thumbnails_fit_the_box_and_are_written_once(tmp_path):
    sha = "ab" + "0" * 62
    relpath = write_thumbnail(scene(3, (800, 400)), sha, tmp_path, 256)
    assert relpath == thumbnail_relpath(sha) == f"ab/{sha}.jpg"
    written = tmp_path / relpath
    with Image.open(written) as thumb:
        assert thumb.size == (256, 128)
    before = written.stat().st_mtime_ns
    write_thumbnail(scene(3, (800, 400)), sha, tmp_path, 256)
    assert written.stat().st_mtime_ns == before
    assert not [p for p in written.parent.iterdir() if p.name.startswith(".tmp")]
