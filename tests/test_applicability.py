"""Where a model's numbers come from, said the same way everywhere, and the model checked on
the cohort it scores."""

from __future__ import annotations

import pytest

from paincycle import applicability, config, synth
from paincycle import model as risk_model
from paincycle.applicability import Provenance
from paincycle.cohort import read_cohort

pytestmark = pytest.mark.skipif(not config.DEMO_MODEL.exists(), reason="no shipped model")


@pytest.fixture(scope="module")
def trained():
    return risk_model.load(config.DEMO_MODEL)


def test_the_words_for_each_case():
    assert "describe these patients" in Provenance(True, False, False).words()
    own_synthetic = Provenance(True, True, True).words()
    assert "trained on synthetic (generated) data" in own_synthetic and "none of them real" in own_synthetic
    both = Provenance(False, True, True).words()
    assert "synthetic too" in both and "no risk here describes a real patient" in both
    real = Provenance(False, True, False)
    assert real.synthetic_on_real and "scores real patients" in real.words()
    assert Provenance(False, True, None).synthetic_on_real
    assert "may be real" in Provenance(False, True, None).words()
    elsewhere = Provenance(False, False, False, "Clinic B").words()
    assert "'Clinic B'" in elsewhere and "not measured in training" in elsewhere
    assert not Provenance(False, False, False).synthetic_on_real


def test_the_demo_model_knows_the_demo_cohort_as_its_own(trained):
    demo = read_cohort(config.SAMPLE_COHORT)
    assert applicability.trained_on_this(trained, demo)
    assert not applicability.trained_on_this(trained, demo.subset(demo.patients["patient_id"][:999]))


def test_a_local_check_on_another_cohort(trained):
    other = synth.generate(400, seed=5)
    scores = risk_model.score(trained, other, explain=False).table
    check = applicability.local_validation(trained, other, scores)
    assert check.measured and check.n_labelled >= risk_model.MIN_LABELLED
    assert 0.5 < check.auc <= 1.0
    assert check.auc_ci[0] <= check.auc <= check.auc_ci[1]
    assert check.n_labelled + check.n_scored_unlabelled == len(scores)
    assert 0 <= check.brier <= 1 and check.calibration_slope > 0


def test_too_few_outcomes_is_said_not_computed(trained):
    few = synth.generate(30, seed=2)
    scores = risk_model.score(trained, few, explain=False).table
    check = applicability.local_validation(trained, few, scores)
    assert not check.measured and "needed to check the model here" in check.reason


def test_a_model_is_its_cohorts_own_by_what_it_says_never_by_where_it_lies():
    here, elsewhere = synth.generate(120, seed=31), synth.generate(130, seed=32)
    trained = risk_model.train(here, seed=0, kinds=("logistic",), cohort_version="v-here")
    assert trained.metadata.cohort_version == "v-here"
    assert applicability.trained_here(trained, here, "v-here")
    assert applicability.trained_here(trained, here)  # the same data, by its hash
    # copied beside another version: not its own, whatever the file is called
    assert not applicability.trained_here(trained, elsewhere, "v-elsewhere")
