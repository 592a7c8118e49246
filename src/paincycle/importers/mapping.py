"""Mapping files: how a clinic's own export names map onto the cohort format.

A mapping is a small TOML or YAML file the clinic's data team writes once per
export layout (docs/importers.md shows each converter's keys). It is parsed
with safe loaders only and checked before any data is read, so a typo in a key
is reported as "mapping.yaml, key measures[2].day: ..." rather than surfacing
later as missing data. Mappings that ship with PainCycle (the CHOIR registry
extract) live beside this module as package data.
"""

from __future__ import annotations

import math
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from paincycle import measures
from paincycle.cells import MAX_DATE, MIN_DATE
from paincycle.cohort import Problem
from paincycle.importers.common import ConversionError, fail

SHIPPED_DIR = Path(__file__).resolve().parent / "mappings"


def shipped() -> dict[str, Path]:
    """The mappings that ship with PainCycle, by name (e.g. 'choir')."""
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.yaml"))}


def load_mapping(source: str | Path, name: str | None = None) -> dict[str, Any]:
    """Parse a mapping file (or its text, when ``name`` is given): TOML or YAML by suffix.

    ``source`` may also be the name of a shipped mapping ('choir').
    """
    if name is None:
        path = Path(source)
        if not path.exists() and str(source) in shipped():
            path = shipped()[str(source)]
        if not path.exists():
            raise fail(str(source), None, None, "mapping file not found "
                       f"(shipped mappings: {', '.join(shipped()) or 'none'})")
        data = parse_mapping(path.read_text(encoding="utf-8-sig"), path.name)
        data.setdefault("_dir", str(path.resolve().parent))
        return data
    return parse_mapping(str(source), name)


def parse_mapping(text: str, name: str) -> dict[str, Any]:
    """Mapping text to a dict; TOML when the name ends in .toml, else YAML."""
    try:
        if name.lower().endswith(".toml"):
            data = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
    except tomllib.TOMLDecodeError as exc:
        raise fail(name, getattr(exc, "lineno", None), None, f"not valid TOML: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise fail(name, line, None, f"not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise fail(name, None, None, "a mapping file must be a set of keys (a YAML mapping or TOML table)")
    data = dict(data)
    data.setdefault("_file", name)
    return data


class MappingReader:
    """Typed access to a mapping's keys; collects a Problem per bad key, raised together."""

    def __init__(self, mapping: dict[str, Any] | None, kind: str):
        self.data = mapping or {}
        self.file = str(self.data.get("_file", "mapping"))
        self.problems: list[Problem] = []
        declared = self.data.get("format")
        if declared is not None and str(declared) != kind:
            self.error("format", f"this mapping is for '{declared}' exports, not '{kind}'")

    def error(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.file, None, key, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConversionError(self.problems)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def text(self, key: str, default: str | None = None, required: bool = False) -> str | None:
        value = self.data.get(key, default)
        if value is None:
            if required:
                self.error(key, f"'{key}' is required")
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.error(key, f"'{key}' must be text")
            return None
        return str(value)

    def date(self, key: str, value: Any = None) -> date | None:
        value = self.data.get(key) if value is None else value
        if value is None:
            return None
        if isinstance(value, date):
            found = value
        else:
            try:
                found = date.fromisoformat(str(value).strip()[:40])
            except ValueError:
                self.error(key, f"'{str(value)[:40]}' is not a date; use ISO 8601 such as 2020-01-01")
                return None
        if not MIN_DATE.date() <= found <= MAX_DATE.date():
            self.error(key, f"'{found}' is outside the accepted dates ({MIN_DATE:%Y-%m-%d} to "
                            f"{MAX_DATE:%Y-%m-%d})")
            return None
        return found

    def table(self, key: str) -> dict[str, Any]:
        value = self.data.get(key) or {}
        if not isinstance(value, dict):
            self.error(key, f"'{key}' must be a set of name: value pairs")
            return {}
        return {str(k): v for k, v in value.items()}

    def items(self, key: str) -> list[dict[str, Any]]:
        value = self.data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.error(key, f"'{key}' must be a list of entries")
            return []
        return value

    def measure(self, key: str, code: Any) -> str | None:
        """A measure code the registry knows (or a custom x_ code); names the closest on a typo."""
        code = str(code or "").strip().lower()
        if not code:
            self.error(key, "a measure code is required")
            return None
        if not measures.is_known(code):
            hint = measures.suggest(code)
            self.error(key, f"unknown measure '{code}'" + (f"; did you mean '{hint}'?" if hint else "")
                       + " (custom measures start with 'x_')")
            return None
        return code

    def day(self, key: str, value: Any) -> int | None:
        """Days since intake, within 100 years either side (rows too early are left out later)."""
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or value != int(value)):
            self.error(key, f"'{str(value)[:40]}' is not a whole number of days since intake")
            return None
        if not -MAX_MAPPED_DAY <= value <= MAX_MAPPED_DAY:
            self.error(key, f"{int(value):,} days is outside what a record can have "
                            f"({MAX_MAPPED_DAY:,} days, 100 years, either side of intake)")
            return None
        return int(value)

    def min_age(self) -> int:
        """``min_age_at_intake`` (default 18): younger patients do not enter a pain clinic's cohort."""
        value = self.get("min_age_at_intake", DEFAULT_MIN_AGE)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 120:
            self.error("min_age_at_intake", "give a whole number of years from 0 to 120")
            return DEFAULT_MIN_AGE
        return value

    def decimal(self) -> str:
        """The export's decimal mark (``decimal: ","`` for a European export); '.' by default."""
        mark = self.text("decimal", ".") or "."
        if mark not in (".", ","):
            self.error("decimal", "use '.' or ','")
            return "."
        return mark

    def columns(self, key: str, patterns: Any) -> list[str]:
        """Column names and ranges ('X101..X136') of a mapping key, checked and capped."""
        if isinstance(patterns, str | int) and not isinstance(patterns, bool):
            patterns = [patterns]
        if not isinstance(patterns, list) or not all(
                isinstance(p, str | int) and not isinstance(p, bool) for p in patterns):
            self.error(key, "give column names or ranges such as [X101..X136]")
            return []
        try:
            return expand_columns([str(p) for p in patterns])
        except ValueError as exc:
            self.error(key, str(exc))
            return []


_RANGE = re.compile(r"^(?P<prefix>.*?)(?P<start>\d+)\.\.(?P=prefix)?(?P<end>\d+)$")


#: Patients younger than this at intake do not enter a cohort unless a mapping says otherwise:
#: a converter deriving intake from pain scores would otherwise enrol children and newborns.
DEFAULT_MIN_AGE = 18
#: Most columns one mapping may name through ranges (a body map has ~70; exports a few thousand).
MAX_MAPPED_COLUMNS = 10_000
#: The furthest day from intake a mapping may name (100 years), either side.
MAX_MAPPED_DAY = 36_525


def expand_columns(patterns: list[str] | str) -> list[str]:
    """'X101..X136' to X101, X102, ... X136 (the body-map style of numbered columns).

    Raises ValueError for a range running backwards or naming more than
    MAX_MAPPED_COLUMNS columns, before building any of it.
    """
    out: list[str] = []
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        match = _RANGE.match(str(pattern).strip()[:200])
        if not match:
            out.append(str(pattern).strip())
            continue
        start, end = match["start"], match["end"]
        count = int(end[:12]) - int(start[:12]) + 1 if len(end) <= 12 and len(start) <= 12 else -1
        if count < 1 or len(out) + count > MAX_MAPPED_COLUMNS:
            raise ValueError(f"the range '{str(pattern)[:40]}' names "
                             + ("no columns" if count == 0 or int(end[:12]) < int(start[:12])
                                else f"more than {MAX_MAPPED_COLUMNS:,} columns"))
        width = len(start)
        out += [f"{match['prefix']}{n:0{width}d}" for n in range(int(start), int(end) + 1)]
    return out
