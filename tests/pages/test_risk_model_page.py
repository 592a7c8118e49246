"""The risk-model page: metrics and charts, flags, empty states, retraining."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from paincycle import config, synth
from paincycle.store import CohortStore


@pytest.fixture(scope="module")
def small_cohort():
    return synth.generate(200, seed=21)


def _page(monkeypatch, tmp_path) -> AppTest:
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tmp_path / "none")
    at = AppTest.from_file("../../app.py", default_timeout=120).run()
    assert not at.exception
    at.switch_page("pages/risk_model.py").run()
    assert not at.exception
    return at


def test_shows_metrics_charts_and_flags(small_cohort, monkeypatch, tmp_path):
    assert config.DEMO_MODEL.exists(), "models/demo.skops is shipped (make model)"
    CohortStore().save(small_cohort, name="small")
    at = _page(monkeypatch, tmp_path)
    shipped = json.loads(config.DEMO_MODEL.with_suffix(".json").read_text())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["AUC (cross-validated)"] == f"{shipped['metrics']['auc']:.2f}"
    assert metrics["Labelled patients"] == f"{shipped['metrics']['n_train']:,}"
    charts = at.get("vega_lite_chart")
    # ROC, calibration, decision curve, ablation, the weekly model's AUC by landmark, histogram
    assert len(charts) == 6
    titles = " ".join(c.proto.spec for c in charts)
    assert "ROC" in titles and "Decision curve" in titles and "ablation" in titles
    assert "Earliest warning: AUC by landmark" in titles
    weekly = json.loads(config.WEEKLY_MODEL.with_suffix(".json").read_text())
    shown = [t.value for t in at.dataframe]
    by_landmark = next(t for t in shown if "landmark" in t.columns)
    assert by_landmark["landmark"].tolist() == weekly["weekly_landmarks"]
    assert metrics["Calibration slope"] == f"{shipped['metrics']['calibration_slope']:.2f}"
    sensitivity = next(t for t in shown if "analysis" in t.columns)
    assert sensitivity["analysis"].str.contains("non-responder").any()
    # what flagging at the threshold in force meant in training, from the file's own evidence
    from paincycle import evaluation

    at_cut = next(t for t in shown if "PPV" in t.columns).iloc[0]
    threshold = float(next(s for s in at.slider if s.key.startswith("rm_threshold_")).value)
    expected = evaluation.at_threshold(shipped["evidence"]["y"], shipped["evidence"]["risk"],
                                       threshold)
    assert abs(at_cut["PPV"] - expected["ppv"]) < 0.02  # the slider shows the rounded cut
    assert any("not a diagnosis" in i.value for i in at.info)
    assert any("Predicted at day 90" in md.value for md in at.markdown)
    # a synthetic model scoring a cohort not known to be synthetic says so, and is checked here
    assert any("trained on synthetic (generated) data" in w.value and "scores real patients"
               in w.value for w in at.warning)
    local = metrics.get("AUC here")
    if local is None:  # too few outcomes observed: said, not hidden
        assert any("Performance on this cohort not measured" in i.value for i in at.info)
    else:
        assert 0.0 <= float(local) <= 1.0
        assert int(metrics["Patients with the outcome observed"].replace(",", "")) >= 40
    flagged, of = metrics["Flagged at this threshold"].replace(",", "").split(" of ")
    assert 0 < int(flagged) <= 0.25 * int(of) + 1
    table = at.dataframe[-1].value
    assert len(table) == min(int(flagged), 100)
    assert table["top_factors"].str.contains("risk").all()
    assert table["risk"].is_monotonic_decreasing

    slider = next(s for s in at.slider if s.key.startswith("rm_threshold_"))
    slider.set_value(0.01).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    flagged, of = metrics["Flagged at this threshold"].replace(",", "").split(" of ")
    assert flagged == of


def test_empty_state_without_cohort(monkeypatch, tmp_path):
    at = _page(monkeypatch, tmp_path)
    assert any("No cohort is loaded yet" in i.value for i in at.info)
    assert not at.get("vega_lite_chart")


def test_no_model_offers_retraining(small_cohort, monkeypatch, tmp_path):
    monkeypatch.setattr("paincycle.config.DEMO_MODEL", tmp_path / "missing.skops")
    CohortStore().save(small_cohort, name="small")
    at = _page(monkeypatch, tmp_path)
    assert any("No risk model yet" in i.value for i in at.info)
    assert at.button(key="rm_retrain")


def test_retrain_with_too_few_labels_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr("paincycle.config.DEMO_MODEL", tmp_path / "missing.skops")
    CohortStore().save(synth.generate(20, seed=3), name="tiny")
    at = _page(monkeypatch, tmp_path)
    at.button(key="rm_retrain").click().run()
    assert not at.exception
    assert any("too few labelled patients" in e.value for e in at.error)


@pytest.mark.slow
def test_retrain_on_the_current_cohort(small_cohort, monkeypatch, tmp_path, data_dir):
    monkeypatch.setattr("paincycle.config.DEMO_MODEL", tmp_path / "missing.skops")
    version = CohortStore().save(small_cohort, name="small")
    at = _page(monkeypatch, tmp_path)
    at.button(key="rm_retrain").click().run()
    assert not at.exception
    assert (data_dir / "models" / f"{version.id}.skops").exists()
    assert any("trained on this cohort: its cross-validated numbers" in c.value for c in at.caption)
    assert not at.warning  # its own model: nothing borrowed
    assert (data_dir / "models" / f"{version.id}-weekly.skops").exists()
    assert len(at.get("vega_lite_chart")) == 6  # with its own weekly model's AUC by landmark
