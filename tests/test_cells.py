"""The one parser of cells: the same date and number answers for the validator and every converter."""

from __future__ import annotations

import pandas as pd
import pytest

from paincycle import cells


def _dates(values, formats="ymd"):
    return cells.parse_dates(pd.Series(values, dtype=object), formats)


def test_iso_days_and_datetimes_keep_the_day_as_written():
    parsed = _dates(["2025-03-14", "2025-03-14T23:15:00-05:00", " 2025-03-14 08:00 ", ""])
    assert [None if pd.isna(d) else f"{d:%Y-%m-%d}" for d in parsed.dates] == \
        ["2025-03-14"] * 3 + [None]
    assert not parsed.bad.any(), "a blank cell is not a bad date"


@pytest.mark.parametrize("value", ["2263-01-01", "0001-01-01", "1899-12-31", "9999-12-31"])
def test_days_outside_the_span_are_outside_not_unparsed(value):
    parsed = _dates([value])
    assert parsed.outside.tolist() == [True] and parsed.unparsed.tolist() == [False]
    assert parsed.dates.isna().all() and parsed.dates.dtype == "datetime64[ns]"


@pytest.mark.parametrize("value", ["2025-02-30", "9999-99-99", "14/03/2025", "yesterday",
                                   "2025-03-14Tgarbage"])
def test_text_that_is_no_iso_date_is_unparsed(value):
    assert _dates([value]).unparsed.tolist() == [True]


def test_slashed_dates_follow_the_exports_format():
    assert f"{_dates(['3/4/2025'], 'mdy').dates[0]:%Y-%m-%d}" == "2025-03-04"
    assert f"{_dates(['3/4/2025'], 'dmy').dates[0]:%Y-%m-%d}" == "2025-04-03"
    assert f"{_dates(['3/4/2025'], 'auto').dates[0]:%Y-%m-%d}" == "2025-03-04"
    assert _dates(["3/4/2025"], "ymd").unparsed.tolist() == [True]
    assert f"{_dates(['2025-03-04'], 'dmy').dates[0]:%Y-%m-%d}" == "2025-03-04"
    with pytest.raises(ValueError, match="unknown date format"):
        _dates(["2025-03-04"], "european")


def test_numbers_are_finite_decimals():
    values, bad = cells.parse_numbers(pd.Series(["7", " 3.5 ", "", "inf", "NaN", "1e400", "x",
                                                 "1,5"]))
    assert values[:2].tolist() == [7.0, 3.5]
    assert bad.tolist() == [False, False, False, True, True, True, True, True]


def test_dotted_dates_are_day_first_and_only_when_declared():
    assert f"{_dates(['02.04.2015'], 'dmy').dates[0]:%Y-%m-%d}" == "2015-04-02"
    for formats in ("auto", "mdy", "ymd"):
        assert _dates(["02.04.2015"], formats).unparsed.tolist() == [True], formats


def test_a_declared_decimal_comma():
    values, bad = cells.parse_numbers(pd.Series(["52,3", "12.345", "7", "1,2,3"]), decimal=",")
    assert values[:3].tolist() == [52.3, 12345.0, 7.0] and bad.tolist() == [False] * 3 + [True]
    with pytest.raises(ValueError, match="decimal mark"):
        cells.parse_numbers(pd.Series(["1"]), decimal=";")
