"""Local development Elasticsearch node: fetch the pinned server, configure, start, wait, stop.

The server comes from Maven Central through `mvn`, is checked against a pinned SHA-256 and
unpacked once into a cache outside the repository. Node data and logs live under the project
data directory, so a restart keeps the data. Elasticsearch refuses to run as root: when we are
root, the node runs as a dedicated unprivileged system user (created on first use).
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import string
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from es_search.config import ES_ARTIFACT, ES_MIN_JAVA, ES_VERSION, Settings
from es_search.errors import NodeError

# SHA-256 of the pinned zip; Maven Central publishes no checksum for this artifact, so we pin our own.
ES_ZIP_SHA256 = {
    "9.5.4": "d9b0c28e08e499f6510b52ad66ec4bf9cdceab97cc28b3456989b8744b896934",
}
CLUSTER_NAME = "es-image-search-dev"




@dataclass(frozen=True)
class JavaRuntime:
    home: Path
    major: int

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"


# --------------------------------------------------------------------------- Java


def _release_info(home: Path) -> dict[str, str]:
    release = home / "release"
    if not release.is_file():
        return {}
    info = {}
    for line in release.read_text(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            info[key.strip()] = value.strip().strip('"')
    return info


def java_major(home: Path) -> int | None:
    """Feature version of the JDK at `home` (e.g. 25), or None when it is not a JDK."""
    if not (home / "bin" / "java").exists():
        return None
    version = _release_info(home).get("JAVA_VERSION")
    if version is None:
        try:
            out = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True, text=True,
                                 timeout=30).stderr
        except (OSError, subprocess.TimeoutExpired):
            return None
        match = re.search(r'version "([^"]+)"', out)
        version = match.group(1) if match else None
    if not version:
        return None
    head = version.split(".")[0]
    if head == "1":  # 1.8 style
        head = version.split(".")[1]
    return int(head) if head.isdigit() else None


def has_vector_module(home: Path) -> bool:
    """Lucene's fast vector code needs `jdk.incubator.vector`; trimmed runtimes leave it out."""
    modules = _release_info(home).get("MODULES")
    if modules is not None:
        return "jdk.incubator.vector" in modules.split()
    return True  # no module list to read: let the node itself tell


def _java_candidates(settings: Settings, environ: dict[str, str]) -> list[Path]:
    if settings.es_java_home:  # an explicit choice is the only candidate
        return [Path(settings.es_java_home)]
    candidates: list[Path] = []
    if environ.get("JAVA_HOME"):
        candidates.append(Path(environ["JAVA_HOME"]))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path).resolve().parent.parent)
    for root in (Path("/usr/lib/jvm"), Path("/opt/java"), Path("/usr/local/lib/jvm")):
        if root.is_dir():
            candidates.extend(sorted(root.iterdir(), reverse=True))
    return candidates


def find_java(settings: Settings, environ: dict[str, str] | None = None) -> JavaRuntime:
    """The first JDK with Java 21+ and the vector module: ES_JAVA_HOME, JAVA_HOME, PATH, then the usual folders."""
    seen: list[str] = []
    environ = os.environ if environ is None else environ
    for home in _java_candidates(settings, environ):
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
                "with the jdk.incubator.vector module."
            )
    found = "; found: " + ", ".join(seen) if seen else "; no Java was found at all"
    raise NodeError(
        f"Elasticsearch {ES_VERSION} needs a full JDK {ES_MIN_JAVA} or newer{found}. Install one (for example "
        "Temurin 21 or 25) and set ES_JAVA_HOME to its folder, or set ES_URL to use an existing cluster."
    )


# --------------------------------------------------------------------------- distribution


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_distribution(settings: Settings, log=print) -> Path:
    """Path of the verified server zip, downloaded with `mvn` into our own cache when missing."""
    root = settings.es_cache_dir
    repo = root / "m2"
    zip_path = repo / "org/elasticsearch/distribution/integ-test-zip/elasticsearch" / ES_VERSION / \
        f"elasticsearch-{ES_VERSION}.zip"
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


def install_distribution(settings: Settings, log=print) -> Path:
    """ES home folder, unpacked from the verified zip on first use (atomically, so a crash leaves no half copy)."""
    root = settings.es_cache_dir
    home = root / f"elasticsearch-{ES_VERSION}"
    if (home / "bin" / "elasticsearch").is_file():
        return home
    zip_path = fetch_distribution(settings, log)
    staging = root / f".unpack-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
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
    unpacked = staging / f"elasticsearch-{ES_VERSION}"
    for script in (unpacked / "bin").iterdir():
        script.chmod(0o755)
    os.chmod(root, 0o755)
    unpacked.rename(home)
    shutil.rmtree(staging, ignore_errors=True)
    return home


# --------------------------------------------------------------------------- root endpoint plugin
# The integ-test-zip distribution leaves out the `rest-root` module, so `GET /` answers 405 and clients that
# start with it (curl, the Python client's `info()`, eland) cannot see the version. We build our own tiny
# plugin (node_plugin/RootInfoPlugin.java) with the node's JDK against the distribution's jars, once per
# source digest, and install it into the shared cache atomically.

ROOT_INFO_PLUGIN = "local-root-info"
PLUGIN_SOURCE_DIR = Path(__file__).parent / "node_plugin"
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


def install_root_info_plugin(es_home: Path, java: JavaRuntime, log=print) -> bool:
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


# --------------------------------------------------------------------------- where the node keeps its data


def _world_traversable(path: Path) -> bool:
    """Whether any user can walk down to `path` (every folder on the way has the others' x bit)."""
    return all(parent.stat().st_mode & 0o001 for parent in [path, *path.parents] if parent.exists())


def node_dir(settings: Settings) -> Path:
    """The node's folder: DATA_DIR/es-node, unless we are root and the node user could not reach it.

    Then (a checkout inside a private folder, say) it goes to /var/lib/es-image-search/<digest of DATA_DIR>,
    the same place on every call, so start, stop and status always agree.
    """
    preferred = settings.node_dir
    if os.geteuid() != 0 or _world_traversable(preferred.resolve().parent):
        return preferred
    digest = hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:16]
    return Path("/var/lib/es-image-search") / digest


# --------------------------------------------------------------------------- configuration


def render_elasticsearch_yml(settings: Settings) -> str:
    """The node's own config: single node, loopback only, security off, disk thresholds off."""
    folder = node_dir(settings).resolve()
    lines = {
        "cluster.name": CLUSTER_NAME,
        "node.name": "local-dev",
        "path.data": str(folder / "data"),
        "path.logs": str(folder / "logs"),
        "network.host": settings.es_host,
        "http.port": settings.es_port,
        "transport.port": settings.es_transport_port,
        "discovery.type": "single-node",
        # A development node bound to loopback only; never expose this configuration.
        "xpack.security.enabled": "false",
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "action.destructive_requires_name": "true",
    }
    return "".join(f"{key}: {json.dumps(value) if isinstance(value, str) else value}\n" for key, value in lines.items())


def write_node_config(settings: Settings, es_home: Path) -> Path:
    """Write ES_PATH_CONF under the node folder and return it."""
    conf = node_dir(settings) / "config"
    (conf / "jvm.options.d").mkdir(parents=True, exist_ok=True)
    for name in ("jvm.options", "log4j2.properties"):
        shutil.copyfile(es_home / "config" / name, conf / name)
    (conf / "elasticsearch.yml").write_text(render_elasticsearch_yml(settings))
    heap = settings.es_heap
    (conf / "jvm.options.d" / "heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")
    for sub in ("data", "logs", "tmp"):
        (node_dir(settings) / sub).mkdir(parents=True, exist_ok=True)
    return conf


# --------------------------------------------------------------------------- running as root


def _run_as_prefix(settings: Settings) -> list[str]:
    if os.geteuid() != 0:
        return []
    user = settings.es_run_user
    try:
        pwd.getpwnam(user)
    except KeyError:
        proc = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise NodeError(f"running as root, and could not create the user {user!r} to run Elasticsearch: "
                            f"{proc.stderr.strip()}") from None
    entry = pwd.getpwnam(user)
    for path in [node_dir(settings), *node_dir(settings).rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--"]


# --------------------------------------------------------------------------- lifecycle


def _pid_file(settings: Settings) -> Path:
    return node_dir(settings) / "logs" / "node.pid"


def running_pid(settings: Settings) -> int | None:
    try:
        pid = int(_pid_file(settings).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by the node user
    return pid


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def node_info(url: str, timeout: float = 2.0) -> dict | None:
    """Version and name of the node answering at `url`, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/_nodes/_local?filter_path=cluster_name,nodes.*.version,nodes.*.name",
                                    timeout=timeout) as resp:
            body = json.load(resp)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    nodes = list(body.get("nodes", {}).values())
    if not nodes:
        return None
    return {"cluster_name": body.get("cluster_name"), "version": nodes[0].get("version"), "name": nodes[0].get("name")}


def wait_for_health(url: str, timeout: float, is_alive=lambda: True) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_cluster/health?wait_for_status=yellow&timeout=2s", timeout=5) as r:
                if json.load(r).get("status") in ("yellow", "green"):
                    return True
        except (urllib.error.URLError, OSError, ValueError):
            pass
        if not is_alive():
            return False
        time.sleep(0.5)
    return False


def log_tail(settings: Settings, lines: int = 40) -> str:
    parts = []
    for path in (node_dir(settings) / "logs" / f"{CLUSTER_NAME}.log", node_dir(settings) / "logs" / "launcher.out"):
        if path.is_file():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path}\n" + "\n".join(text))
    return "\n".join(parts) or "(no log was written)"


def start(settings: Settings, log=print) -> dict:
    """Start the local node in the background and wait until it is healthy; a running node is left alone."""
    if not settings.uses_local_node:
        raise NodeError(f"ES_URL is set ({settings.es_url}); the local node manager starts nothing.")
    url = settings.node_url
    if running_pid(settings) is not None:
        info = node_info(url)
        if info and info["cluster_name"] == CLUSTER_NAME:
            log(f"Elasticsearch {info['version']} is already running at {url}")
            return info
    for port in (settings.es_port, settings.es_transport_port):
        if port_in_use(settings.es_host, port):
            raise NodeError(f"port {port} on {settings.es_host} is already taken by another program; stop it or set "
                            "IMGSEARCH_ES_PORT / IMGSEARCH_ES_TRANSPORT_PORT to free ports.")
    java = find_java(settings)
    es_home = install_distribution(settings, log)
    install_root_info_plugin(es_home, java, log)
    conf = write_node_config(settings, es_home)
    prefix = _run_as_prefix(settings)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ES_", "JAVA_"))},
        "ES_JAVA_HOME": str(java.home),
        "ES_PATH_CONF": str(conf.resolve()),
        "ES_TMPDIR": str((node_dir(settings) / "tmp").resolve()),
    }
    pid_file = _pid_file(settings)
    pid_file.unlink(missing_ok=True)
    log(f"starting Elasticsearch {ES_VERSION} on Java {java.major} at {url} (data in {node_dir(settings)}) ...")
    launcher_out = node_dir(settings) / "logs" / "launcher.out"
    with open(launcher_out, "wb") as out:
        proc = subprocess.run([*prefix, str(es_home / "bin" / "elasticsearch"), "-d", "-p", str(pid_file.resolve())],
                              env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              cwd=str(node_dir(settings)), timeout=settings.es_start_timeout + 60)
    if proc.returncode != 0:
        raise NodeError(f"Elasticsearch failed to start (exit {proc.returncode}). Log tail:\n{log_tail(settings)}")
    if not wait_for_health(url, settings.es_start_timeout, lambda: running_pid(settings) is not None):
        raise NodeError(f"Elasticsearch did not become healthy within {settings.es_start_timeout:.0f}s. "
                        f"Log tail:\n{log_tail(settings)}")
    info = node_info(url) or {"version": ES_VERSION}
    log(f"Elasticsearch {info['version']} is up at {url}")
    return info


def stop(settings: Settings, timeout: float = 60.0, log=print) -> bool:
    """Stop the local node; True when one was running."""
    pid = running_pid(settings)
    if pid is None:
        log("no local Elasticsearch node is running")
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_pid(settings) is not None:
        time.sleep(0.3)
    if running_pid(settings) is not None:
        os.kill(pid, signal.SIGKILL)
        log(f"Elasticsearch (pid {pid}) did not stop within {timeout:.0f}s and was killed")
    else:
        log(f"Elasticsearch (pid {pid}) stopped")
    _pid_file(settings).unlink(missing_ok=True)
    return True


def status(settings: Settings) -> dict:
    """What answers at the configured URL, and whether it is our local node."""
    info = node_info(settings.node_url)
    return {"url": settings.node_url, "local": settings.uses_local_node, "pid": running_pid(settings),
            "running": info is not None, **(info or {})}
