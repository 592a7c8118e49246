"""Text made safe once at the boundary: storage without control characters, inert spreadsheet cells."""

from __future__ import annotations

import pytest

from paincycle import safe_text


def test_line_turns_every_control_character_into_a_space():
    assert safe_text.line("a\x00b\nc\r\x1b[31md\x7f") == "a b c [31md"
    assert safe_text.line("  x  ", 1) == "x"
    assert safe_text.line(None) == ""


def test_note_keeps_lines_and_tabs_only():
    assert safe_text.note("one\r\ntwo\x00\tthree\x07") == "one\ntwo\tthree"


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1",
                                  "\x01=HYPERLINK(\"http://x\")", "\x00\x1f=cmd", " =1+1",
                                  "\x0b@x"])
def test_formula_like_cells_are_quoted_after_control_characters_are_removed(text):
    cell = safe_text.spreadsheet_cell(text)
    assert cell.startswith("'"), cell
    assert not any(ord(ch) < 32 and ch not in "\t\r\n" for ch in cell)


def test_ordinary_cells_pass_unchanged():
    assert safe_text.spreadsheet_cell("fibromyalgia") == "fibromyalgia"
    assert safe_text.spreadsheet_cell(3.5) == 3.5
    assert safe_text.spreadsheet_cell(None) is None
