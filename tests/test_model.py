"""Training, honest metrics, safe persistence, explanations and no look-ahead."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from paincycle import features as feat
from paincycle import model as risk_model
from paincycle import synth


class Foreign:
    """A type no PainCycle model holds: a file carrying it must be refused."""

    def __init__(self):
        self.payload = "anything"


@pytest.fixture(scope="session")
def cohort():
    return synth.generate(300, seed=11)


@pytest.fixture(scope="session")
def trained(cohort):
    return risk_model.train(cohort, seed=1)


@pytest.fixture(scope="session")
def trained_hgb(cohort):
    return risk_model.train(cohort, seed=1, kinds=("hgb",))


def test_metrics_are_complete_and_plausible(trained, cohort):
    m = trained.metadata.metrics
    assert 0.5 < m.auc <= 1
    assert m.auc_ci[0] <= m.auc <= m.auc_ci[1]
    assert m.n_train + m.n_unlabelled == m.n_patients == 300
    assert 0 < m.prevalence < 1 and 0 < m.brier < 0.25
    assert m.model_kind in m.candidates
    for name in ("calibration_slope", "calibration_intercept", "scaled_brier"):
        lo, hi = getattr(m, f"{name}_ci")
        assert lo <= getattr(m, name) <= hi, name
    curves = trained.metadata.curves
    thresholds = [row["threshold"] for row in curves.decision]
    assert thresholds[0] <= m.prevalence / 2 + 0.01 and thresholds[-1] <= 0.99
    risk = np.asarray(trained.metadata.evidence.risk)
    assert thresholds[-1] >= np.floor(100 * risk.max()) / 100 - 1e-9  # up to the highest risk
    default_cut = risk_model.flag_threshold(risk)
    assert any(abs(t - default_cut) < 1e-4 for t in thresholds)  # the default flag threshold
    assert [row["threshold"] for row in curves.thresholds] == thresholds
    assert curves.calibration_smooth
    assert [a["features"] for a in trained.metadata.ablation] == [
        "full model", *[name for name, _ in feat.ABLATION_BLOCKS],
        "full model with missing-value indicators"]
    assert {s["group"] for s in trained.metadata.subgroups} == {"sex", "age band", "site"}
    assert {row["site"] for row in trained.metadata.leave_one_site_out} == set(
        cohort.patients["site"].astype(str))
    assert trained.metadata.features and set(trained.metadata.features) <= set(feat.FEATURES)


def test_simpler_model_is_kept_unless_boosting_clearly_wins(trained):
    c = trained.metadata.metrics.candidates
    expected = "hgb" if c["hgb"] > c["logistic"] + risk_model.SIMPLER_MARGIN else "logistic"
    assert trained.metadata.metrics.model_kind == expected


@pytest.mark.parametrize("which", ["trained", "trained_hgb"])
def test_round_trip_predicts_identically(which, request, cohort, tmp_path):
    model = request.getfixturevalue(which)
    path = risk_model.save(model, tmp_path / "m.skops")
    loaded = risk_model.load(path)
    X = feat.landmark_features(cohort)
    np.testing.assert_array_equal(model.predict_risk(X), loaded.predict_risk(X))
    assert loaded.metadata == model.metadata
    assert json.loads(path.with_suffix(".json").read_text())["training_data_hash"]
    assert loaded.warnings == ()
    card = path.with_suffix(".md").read_text()
    assert "not a diagnosis" in card and "TRIPOD+AI" in card
    assert f"Model file SHA-256: {risk_model.file_sha256(path)}" in card
    assert f"{model.metadata.metrics.auc:.3f} (95% bootstrap CI" in card
    assert "More Information Needed" not in card
    for heading in ("Source of data", "Participants and flow", "Missing data", "Subgroups",
                    "Decision curve", "Limitations", "Monitoring", "Loss to follow-up",
                    "Leave one site out"):
        assert f"## {heading}" in card
    m = model.metadata.metrics
    assert f"Calibration slope | {m.calibration_slope:.2f} (95% CI {m.calibration_slope_ci[0]:.2f}" in card
    assert "non-responder imputation" in card and "PPV" in card


def _rewrite_embedded_metadata(path, change) -> None:
    """What a tamperer does: rewrite the metadata inside the skops file itself."""
    content = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    meta = json.loads(content["metadata"])
    change(meta)
    sio.dump({"estimator": content["estimator"], "metadata": json.dumps(meta)}, path)


def test_a_rewritten_auc_inside_the_file_is_refused(trained, tmp_path):
    path = risk_model.save(trained, tmp_path / "m.skops")

    def better(meta):
        meta["metrics"]["auc"] = 0.95

    _rewrite_embedded_metadata(path, better)
    with pytest.raises(risk_model.UntrustedModelError, match="states auc 0.950"):
        risk_model.load(path)


def test_a_rewritten_sample_size_inside_the_file_is_refused(trained, tmp_path):
    path = risk_model.save(trained, tmp_path / "m.skops")

    def bigger(meta):
        meta["metrics"]["n_train"] *= 10

    _rewrite_embedded_metadata(path, bigger)
    with pytest.raises(risk_model.UntrustedModelError, match="labelled patients"):
        risk_model.load(path)


def test_an_edited_sidecar_is_flagged_and_not_used(trained, tmp_path):
    path = risk_model.save(trained, tmp_path / "m.skops")
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar[risk_model.FILE_HASH_KEY] == risk_model.file_sha256(path)
    sidecar["metrics"]["auc"], sidecar["synthetic"] = 0.95, False
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    loaded = risk_model.load(path)
    assert loaded.metadata.metrics.auc == trained.metadata.metrics.auc  # the file's own
    assert any("does not match the model file" in w for w in loaded.warnings)


def test_a_file_without_evidence_loads_with_a_warning(trained, tmp_path):
    path = risk_model.save(trained, tmp_path / "m.skops")

    def older(meta):
        meta["evidence"] = None

    _rewrite_embedded_metadata(path, older)
    path.with_suffix(".json").unlink()
    loaded = risk_model.load(path)
    assert any("cannot be verified" in w for w in loaded.warnings)


def test_the_evaluation_is_nested(trained):
    """Each outer fold chose its own kind; the evidence is the nested out-of-fold risks."""
    m = trained.metadata.metrics
    assert len(m.kinds_chosen_in_folds) == risk_model.N_FOLDS
    assert set(m.kinds_chosen_in_folds) <= {"logistic", "hgb"}
    assert len(trained.metadata.evidence.risk) == m.n_train
    assert trained.metadata.flow["labelled"] == m.n_train
    assert trained.metadata.data_period and trained.metadata.missing_share


def test_foreign_type_is_refused(trained, tmp_path):
    path = tmp_path / "foreign.skops"
    sio.dump({"estimator": trained.estimator, "metadata": "{}", "extra": Foreign()}, path)
    with pytest.raises(risk_model.UntrustedModelError, match="Foreign"):
        risk_model.load(path)


def _edited_copy(trained, tmp_path, edit) -> Path:
    """The saved model with its schema.json passed through ``edit`` (bytes -> bytes)."""
    good = risk_model.save(trained, tmp_path / "good.skops")
    bad = tmp_path / "bad.skops"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, edit(data) if item.filename == "schema.json" else data)
    return bad


def test_tampered_file_is_refused(trained, tmp_path):
    bad = _edited_copy(trained, tmp_path, lambda data: data.replace(
        b'"_SigmoidCalibration"', b'"Popen"').replace(b'"sklearn.calibration"', b'"subprocess"', 1))
    with pytest.raises(risk_model.UntrustedModelError, match="refusing"):
        risk_model.load(bad)
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(risk_model.UntrustedModelError):
        risk_model.load(junk)


def test_no_look_ahead(trained, cohort):
    """Scoring with every row after the landmark removed gives identical risks and reasons."""
    as_of = cohort.date_range()[1]
    full = risk_model.score(trained, cohort, as_of=as_of).table
    cut = risk_model.score(trained, feat.landmark_cut(cohort, trained.landmark_days),
                           as_of=as_of).table
    assert len(full) > 100
    pd.testing.assert_frame_equal(full, cut)


def test_flags_top_fifth_and_custom_threshold(trained, cohort):
    scores = risk_model.score(trained, cohort, explain=False)
    share = scores.table["flagged"].mean()
    assert 0.15 <= share <= 0.25
    assert (scores.table.loc[scores.table["flagged"] == 1, "risk"] >= scores.threshold).all()
    strict = risk_model.score(trained, cohort, threshold=0.99, explain=False)
    assert strict.table["flagged"].sum() == (strict.table["risk"] >= 0.99).sum()


def test_patients_without_data_or_not_yet_at_landmark_are_skipped(trained, cohort):
    late = cohort.patients["intake_date"].max()
    scores = risk_model.score(trained, cohort, as_of=late + pd.Timedelta(days=30), explain=False)
    reasons = set(scores.skipped["reason"])
    assert reasons == {"not yet at the day-90 landmark"}
    assert len(scores.table) + len(scores.skipped) == cohort.n_patients


def test_logistic_contributions_are_coefficient_times_standardised_value(trained, cohort):
    if trained.metadata.metrics.model_kind != "logistic":
        pytest.skip("boosting was kept on this cohort")
    X = feat.landmark_features(cohort)[trained.feature_names].head(20)
    contrib = risk_model.contributions(trained, X)
    prep, clf = trained.pipeline.named_steps["prep"], trained.pipeline.named_steps["clf"]
    Z = prep.transform(X)
    coef = pd.Series(clf.coef_[0], index=prep.get_feature_names_out())
    expected = Z["pain_nrs_baseline"] * coef["pain_nrs_baseline"]
    np.testing.assert_allclose(contrib["pain_nrs_baseline"], expected.to_numpy(), atol=1e-6)


def test_top_factors_name_real_values(trained, cohort):
    scores = risk_model.score(trained, cohort)
    text = " | ".join(scores.table["top_factors"])
    assert " raises risk" in text and " lowers risk" in text
    assert "not recorded" not in text


def test_every_reason_says_what_its_contribution_does(trained, cohort):
    """Each phrase's verb is the sign of its contribution, and a baseline's "low"/"high" is
    the side of the reference patient the value lies on (the move the contribution measures)."""
    X = feat.landmark_features(cohort)[trained.feature_names].head(60)
    contrib = risk_model.contributions(trained, X)
    reference = trained.metadata.reference
    checked = 0
    for pid, phrases in zip(X.index, risk_model.top_factors(trained, X, trained.landmark_days),
                            strict=True):
        row = contrib.loc[pid]
        for phrase in phrases.split(" | "):
            if phrase == "no single factor stands out":
                continue
            matches = [c for c in row.index
                       if phrase == feat.describe_effect(c, X.loc[pid], reference.get(c),
                                                         float(row[c]), trained.landmark_days)]
            assert matches, phrase
            column = matches[0]
            assert phrase.endswith("raises risk") == (row[column] > 0), phrase
            assert phrase.endswith("lowers risk") == (row[column] < 0), phrase
            if column.endswith("_baseline"):
                value, ref = float(X.loc[pid, column]), float(reference[column])
                assert phrase.startswith("high ") == (value > ref), phrase
                assert phrase.startswith("low ") == (value < ref), phrase
            checked += 1
    assert checked > 60  # several reasons a patient, both directions


def test_low_function_at_intake_reads_as_low():
    row = pd.Series({"promis_physical_function_baseline": 29.3})
    words = feat.describe_effect("promis_physical_function_baseline", row, 41.0, 0.4)
    assert words.startswith("low PROMIS physical function T at intake (29.3")
    assert words.endswith("raises risk")
    assert feat.describe_effect("promis_physical_function_baseline", row, 20.0, -0.2
                                ).startswith("high ")


def test_too_few_labels_is_a_clear_error():
    with pytest.raises(ValueError, match="too few labelled patients"):
        risk_model.train(synth.generate(30, seed=2))


@pytest.mark.parametrize(("risk", "words"), [(0.004, "1%"), (0.3449, "34%"), (0.345, "34%"),
                                            (0.346, "35%"), (0.996, "99%"), (1.0, "99%")])
def test_risk_words_never_claim_certainty(risk, words):
    assert risk_model.risk_words(risk) == words


def test_only_admins_retrain(tiny_cohort_dir):
    from paincycle.access import AccessDenied, Principal, Role
    from paincycle.cohort import read_cohort

    with pytest.raises(AccessDenied, match="researcher role may not retrain"):
        risk_model.train(read_cohort(tiny_cohort_dir),
                         principal=Principal("r@uni", Role.RESEARCHER))


def test_a_zip_bombed_model_file_is_refused_before_skops_unpacks_it(tmp_path, monkeypatch):
    """A small file whose schema unpacks to gigabytes: refused from its declared sizes."""
    bomb = tmp_path / "bomb.skops"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("schema.json", "w", force_zip64=True) as member:
            block = b" " * (1 << 20)
            for _ in range(300):  # 300 MB of spaces, about 300 KB packed
                member.write(block)
    assert bomb.stat().st_size < 2 * 1024**2

    def never(*args, **kwargs):
        raise AssertionError("skops must not be asked to read it")

    monkeypatch.setattr("skops.io.get_untrusted_types", never)
    with pytest.raises(risk_model.UntrustedModelError, match="would unpack to 300 MB"):
        risk_model.load(bomb)
    monkeypatch.setattr(risk_model, "MAX_MODEL_FILE_BYTES", 1024)
    with pytest.raises(risk_model.UntrustedModelError, match="larger than any PainCycle model"):
        risk_model.load(bomb)


def test_a_model_whose_metadata_was_edited_out_of_range_is_refused(trained, tmp_path):
    """An AUC rewritten to 3.5 (or any field of the wrong type) is refused, never shown."""
    bad = _edited_copy(trained, tmp_path, lambda data: re.sub(  # the AUC becomes 3.x
        rb'(auc\\*":\s*)0\.', rb"\g<1>3.", data, count=1))
    with pytest.raises(risk_model.UntrustedModelError, match="metadata PainCycle does not accept"):
        risk_model.load(bad)


def test_missing_indicators_are_an_option_visible_in_feature_names():
    from paincycle.model import build_pipeline

    X = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0] * 10, "b": [1.0, 2.0, 3.0, 4.0] * 10})
    y = np.array([0, 1, 0, 1] * 10)
    with_ind = build_pipeline("logistic", X, missing_indicators=True).fit(X, y)
    names = list(with_ind.named_steps["prep"].get_feature_names_out())
    assert "missingindicator_a" in names and "missingindicator_b" not in names
    without = build_pipeline("logistic", X).fit(X, y)
    assert not any(n.startswith("missingindicator") for n in without.named_steps["prep"].get_feature_names_out())


def _with_custom_measure(cohort, predictive: bool = True):
    """The cohort plus a custom intake score (``x_distress``) that tracks the outcome."""
    from paincycle.cohort import Cohort
    from paincycle.outcomes import OutcomeDefinition, label_outcomes

    labels = label_outcomes(cohort, OutcomeDefinition()).set_index("patient_id")["poor_outcome"]
    patients = cohort.patients
    rng = np.random.default_rng(3)
    poor = patients["patient_id"].astype(str).map(labels).fillna(0).to_numpy()
    value = (3 * poor if predictive else 0) + rng.normal(0, 1, len(patients))
    extra = pd.DataFrame({"patient_id": patients["patient_id"], "date": patients["intake_date"],
                          "measure": "x_distress", "value": value})
    observations = pd.concat([cohort.observations, extra.astype(
        {c: cohort.observations[c].dtype for c in extra.columns})], ignore_index=True)
    return Cohort(patients, observations, cohort.events, cohort.name)


def test_custom_measures_and_missing_indicators_are_training_options(cohort, tmp_path):
    with_custom = _with_custom_measure(cohort)
    plain = risk_model.train(with_custom, seed=1, kinds=("logistic",))
    assert "x_distress_baseline" not in plain.feature_names
    rich = risk_model.train(with_custom, seed=1, kinds=("logistic",), include_custom=True,
                            missing_indicators=True)
    assert "x_distress_baseline" in rich.feature_names
    assert rich.metadata.feature_options == {"include_custom": True, "missing_indicators": True}
    assert rich.metadata.metrics.auc > plain.metadata.metrics.auc + 0.05  # it uses the signal
    prep_names = rich.pipeline.named_steps["prep"].get_feature_names_out()
    assert any(n.startswith("missingindicator_") for n in prep_names)
    assert rich.metadata.ablation[-1]["features"] == "full model without missing-value indicators"
    loaded = risk_model.load(risk_model.save(rich, tmp_path / "rich.skops"))
    scored = risk_model.score(loaded, with_custom, explain=False).table
    assert len(scored) and scored["risk"].between(0, 1).all()
    # a cohort without the custom measure is scored with it as a gap, not refused
    assert len(risk_model.score(loaded, cohort, explain=False).table) == len(scored)


def test_loss_to_follow_up_is_shown_and_tested_three_ways(trained, cohort):
    from paincycle import outcomes

    lost = trained.metadata.loss_to_follow_up
    status = outcomes.follow_up_status(cohort, trained.outcome)
    groups = {g["status"]: g for g in lost["groups"]}
    assert groups[outcomes.LOST]["n"] == lost["n_lost"] == int((status == outcomes.LOST).sum())
    assert sum(g["n"] for g in lost["groups"]) == cohort.n_patients
    assert groups[outcomes.LABELLED]["n"] == trained.metadata.metrics.n_train
    names = [row["analysis"] for row in lost["sensitivity"]]
    assert names[0].startswith("complete cases") and "weighted" in names[1]
    assert "non-responder" in names[2]
    nri = lost["sensitivity"][2]
    assert nri["n"] == trained.metadata.metrics.n_train + lost["n_lost"]
    assert nri["poor_outcomes"] == trained.metadata.metrics.n_poor + lost["n_lost"]
    assert "not weighted" in lost["ipw_note"]


def test_an_outcome_counting_the_lost_as_poor_trains_on_them(cohort):
    from paincycle.outcomes import OutcomeDefinition

    nri = risk_model.train(cohort, OutcomeDefinition.build(lost_as_poor=True), seed=1,
                           kinds=("logistic",))
    lost = nri.metadata.loss_to_follow_up
    assert nri.metadata.metrics.n_train == lost["sensitivity"][0]["n"] + lost["n_lost"]
    assert "non-responder imputation" in nri.metadata.outcome_words
    assert nri.outcome.missing_follow_up == "poor"
