"""Real photos of faces for the tests, fetched at test time, never committed: the `face_recognition`
package's source distribution holds photos of two people (three different photos of one of them, and one
of the other) in `tests/test_images/`; scikit-image's `astronaut` is a third person.

The distribution comes from the package index pip is configured with (`pip download`, no address written
here), into the project's cache folder beside the Elasticsearch download, and is unpacked once.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

SDIST = "face_recognition==1.3.0"
PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")


def face_photos(cache_dir: Path) -> dict[str, Path]:
    """{file name: path} of PHOTOS, downloaded and unpacked into `cache_dir` on first use."""
    folder = Path(cache_dir) / "face-photos"
    if all((folder / name).is_file() for name in PHOTOS):
        return {name: folder / name for name in PHOTOS}
    download = Path(cache_dir) / "face-photos-download"
    download.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    "--dest", str(download), SDIST], check=True, timeout=600)
    archive = next(download.glob("face_recognition-*.tar.gz"))
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = member.name.rsplit("/", 1)[-1]
            if "/tests/test_images/" in member.name and name in PHOTOS and member.isfile():
                (folder / name).write_bytes(tar.extractfile(member).read())
    return {name: folder / name for name in PHOTOS}


def astronaut_jpeg(path: Path) -> Path:
    """scikit-image's astronaut (Eileen Collins) as a JPEG file."""
    from PIL import Image
    from skimage import data

    Image.fromarray(data.astronaut()).save(path, quality=92)
    return path
