"""The risk-model charts draw exactly the curves stored with the model."""

import json

import pytest

from paincycle import config, model_charts
from paincycle.model_metadata import ModelMetadata


@pytest.fixture(scope="module")
def metadata() -> ModelMetadata:
    described = json.loads(config.DEMO_MODEL.with_suffix(".json").read_text())
    described.pop("model_file_sha256")  # the sidecar names the file it describes
    return ModelMetadata.model_validate(described)


def _data(chart) -> list[dict]:
    spec = chart.to_dict()
    datasets = spec.get("datasets", {})
    return [row for rows in datasets.values() for row in rows]


def test_roc_title_carries_the_stored_auc(metadata):
    chart = model_charts.roc_chart(metadata)
    assert f"{metadata.metrics.auc:.2f}" in chart.to_dict()["title"]
    fprs = [row["fpr"] for row in _data(chart) if "fpr" in row]
    assert min(fprs) == 0 and max(fprs) == 1


def test_calibration_title_and_points(metadata):
    chart = model_charts.calibration_chart(metadata)
    assert f"slope {metadata.metrics.calibration_slope:.2f}" in chart.to_dict()["title"]
    observed = [row["observed"] for row in _data(chart) if "n" in row]
    assert len(observed) == len(metadata.curves.calibration)


def test_decision_curve_has_three_strategies(metadata):
    strategies = {row["strategy"] for row in _data(model_charts.decision_curve_chart(metadata))}
    assert strategies == {"review flagged patients", "review everyone", "review no one"}


def test_ablation_bars_start_at_chance_and_skip_missing(metadata):
    meta = metadata.model_copy(update={"ablation": [
        *metadata.ablation, {"features": "nothing available", "n_features": 0, "auc": None}]})
    chart = model_charts.ablation_chart(meta)
    rows = _data(chart)
    assert {r["features"] for r in rows} == {a["features"] for a in metadata.ablation}
    bars = chart.to_dict()["layer"][0]
    assert bars["encoding"]["x2"] == {"datum": 0.5}


def test_auc_by_landmark_draws_each_landmark_with_its_interval():
    described = json.loads(config.WEEKLY_MODEL.with_suffix(".json").read_text())
    described.pop("model_file_sha256")
    weekly = ModelMetadata.model_validate(described)
    rows = [r for r in _data(model_charts.auc_by_landmark_chart(weekly)) if "auc" in r]
    assert [r["landmark"] for r in rows] == weekly.weekly_landmarks
    assert all(r["lo"] <= r["auc"] <= r["hi"] for r in rows)


def test_risk_over_time_draws_the_weekly_risks_and_the_threshold():
    import pandas as pd

    table = pd.DataFrame({"patient_id": "P1", "landmark": [14, 21],
                          "date": pd.to_datetime(["2025-01-15", "2025-01-22"]),
                          "risk": [0.2, 0.35]})
    chart = model_charts.risk_over_time_chart(table, threshold=0.6)
    rows = _data(chart)
    assert [r["risk"] for r in rows if "risk" in r] == [0.2, 0.35]
    assert [r["date"] for r in rows if "risk" in r] == ["2025-01-15", "2025-01-22"]
    assert any(r.get("threshold") == 0.6 for r in rows)
