"""Our tiny `GET /` plugin: built with the node's JDK against the server's jars, installed into its home.

The integ-test-zip distribution leaves out the `rest-root` module, so `GET /` answers 405 and clients that
start with it (curl, the Python client's `info()`, eland) cannot see the version. The Java source lives in
`root_info_plugin/` beside this module. It is compiled once per source digest and installed into the
shared server home atomically; a failure only costs the root endpoint, never the node, so it is a warning.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import string
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

from es_search.config import ES_MIN_JAVA, ES_VERSION
from es_search.errors import NodeError
from es_search.node.java import JavaRuntime

ROOT_INFO_PLUGIN = "local-root-info"
PLUGIN_SOURCE_DIR = Path(__file__).parent / "root_info_plugin"
_PLUGIN_JAVA_RELEASE = ES_MIN_JAVA  # the oldest Java the server runs on; newer JDKs compile for it
_PLUGIN_STAMP = "source.sha256"


def root_info_plugin_digest() -> str:
    """SHA-256 over the plugin's source files and the pinned versions: a change in any means a rebuild."""
    digest = hashlib.sha256(f"{ES_VERSION}/{_PLUGIN_JAVA_RELEASE}".encode())
    for path in sorted(PLUGIN_SOURCE_DIR.iterdir()):
        if path.suffix in (".java", ".properties"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _build_root_info_plugin(es_home: Path, java: JavaRuntime, out_dir: Path, digest: str) -> None:
    javac = java.home / "bin" / "javac"
    if not javac.is_file():
        raise NodeError(f"{java.home} has no javac (a runtime, not a full JDK)")
    classes = out_dir.parent / "classes"
    classes.mkdir(parents=True)
    out_dir.mkdir()
    proc = subprocess.run(
        [str(javac), "--release", str(_PLUGIN_JAVA_RELEASE), "-proc:none", "-encoding", "UTF-8",
         "-cp", str(es_home / "lib" / "*"), "-d", str(classes), *map(str, sorted(PLUGIN_SOURCE_DIR.glob("*.java")))],
        capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0:
        raise NodeError("javac failed:\n" + "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:]))
    with zipfile.ZipFile(out_dir / f"{ROOT_INFO_PLUGIN}.jar", "w", zipfile.ZIP_DEFLATED) as jar:
        for path in sorted(classes.rglob("*.class")):
            jar.write(path, path.relative_to(classes).as_posix())
    template = string.Template((PLUGIN_SOURCE_DIR / "plugin-descriptor.properties").read_text())
    (out_dir / "plugin-descriptor.properties").write_text(template.substitute(
        name=ROOT_INFO_PLUGIN, plugin_version="1.0", java_release=_PLUGIN_JAVA_RELEASE,
        elasticsearch_version=ES_VERSION))
    (out_dir / _PLUGIN_STAMP).write_text(digest + "\n")
    # When we are root the node runs as another user, who must be able to read the plugin.
    for path in (out_dir, *out_dir.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)


def install_root_info_plugin(es_home: Path, java: JavaRuntime, log: Callable[[str], object] = print) -> bool:
    """Build and install the `GET /` plugin into `es_home` unless it is there from the same source.

    A failure only costs the root endpoint, never the node: it is logged as a warning and False is returned.
    """
    target = es_home / "plugins" / ROOT_INFO_PLUGIN
    digest = root_info_plugin_digest()
    try:
        if (target / _PLUGIN_STAMP).read_text().strip() == digest:
            return True
    except OSError:
        pass  # not installed yet
    # Build outside plugins/: the node treats every folder there as a plugin.
    staging = es_home / f".{ROOT_INFO_PLUGIN}-build-{os.getpid()}"
    retired = es_home / f".{ROOT_INFO_PLUGIN}-old-{os.getpid()}"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        _build_root_info_plugin(es_home, java, staging / ROOT_INFO_PLUGIN, digest)
        target.parent.mkdir(exist_ok=True)
        if target.exists():
            target.rename(retired)
        try:
            (staging / ROOT_INFO_PLUGIN).rename(target)
        except OSError:
            if not (target / _PLUGIN_STAMP).is_file():  # else another start installed it in the meantime
                raise
        log(f"installed the {ROOT_INFO_PLUGIN} plugin (answers GET /) into {target}")
        return True
    except (NodeError, OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
        log(f"warning: could not build the {ROOT_INFO_PLUGIN} plugin, so `GET /` will answer 405 on this node "
            f"(everything else works): {exc}")
        return False
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
