"""The pinned Elasticsearch server: fetched with `mvn` into our cache, checked, unpacked once.

In: the settings (cache folder); out: the server's home folder, ready to run. The zip comes from Maven
Central through `mvn dependency:get` into a local repository of our own inside the cache, is checked
against a SHA-256 pinned here, and is unpacked into a staging folder that is renamed into place, so a crash
never leaves half a server behind. The cache lives outside the repository and is shared by every checkout.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

from es_search.config import ES_ARTIFACT, ES_VERSION, Settings
from es_search.errors import NodeError

# SHA-256 of the pinned zip; Maven Central publishes no checksum for this artifact, so we pin our own.
ES_ZIP_SHA256 = {
    "9.5.4": "d9b0c28e08e499f6510b52ad66ec4bf9cdceab97cc28b3456989b8744b896934",
}


def distribution_zip_path(cache_dir: Path) -> Path:
    """Where `mvn` leaves the zip inside our own local repository."""
    return (cache_dir / "m2" / "org/elasticsearch/distribution/integ-test-zip/elasticsearch" / ES_VERSION
            / f"elasticsearch-{ES_VERSION}.zip")


def es_home_path(cache_dir: Path) -> Path:
    """Where the unpacked server lives."""
    return cache_dir / f"elasticsearch-{ES_VERSION}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_distribution(settings: Settings, log: Callable[[str], object] = print) -> Path:
    """Path of the verified server zip, downloaded with `mvn` into our own cache when missing."""
    repo = settings.es_cache_dir / "m2"
    zip_path = distribution_zip_path(settings.es_cache_dir)
    if not zip_path.is_file():
        mvn = shutil.which("mvn")
        if mvn is None:
            raise NodeError("`mvn` (Apache Maven) is needed to fetch Elasticsearch; install it (apt-get install maven).")
        log(f"fetching Elasticsearch {ES_VERSION} from Maven Central into {repo} ...")
        proc = subprocess.run(
            [mvn, "-q", "-B", f"-Dmaven.repo.local={repo}", "dependency:get", "-Dtransitive=false",
             f"-Dartifact={ES_ARTIFACT}"],
            capture_output=True, text=True,
        )
        if proc.returncode != 0 or not zip_path.is_file():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise NodeError(f"mvn could not fetch {ES_ARTIFACT}:\n{tail}")
    expected = ES_ZIP_SHA256.get(ES_VERSION)
    actual = sha256_of(zip_path)
    if expected and actual != expected:
        zip_path.unlink()
        raise NodeError(f"{zip_path.name} has SHA-256 {actual}, expected {expected}; the file was removed, "
                        "run again to fetch it anew.")
    return zip_path


def _unpack(zip_path: Path, staging: Path) -> None:
    """Extract every member under `staging`, keeping the file modes the zip records."""
    with zipfile.ZipFile(zip_path) as archive:
        bad = archive.testzip()
        if bad is not None:
            raise NodeError(f"{zip_path} is damaged ({bad}); delete it and run again.")
        for member in archive.infolist():
            target = staging / member.filename
            if not target.resolve().is_relative_to(staging.resolve()):
                raise NodeError(f"{zip_path} holds an unsafe path {member.filename!r}")
            archive.extract(member, staging)
            mode = (member.external_attr >> 16) & 0o777
            if mode:
                os.chmod(target, mode)


def install_distribution(settings: Settings, log: Callable[[str], object] = print) -> Path:
    """ES home folder, unpacked from the verified zip on first use (atomically, so a crash leaves no half copy)."""
    root = settings.es_cache_dir
    home = es_home_path(root)
    if (home / "bin" / "elasticsearch").is_file():
        return home
    zip_path = fetch_distribution(settings, log)
    staging = root / f".unpack-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _unpack(zip_path, staging)
    unpacked = staging / f"elasticsearch-{ES_VERSION}"
    for script in (unpacked / "bin").iterdir():
        script.chmod(0o755)
    os.chmod(root, 0o755)  # the node user (when we are root) must reach the server's files
    unpacked.rename(home)
    shutil.rmtree(staging, ignore_errors=True)
    return home
