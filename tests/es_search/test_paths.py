"""relative_path: a path relative to the deepest image root holding it, the full path otherwise."""

from __future__ import annotations

import ntpath

from es_search.paths import relative_path, relative_paths


def test_a_path_under_a_root_is_relative_to_it():
    assert relative_path("/photos/2024/beach.jpg", ["/photos"]) == "2024/beach.jpg"


def test_the_deepest_root_wins_whatever_the_order():
    roots = ["/photos", "/photos/2024"]
    assert relative_path("/photos/2024/trip/beach.jpg", roots) == "trip/beach.jpg"
    assert relative_path("/photos/2024/trip/beach.jpg", roots[::-1]) == "trip/beach.jpg"
    assert relative_path("/photos/2023/cat.jpg", roots) == "2023/cat.jpg"


def test_a_path_outside_every_root_keeps_its_full_path():
    assert relative_path("/elsewhere/cat.jpg", ["/photos"]) == "/elsewhere/cat.jpg"
    assert relative_path("/elsewhere/cat.jpg", []) == "/elsewhere/cat.jpg"


def test_a_sibling_with_a_common_prefix_is_not_inside():
    assert relative_path("/photos-old/cat.jpg", ["/photos"]) == "/photos-old/cat.jpg"


def test_a_trailing_separator_on_a_root_is_ignored():
    assert relative_path("/photos/a/b.jpg", ["/photos/"]) == "a/b.jpg"


def test_a_root_that_is_the_file_itself_does_not_hold_it():
    assert relative_path("/photos/cat.jpg", ["/photos/cat.jpg"]) == "/photos/cat.jpg"
    assert relative_path("/photos/cat.jpg", ["/photos/cat.jpg", "/photos"]) == "cat.jpg"


def test_the_filesystem_root_holds_everything():
    assert relative_path("/cat.jpg", ["/"]) == "cat.jpg"


def test_windows_separators():
    assert relative_path(r"C:\photos\2024\a.jpg", [r"C:\photos"], sep=ntpath.sep) == r"2024\a.jpg"


def test_relative_paths_keeps_the_order_of_paths():
    paths = ["/b/x.jpg", "/a/y/z.jpg", "/c/w.jpg"]
    assert relative_paths(paths, ["/a", "/b"]) == ["x.jpg", "y/z.jpg", "/c/w.jpg"]
