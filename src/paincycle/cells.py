"""Cells to values: the one parser of dates and numbers, for the cohort validator and every converter.

Both read text cells (a CSV's, or typed Excel and Parquet cells written out as
text) and need the same answers: which cells are dates, which are numbers,
which are outside what a clinic's record can hold. Each caller words its own
problems (it knows the file, the row and the column); the rules live here.

- Dates are calendar days as written: ``2025-03-14``, or a datetime whose
  offset never moves the day (``2025-03-14T23:15:00-05:00`` is the 14th).
  Converters may also accept ``M/D/YYYY`` or ``D/M/YYYY`` where the export says
  so. Days outside 1900-01-01..2199-12-31 are refused: no clinic record is
  older, and pandas cannot even hold days past 2262.
- Numbers are finite decimals with a point; ``inf`` and ``NaN`` are not numbers.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd

MIN_DATE = pd.Timestamp("1900-01-01")
MAX_DATE = pd.Timestamp("2199-12-31")
#: A date, or a date and time with an optional offset (ISO 8601 as exports write it).
ISO_DATE = re.compile(
    r"^\s*\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\s*$")
SLASHED_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}(?: .*)?$")
#: 02.04.2015: day first wherever it is written, so read only when an export declares 'dmy'.
DOTTED_DATE = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}(?: .*)?$")
#: ``formats`` a converter may choose; YYYY-MM-DD is read under every one of them.
DATE_FORMATS = ("ymd", "auto", "mdy", "dmy")


class DateCells(NamedTuple):
    """Parsed dates (NaT where not a date or outside the span), and why each bad cell is bad."""

    dates: pd.Series
    unparsed: pd.Series
    outside: pd.Series

    @property
    def bad(self) -> pd.Series:
        return self.unparsed | self.outside


def parse_dates(text: pd.Series, formats: str = "ymd") -> DateCells:
    """Text cells to calendar days. Blank cells are NaT and neither unparsed nor outside.

    ``formats``: 'ymd' (ISO 8601 only: the cohort format), 'auto' (ISO or M/D/YYYY),
    'mdy', 'dmy' (D/M/YYYY and DD.MM.YYYY).
    """
    if formats not in DATE_FORMATS:
        raise ValueError(f"unknown date format {formats!r}; use one of {', '.join(DATE_FORMATS)}")
    text = text.astype(str).str.strip()
    raw = pd.Series(pd.NaT, index=text.index, dtype="datetime64[s]")
    iso = text.str.match(ISO_DATE)
    raw[iso] = pd.to_datetime(text[iso].str.slice(0, 10), format="%Y-%m-%d",
                              errors="coerce").astype("datetime64[s]")
    if formats in ("auto", "mdy", "dmy"):
        slashed = text.str.match(SLASHED_DATE) & ~iso
        pattern = "%d/%m/%Y" if formats == "dmy" else "%m/%d/%Y"
        raw[slashed] = pd.to_datetime(text[slashed].str.split(" ").str[0], format=pattern,
                                      errors="coerce").astype("datetime64[s]")
    if formats == "dmy":
        dotted = text.str.match(DOTTED_DATE)
        raw[dotted] = pd.to_datetime(text[dotted].str.split(" ").str[0], format="%d.%m.%Y",
                                     errors="coerce").astype("datetime64[s]")
    outside = outside_span(raw)
    parsed = raw.where(~outside).astype("datetime64[ns]")
    unparsed = raw.isna() & (text != "")
    return DateCells(parsed, unparsed, outside)


def outside_span(dates: pd.Series) -> pd.Series:
    """Days before MIN_DATE or after MAX_DATE (NaT is not outside)."""
    return dates.notna() & ((dates < MIN_DATE) | (dates > MAX_DATE))


#: Decimal marks an export may declare: a point, or a comma (then a point groups thousands).
DECIMAL_MARKS = (".", ",")


def parse_numbers(text: pd.Series, decimal: str = ".") -> tuple[pd.Series, pd.Series]:
    """Text cells to finite floats; returns (values, bad) where bad marks non-blank non-numbers.

    ``decimal=","`` reads a European export's "52,3" (and "12.345" as twelve thousand).
    """
    if decimal not in DECIMAL_MARKS:
        raise ValueError(f"unknown decimal mark {decimal!r}; use '.' or ','")
    text = text.astype(str).str.strip()
    if decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    values = pd.to_numeric(text.where(text != ""), errors="coerce").astype("float64")
    values = values.where(np.isfinite(values))
    bad = values.isna() & (text != "")
    return values, bad
