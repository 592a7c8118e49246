"""Risks are scored once per cohort version and model file, kept beside the version, and
read back the same; a damaged copy is scored again."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from paincycle import config, kept_scores
from paincycle import model as risk_model
from paincycle.cohort import read_cohort
from paincycle.store import CohortStore

pytestmark = pytest.mark.skipif(not config.DEMO_MODEL.exists(), reason="no shipped model")


@pytest.fixture(scope="module")
def trained():
    return risk_model.load(config.DEMO_MODEL)


def test_risks_are_kept_and_read_back_the_same(trained, tmp_path):
    cohort = read_cohort(config.SAMPLE_COHORT).subset(
        read_cohort(config.SAMPLE_COHORT).patients["patient_id"].head(120))
    store = CohortStore()
    version = store.save(cohort, name="demo part")
    calls = []

    def compute():
        calls.append(1)
        return risk_model.score(trained, cohort, explain=False)

    first = kept_scores.scores(store, version.id, config.DEMO_MODEL, compute)
    again = kept_scores.scores(store, version.id, config.DEMO_MODEL, compute)
    assert len(calls) == 1
    assert kept_scores.path_of(store, version.id, config.DEMO_MODEL).is_file()
    assert again.table["patient_id"].tolist() == first.table["patient_id"].tolist()
    np.testing.assert_allclose(again.table["risk"], first.table["risk"])
    assert again.table["flagged"].tolist() == first.table["flagged"].tolist()
    assert again.threshold == pytest.approx(first.threshold)
    assert again.skipped.to_dict("records") == first.skipped.to_dict("records")

    # a copy of the model is the same model; a changed file is another set of risks
    same, changed = tmp_path / "same.skops", tmp_path / "changed.skops"
    shutil.copy(config.DEMO_MODEL, same)
    changed.write_bytes(config.DEMO_MODEL.read_bytes() + b"\0")
    assert kept_scores.path_of(store, version.id, same) == kept_scores.path_of(
        store, version.id, config.DEMO_MODEL)
    assert kept_scores.path_of(store, version.id, changed) != kept_scores.path_of(
        store, version.id, config.DEMO_MODEL)

    # a damaged copy is scored again, never read
    kept_scores.path_of(store, version.id, config.DEMO_MODEL).write_bytes(b"not parquet")
    kept_scores.scores(store, version.id, config.DEMO_MODEL, compute)
    assert len(calls) == 2


def test_import_keeps_every_reason_and_where_the_model_comes_from(tmp_path):
    """services.prepare_version (what `paincycle import` runs) keeps each patient's reasons and
    the model's provenance, so the pages read them without the model."""
    from paincycle import services

    cohort = read_cohort(config.SAMPLE_COHORT)
    part = cohort.subset(cohort.patients["patient_id"].head(80))
    store = CohortStore()
    version = store.save(part, name="part")
    services.prepare_version(store, version.id)
    kept = kept_scores.scores(store, version.id, config.DEMO_MODEL,
                              lambda: pytest.fail("scored again instead of read"))
    assert (kept.table["top_factors"].str.contains("risk")).all()
    origin = kept_scores.kept_provenance(store, version.id, config.DEMO_MODEL)
    assert origin == {"trained_here": False, "model_synthetic": True, "trained_on": "demo"}
