"""`imgsearch config`: the effective settings, as every other command sees them, secrets hidden; `--reference`:
the settings reference of docs/configuration.md."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from es_search.cli.output import print_json
from es_search.config import Settings

SECRET_FIELDS = ("es_api_key", "es_password")


def visible_settings(settings: Settings) -> dict:
    """The settings as a dict fit to print. `public_dict()` (secrets masked by the settings themselves)
    when the settings offer it; otherwise every field, with the secret ones replaced by `***`."""
    public = getattr(settings, "public_dict", None)
    if callable(public):
        return public()
    values = asdict(settings)
    for secret in SECRET_FIELDS:
        if values.get(secret):
            values[secret] = "***"
    return values


def config_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.reference:
        from es_search.config_reference import reference_markdown

        print(reference_markdown())
        return 0
    print_json(visible_settings(settings))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="print the effective settings (secrets hidden)")
    parser.add_argument("--reference", action="store_true",
                        help="print every setting with its default and meaning (docs/configuration.md), as Markdown")
    parser.set_defaults(func=config_command)
