"""Text from people and files, made safe once at the boundary: for storage and for spreadsheets.

- ``line``: one line of free text (a decision's action, an author, an agenda
  reason, an audit detail). Every control character, NUL included, becomes a
  space; a database or a log never receives one.
- ``note``: several lines (a decision's note): newlines and tabs stay, every
  other control character goes.
- ``spreadsheet_cell``: text a spreadsheet would run as a formula made inert.
  Control characters are removed *first*, so ``"\\x01=HYPERLINK(...)"`` cannot
  slip past the check and become a formula once the character is dropped.
"""

from __future__ import annotations

import re

_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_NOTE_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]+")
_CELL_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Characters a spreadsheet treats as the start of a formula (OWASP CSV injection list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def line(value: object, limit: int | None = None) -> str:
    """One clean line: control characters become single spaces, ends trimmed, cut to ``limit``."""
    text = _LINE_CONTROL.sub(" ", "" if value is None else str(value)).strip()
    return text[:limit] if limit is not None else text


def note(value: object, limit: int | None = None) -> str:
    """Free text over several lines: newlines and tabs kept, other control characters removed."""
    text = "" if value is None else str(value).replace("\r\n", "\n").replace("\r", "\n")
    text = _NOTE_CONTROL.sub("", text)
    return text[:limit] if limit is not None else text


def spreadsheet_cell(value: object) -> object:
    """A cell that no spreadsheet runs as a formula; non-text values pass unchanged."""
    if not isinstance(value, str):
        return value
    text = _CELL_CONTROL.sub("", value)
    if text.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + text
    return text
