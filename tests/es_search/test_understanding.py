"""Dates and names in a query (es_search/search/understanding.py): a table of queries in English and Chinese
with the filters each must yield (and those that must yield none), then the service on a real node reading
titles and field values from the index."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest

from es_search.index import delete_index
from es_search.search import SearchService
from es_search.search.request import parse_search_request
from es_search.search.understanding import read_query, words_of
from tests.es_search.test_search_service import DIMS, QUERY, LookupEncoder, unit_at
from tests.support.planted_index import planted_index

TODAY = date(2026, 12, 6)  # a Sunday
VALUES = {"brand": ["Acme", "Nike", "Blue Harbor", "华为"], "category": ["shoes", "dresses"],
          "person": ["Alice Chen", "王芳"], "department": ["radiology", "心内科"]}
TITLES = ["2001: A Space Odyssey", "七月与安生", "Summer of 69", "September 2023 Newsletter", "Blade Runner 2049",
          "1917"]


def held_as_title(phrase: str, whole: bool) -> bool:
    """The collection's titles, as the service's phrase search over them answers."""
    wanted = words_of(phrase)
    if whole:
        return any(words_of(title) == wanted for title in TITLES)
    return any(words_of(title)[i:i + len(wanted)] == wanted for title in TITLES for i in range(len(words_of(title))))


def filters_of(reading) -> list[str]:
    return [f"{p.param}={p.value}" if p.kind == "value" else f"{p.param}={p.start or ''}..{p.end or ''}"
            for p in reading.pieces]


# (query, the words left to search by meaning, the filters in the order their words come)
TABLE = [
    ('beach July 2023', 'beach', ['date=2023-07-01..2023-07-31']),
    ('July 2023', '', ['date=2023-07-01..2023-07-31']),
    ('2023', '', ['date=2023-01-01..2023-12-31']),
    ('in 2019', '', ['date=2019-01-01..2019-12-31']),
    ('dog in 2019', 'dog', ['date=2019-01-01..2019-12-31']),
    ('photos from 2019', 'photos', ['date=2019-01-01..2019-12-31']),
    ('March 5, 2023 party', 'party', ['date=2023-03-05..2023-03-05']),
    ('5 March 2023', '', ['date=2023-03-05..2023-03-05']),
    ('2023-07-05', '', ['date=2023-07-05..2023-07-05']),
    ('2019-07', '', ['date=2019-07-01..2019-07-31']),
    ('7/2023', '', ['date=2023-07-01..2023-07-31']),
    ('Jan. 2020 snow', 'snow', ['date=2020-01-01..2020-01-31']),
    ('yesterday', '', ['date=2026-12-05..2026-12-05']),
    ('today at the park', 'at the park', ['date=2026-12-06..2026-12-06']),
    ('last week', '', ['date=2026-11-23..2026-11-29']),
    ('this month', '', ['date=2026-12-01..2026-12-31']),
    ('last year', '', ['date=2025-01-01..2025-12-31']),
    ('past year', '', ['date=2025-01-01..2025-12-31']),
    ('3 weeks ago', '', ['date=2026-11-09..2026-11-15']),
    ('two years ago', '', ['date=2024-01-01..2024-12-31']),
    ('last summer', '', ['date=2026-06-01..2026-08-31']),
    ('this winter', '', ['date=2026-12-01..2027-02-28']),
    ('summer 2022', '', ['date=2022-06-01..2022-08-31']),
    ('winter of 2021', '', ['date=2021-12-01..2022-02-28']),
    ('last july', '', ['date=2026-07-01..2026-07-31']),
    ('between March and May', '', ['date=2026-03-01..2026-05-31']),
    ('between November and February', '', ['date=2025-11-01..2026-02-28']),
    ('from 2019 to 2021', '', ['date=2019-01-01..2021-12-31']),
    ('between March 2020 and June 2021', '', ['date=2020-03-01..2021-06-30']),
    ('since 2020', '', ['date=2020-01-01..']),
    ('after 2020', '', ['date=2021-01-01..']),
    ('before 2010', '', ['date=..2009-12-31']),
    ('nike shoes from 2019 to 2021', 'nike shoes', ['brand=Nike', 'category=shoes', 'date=2019-01-01..2021-12-31']),
    ('acme red shoes', 'red', ['brand=Acme', 'category=shoes']),
    ('ACME shoes', 'ACME shoes', ['brand=Acme', 'category=shoes']),
    ('blue harbor jacket', 'jacket', ['brand=Blue Harbor']),
    ('alice chen at the beach', 'at the beach', ['person=Alice Chen']),
    ('radiology chest 2022', 'chest', ['department=radiology', 'date=2022-01-01..2022-12-31']),
    ('2023年7月', '', ['date=2023-07-01..2023-07-31']),
    ('2023年7月5日', '', ['date=2023-07-05..2023-07-05']),
    ('2023年', '', ['date=2023-01-01..2023-12-31']),
    ('2023年七月', '', ['date=2023-07-01..2023-07-31']),
    ('雪山 去年', '雪山', ['date=2025-01-01..2025-12-31']),
    ('去年', '', ['date=2025-01-01..2025-12-31']),
    ('今年', '', ['date=2026-01-01..2026-12-31']),
    ('前年', '', ['date=2024-01-01..2024-12-31']),
    ('去年夏天的雪山', '雪山', ['date=2025-06-01..2025-08-31']),
    ('前年冬天', '', ['date=2024-12-01..2025-02-28']),
    ('去年7月', '', ['date=2025-07-01..2025-07-31']),
    ('今年三月 花', '花', ['date=2026-03-01..2026-03-31']),
    ('上个月 猫', '猫', ['date=2026-11-01..2026-11-30']),
    ('这个月', '', ['date=2026-12-01..2026-12-31']),
    ('本周', '', ['date=2026-11-30..2026-12-06']),
    ('上周', '', ['date=2026-11-23..2026-11-29']),
    ('昨天', '', ['date=2026-12-05..2026-12-05']),
    ('前天', '', ['date=2026-12-04..2026-12-04']),
    ('三天前', '', ['date=2026-12-03..2026-12-03']),
    ('两年前', '', ['date=2024-01-01..2024-12-31']),
    ('3月到5月', '', ['date=2026-03-01..2026-05-31']),
    ('2020年到2022年', '', ['date=2020-01-01..2022-12-31']),
    ('从2023年3月到5月', '', ['date=2023-03-01..2023-05-31']),
    ('2020年以来', '', ['date=2020-01-01..']),
    ('2010年之前', '', ['date=..2009-12-31']),
    ('在2019年 长城', '长城', ['date=2019-01-01..2019-12-31']),
    ('华为手机 2022年', '手机', ['brand=华为', 'date=2022-01-01..2022-12-31']),
    ('王芳 去年', '王芳', ['person=王芳', 'date=2025-01-01..2025-12-31']),
    ('心内科 2024年', '心内科', ['department=心内科', 'date=2024-01-01..2024-12-31']),
    ('2001: A Space Odyssey', '2001: A Space Odyssey', []),
    ('2001 a space odyssey poster', '2001 a space odyssey poster', []),
    ('七月与安生', '七月与安生', []),
    ('Summer of 69', 'Summer of 69', []),
    ('September 2023 Newsletter', 'September 2023 Newsletter', []),
    ('Blade Runner 2049', 'Blade Runner 2049', []),
    ('1917', '1917', []),
    ('2000 pieces puzzle', '2000 pieces puzzle', []),
    ('2023 px wallpaper', '2023 px wallpaper', []),
    ('1080p 2023', '1080p', ['date=2023-01-01..2023-12-31']),
    ('July', 'July', []),
    ('summer', 'summer', []),
    ('七月', '七月', []),
    ('July 4', 'July 4', []),
    ('may flowers', 'may flowers', []),
    ('march of the penguins', 'march of the penguins', []),
    ('sunday morning', 'sunday morning', []),
    ('2030', '2030', []),
    ('1850', '1850', []),
    ('spring', 'spring', []),
    ('in the fall', 'in the fall', []),
    ('the 90s', 'the 90s', []),
    ('2019年的长城', '长城', ['date=2019-01-01..2019-12-31']),
    ('去年的 acme 鞋', '鞋', ['date=2025-01-01..2025-12-31', 'brand=Acme']),
    ("last year's acme shoes", 'acme shoes', ['date=2025-01-01..2025-12-31', 'brand=Acme', 'category=shoes']),
    ('shoes last summer', 'shoes', ['category=shoes', 'date=2026-06-01..2026-08-31']),
    ('夏天的海边', '夏天的海边', []),
    ('三月 樱花', '三月 樱花', []),
    ('七月的雨', '七月的雨', []),
    ('2030年', '2030年', []),
    ('iPhone 15 2023', 'iPhone 15', ['date=2023-01-01..2023-12-31']),
    ('2024 calendar', 'calendar', ['date=2024-01-01..2024-12-31']),
]


@pytest.mark.parametrize(("query", "words", "filters"), TABLE, ids=[row[0] for row in TABLE])
def test_the_query_table(query, words, filters):
    reading = read_query(query, today=TODAY, values=VALUES, is_title=held_as_title)
    assert (reading.text, filters_of(reading)) == (words, filters)


def test_the_table_is_wide_enough():
    chinese = [row for row in TABLE if any("\u3400" <= c <= "\u9fff" for c in row[0])]
    refused = [row for row in TABLE if not row[2]]
    assert len(TABLE) >= 60 and len(chinese) >= 25 and len(refused) >= 15


def test_a_removed_piece_stays_words_and_a_given_filter_wins():
    kept = read_query("acme shoes July 2023", today=TODAY, values=VALUES, as_text=["July 2023"])
    assert (kept.text, filters_of(kept)) == ("July 2023", ["brand=Acme", "category=shoes"])
    given = read_query("acme shoes July 2023", today=TODAY, values=VALUES, skip=frozenset({"date", "brand"}))
    assert (given.text, filters_of(given)) == ("acme July 2023", ["category=shoes"])


def test_one_date_at_most_and_the_first_in_priority():
    reading = read_query("between 2019 and 2020 not 2022", today=TODAY)
    assert filters_of(reading) == ["date=2019-01-01..2020-12-31"] and reading.text == "not 2022"


def test_relative_dates_move_with_today():
    assert filters_of(read_query("last summer", today=date(2026, 7, 15))) == ["date=2025-06-01..2025-08-31"]
    assert filters_of(read_query("last july", today=date(2026, 7, 15))) == ["date=2025-07-01..2025-07-31"]
    assert filters_of(read_query("between March and May", today=date(2026, 2, 1))) == ["date=2025-03-01..2025-05-31"]
    assert filters_of(read_query("2027", today=date(2026, 12, 6))) == [], "a year to come is not a photo's"


# --------------------------------------------------------------------------- the service on a real node

DOCS = {
    "a": (0.95, dict(title="2001: A Space Odyssey", brand="Acme", taken_at="2023-07-10T10:00:00Z")),
    "b": (0.90, dict(title="七月与安生", brand="Nike", taken_at="2023-07-20T10:00:00Z")),
    "c": (0.85, dict(title="beach day", brand="Acme", taken_at="2022-05-01T10:00:00Z")),
    "d": (0.80, dict(title="1917", brand="Blue Harbor", file_modified_at="2023-07-02T00:00:00Z")),
    "e": (0.75, dict(title="city", brand="Nike", taken_at="2019-01-01T00:00:00Z")),
}
SCHEMA = [{"name": "brand", "type": "keyword", "facet": True}]


@pytest.fixture(scope="module")
def shop(es, base_settings, tmp_path_factory):
    documents = {name * 64: (unit_at(cosine, 1 + n), fields) for n, (name, (cosine, fields)) in enumerate(DOCS.items())}
    settings = planted_index(es, base_settings, tmp_path_factory.mktemp("understood"), SCHEMA, documents, DIMS,
                             "test-understand")
    encoder = LookupEncoder(defaultdict(lambda: QUERY))  # every text alike: the filters make the difference
    yield SearchService(es, settings, text_encoder=encoder)
    delete_index(es, settings.index_alias)


def search(service, **params):
    return service.search(parse_search_request(params, service.settings, service.registry))


def names(result) -> list[str]:
    return [hit.id[0] for hit in result.hits]


def test_a_date_and_a_brand_become_filters_and_the_answer_says_so(shop):
    result = search(shop, q="acme beach July 2023")
    assert names(result) == ["a"], "Acme's images of July 2023"
    assert result.request.text == "acme beach July 2023" and result.request.filters.is_empty(), "links keep the query"
    query = result.to_dict()["query"]
    assert query["understood"] == [
        {"text": "acme", "kind": "value", "param": "brand", "value": "Acme"},
        {"text": "July 2023", "kind": "date", "param": "date", "from": "2023-07-01", "to": "2023-07-31"}]
    assert ("q", "acme beach July 2023") in result.request.to_params()


def test_a_date_alone_browses_that_time_and_the_file_date_stands_in(shop):
    result = search(shop, q="2023年7月")
    assert result.kind == "browse" and sorted(names(result)) == ["a", "b", "d"], "d by its file date"


def test_titles_made_of_date_words_are_read_as_words(shop):
    for title in ("2001: A Space Odyssey", "七月与安生", "1917"):
        result = search(shop, q=title)
        assert result.understood == () and result.kind == "text" and len(result.hits) == len(DOCS), title


def test_literal_and_a_removed_chip_turn_the_reading_off(shop):
    assert names(search(shop, q="acme beach July 2023", literal="true")) == ["a", "b", "c", "d", "e"]
    kept = search(shop, q="acme beach July 2023", as_text="July 2023")
    assert names(kept) == ["a", "c"] and [p.text for p in kept.understood] == ["acme"]
    assert ("as_text", "July 2023") in kept.request.to_params()


def test_a_filter_given_is_not_taken_from_the_words(shop):
    result = search(shop, q="nike beach", brand="Acme")
    assert names(result) == ["a", "c"] and result.understood == ()


def test_only_values_the_index_holds_are_understood(shop):
    assert search(shop, q="nike beach").understood[0].value == "Nike"
    shop.es.delete(index=shop.settings.index_alias, id="b" * 64, refresh="wait_for")
    shop.es.delete(index=shop.settings.index_alias, id="e" * 64, refresh="wait_for")
    shop.forget_field_values()  # what VALUES_TTL_S does within a minute
    result = search(shop, q="nike beach")
    assert result.understood == () and result.kind == "text"


def test_the_setting_turns_it_off(shop):
    off = SearchService(shop.es, shop.settings.with_overrides(understand_queries=False),
                        text_encoder=shop.text_encoder)
    result = search(off, q="acme beach 2022")
    assert result.understood == () and len(result.hits) == 3, "b and e were deleted above: a, c and d remain"
