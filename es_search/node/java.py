"""Finding a Java the pinned server can run on.

In: the settings (ES_JAVA_HOME) and the environment (JAVA_HOME, PATH); out: a `JavaRuntime`, or a NodeError
that lists what was found and says what to install. Elasticsearch 9 needs Java 21 or newer with the
`jdk.incubator.vector` module (Lucene's vector code); trimmed runtimes leave that module out, and we refuse
them here with a clear message rather than let the server fail later with an obscure one.

Reading a JDK's `release` file and its version string are pure functions; only `java_major` and
`java_candidates` look at the disk, and only `java_major` may run `java -version`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from es_search.config import ES_MIN_JAVA, ES_VERSION, Settings
from es_search.errors import NodeError

VECTOR_MODULE = "jdk.incubator.vector"
# Where distributions and package managers put JDKs, searched after ES_JAVA_HOME, JAVA_HOME and PATH.
JDK_FOLDERS = (Path("/usr/lib/jvm"), Path("/opt/java"), Path("/usr/local/lib/jvm"))


@dataclass(frozen=True)
class JavaRuntime:
    """A JDK folder and its feature version (21, 25, ...)."""

    home: Path
    major: int

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"


def parse_release(text: str) -> dict[str, str]:
    """The KEY="value" lines of a JDK's `release` file."""
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            info[key.strip()] = value.strip().strip('"')
    return info


def parse_java_version(version: str) -> int | None:
    """Feature version from a version string: "25.0.1" → 25, "1.8.0_392" → 8; None when unreadable."""
    parts = version.split(".")
    head = parts[1] if parts[0] == "1" and len(parts) > 1 else parts[0]  # the 1.8 style of Java 8 and older
    return int(head) if head.isdigit() else None


def version_from_java_output(output: str) -> str | None:
    """The quoted version in what `java -version` prints, e.g. `openjdk version "21.0.4" 2024-07-16`."""
    match = re.search(r'version "([^"]+)"', output)
    return match.group(1) if match else None


def _release_info(home: Path) -> dict[str, str]:
    release = home / "release"
    if not release.is_file():
        return {}
    return parse_release(release.read_text(errors="replace"))


def java_major(home: Path) -> int | None:
    """Feature version of the JDK at `home` (e.g. 25), or None when it is not a JDK."""
    if not (home / "bin" / "java").exists():
        return None
    version = _release_info(home).get("JAVA_VERSION")
    if version is None:  # no release file: ask the binary, which is slower
        try:
            out = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True, text=True,
                                 timeout=30).stderr
        except (OSError, subprocess.TimeoutExpired):
            return None
        version = version_from_java_output(out)
    if not version:
        return None
    return parse_java_version(version)


def has_vector_module(home: Path) -> bool:
    """Lucene's fast vector code needs `jdk.incubator.vector`; trimmed runtimes leave it out."""
    modules = _release_info(home).get("MODULES")
    if modules is not None:
        return VECTOR_MODULE in modules.split()
    return True  # no module list to read: let the node itself tell


def java_candidates(settings: Settings, environ: Mapping[str, str]) -> list[Path]:
    """JDK folders to try, in order: ES_JAVA_HOME alone when set, else JAVA_HOME, PATH, the usual folders."""
    if settings.es_java_home:  # an explicit choice is the only candidate
        return [Path(settings.es_java_home)]
    candidates: list[Path] = []
    if environ.get("JAVA_HOME"):
        candidates.append(Path(environ["JAVA_HOME"]))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path).resolve().parent.parent)
    for root in JDK_FOLDERS:
        if root.is_dir():
            candidates.extend(sorted(root.iterdir(), reverse=True))  # newest version names first
    return candidates


def find_java(settings: Settings, environ: Mapping[str, str] | None = None) -> JavaRuntime:
    """The first JDK with Java 21+ and the vector module: ES_JAVA_HOME, JAVA_HOME, PATH, then the usual folders."""
    seen: list[str] = []
    environ = os.environ if environ is None else environ
    for home in java_candidates(settings, environ):
        major = java_major(home)
        if major is None:
            if settings.es_java_home:
                raise NodeError(f"ES_JAVA_HOME={home} holds no Java (no bin/java there).")
            continue
        seen.append(f"{home} (Java {major})")
        if major >= ES_MIN_JAVA and has_vector_module(home):
            return JavaRuntime(home=home, major=major)
        if settings.es_java_home and home == Path(settings.es_java_home):
            raise NodeError(
                f"ES_JAVA_HOME={home} is Java {major}; Elasticsearch {ES_VERSION} needs a full JDK {ES_MIN_JAVA}+ "
                f"with the {VECTOR_MODULE} module."
            )
    found = "; found: " + ", ".join(seen) if seen else "; no Java was found at all"
    raise NodeError(
        f"Elasticsearch {ES_VERSION} needs a full JDK {ES_MIN_JAVA} or newer{found}. Install one (for example "
        "Temurin 21 or 25) and set ES_JAVA_HOME to its folder, or set ES_URL to use an existing cluster."
    )
