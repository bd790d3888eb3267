"""Finding Java for the local node: version strings, release files, candidates. No node is started."""

from pathlib import Path

import pytest

from es_search.config import ES_MIN_JAVA, load_settings
from es_search.errors import NodeError
from es_search.node.java import (
    JavaRuntime,
    find_java,
    has_vector_module,
    java_candidates,
    java_major,
    parse_java_version,
    parse_release,
    version_from_java_output,
)


def _fake_jdk(home: Path, release: str | None, java_script: str = "#!/bin/sh\nexit 1\n") -> Path:
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text(java_script)
    (home / "bin" / "java").chmod(0o755)
    if release is not None:
        (home / "release").write_text(release)
    return home


@pytest.mark.parametrize(("version", "major"), [
    ("25.0.1", 25), ("21", 21), ("17.0.15", 17), ("1.8.0_392", 8), ("11.0.2+9", 11), ("unknown", None), ("", None),
])
def test_feature_version_is_read_from_new_and_old_version_strings(version, major):
    assert parse_java_version(version) == major


def test_version_is_found_in_what_java_prints():
    printed = 'openjdk version "21.0.4" 2024-07-16\nOpenJDK Runtime Environment Temurin-21.0.4+7 (build 21.0.4+7)\n'
    assert version_from_java_output(printed) == "21.0.4"
    assert version_from_java_output("Error: could not find libjava.so\n") is None


def test_release_file_lines_become_a_dict_with_quotes_removed():
    text = 'IMPLEMENTOR="Eclipse Adoptium"\nJAVA_VERSION="25.0.1"\nno equals sign here\nMODULES="java.base jdk.incubator.vector"\n'
    assert parse_release(text) == {"IMPLEMENTOR": "Eclipse Adoptium", "JAVA_VERSION": "25.0.1",
                                   "MODULES": "java.base jdk.incubator.vector"}


def test_java_major_reads_the_release_file_then_asks_the_binary(tmp_path):
    assert java_major(_fake_jdk(tmp_path / "a", 'JAVA_VERSION="22.0.2"\n')) == 22
    printing = "#!/bin/sh\necho 'openjdk version \"23.0.1\" 2024-10-15' >&2\n"
    assert java_major(_fake_jdk(tmp_path / "b", None, printing)) == 23
    assert java_major(tmp_path / "not-a-jdk") is None


def test_vector_module_is_required_only_when_the_module_list_says_it_is_missing(tmp_path):
    assert has_vector_module(_fake_jdk(tmp_path / "full", 'MODULES="java.base jdk.incubator.vector"\n')) is True
    assert has_vector_module(_fake_jdk(tmp_path / "trimmed", 'MODULES="java.base java.logging"\n')) is False
    assert has_vector_module(_fake_jdk(tmp_path / "silent", 'JAVA_VERSION="21"\n')) is True


def test_es_java_home_is_the_only_candidate_when_set_and_java_home_comes_first_otherwise(tmp_path):
    chosen = load_settings(env={}).with_overrides(es_java_home=str(tmp_path / "chosen"))
    assert java_candidates(chosen, {"JAVA_HOME": "/elsewhere"}) == [tmp_path / "chosen"]
    free = load_settings(env={}).with_overrides(es_java_home=None)
    assert java_candidates(free, {"JAVA_HOME": str(tmp_path / "jh")})[0] == tmp_path / "jh"


def test_a_full_jdk_named_by_es_java_home_is_used(tmp_path):
    home = _fake_jdk(tmp_path / "jdk", f'JAVA_VERSION="{ES_MIN_JAVA}.0.3"\nMODULES="java.base jdk.incubator.vector"\n')
    settings = load_settings(env={}).with_overrides(es_java_home=str(home))
    assert find_java(settings, environ={}) == JavaRuntime(home=home, major=ES_MIN_JAVA)


def test_a_folder_without_java_named_by_es_java_home_is_refused(tmp_path):
    settings = load_settings(env={}).with_overrides(es_java_home=str(tmp_path / "empty"))
    with pytest.raises(NodeError, match="holds no Java"):
        find_java(settings, environ={})
