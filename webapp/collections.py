"""Serving several collections from one app (es_search/collections.py): the deployment's own at `/` and `/api/`,
each declared collection under `/c/<name>/` and `/api/c/<name>/`, each by an app of its own settings (alias,
schema, roots, models, keys), built once and kept. The prefix becomes the collection app's SCRIPT_NAME, so every
link it makes (pages, `links` in answers, the OpenAPI document) stays inside the collection.
"""

from __future__ import annotations

import threading


class CollectionDispatcher:
    """A WSGI app: `/c/<name>/rest` and `/api/c/<name>/rest` to collection `name`'s app (as `/rest` and
    `/api/rest` under SCRIPT_NAME `/c/<name>`); everything else to the deployment's own app."""

    def __init__(self, default_app, names, make_app):
        self.default_app = default_app
        self.names = frozenset(names)
        self._make_app = make_app
        self._apps: dict[str, object] = {}
        self._lock = threading.Lock()

    def app_of(self, name: str):
        with self._lock:
            if name not in self._apps:
                self._apps[name] = self._make_app(name)
            return self._apps[name]

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        for prefix, inner in (("/api/c/", "/api"), ("/c/", "")):
            if path.startswith(prefix):
                name, _, rest = path[len(prefix):].partition("/")
                if name in self.names:
                    environ = dict(environ, SCRIPT_NAME=environ.get("SCRIPT_NAME", "") + f"/c/{name}",
                                   PATH_INFO=inner + "/" + rest)
                    return self.app_of(name)(environ, start_response)
        return self.default_app(environ, start_response)
