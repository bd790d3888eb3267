"""The Flask application factory: one search service, a pages blueprint and an API blueprint over it."""

from __future__ import annotations

import threading
from urllib.parse import urlencode

from flask import Flask, current_app, g, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from es_search.collections import collection_settings, load_collections
from es_search.config import Settings, load_settings
from es_search.faces.engine import faces_available
from es_search.fields import registry_for
from es_search.limits import retry_after_header
from es_search.remote.reader import RemoteReader
from es_search.search.request import SearchRequest
from webapp import auth, i18n, key_session, metrics, overload, request_log
from webapp.errors import describe_error

# The whole request body may be base64 JSON (4 characters per 3 bytes) or multipart with form fields.
BODY_OVERHEAD = 64 * 1024


def create_app(settings: Settings | None = None, service=None, *, with_collections: bool = True) -> Flask:
    """Build the app. Without `service`, one SearchService (and its models) is made on first use. With
    collections declared (IMGSEARCH_COLLECTIONS), the app also serves each under /c/<name>/ (webapp/collections.py)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes * 4 // 3 + BODY_OVERHEAD
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions["imgsearch_settings"] = settings
    if settings.proxy_hops:  # the address a trusted proxy saw, not the proxy's (a rate per address needs it)
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops)
    # Read (and checked) at start: a bad schema file stops the app here, not at the first search.
    registry = service.registry if service is not None else registry_for(settings)
    app.extensions["field_registry"] = registry
    app.extensions["search_service"] = _service_provider(settings, service, registry)
    # Remote originals (webapp/remote_originals.py): one thread-safe reader, its connections kept warm.
    app.extensions["remote_reader"] = RemoteReader(settings)

    # An id never starts with "_" (es_search/ids.py): /api/images/_bulk is no image, whatever the method.
    app.url_map.converters["doc_id"] = DocIdConverter
    from webapp import watchlist_api  # noqa: F401 - its routes join the writes blueprint (a write key for each)
    from webapp.api import api
    from webapp.pages import pages
    from webapp.probes import probes
    from webapp.writes import writes

    # The request id and timers first: every later check may refuse the request, and its answer is logged too.
    request_log.install(app)
    metrics.install(app)
    auth.install(app)
    key_session.install(app)
    overload.install(app)  # after the key check: a refused key costs no token
    app.register_blueprint(pages)
    app.register_blueprint(api, url_prefix="/api")
    app.register_blueprint(probes)
    app.register_blueprint(writes, url_prefix="/api")  # every write route, so one rule can guard them all
    app.register_error_handler(Exception, _handle_error)
    app.before_request(_choose_language)
    app.after_request(_finish_response)
    collections = load_collections(settings)
    app.extensions["collections"] = sorted(collections)
    if collections and with_collections:
        from webapp.collections import CollectionDispatcher

        app.wsgi_app = CollectionDispatcher(app.wsgi_app, collections, lambda name: create_app(
            collection_settings(settings, name), with_collections=False).wsgi_app)
    app.jinja_env.globals.update(t=_t, languages=i18n.LANGUAGES, language_link=_language_link, fields=registry,
                                 collection_links=_collection_links, key_entered=_key_entered,
                                 keys_for_reading=lambda: current_app.extensions["imgsearch_settings"].require_read_key,
                                 field_label=_field_label, face_search=faces_available())
    app.context_processor(lambda: {"request_": SearchRequest()})  # pages without a search still show the bar
    return app


class DocIdConverter(BaseConverter):
    regex = r"(?!_)[^/]+"


def _service_provider(settings: Settings, service, registry):
    """A function returning the app's service; built once per process, behind a lock."""
    lock = threading.Lock()
    holder = {"service": service}

    def provide():
        if holder["service"] is None:
            with lock:
                if holder["service"] is None:
                    from es_search.client import build_client
                    from es_search.search import SearchService

                    # Timed (webapp/metrics.py): each call to Elasticsearch, each encode call.
                    es = build_client(settings, node_class=metrics.TimedNode)
                    holder["service"] = SearchService(
                        es, settings, registry=registry,
                        text_encoder_factory=metrics.timed_factory("text", lambda s: _encoders().build_text_encoder(s, es)),
                        image_encoder_factory=metrics.timed_factory("image", lambda s: _encoders().build_image_encoder(s)),
                        image_bytes=lambda source: _image_bytes(source, settings))
        return holder["service"]

    return provide


def _image_bytes(source: dict, settings) -> bytes | None:
    """An indexed image's bytes for a region search, from where the gallery serves them: its original (a
    file under IMGSEARCH_IMAGE_ROOTS), else its thumbnail (a region of it still gives the model 224 px where
    the box is large); None when neither can be read."""
    from webapp.files import resolve_original, resolve_thumbnail

    found = resolve_original(source.get("paths") or [], settings.image_roots, source.get("format"))
    if found is None and isinstance(source.get("thumbnail"), str):
        found = resolve_thumbnail(settings.thumbnails_dir, source["thumbnail"])
    try:
        return found[0].read_bytes() if found else None
    except OSError:
        return None


def _encoders():
    import es_search.encoders  # the model libraries load with the first model, not with the app

    return es_search.encoders


def _t(key: str, **values) -> str:
    return i18n.translate(key, getattr(g, "lang", i18n.DEFAULT_LANGUAGE), **values)


def _field_label(spec) -> str:
    return spec.label_in(getattr(g, "lang", i18n.DEFAULT_LANGUAGE))


def _key_entered() -> bool:
    return bool(key_session.session_key())


def _collection_links() -> list[dict]:
    """The collection switcher's links (none with one collection, or where reads need a key: a visitor who may
    not read a collection should not learn its name)."""
    settings = current_app.extensions["imgsearch_settings"]
    names = current_app.extensions["collections"]
    if not names or settings.require_read_key:
        return []
    current = settings.collection or "default"
    root = request.script_root.removesuffix(f"/c/{current}") if current != "default" else request.script_root
    return [{"name": name, "href": f"{root}/" if name == "default" else f"{root}/c/{name}/",
             "current": name == current} for name in ["default", *names]]


def _language_link(code: str) -> str:
    """This page in another language; pages answering a POST link to the equivalent GET via `link`."""
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"] + [("lang", code)]
    path = request.path if request.method == "GET" else url_for("pages.search")
    return path + "?" + urlencode(pairs)


def _choose_language() -> None:
    accepted = [value for value, _ in request.accept_languages]
    g.lang = i18n.choose_language(request.args.get("lang"), request.cookies.get(i18n.COOKIE_NAME), accepted)


def _finish_response(response):
    wanted = i18n.normalise_language(request.args.get("lang"))
    if wanted and request.cookies.get(i18n.COOKIE_NAME) != wanted:
        response.set_cookie(i18n.COOKIE_NAME, wanted, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    # Nothing inline and nothing from elsewhere: scripts, styles and images come from this server only.
    # An image page whose original is a presigned redirect adds that storage origin (pages.image sets it).
    image_sources = " ".join(filter(None, ("'self' data:", getattr(g, "image_origin", None))))
    response.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'self'; img-src {image_sources}; script-src 'self'; style-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _handle_error(exc: BaseException):
    report = describe_error(exc)
    headers = {}
    if isinstance(exc, HTTPException):  # a 405 names the methods that are allowed (Allow), as HTTP asks
        headers = {name: value for name, value in exc.get_headers() if name.lower() != "content-type"}
    if report.status == 401:  # a 401 names the scheme that would be accepted (webapp/auth.py)
        headers["WWW-Authenticate"] = auth.SCHEME
    if getattr(exc, "retry_after", None) is not None:  # 429 and an overloaded 503: when to come back
        headers["Retry-After"] = retry_after_header(exc.retry_after)
    if request.path.startswith("/api/") or request.path == "/api":
        return jsonify(report.to_dict()), report.status, headers
    html = render_template("error.html", report=report)
    return html, report.status, headers
