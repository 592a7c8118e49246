"""The landing page's headline: the same facts from a loaded cohort and from a kept analysis."""

from __future__ import annotations

from paincycle import analyses, synth
from paincycle.store import CohortStore
from paincycle.summary import cohort_headline, instruments_by_domain, version_headline


def test_a_versions_headline_equals_its_cohorts_without_loading_it(tmp_path, monkeypatch):
    store = CohortStore(tmp_path / "store")
    version = store.save(synth.generate(25, seed=2))
    expected = cohort_headline(store.load(version.id))
    monkeypatch.setattr(CohortStore, "load", lambda *_a: (_ for _ in ()).throw(AssertionError))
    got = version_headline(analyses.prepared(store, version.id), version.rows["observations"])
    assert got == expected
    assert got.patients == 25 and got.observations > 0 and got.first_date <= got.last_date


def test_instruments_are_named_by_domain_with_the_clinics_own_last():
    grouped = dict(instruments_by_domain(["phq9", "pain_nrs", "x_walk_test"]))
    assert grouped["clinic's own measures"] == ["x_walk_test"]
    assert list(grouped)[-1] == "clinic's own measures"
    assert any("PHQ-9" in name for names in grouped.values() for name in names)
