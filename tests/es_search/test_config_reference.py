"""The settings reference is generated from the settings model, and kept: a setting without words, or a page
out of step with the model, fails here (as datasette tests its own options)."""

from __future__ import annotations

from es_search.config import REPO_ROOT, Settings, env_name_of
from es_search.config_reference import GROUPS, HELP, reference_markdown

PAGE = REPO_ROOT / "docs" / "configuration.md"
START = "<!-- settings reference: generated, do not edit by hand -->\n"
END = "<!-- end of the settings reference -->"


def test_every_setting_has_its_words_and_its_group():
    assert set(HELP) == set(Settings.model_fields), "describe every setting in es_search/config_reference.py"
    assert all(group in GROUPS and text.endswith(".") for group, text in HELP.values())


def test_the_page_is_the_generated_reference():
    page = PAGE.read_text(encoding="utf-8")
    generated = page.split(START, 1)[1].split(END, 1)[0]
    assert generated == reference_markdown(), "run `imgsearch config --reference` into docs/configuration.md"
    for name in Settings.model_fields:
        assert f"`{env_name_of(name)}`" in generated
