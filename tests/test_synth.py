"""The synthetic cohort: canonical, deterministic, realistic, and learnable but not trivially."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from paincycle import measures, synth
from paincycle.cli import main
from paincycle.cohort import Cohort, from_frames, load_and_validate


@pytest.fixture(scope="module")
def small() -> Cohort:
    return synth.generate(400, seed=3)


@pytest.fixture(scope="module")
def large() -> Cohort:
    return synth.generate(1500, seed=11)


def _days(cohort, table: str = "observations") -> pd.DataFrame:
    frame = getattr(cohort, table).merge(cohort.patients[["patient_id", "intake_date"]],
                                         on="patient_id")
    return frame.assign(t=(frame["date"] - frame["intake_date"]).dt.days)


def test_same_seed_same_cohort_other_seed_differs(small):
    again = synth.generate(400, seed=3)
    for table in ("patients", "observations", "events"):
        pd.testing.assert_frame_equal(getattr(small, table), getattr(again, table))
    other = synth.generate(400, seed=4)
    assert not other.observations["value"].head(500).equals(small.observations["value"].head(500))


def test_passes_validation_and_is_already_canonical(small):
    validated = from_frames(small.patients, small.observations, small.events)
    for table in ("patients", "observations", "events"):
        ours, theirs = getattr(small, table), getattr(validated, table)
        assert list(ours.columns) == list(theirs.columns)
        assert ours.dtypes.astype(str).tolist() == theirs.dtypes.astype(str).tolist(), table
        pd.testing.assert_frame_equal(ours, theirs)
    assert (small.patients["intake_date"] == small.patients["intake_date"].dt.normalize()).all()


def test_patients_look_like_a_clinic(small):
    patients = small.patients
    assert patients["patient_id"].is_unique
    assert 3 <= patients["site"].nunique() <= 4
    assert patients["diagnosis"].nunique() >= 5
    assert set(patients["sex"]) <= {"female", "male", "other", "unknown"}
    span = (patients["intake_date"].max() - patients["intake_date"].min()).days
    assert 600 <= span <= 730
    age = patients["intake_date"].dt.year - patients["birth_year"]
    assert age.between(17, 91).all()


def test_values_inside_ranges_and_rounded_like_the_instrument(small):
    obs = small.observations
    assert set(obs["measure"]) <= set(measures.MEASURES)
    for code, values in obs.groupby("measure")["value"]:
        measure = measures.get(code)
        assert values.between(measure.low, measure.high).all(), code
        if measure.unit == "T-score":
            assert np.allclose(values * 10, np.round(values * 10)), code
        elif code == "sleep_hours":
            assert np.allclose(values * 2, np.round(values * 2))
        else:
            assert np.allclose(values, np.round(values)), code


def test_one_row_per_patient_day_and_measure(small):
    assert not small.observations.duplicated(["patient_id", "date", "measure"]).any()


def test_visit_schedule(small):
    obs = _days(small)
    pf = obs[obs["measure"] == "promis_physical_function"]
    assert pf["t"].between(-60, 430).all()
    baseline = pf[pf["t"] <= 14]
    assert baseline["t"].abs().max() <= 7
    assert baseline["patient_id"].nunique() >= 0.9 * small.n_patients
    for target, window in ((90, 14), (180, 14), (365, (300, 430))):
        lo, hi = window if isinstance(window, tuple) else (target - window, target + window)
        near = pf[pf["t"].between(lo, hi)]
        assert near["patient_id"].nunique() >= 0.5 * small.n_patients, target
    # nothing between the visits: questionnaires only come at the four visits
    gaps = pf[~(pf["t"].between(-7, 7) | pf["t"].between(76, 104) | pf["t"].between(166, 194)
               | pf["t"].between(300, 430))]
    assert gaps.empty
    diary = obs[obs["measure"] == "pain_nrs"].groupby("patient_id").size()
    assert diary.median() >= 20  # weekly diaries over ~60 weeks, with missing weeks


def test_wearable_subset_has_daily_steps(large):
    obs = _days(large)
    steps = obs[obs["measure"] == "steps"]
    owners = steps["patient_id"].nunique()
    assert 0.28 <= owners / large.n_patients <= 0.42
    minutes_owners = set(obs.loc[obs["measure"] == "active_minutes", "patient_id"])
    assert minutes_owners == set(steps["patient_id"])
    per_patient = steps.groupby("patient_id")["t"].agg(["size", "nunique", "max"])
    assert (per_patient["size"] == per_patient["nunique"]).all()  # one row a day
    assert per_patient["size"].median() >= 200
    assert steps["t"].between(0, synth.DAYS - 1).all()


def test_missingness_rises_with_withdrawal(large):
    """Patients who miss appointments early also fill fewer diaries and lose their outcome."""
    ev = _days(large, "events")
    early = ev[ev["event"].str.startswith("appointment") & (ev["t"] <= 90)]
    missed = (early["event"] == "appointment_missed").groupby(early["patient_id"]).mean()
    obs = _days(large)
    later_diary = obs[(obs["measure"] == "pain_nrs") & obs["t"].between(120, 400)]
    diaries = later_diary.groupby("patient_id").size().reindex(missed.index, fill_value=0)
    followup = obs[(obs["measure"] == "promis_physical_function") & obs["t"].between(300, 430)]
    has_followup = missed.index.isin(followup["patient_id"])
    high = (missed >= missed.quantile(0.75)).to_numpy()
    low = (missed <= missed.quantile(0.25)).to_numpy()
    assert diaries[high].mean() < 0.75 * diaries[low].mean()
    assert has_followup[high].mean() < has_followup[low].mean() - 0.1
    assert missed.corr(diaries, method="spearman") < -0.2


def _outcome_and_features(cohort) -> tuple[pd.Series, pd.DataFrame]:
    """The default outcome (cohort-format.md) and simple day-90 landmark features."""
    obs = _days(cohort)
    ids = cohort.patients["patient_id"]

    def closest(code: str, target: int, lo: int, hi: int) -> pd.Series:
        rows = obs[(obs["measure"] == code) & obs["t"].between(lo, hi)]
        rows = rows.assign(d=(rows["t"] - target).abs()).sort_values(["d", "t"])
        return rows.drop_duplicates("patient_id").set_index("patient_id")["value"].reindex(ids)

    pf0 = closest("promis_physical_function", 0, -60, 14)
    pf12 = closest("promis_physical_function", 365, 300, 430)
    mcid = measures.get("promis_physical_function").mcid
    label = ((pf12 - pf0) < mcid).astype(float).where(pf0.notna() & pf12.notna())

    feats = pd.DataFrame(index=ids)
    for code in ("promis_physical_function", "phq9", "isi", "pain_nrs"):
        feats[f"{code}_0"] = closest(code, 0, -60, 14)
        feats[f"{code}_change"] = closest(code, 90, 60, 90) - feats[f"{code}_0"]
    steps = obs[obs["measure"] == "steps"]
    feats["steps_0"] = steps[steps["t"] < 14].groupby("patient_id")["value"].mean()
    feats["steps_change"] = (steps[steps["t"].between(76, 90)].groupby("patient_id")["value"]
                             .mean() - feats["steps_0"])
    ev = _days(cohort, "events")
    appts = ev[ev["event"].str.startswith("appointment") & (ev["t"] <= 90)]
    feats["missed_share"] = (appts["event"] == "appointment_missed").groupby(
        appts["patient_id"]).mean()
    diary = obs[(obs["measure"] == "pain_nrs") & obs["t"].between(0, 90)]
    feats["diary_completion"] = diary.groupby("patient_id").size().reindex(ids).fillna(0) / 13
    return label, feats


def _cv_auc(features: pd.DataFrame, label: pd.Series) -> float:
    model = make_pipeline(SimpleImputer(add_indicator=True), StandardScaler(),
                          LogisticRegression(max_iter=1000))
    return float(cross_val_score(model, features, label, cv=5, scoring="roc_auc").mean())


def test_default_outcome_is_learnable_but_not_trivial(large):
    label, feats = _outcome_and_features(large)
    known = label.notna().to_numpy()
    assert 0.55 <= known.mean() <= 0.9  # dropouts leave some patients without a label
    y, X = label[known], feats[known]
    assert 0.4 <= y.mean() <= 0.6

    full = _cv_auc(X, y)
    pain = _cv_auc(X[["pain_nrs_0"]], y)
    withdrawal = _cv_auc(X[["missed_share", "diary_completion", "promis_physical_function_change",
                            "steps_change"]], y)
    assert 0.70 <= full <= 0.82, full
    assert pain <= 0.62, pain
    assert withdrawal >= pain + 0.08, (withdrawal, pain)
    assert full > withdrawal


def test_cli_sample_writes_a_valid_cohort(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["sample", "--patients", "60", "--seed", "5", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "events.parquet", "observations.parquet", "patients.parquet"]
    cohort, report = load_and_validate(out)
    assert report.ok, report.summary()
    assert cohort.n_patients == 60
    direct = synth.generate(60, seed=5)
    pd.testing.assert_frame_equal(cohort.observations, direct.observations)
    assert main(["validate", str(out)]) == 0
    assert "valid: 60 patients" in capsys.readouterr().out


def test_cli_sample_refuses_zero_patients(tmp_path, capsys):
    assert main(["sample", "--patients", "0", "--out", str(tmp_path / "x")]) == 1
    assert "at least 1" in capsys.readouterr().err


def test_bundled_demo_matches_the_generator():
    """sample_data/demo is what `make sample` produces (regenerate it after changing synth)."""
    from paincycle.config import SAMPLE_COHORT

    fresh = synth.generate(1000, seed=7)
    for table in ("patients", "observations", "events"):
        stored = pd.read_parquet(SAMPLE_COHORT / f"{table}.parquet")
        pd.testing.assert_frame_equal(stored, getattr(fresh, table), check_dtype=False)


def test_a_large_cohort_is_written_batch_by_batch_and_equals_the_one_in_memory(
        tmp_path, monkeypatch):
    from paincycle.cohort import read_cohort

    monkeypatch.setattr(synth, "SAMPLE_BATCH", 40)  # 100 patients: three batches
    folder = synth.write_sample(100, 5, tmp_path / "batched")
    import pyarrow.parquet as pq

    assert pq.ParquetFile(folder / "observations.parquet").num_row_groups >= 3
    written = read_cohort(folder)
    in_memory = synth.generate(100, 5)
    ids = written.patients["patient_id"].tolist()
    assert ids == [f"P{i:06d}" for i in range(1, 101)] == in_memory.patients["patient_id"].tolist()
    for table in ("observations", "events"):
        a, b = getattr(written, table), getattr(in_memory, table)
        assert len(a) == len(b) > 0
        assert a["patient_id"].astype(str).tolist() == b["patient_id"].astype(str).tolist()
    assert written.observations["value"].tolist() == in_memory.observations["value"].tolist()
    # the batches are not copies of one another
    first, second = (written.observations[written.observations["patient_id"] == p]["value"]
                     for p in ("P000001", "P000041"))
    assert first.tolist() != second.tolist()
