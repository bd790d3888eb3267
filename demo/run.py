"""`imgsearch demo`: sample images into the data folder, indexed end to end, with the real models if they load.

When the configured models cannot be loaded (no internet and no local copy), the demo says so loudly and
runs with tiny random models, in an index of its own, for this command only: `imgsearch ingest` never
swaps models. The models and index the demo used are written to DATA_DIR/demo.env so the web app that
`make run` starts next (`imgsearch web --demo`) can use the very same ones, and serve the sample files
themselves from DATA_DIR/samples.
"""

from __future__ import annotations

import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

from es_search.config import DEFAULT_IMAGE_MODEL, DEFAULT_TEXT_MODEL, Settings

TINY_ALIAS_SUFFIX = "-tiny-demo"


def demo_env_path(settings: Settings) -> Path:
    """Where the demo records the settings it ran with (shell- and dotenv-readable KEY=value lines)."""
    return settings.demo_env_file


def samples_dir(settings: Settings) -> Path:
    """Where the demo writes its sample images; `imgsearch web --demo` serves originals from here."""
    return settings.samples_dir


def demo_env_lines(settings: Settings, tiny: bool) -> list[str]:
    """Pure: the lines of demo.env for the settings the demo used."""
    values = {
        "IMGSEARCH_IMAGE_MODEL": settings.image_model,
        "IMGSEARCH_TEXT_MODEL": settings.text_model,
        "IMGSEARCH_IMAGE_BACKEND": settings.image_backend,
        "IMGSEARCH_TEXT_BACKEND": settings.text_backend,
        "IMGSEARCH_INDEX_ALIAS": settings.index_alias,
    }
    if settings.fields_file is not None:  # the shop's business fields, or the user's own schema
        values["IMGSEARCH_FIELDS"] = str(settings.fields_file)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    kind = "TINY RANDOM models (real weights unavailable)" if tiny else "the configured models"
    return ([f"# Written by `imgsearch demo` at {stamp}: it ran with {kind}.",
             "# The web app must search with the same models and index: load these after .env."]
            + [f"{key}={shlex.quote(value)}" for key, value in values.items()])


def tiny_demo_settings(settings: Settings, image_dir: Path, text_dir: Path) -> Settings:
    """The demo's own settings for the tiny models: a separate index, so real and random vectors never mix."""
    alias = settings.index_alias if settings.index_alias.endswith(TINY_ALIAS_SUFFIX) \
        else settings.index_alias + TINY_ALIAS_SUFFIX
    return settings.with_overrides(image_model=str(image_dir), text_model=str(text_dir), image_backend="torch",
                                   text_backend="local", index_alias=alias)


def unavailable_notice(reason: str, settings: Settings) -> str:
    """The loud, multi-line notice printed when the real weights cannot be loaded."""
    bar = "=" * 78
    return "\n".join([
        bar,
        "  THE REAL MODEL WEIGHTS ARE NOT AVAILABLE",
        f"  {reason}",
        "",
        "  The demo goes on with TINY RANDOM models: the pipeline, the index, the web app and the",
        "  colour / category / date filters all work, but search results carry NO MEANING.",
        "",
        "  To use the real models without internet: on a machine that has it, run",
        "    python -c \"from sentence_transformers import SentenceTransformer as S; "
        f"S('{DEFAULT_IMAGE_MODEL}').save('{DEFAULT_IMAGE_MODEL}'); "
        f"S('{DEFAULT_TEXT_MODEL}').save('{DEFAULT_TEXT_MODEL}')\"",
        "  copy the two folders here, and put in .env:",
        f"    IMGSEARCH_IMAGE_MODEL=/path/to/{DEFAULT_IMAGE_MODEL}",
        f"    IMGSEARCH_TEXT_MODEL=/path/to/{DEFAULT_TEXT_MODEL}",
        "  then run `make run` again.",
        f"  (configured now: IMGSEARCH_IMAGE_MODEL={settings.image_model}, IMGSEARCH_TEXT_MODEL={settings.text_model})",
        bar,
    ])


def run_demo(settings: Settings, force_tiny: bool = False, progress: bool = True) -> int:
    """Samples → models (real, else tiny with a notice) → index → ingest the samples, then the print shop's
    catalogue over them → demo.env. Returns an exit code."""
    from demo.catalogue import SOURCE, place_products, with_shop_fields
    from demo.samples import ensure_samples, sample_metadata
    from es_search.client import build_client, check_cluster
    from ingest.cli import exit_code
    from ingest.report import format_summary
    from ingest.runner import run_ingest, run_records_ingest

    settings, shop = with_shop_fields(settings)
    es = build_client(settings)
    check_cluster(es, settings)
    folder = samples_dir(settings)
    samples = ensure_samples(folder)
    print(f"{len(samples)} sample images in {folder}")

    tiny = force_tiny
    encoders = None
    if not force_tiny:
        print("checking that the configured models load ...", flush=True)
        encoders, reason = load_real_models(settings, es)
        if encoders is None:
            print(unavailable_notice(reason, settings), file=sys.stderr, flush=True)
            tiny = True
    if tiny:
        from es_search.tiny_model import make_tiny_models

        image_dir, text_dir = make_tiny_models(settings.data_dir / "models")
        settings = tiny_demo_settings(settings, image_dir, text_dir)
        print(f"using tiny random models from {image_dir.parent} (index alias {settings.index_alias!r})")
    image_encoder, text_encoder = encoders if encoders else (None, None)

    env_file = demo_env_path(settings)
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_text("\n".join(demo_env_lines(settings, tiny)) + "\n", encoding="utf-8")

    summary = run_ingest(settings, [folder], es=es, image_encoder=image_encoder, text_encoder=text_encoder,
                         progress=progress, metadata_for=sample_metadata, log=print)
    print(format_summary(summary))
    if summary.stopped is None and shop:
        print("the print shop's catalogue (brand, price, in stock, collection) over the samples:")
        summary = run_records_ingest(settings, place_products(folder), source=SOURCE, es=es,
                                     image_encoder=image_encoder, text_encoder=text_encoder, progress=progress)
        print(format_summary(summary))
    elif not shop:
        print(f"note: IMGSEARCH_FIELDS is set ({settings.fields_file}); the demo's print-shop catalogue, which "
              "needs its own fields, is skipped")
    print(f"demo settings written to {env_file}; `imgsearch web --demo` (what `make run` starts next) serves "
          f"them at http://{settings.web_host}:{settings.web_port}")
    return exit_code(summary)


def load_real_models(settings: Settings, es) -> tuple[tuple | None, str]:
    """((image encoder, text encoder), "") when both configured models load and encode, else (None, reason)."""
    from es_search.encoders import EncoderUnavailable, build_image_encoder, build_text_encoder

    # Loading is quick to fail without the internet: the encoders check the local cache, then the hub's reachability.
    try:
        from PIL import Image

        image_encoder = build_image_encoder(settings)
        image_encoder.encode_images([Image.new("RGB", (32, 32), (128, 128, 128))])
        text_encoder = build_text_encoder(settings, es)
        text_encoder.encode_texts(["a photo"])
    except EncoderUnavailable as exc:
        return None, str(exc).split(". ")[0]
    return (image_encoder, text_encoder), ""
