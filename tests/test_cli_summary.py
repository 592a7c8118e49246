"""`paincycle summary` on the bundled sample cohort: all four formats, numbers checked."""

from __future__ import annotations

import io
import json
import re
import zipfile

import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader

from paincycle import cli, config, measures, trajectories
from paincycle.cohort import read_cohort
from paincycle.store import CohortStore

pytestmark = pytest.mark.skipif(not (config.SAMPLE_COHORT / "patients.parquet").exists(),
                                reason="the bundled sample cohort is missing")


@pytest.fixture(scope="module")
def sample():
    return read_cohort(config.SAMPLE_COHORT)


def run(*args: str) -> int:
    return cli.main(["summary", *args])


def sheet(path, name: str) -> pd.DataFrame:
    book = openpyxl.load_workbook(path)
    rows = [[c.value for c in row] for row in book[name].iter_rows()]
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_xlsx_numbers_match_the_analyses(sample, tmp_path):
    out = tmp_path / "summary.xlsx"
    assert run(str(config.SAMPLE_COHORT), "--out", str(out)) == 0
    headline = sheet(out, "Headline").set_index("measure")["value"]
    assert headline["Patients"] == sample.n_patients
    assert headline["Observations"] == len(sample.observations)
    rates = sheet(out, "Responder rates")
    expected = trajectories.responder_rates(sample)
    assert rates[["domain", "months", "n_patients", "n_responders"]].values.tolist() == \
        expected[["domain", "months", "n_patients", "n_responders"]].values.tolist()
    assert rates["rate"].astype(float).round(6).tolist() == expected["rate"].round(6).tolist()
    counts = sheet(out, "Triad and deterioration").set_index("flag")["patients"]
    assert counts.iloc[0] == int(trajectories.triad_flags(sample)["triad"].sum())
    worse = trajectories.deterioration(sample)
    assert counts["Worse than baseline by the MCID or more: mood"] == \
        worse.loc[worse["domain"] == "mood", "patient_id"].nunique()
    patients = sheet(out, "Patients")
    assert len(patients) == sample.n_patients
    if config.DEMO_MODEL.exists():
        metrics = json.loads(config.DEMO_MODEL.with_suffix(".json").read_text())["metrics"]
        model = sheet(out, "Model").set_index("metric")["value"]
        assert model["AUC (out-of-fold)"] == pytest.approx(metrics["auc"])
        listed = sheet(out, "Review list")
        assert listed["reasons"].str.contains(r"flagged by model \(risk \d+%\)").any()
        flagged = sheet(out, "Flagged by model")
        per_patient = sheet(out, "Patients")
        assert len(flagged) == int(per_patient["flagged by model"].eq("yes").sum()) > 0


def test_pdf_has_the_numbers(sample, tmp_path):
    out = tmp_path / "summary.pdf"
    assert run(str(config.SAMPLE_COHORT), "--out", str(out)) == 0
    reader = PdfReader(out)
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert f"{sample.n_patients:,}" in text
    rates = trajectories.responder_rates(sample)
    for rate in rates.loc[rates["months"] == 12, "rate"]:
        assert f"{rate:.1%}" in text
    assert sum(len(page.images) for page in reader.pages) == len(measures.VERDICT_GROUPS)


def test_html_is_self_contained(tmp_path):
    out = tmp_path / "summary.html"
    assert run(str(config.SAMPLE_COHORT), "--out", str(out)) == 0
    page = out.read_text()
    sources = re.findall(r"src=['\"]([^'\"]+)", page)
    assert len(sources) == len(measures.VERDICT_GROUPS) and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<link" not in page and "<script" not in page


def test_csv_deidentified_and_filtered(sample, tmp_path):
    out = tmp_path / "summary.csv"
    site = sample.patients["site"].value_counts().index[0]
    assert run(str(config.SAMPLE_COHORT), "--out", str(out), "--deidentify",
               "--filter", f"site={site}") == 0
    data = out.read_bytes().decode("utf-8-sig")
    frame = pd.read_csv(io.StringIO(data), dtype=str)
    assert len(frame) == int((sample.patients["site"] == site).sum())
    assert set(frame["site"]) == {site}
    assert not re.search(r"P\d{6}", data)
    source_dates = set(pd.concat([sample.patients["intake_date"], sample.observations["date"]])
                       .dt.strftime("%Y-%m-%d"))
    assert not source_dates & set(re.findall(r"\d{4}-\d{2}-\d{2}", data))
    assert "birth year" not in frame.columns and "age band" in frame.columns


def test_deidentified_xlsx_has_no_source_ids_or_dates(sample, tmp_path):
    out = tmp_path / "summary.xlsx"
    assert run(str(config.SAMPLE_COHORT), "--out", str(out), "--deidentify", "--no-model") == 0
    with zipfile.ZipFile(out) as archive:  # every string the workbook holds
        text = "\n".join(archive.read(name).decode("utf-8", "replace")
                         for name in archive.namelist() if name.endswith(".xml"))
    assert not re.search(r"P\d{6}", text)
    source_dates = set(pd.concat([sample.patients["intake_date"], sample.observations["date"]])
                       .dt.strftime("%Y-%m-%d"))
    assert not source_dates & set(re.findall(r"\d{4}-\d{2}-\d{2}", text))
    patients = sheet(out, "Patients")
    assert "birth year" not in patients.columns and "intake date" not in patients.columns


def test_stored_version_by_name(sample, tmp_path, capsys):
    CohortStore().save(sample.subset(sample.patients["patient_id"].head(40)), name="forty")
    out = tmp_path / "forty.csv"
    assert run("forty", "--out", str(out), "--no-model") == 0
    assert len(pd.read_csv(out, encoding="utf-8-sig")) == 40


@pytest.mark.parametrize(("args", "message"), [
    (["--out", "x.docx"], "must end in"),
    (["--out", "x.csv", "--filter", "colour=red"], "KEY=VALUE"),
])
def test_errors_are_one_line(args, message, capsys, tmp_path):
    assert run(str(config.SAMPLE_COHORT), *[str(tmp_path / a) if a.startswith("x.") else a
                                            for a in args]) == 1
    assert message in capsys.readouterr().err


def test_missing_input(tmp_path, capsys):
    assert run("no-such-cohort", "--out", str(tmp_path / "x.csv")) == 1
    assert "no such cohort" in capsys.readouterr().err
