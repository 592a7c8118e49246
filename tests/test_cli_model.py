"""`paincycle train` and `paincycle score` end to end on a small synthetic cohort."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from paincycle import cli, synth
from paincycle.cohort import write_cohort
from paincycle.store import CohortStore


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cohort") / "small"
    write_cohort(synth.generate(200, seed=5), folder, fmt="csv")
    return folder


@pytest.fixture(scope="module")
def model_path(cohort_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "small.skops"
    with pytest.MonkeyPatch.context() as patch:  # the retrain's audit entry goes to a scratch folder
        patch.setenv("PAINCYCLE_DATA_DIR", str(tmp_path_factory.mktemp("train-data")))
        patch.delenv("PAINCYCLE_DATABASE_URL", raising=False)
        assert cli.main(["train", str(cohort_dir), "--out", str(out)]) == 0
    return out


def test_train_prints_report_and_json_last_line(cohort_dir, tmp_path, capsys):
    out = tmp_path / "m.skops"
    code = cli.main(["train", str(cohort_dir), "--out", str(out), "--outcome-measure", "pain_nrs",
                     "--horizon-days", "180", "--window-days", "30", "--min-improvement", "30%",
                     "--landmark-days", "60"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    metrics = json.loads(lines[-1])
    assert {"auc", "n_train", "prevalence"} <= set(metrics)
    assert 0 <= metrics["auc"] <= 1 and metrics["n_train"] > 0 and metrics["landmark_days"] == 60
    report = "\n".join(lines)
    assert "30% of its baseline" in report and "180 days" in report and "Ablation" in report
    assert out.exists() and out.with_suffix(".json").exists() and out.with_suffix(".md").exists()


def test_score_writes_one_row_per_patient(cohort_dir, model_path, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert cli.main(["score", str(cohort_dir), "--model", str(model_path), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["patient_id", "risk", "flagged", "top_factors"]
    assert table["risk"].between(0, 1).all() and set(table["flagged"]) <= {0, 1}
    assert len(table) <= 200 and table["patient_id"].is_unique
    assert f"Scored {len(table):,} of 200" in capsys.readouterr().out


def test_score_reports_skipped_patients(cohort_dir, model_path, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert cli.main(["score", str(cohort_dir), "--model", str(model_path), "--out", str(out),
                     "--as-of", "2023-02-01"]) == 0
    text = capsys.readouterr().out
    assert "Skipped" in text and "not yet at the day-90 landmark" in text
    assert len(pd.read_csv(out)) < 200


def test_stored_version_by_name(cohort_dir, model_path, tmp_path):
    from paincycle.cohort import read_cohort

    CohortStore().save(read_cohort(cohort_dir), name="clinic-a")
    out = tmp_path / "scores.csv"
    assert cli.main(["score", "clinic-a", "--model", str(model_path), "--out", str(out)]) == 0
    assert out.exists()


def test_clear_errors(cohort_dir, tmp_path, capsys):
    bad = tmp_path / "bad.skops"
    bad.write_bytes(b"junk")
    assert cli.main(["score", str(cohort_dir), "--model", str(bad), "--out", str(tmp_path / "s.csv")]) == 1
    assert "not a readable skops model file" in capsys.readouterr().err
    assert cli.main(["train", "no-such-cohort", "--out", str(tmp_path / "m.skops")]) == 1
    assert "neither a cohort folder" in capsys.readouterr().err
    assert cli.main(["train", str(cohort_dir), "--out", str(tmp_path / "m.skops"),
                     "--min-improvement", "lots"]) == 1
    assert "not a threshold" in capsys.readouterr().err


def test_score_writes_ids_that_look_like_formulas_inert(cohort_dir, model_path, tmp_path):
    """`paincycle score` once wrote ids to CSV unescaped: a spreadsheet would run them."""
    from paincycle.cohort import read_cohort

    cohort = read_cohort(cohort_dir)
    first = cohort.patients["patient_id"].iloc[0]
    hostile = "=HYPERLINK(\"http://evil.example\")"
    renamed = tmp_path / "hostile"
    write_cohort(type(cohort)(
        cohort.patients.replace({"patient_id": {first: hostile}}),
        cohort.observations.replace({"patient_id": {first: hostile}}),
        cohort.events.replace({"patient_id": {first: hostile}}), cohort.name), renamed, fmt="csv")
    out = tmp_path / "scores.csv"
    assert cli.main(["score", str(renamed), "--model", str(model_path), "--out", str(out)]) == 0
    ids = pd.read_csv(out, dtype=str)["patient_id"]
    assert "'" + hostile in set(ids) and hostile not in set(ids)
