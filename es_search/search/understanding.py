"""Dates and names in a query: the pieces of a search text that are filters rather than meaning.

"beach July 2023" searches "beach" among the images of July 2023; "acme red shoes" searches "red shoes"
among Acme's images when `brand` is an understood field holding the value Acme. Each piece found is reported
(the gallery shows it as a removable chip) and can be read back as words: `as_text` names the pieces to
leave alone, `literal` turns the whole reading off.

Dates, in English and Chinese:

- a year, a month of a year, a day ("2023", "July 2023", "2023-07", "7/2023", "March 5, 2023", "2023年7月",
  "2023年7月5日");
- relative ones ("yesterday", "last week", "this month", "last year", "3 weeks ago", "昨天", "上个月", "去年",
  "前年", "三天前"), a month or season of a relative or given year ("last July", "去年7月", "last summer",
  "summer 2022", "2022年夏天", "去年冬天");
- spans and open ends ("between March and May", "from 2019 to 2021", "3月到5月", "since 2020", "before 2010",
  "2020年以来", "2010年之前").

What it refuses to guess: a month, day or season with no year and no "last" or "this" before it ("July",
"summer", "七月", "July 4"), since any July would need a month-of-year field; two-digit years; years before
1900 and anything starting in the future; decades ("the 90s"); a year followed by a unit ("2000 pieces",
"2023 px"); and a date whose words are a title the collection holds ("1917"), or with a word beside them part
of one ("2001: A Space Odyssey", "September 2023 Newsletter") (`is_title`). A season is the northern hemisphere's (spring March to May, summer June to August, autumn
September to November, winter December to February). Weeks start on Monday. A span is turned into dates by
`dateparser` (two languages, relative expressions, many formats, no network) after this module has found it.

Values of understood fields (a brand, a category, a tag, a person): a value written as whole words (any case),
or inside Chinese text, becomes a filter by that field; the longest value wins where values overlap.

Pure: the caller gives the field values and the title check.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

DATE_PARAM = "date"  # the date filter a date in the query narrows (taken_at, by file date where unknown)
MIN_YEAR = 1900
MIN_VALUE_CHARS = 2

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_YEAR = r"(?:19|20)\d{2}"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_NUM = r"(?:\d+|[一二两三四五六七八九十]+)"
_SEASON = r"(?:spring|summer|autumn|fall|winter)"
_EN_DATE = (rf"(?:{_MONTH}\s+{_DAY},?\s+{_YEAR}|{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}|{_MONTH},?\s+(?:of\s+)?{_YEAR}"
            rf"|{_YEAR}[-/.]\d{{1,2}}(?:[-/]\d{{1,2}})?|\d{{1,2}}/{_YEAR}|{_YEAR})")
_EN_END = rf"(?:{_MONTH}(?:\s+{_DAY})?(?:,?\s+{_YEAR})?|{_YEAR})"
_ZH_YEAR = rf"(?:{_YEAR}年|去年|今年|前年)"
_ZH_SMALL = r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})"  # a month's or a day's number, in digits or characters
_ZH_MONTH = rf"{_ZH_SMALL}月"
_ZH_DATE = rf"(?:{_ZH_YEAR}(?:{_ZH_MONTH}(?:{_ZH_SMALL}[日号])?)?)"
_ZH_END = rf"(?:{_ZH_YEAR}?{_ZH_MONTH}|{_ZH_YEAR})"
_ZH_SEASON = r"(?:春|夏|秋|冬)(?:天|季)"
_ZH_RELATIVE = rf"(?:上个月|本月|这个月|上周|本周|这周|上星期|这星期|昨天|今天|前天|{_NUM}(?:天|周|个星期|个月|年)前)"
_EN_RELATIVE = (r"(?:yesterday|today|(?:this|last|past|previous)\s+(?:week|month|year)"
                r"|(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:days?|weeks?|months?|years?)\s+ago)")
_AT = r"(?<![A-Za-z0-9])"  # a Latin word's edges (Chinese text has no spaces: a CJK neighbour is fine)
_TO = r"(?![A-Za-z0-9])"
_LEAD = r"(?:(?:taken\s+|shot\s+)?(?:in|on|during|from)\s+)?"
_OWN = r"(?:['’]s)?"  # last year's
UNIT_WORDS = frozenset({"x", "px", "pixels", "piece", "pieces", "pcs", "mm", "cm", "m", "km", "kg", "g", "mg", "ml",
                        "l", "mah", "w", "kw", "mb", "gb", "tb", "ft", "in", "lumens", "lm", "k", "dpi", "rpm",
                        "calories", "kcal", "words", "steps", "meters", "miles", "feet", "yen", "usd", "元", "个"})

# (name, pattern): tried in this order; a span taken by one is not read again.
_PATTERNS = [
    ("zh_span", rf"从?({_ZH_END})(?:到|至|~|-|—)({_ZH_END})(?:之间|期间)?"),
    ("zh_since", rf"自?({_ZH_DATE})(?:以来|之后|以后)"),
    ("zh_before", rf"({_ZH_DATE})(?:以前|之前)"),
    ("zh_season", rf"在?({_ZH_YEAR})的?({_ZH_SEASON})"),
    ("zh_date", rf"在?({_ZH_DATE})"),
    ("zh_relative", rf"在?({_ZH_RELATIVE})"),
    ("en_span", rf"{_AT}(?:between|from)\s+({_EN_END})\s+(?:and|to|until|till|through|-)\s+({_EN_END}){_TO}"),
    ("en_since", rf"{_AT}(since|after)\s+({_EN_DATE}){_TO}"),
    ("en_before", rf"{_AT}before\s+({_EN_DATE}){_TO}"),
    ("en_season", rf"{_AT}{_LEAD}(?:(last|this|past)\s+({_SEASON})|({_SEASON})\s+(?:of\s+)?({_YEAR})){_OWN}{_TO}"),
    ("en_month", rf"{_AT}{_LEAD}(last|this)\s+({_MONTH}){_OWN}{_TO}"),
    ("en_relative", rf"{_AT}{_LEAD}({_EN_RELATIVE}){_OWN}{_TO}"),
    ("en_date", rf"{_AT}{_LEAD}({_EN_DATE}){_OWN}{_TO}"),
]
_COMPILED = [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in _PATTERNS]
_ZH_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_EN_NUMBERS = {"a": "1", "an": "1", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
               "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
_SEASON_MONTHS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12, "春": 3, "夏": 6, "秋": 9, "冬": 12}
_CJK = re.compile(r"[\u3400-\u9fff]")
_SPACES = re.compile(r"\s+")
_EDGE_JUNK = re.compile(r"^[\s,.;:!?，。；：！？、]*的?|[\s,.;:!?，。；：！？、的]+$")

DateRange = tuple[date | None, date | None]


@dataclass(frozen=True)
class Piece:
    """One understood piece of the query: its words as typed, and the filter they mean."""

    text: str
    param: str
    kind: str  # date | value
    value: str | None = None  # kind value: the field's value as the index holds it
    start: date | None = None  # kind date: the first day (None: open)
    end: date | None = None  # kind date: the last day (None: open)
    span: tuple[int, int] = (0, 0)

    def to_dict(self) -> dict:
        data = {"text": self.text, "kind": self.kind, "param": self.param}
        if self.kind == "value":
            data["value"] = self.value
        else:
            data.update({"from": self.start.isoformat() if self.start else None,
                         "to": self.end.isoformat() if self.end else None})
        return data


@dataclass(frozen=True)
class Reading:
    text: str  # what remains to be searched by meaning ("" when nothing)
    pieces: tuple[Piece, ...]


def read_query(text: str, *, today: date, values: Mapping[str, Sequence[str]] = {},
               is_title: Callable[[str, bool], bool] = lambda phrase, whole: False, as_text: Sequence[str] = (),
               skip: frozenset[str] = frozenset(), date_param: str = DATE_PARAM) -> Reading:
    """The pieces of `text` that are a date (one at most) or a value of an understood field (`values`: each
    filter parameter's values), and the words that remain. A piece named in `as_text` and a parameter in
    `skip` (the request already filters by it) are left alone. `is_title(phrase, whole)`: whether a title the
    collection holds is `phrase` (whole) or has its words in this order."""
    kept = {piece.casefold().strip() for piece in as_text}
    pieces: list[Piece] = []
    if date_param not in skip:
        found = _find_date(text, today, is_title, kept, date_param)
        if found:
            pieces.append(found)
    pieces += _find_values(text, values, [p.span for p in pieces], kept, skip)
    if not pieces:
        return Reading(text=text, pieces=())
    remaining = _without(text, [p.span for p in pieces])
    if not remaining:
        # Nothing but names (and a date): the names stay words too, so the results are ranked by them.
        remaining = _without(text, [p.span for p in pieces if p.kind == "date"])
    return Reading(text=remaining, pieces=tuple(sorted(pieces, key=lambda p: p.span)))


# --------------------------------------------------------------------------- dates


def _find_date(text: str, today: date, is_title, kept: set[str], param: str) -> Piece | None:
    for name, pattern in _COMPILED:
        for match in pattern.finditer(text):
            words = match.group(0).strip()
            if words.casefold() in kept or _unit_follows(text, match) or _in_title(text, match, is_title):
                continue
            found = _resolve(name, match, today)
            if found is None:
                continue
            start, end = found
            if start is not None and (start > today or start.year < MIN_YEAR):
                continue
            return Piece(text=words, param=param, kind="date", start=start, end=end, span=match.span())
    return None


def _resolve(name: str, match: re.Match, today: date) -> DateRange | None:
    groups = match.groups()
    if name in ("zh_span", "en_span"):
        return _span(groups[0], groups[1], today)
    if name == "en_since":
        period = _period(groups[1], today)
        if period is None:
            return None
        return (period[0] if groups[0].lower() == "since" else period[1] + timedelta(days=1)), None
    if name in ("zh_since", "en_before", "zh_before"):
        period = _period(groups[0], today)
        if period is None:
            return None
        return (period[0], None) if name == "zh_since" else (None, period[0] - timedelta(days=1))
    if name == "zh_season":
        year = _zh_year(groups[0], today)
        return _season(groups[1][0], year) if year else None
    if name == "en_season":
        which, season, season2, year = groups
        if season2:
            return _season(season2.lower(), int(year))
        return _relative_season(season.lower(), which.lower(), today)
    if name == "en_month":
        which, month = groups
        number = _month_number(month)
        if number is None:
            return None
        year = today.year if which.lower() == "this" or number < today.month else today.year - 1
        return _month_range(year, number)
    return _period(groups[0], today)


def _span(first: str, second: str, today: date) -> DateRange | None:
    """From the start of one date to the end of the other; months without a year take the other end's year,
    else the latest such span that has begun."""
    a, b = _period(first, today, any_month=True), _period(second, today, any_month=True)
    if a is None or b is None:
        return None
    a_year, b_year = _has_year(first), _has_year(second)
    start, end = a[0], b[1]
    if not a_year and b_year:
        start = start.replace(year=end.year)
    elif a_year and not b_year:
        end = _month_range(start.year, end.month)[1] if end.day >= 28 else end.replace(year=start.year)
    elif not a_year and not b_year:
        if start > today:
            start, end = start.replace(year=start.year - 1), end.replace(year=end.year - 1)
    if end < start:
        if not a_year:
            start = start.replace(year=start.year - 1)
        else:
            return None
    return start, end


def _period(expression: str, today: date, any_month: bool = False) -> DateRange | None:
    """The days one date expression covers. `any_month`: a month with no year is allowed (this year's)."""
    words = _normalised(expression.strip(), today)
    if words is None:
        return None
    year_only = re.fullmatch(rf"({_YEAR})年?", words)
    if year_only:
        return date(int(year_only.group(1)), 1, 1), date(int(year_only.group(1)), 12, 31)
    if not any_month and not _has_year(words) and not _CJK.search(words) and re.fullmatch(
            rf"{_MONTH}(?:\s+{_DAY})?", words, re.IGNORECASE):
        return None
    data = _parser(today).get_date_data(words)
    if data is None or data.date_obj is None:
        return None
    day = data.date_obj.date()
    if data.period == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    if data.period == "month":
        return _month_range(day.year, day.month)
    if data.period == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    return day, day


def _normalised(words: str, today: date) -> str | None:
    """A date expression in the form dateparser reads: Chinese numerals as digits, 去年/今年/前年 before a month
    as its year, the few phrasings it lacks in their usual synonyms."""
    words = _SPACES.sub(" ", words)
    words = re.sub(r"[一二两三四五六七八九十]+", lambda m: str(_zh_number(m.group(0))), words)
    relative_year = re.match(r"(去年|今年|前年)", words)
    if relative_year:
        year = _zh_year(relative_year.group(1), today)
        rest = words[relative_year.end():]
        if not rest:
            return f"{year}"
        words = f"{year}年{rest}"
    replacements = {"这个月": "本月", "这周": "本周", "这星期": "本周", "上星期": "上周", "个星期": "周"}
    for old, new in replacements.items():
        words = words.replace(old, new)
    words = re.sub(r"^(past|previous)\b", "last", words, flags=re.IGNORECASE)
    words = re.sub(r"^(a|an|one|two|three|four|five|six|seven|eight|nine|ten)\b",
                   lambda m: _EN_NUMBERS[m.group(1).lower()], words, flags=re.IGNORECASE)
    return words


@lru_cache(maxsize=4)
def _parser(today: date):
    from dateparser.date import DateDataParser

    return DateDataParser(languages=["en", "zh"], settings={
        "PREFER_DATES_FROM": "past", "RETURN_TIME_AS_PERIOD": True, "PREFER_DAY_OF_MONTH": "first",
        "RELATIVE_BASE": datetime(today.year, today.month, today.day)})


def _season(season: str, year: int) -> DateRange:
    first = _SEASON_MONTHS[season]
    start = date(year, first, 1)
    last_month = (first + 2 - 1) % 12 + 1
    end_year = year + 1 if first == 12 else year
    return start, _month_range(end_year, last_month)[1]


def _relative_season(season: str, which: str, today: date) -> DateRange:
    """this: the season of this year (winter: the one that began in December); last/past: the latest that
    has ended."""
    if which == "this":
        return _season(season, today.year if _SEASON_MONTHS[season] != 12 or today.month == 12 else today.year - 1)
    year = today.year
    while _season(season, year)[1] >= today:
        year -= 1
    return _season(season, year)


def _zh_year(words: str, today: date) -> int | None:
    if words == "去年":
        return today.year - 1
    if words == "今年":
        return today.year
    if words == "前年":
        return today.year - 2
    digits = re.fullmatch(rf"({_YEAR})年", words)
    return int(digits.group(1)) if digits else None


def _zh_number(words: str) -> int:
    """一 to 九十九 as a number (十 = 10, 十二 = 12, 二十 = 20)."""
    if "十" in words:
        tens, _, ones = words.partition("十")
        return (_ZH_DIGITS.get(tens, 1) if tens else 1) * 10 + (_ZH_DIGITS.get(ones, 0) if ones else 0)
    return _ZH_DIGITS.get(words, 0)


def _month_number(words: str) -> int | None:
    key = words.lower().rstrip(".")[:3]
    names = [name.lower() for name in calendar.month_abbr]
    return names.index(key) if key in names else None


def _month_range(year: int, month: int) -> DateRange:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _has_year(words: str) -> bool:
    return bool(re.search(rf"{_YEAR}|去年|今年|前年", words))


def _unit_follows(text: str, match: re.Match) -> bool:
    """A bare year followed by a unit is a quantity ("2000 pieces")."""
    if not re.fullmatch(_YEAR, match.group(0).strip()):
        return False
    following = re.match(r"\s*([A-Za-z]+|[\u3400-\u9fff])", text[match.end():])
    return bool(following) and following.group(1).lower() in UNIT_WORDS


def _in_title(text: str, match: re.Match, is_title: Callable[[str, bool], bool]) -> bool:
    """Whether the date's words are a title the collection holds, or with the word before or after them part
    of one."""
    start, end = match.span()
    words = match.group(0).strip()
    before, after = text[:start], text[end:]
    if not before.strip() and not after.strip():
        return is_title(words, True)
    phrases = []
    if _CJK.search(before[-1:] or "") or _CJK.search(after[:1] or ""):
        phrases += [before[-2:] + words] if before.strip() else []
        phrases += [words + after[:2]] if after.strip() else []
    else:
        previous = re.search(r"(\S+)\s*$", before)
        following = re.match(r"\W*(\S+)", after)
        phrases += [f"{previous.group(1)} {words}"] if previous else []
        phrases += [f"{words} {following.group(1)}"] if following else []
    return any(is_title(phrase, False) for phrase in phrases)


def words_of(text: str) -> list[str]:
    """A text's words as a title comparison sees them: Latin words and digits without case, each Chinese
    character a word (as Elasticsearch's standard analyzer splits them)."""
    return re.findall(r"[\u3400-\u9fff]|[^\W_\u3400-\u9fff]+", text.casefold())


# --------------------------------------------------------------------------- values of fields


def _find_values(text: str, values: Mapping[str, Sequence[str]], taken: list[tuple[int, int]], kept: set[str],
                 skip: frozenset[str]) -> list[Piece]:
    folded = text.casefold()
    candidates = sorted(((value, param) for param, known in values.items() if param not in skip for value in known),
                        key=lambda item: -len(item[0]))
    spans = list(taken)
    found: list[Piece] = []
    seen: set[str] = set()
    for value, param in candidates:
        needle = str(value).casefold().strip()
        if len(needle) < MIN_VALUE_CHARS or needle.isdigit() or needle in kept or needle in seen:
            continue
        pattern = re.escape(needle) if _CJK.search(needle) else rf"{_AT}{re.escape(needle)}{_TO}"
        for match in re.finditer(pattern, folded):
            if any(match.start() < end and start < match.end() for start, end in spans):
                continue
            spans.append(match.span())
            seen.add(needle)
            found.append(Piece(text=text[match.start():match.end()], param=param, kind="value", value=str(value),
                               span=match.span()))
            break
    return found


def _without(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The text with the spans cut out, tidied: spaces collapsed, stray punctuation and particles at the ends."""
    kept, last = [], 0
    for start, end in sorted(spans):
        kept.append(text[last:start])
        last = end
    kept.append(text[last:])
    joined = " ".join(part.strip() for part in kept if part.strip())
    return _EDGE_JUNK.sub("", _SPACES.sub(" ", joined)).strip()
