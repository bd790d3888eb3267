"""`imgsearch web`: the gallery and JSON API under gunicorn, a production WSGI server. Registered through the
`imgsearch.commands` entry point (setup.cfg), so the core command never imports this package.

Workers are forked without the app (`preload_app = False`); each builds it and loads the text model
once, right after it starts (`post_worker_init`), so no visitor waits for a model and no torch state
crosses a fork (forking a process that has run torch can deadlock its thread pools).

Operations: each worker writes its metrics into a fresh PROMETHEUS_MULTIPROC_DIR under the data folder (made
before any worker starts, removed at exit; a dead worker's live gauges are dropped), and logs one line per
request with its id (webapp/request_log.py), which replaces gunicorn's access log. SIGTERM is a graceful
stop: gunicorn closes the listening socket, lets each worker finish the request it is serving (up to
`graceful_timeout` seconds), then exits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from es_search.config import ConfigError, Settings


def web_settings(settings: Settings, settings_file: Path | None = None) -> Settings:
    """The settings `imgsearch web` serves with: `settings`, with the KEY=value lines of `settings_file` on
    top (the one place for run-time overrides, e.g. the models and index `imgsearch demo` wrote to
    DATA_DIR/demo.env). Keys are the usual IMGSEARCH_* / ES_* names, parsed and validated by config."""
    if settings_file is None:
        return settings
    from dotenv import dotenv_values

    from es_search.config import ENV_NAMES, ENV_PREFIX, load_settings

    if not settings_file.is_file():
        raise ConfigError(f"settings file {settings_file} does not exist")
    values = {k: v for k, v in dotenv_values(settings_file).items() if v is not None}
    parsed = load_settings(env=values)  # the file's values alone, typed and validated
    names = [ENV_NAMES.get(key) or key[len(ENV_PREFIX):].lower() for key in values
             if key in ENV_NAMES or key.startswith(ENV_PREFIX)]
    return settings.with_overrides(**{name: getattr(parsed, name) for name in names})


def gunicorn_options(settings: Settings, host: str | None = None, port: int | None = None,
                     workers: int | None = None) -> dict:
    """gunicorn's settings from ours: `web_workers` processes of `web_threads` threads each (gthread workers,
    or sync ones for a single thread). Model calls release the GIL, so a worker's threads share the cores."""
    return {
        "bind": f"{host or settings.web_host}:{port or settings.web_port}",
        "workers": workers or settings.web_workers,
        "worker_class": "gthread" if settings.web_threads > 1 else "sync",
        "threads": settings.web_threads,
        "preload_app": False,
        "timeout": 120,  # a cold worker's first request may still be loading a model
        "graceful_timeout": 20,
        "accesslog": None,  # one line per request comes from webapp/request_log.py, with its request id
        "errorlog": "-",
    }


def torch_threads_per_worker(workers: int) -> int:
    """One torch thread per worker. A query is one short sentence: splitting its small matrix products over
    threads gains little, and on a box shared with Elasticsearch the extra threads wait on each other
    (measured on 2 busy cores: DistilBERT-base p50 38 ms with 1 thread, 120 ms with 2). Add workers instead."""
    return 1


def warm_worker(app, torch_threads: int, log=None) -> None:
    """Load the models of a fresh worker before it takes requests; a failure is logged, not fatal
    (the worker still serves browsing, documents and clear errors)."""
    try:
        app.extensions["search_service"]().warm_up()
    except Exception as exc:
        if log is not None:
            log.warning("model warm-up failed: %s", exc)
    try:  # after loading: the model loader sets its own thread count once, on first load
        import torch

        torch.set_num_threads(torch_threads)
    except ImportError:
        pass


def fresh_metrics_folder(settings: Settings) -> Path:
    """A new, empty folder for this server's multiprocess metrics: figures left by an earlier run, or by
    another server on the same data folder, must not be added to ours."""
    parent = settings.data_dir / "metrics"
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="web-", dir=parent))


def _worker_exited(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _start_worker(worker, threads: int) -> None:
    from webapp.request_log import configure_logging

    configure_logging()
    warm_worker(worker.wsgi, threads, worker.log)


def serve(settings: Settings, host: str | None = None, port: int | None = None, workers: int | None = None) -> None:
    """Run gunicorn in this process until it is stopped (Ctrl-C or SIGTERM)."""
    from gunicorn.app.base import BaseApplication

    from webapp import create_app
    from webapp.metrics import MULTIPROC_ENV

    options = gunicorn_options(settings, host, port, workers)
    threads = torch_threads_per_worker(options["workers"])
    options["post_worker_init"] = lambda worker: _start_worker(worker, threads)
    options["child_exit"] = _worker_exited
    # Before any worker starts (and so before any imports prometheus-client), for every worker to inherit.
    metrics_folder = fresh_metrics_folder(settings)
    os.environ[MULTIPROC_ENV] = str(metrics_folder)

    class GalleryServer(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return create_app(settings)

    try:
        GalleryServer().run()
    finally:
        shutil.rmtree(metrics_folder, ignore_errors=True)


def demo_web_settings(settings: Settings) -> Settings:
    """What `imgsearch web --demo` serves with: the models and index of the last demo (DATA_DIR/demo.env),
    and the demo's sample folder as one more image root, so its originals are shown, not only thumbnails."""
    settings_file = settings.demo_env_file
    if not settings_file.is_file():
        print(f"note: {settings_file} does not exist (no demo has run); serving with the configured settings")
        settings_file = None
    settings = web_settings(settings, settings_file)
    samples = settings.samples_dir
    if samples in settings.image_roots:
        return settings
    return settings.with_overrides(image_roots=(*settings.image_roots, samples))


def web_command(args: argparse.Namespace, settings: Settings) -> int:
    settings = demo_web_settings(settings) if args.demo else web_settings(settings, args.settings_file)
    print(f"serving the gallery at http://{args.host or settings.web_host}:{args.port or settings.web_port}/ "
          f"with {args.workers or settings.web_workers} workers (index alias {settings.index_alias!r}, "
          f"text model {settings.text_model!r})", flush=True)
    serve(settings, args.host, args.port, args.workers)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("web", help="serve the gallery and JSON API with gunicorn")
    parser.add_argument("--host", help="address to bind (default IMGSEARCH_WEB_HOST)")
    parser.add_argument("--port", type=int, help="port (default IMGSEARCH_WEB_PORT)")
    parser.add_argument("--workers", type=int, help="worker processes (default IMGSEARCH_WEB_WORKERS)")
    parser.add_argument("--settings-file", type=Path, metavar="PATH",
                        help="KEY=value settings applied over the environment (e.g. DATA_DIR/demo.env)")
    parser.add_argument("--demo", action="store_true",
                        help="serve the models and index the last `imgsearch demo` used (DATA_DIR/demo.env), "
                             "and its sample files (DATA_DIR/samples)")
    parser.set_defaults(func=web_command)
