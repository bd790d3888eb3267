"""`imgsearch` as a user runs it (`python -m es_search.cli`), in a child process with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys


def imgsearch(*args: str, alias: str, data_dir, **env: str) -> subprocess.CompletedProcess:
    """Run `imgsearch ARGS` against the test node, on `alias`, with only these IMGSEARCH_ settings."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "IMGSEARCH_"))}
    full_env.update({"ES_URL": os.environ.get("ES_URL", "http://127.0.0.1:9200"), "IMGSEARCH_INDEX_ALIAS": alias,
                     "IMGSEARCH_DATA_DIR": str(data_dir), **env})
    return subprocess.run([sys.executable, "-m", "es_search.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=300)
