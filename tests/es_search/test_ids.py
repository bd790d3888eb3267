"""The one id rule, for records, writes and reads; its pattern is the one the OpenAPI document declares."""

from __future__ import annotations

import re

import pytest

from es_search.ids import ID_PATTERN, ID_RULE, BadId, check_doc_id


@pytest.mark.parametrize("good", ["a", "SKU-0001", "产品-7", "1.2.840.10008.1", "0" * 64, "x" * 128, "a_b.c:d@e"])
def test_good_ids_pass_as_they_are(good):
    assert check_doc_id(good) == good
    assert re.fullmatch(ID_PATTERN, good)


@pytest.mark.parametrize("bad", ["", " a", "a b", "a/b", "tab\there", "_bulk", ".", "..", ".hidden", "x" * 129,
                                 "line\n", "nul\x00", "zero\u200awidth", "lone \ud800", 12, None])
def test_bad_ids_are_refused_with_the_one_message(bad):
    with pytest.raises(BadId, match=re.escape(ID_RULE)):
        check_doc_id(bad)
    if isinstance(bad, str) and "\ud800" not in bad:
        assert not re.fullmatch(ID_PATTERN, bad)


def test_an_id_is_at_most_512_bytes_in_any_script():
    assert len(check_doc_id("𠀀" * 128).encode()) == 512
