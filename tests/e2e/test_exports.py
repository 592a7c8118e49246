"""The frame of a clinical app and the summary exports, as a clinic meets them in Chromium.

One journey on the demo cohort the server stored on first start: no Deploy
button in the toolbar, the role in the sidebar, icons drawn by the Material
font Streamlit serves itself (no emoji font, no network), then every summary
format downloaded and read back the way a manager's spreadsheet or PDF reader
would. A second journey uploads a long-format observations table on the Data
page and finds the problem list before any Import button.
"""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader

from .helpers import ROOT, assert_no_exception, open_page, page_exists, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

SHOTS = Path("/tmp")
MATERIAL_FONT = "Material Symbols Rounded"


def _download(page, fmt_label: str, folder: Path) -> Path:
    page.locator('[data-testid="stRadio"]').get_by_text(fmt_label).click()
    wait_idle(page)
    page.get_by_role("button", name=re.compile("Build the export")).click()
    wait_idle(page)
    assert_no_exception(page, f"Export {fmt_label}")
    button = page.get_by_role("button", name=re.compile("Download paincycle-summary"))
    with page.expect_download() as info:
        button.first.click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_the_frame_and_every_summary_export(page, tmp_path):
    if not page_exists("export.py"):
        pytest.skip("pages/export.py does not exist yet")
    page.screenshot(path=SHOTS / "frame_overview.png")
    assert page.locator('[data-testid="stAppDeployButton"]').count() == 0
    assert page.get_by_role("button", name="Deploy").count() == 0, "no Deploy in a health app"
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert "the single local user, with the admin role" in sidebar

    # the menu's icons are Material glyphs, drawn by the font Streamlit serves from its own files
    icons = page.locator('[data-testid="stSidebarNav"] [data-testid="stIconMaterial"]')
    assert icons.count() >= 6
    assert MATERIAL_FONT in icons.first.evaluate("e => getComputedStyle(e).fontFamily")
    loaded = page.evaluate(f"""async () => {{
        await document.fonts.ready;
        return [...document.fonts].filter(f => f.family.includes("{MATERIAL_FONT}"))
                                  .map(f => f.status); }}""")
    assert "loaded" in loaded, loaded
    assert icons.first.bounding_box()["width"] <= 32, "a glyph, not the icon's name spelled out"

    open_page(page, "Export")
    assert_no_exception(page, "Export")
    page.screenshot(path=SHOTS / "frame_export.png", full_page=True)

    pdf = _download(page, "PDF report (.pdf)", tmp_path)
    assert re.fullmatch(r"paincycle-summary-\d{8}-\d{4}\.pdf", pdf.name)
    reader = PdfReader(pdf)
    pages = [p.extract_text() for p in reader.pages]
    assert all(f"page {i} of {len(pages)}" in t for i, t in enumerate(pages, start=1))
    text = " ".join("\n".join(pages).split())  # lines wrap anywhere in a PDF
    assert "prognostic support, not a diagnosis" in text
    assert "trained on synthetic (generated) data" in text
    # the demo model was trained on this very (synthetic) cohort, and says so
    assert "none of them real" in text, "the demo cohort is synthetic as well"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "2", "-l", "2", str(pdf),
                    str(SHOTS / "frame_summary_pdf")], check=True)

    html = _download(page, "Web page (.html)", tmp_path).read_text(encoding="utf-8")
    assert "prognostic support, not a diagnosis" in html and "synthetic" in html
    rates, triad = html.index("Responder rates by domain"), html.index("Triad, deterioration")
    assert all(rates < m.start() < triad for m in re.finditer("<img ", html))

    book = openpyxl.load_workbook(_download(page, "Excel workbook (.xlsx)", tmp_path))
    sheet = book["Patients"]
    header = [c.value for c in sheet[1]]
    row = {name: sheet.cell(2, i + 1) for i, name in enumerate(header)}
    assert isinstance(row["birth year"].value, int) and row["birth year"].number_format == "0"
    assert row["risk"].number_format == "0%"
    assert row["triad"].value in ("yes", "no")
    model = {r[0].value: r[1] for r in book["Model"].iter_rows(min_row=2)}
    assert isinstance(model["Patients with an outcome label (training)"].value, int)

    data = _download(page, "Per-patient table (.csv)", tmp_path).read_bytes()
    table = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert len(table) == 1000
    assert table["birth year"].dtype == "int64" and table["observations"].dtype == "int64"
    scored = table["risk (%)"].dropna()
    assert len(scored) and (scored == scored.round()).all() and scored.between(1, 99).all()
    assert set(table["flagged by model"]) <= {"yes", "no"}
    assert "True" not in data.decode("utf-8-sig")
    page.screenshot(path=SHOTS / "frame_export_done.png", full_page=True)


def test_a_long_format_upload_is_checked_before_import(page):
    if not page_exists("data.py"):
        pytest.skip("pages/data.py does not exist yet")
    open_page(page, "Data")
    observations = ROOT / "tests" / "fixtures" / "tiny" / "observations.csv"
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(observations))
    wait_idle(page)
    page.get_by_text("Detected: PainCycle cohort tables").wait_for()
    page.get_by_text(re.compile(r"1 problem\(s\): nothing was imported")).wait_for()
    assert page.get_by_role("button", name=re.compile("^.*Import$")).count() == 0
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "--mapping" not in main and "wide registry" not in main.split("Detected:")[1][:80]
    assert "observations table on its own" in page.locator('[data-testid="stMain"]').inner_text()
    page.locator('[data-testid="stMain"]').evaluate("e => e.scrollTo(0, e.scrollHeight)")
    page.mouse.wheel(0, 3000)
    page.wait_for_timeout(1500)  # the tables are drawn on a canvas a moment later
    page.screenshot(path=SHOTS / "frame_data_long_format.png")
