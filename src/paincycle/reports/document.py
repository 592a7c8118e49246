"""What every report shares: safe cells, the PDF page, and the template engines.

HTML and Markdown reports are Jinja2 templates (templates/), found through the
package itself so an installed wheel finds them too. Every value a template
prints is escaped by its engine: HTML by Jinja2's autoescape, Markdown by
:func:`markdown_text` applied to every expression. A patient's note or a
custom measure code can therefore never become markup, a link or an image.
"""

from __future__ import annotations

import html
import io
import logging
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import jinja2
import pandas as pd

from paincycle import safe_text

#: Control characters (other than newline) that would garble a PDF line.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_MD_SPECIAL = set("\\`*_{}[]#!|<>&~")



def safe_cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula, made inert (see ``safe_text``)."""
    return safe_text.spreadsheet_cell(value)


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text cell (and column name) passed through :func:`safe_cell`."""
    out = frame.copy()
    for column in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[column])
                or pd.api.types.is_datetime64_any_dtype(out[column])
                or pd.api.types.is_bool_dtype(out[column])):
            out[column] = out[column].astype(object).map(safe_cell)
    out.columns = [safe_cell(str(c)) for c in out.columns]
    return out



def markdown_text(value: object) -> str:
    """Free text made inert for Markdown: every Markdown/HTML character is escaped.

    A note reading '<script>' or '[click](http://x)' prints literally in any viewer.
    """
    out = []
    for char in "" if value is None else str(value):
        if char in "<>&":
            out.append(html.escape(char))
        elif char in _MD_SPECIAL:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out).replace("\r\n", "\n").replace("\n", "  \n")


@cache
def _environment(kind: str) -> jinja2.Environment:
    loader = jinja2.PackageLoader("paincycle.reports", "templates")
    if kind == "html":
        return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                                  trim_blocks=True, lstrip_blocks=True)
    return jinja2.Environment(loader=loader, autoescape=False, finalize=markdown_text,
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


def render_html(template: str, **context: object) -> str:
    """A self-contained HTML report (inline CSS only, no external request), every value escaped."""
    return _environment("html").get_template(template).render(**context)


def render_markdown(template: str, **context: object) -> str:
    """A Markdown report, every value escaped with :func:`markdown_text`."""
    return _environment("markdown").get_template(template).render(**context)


def chart_png(chart: object, scale: float = 1.5) -> bytes:
    """An Altair chart as PNG bytes for a PDF or an HTML report (vl-convert: offline, no browser).

    Outside Streamlit Altair's 5,000-row guard applies: aggregate before drawing.
    """
    buffer = io.BytesIO()
    chart.save(buffer, format="png", scale_factor=scale)  # type: ignore[attr-defined]
    return buffer.getvalue()


#: The footer's page counter; fpdf replaces the alias with the page count when the file is closed.
PAGE_COUNTER = "page {page} of {{nb}}"


class PdfReport:
    """A plain A4 report with a Unicode font: headings, paragraphs, tables, images.

    Every page ends with the report's name and "page 2 of 5", so a printed page
    that comes loose from the pile can be put back and is known to be part of a
    longer record. Text is always drawn as text (no markup parsing), so a note
    cannot change the layout.
    """

    FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)

    def __init__(self, title: str, footer: str | None = None):
        from fpdf import FPDF

        report = self

        class _Pages(FPDF):
            def footer(self) -> None:  # fpdf calls this as each page is finished
                report._footer()

        # fpdf logs the characters a font lacks: that would put patient text in the logs
        logging.getLogger("fpdf").setLevel(logging.ERROR)
        self.footer_text = title if footer is None else footer
        self.pdf = _Pages(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=18)
        self.pdf.set_title(title)
        self.font = self._font()
        self.pdf.add_page()
        self.pdf.set_font(self.font, "B", 16)
        self.pdf.multi_cell(0, 9, self._text(title), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(2)

    def _font(self) -> str:
        for folder in self.FONT_DIRS:
            regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
            if regular.exists() and bold.exists():
                self.pdf.add_font("DejaVu", "", str(regular))
                self.pdf.add_font("DejaVu", "B", str(bold))
                self.unicode = True
                return "DejaVu"
        self.unicode = False
        return "Helvetica"

    def _footer(self) -> None:
        pdf = self.pdf
        pdf.set_y(-12)
        pdf.set_font(self.font, "", 7.5)
        pdf.set_text_color(90)
        half = pdf.epw / 2
        pdf.cell(half, 5, self._text(self.footer_text)[:90], align="L")
        pdf.cell(half, 5, PAGE_COUNTER.format(page=pdf.page_no()), align="R")
        pdf.set_text_color(0)

    def _text(self, value: object) -> str:
        text = _CONTROL.sub(" ", str(value))
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def heading(self, text: str) -> None:
        self.pdf.ln(3)
        self.pdf.set_font(self.font, "B", 13)
        self.pdf.multi_cell(0, 7, self._text(text), new_x="LMARGIN", new_y="NEXT")

    def subheading(self, text: str) -> None:
        self.pdf.set_font(self.font, "B", 10.5)
        self.pdf.multi_cell(0, 6, self._text(text), new_x="LMARGIN", new_y="NEXT")

    def paragraph(self, text: str, size: float = 9.5) -> None:
        self.pdf.set_font(self.font, "", size)
        self.pdf.multi_cell(0, 5, self._text(text), new_x="LMARGIN", new_y="NEXT")

    def table(self, headings: Sequence[str], rows: Sequence[Sequence[str]],
              widths: Sequence[float] | None = None) -> None:
        self.pdf.set_font(self.font, "", 7.5)
        with self.pdf.table(col_widths=tuple(widths) if widths else None, line_height=4,
                            text_align="LEFT", first_row_as_headings=True) as grid:
            grid.row([self._text(h) for h in headings])
            for values in rows:
                grid.row([self._text(v) for v in values])
        self.pdf.ln(2)

    def image(self, png: bytes, title: str, width: float = 0.9,
              size_mm: tuple[float, float] | None = None) -> None:
        """A chart ``width`` of the text width wide (or exactly ``size_mm``, centred), on a new
        page only if it does not fit here."""
        w, h = size_mm if size_mm else (self.pdf.epw * width, self.pdf.epw * width * _aspect(png))
        self._room_for(h)
        x = self.pdf.l_margin + (self.pdf.epw - w) / 2 if size_mm else None
        self.pdf.image(io.BytesIO(png), x=x, w=w, h=h, alt_text=self._text(title))
        self.pdf.ln(1 if size_mm else 2)

    def figure(self, png: bytes, title: str, width: float = 0.9) -> None:
        """A chart under its own title, the two kept on one page."""
        self._room_for(8 + self.pdf.epw * width * _aspect(png))
        self.subheading(title)
        self.image(png, title, width)

    def _room_for(self, height: float) -> None:
        if self.pdf.get_y() + height > self.pdf.page_break_trigger:
            self.pdf.add_page()

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _aspect(png: bytes) -> float:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as picture:
        return picture.height / picture.width


def column_widths(headings: Sequence[object], rows: Sequence[Sequence[str]]) -> list[float]:
    """Relative PDF column widths from the content: wide for sentences, narrow for numbers."""
    widths = []
    for i, heading in enumerate(headings):
        longest_word = 1.4 * max((len(w) for w in str(heading).split()), default=1) + 1  # bold
        lengths = sorted(len(row[i]) for row in rows) or [1]
        typical = lengths[int(0.9 * (len(lengths) - 1))]
        if lengths[-1] <= 14:  # numbers and codes: room for the longest, never broken mid-word
            typical = lengths[-1] + 1
        widths.append(float(min(60, max(7, longest_word, typical))))
    return widths


