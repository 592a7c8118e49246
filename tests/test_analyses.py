"""A version's analyses kept on disk read back to the same views, and are recomputed when damaged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paincycle import analyses, synth
from paincycle import trajectories as tr
from paincycle.cohort import Cohort
from paincycle.store import CohortStore

TODAY = pd.Timestamp("2026-06-01")


def same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(as_text(left).reset_index(drop=True),
                                  as_text(right).reset_index(drop=True),
                                  check_dtype=False, check_index_type=False)


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as plain text (a loaded cohort holds ids as categories, a read slice not)."""
    return frame.astype({c: object for c in frame.columns
                         if isinstance(frame[c].dtype, pd.CategoricalDtype)})


def read_back(folder, cohort: Cohort, today=None, cohort_tag=None) -> tr.CohortTrajectories:
    return tr.CohortTrajectories.from_folder(folder, cohort.patients, tr.CohortRows(cohort),
                                             cohort.name, today, cohort_tag)


@pytest.fixture(params=["rows by patient", "rows scrambled"])
def stored(request, tmp_path):
    """A stored version and its loaded cohort; scrambled rows need a kept row order too."""
    cohort = synth.generate(40, seed=9)
    if request.param == "rows scrambled":
        rng = np.random.default_rng(0)
        cohort = Cohort(cohort.patients,
                        cohort.observations.iloc[rng.permutation(len(cohort.observations))],
                        cohort.events.iloc[rng.permutation(len(cohort.events))])
    store = CohortStore(tmp_path / "store")
    version = store.save(cohort)
    return store, version.id, store.load(version.id)


def test_kept_analyses_read_back_to_the_same_views(stored):
    store, version_id, cohort = stored
    computed = tr.CohortTrajectories(cohort, TODAY)
    folder = analyses.folder_of(store, version_id)
    assert analyses.keep(computed, folder)
    read = read_back(folder, cohort, TODAY)

    ids = computed.matching()
    assert read.headline(ids) == computed.headline(ids)
    assert read.filter_options() == computed.filter_options()
    same(read.rates(ids), computed.rates(ids))
    same(read.table(ids), computed.table(ids))
    for code, band in computed.bands(ids).items():
        same(read.bands(ids)[code], band)
    same(read.bands(ids, unit="month")["pain_nrs"], computed.bands(ids, unit="month")["pain_nrs"])
    site = computed.filter_options()["sites"][0]
    assert read.headline(read.matching(sites=[site])) == computed.headline(computed.matching(sites=[site]))
    same(read.status, computed.status)
    pid = ids.iloc[7]
    same(read.percentiles(pid), computed.percentiles(pid))
    same(read.patient_domain_status(pid), computed.patient_domain_status(pid))
    same(read.patient(pid).observations, computed.patient(pid).observations)
    same(read.patient(pid).events, computed.patient(pid).events)
    assert len(read.patient(pid).observations) == int((cohort.observations["patient_id"] == pid).sum())
    assert read.sorted_ids == computed.sorted_ids and read.primary == computed.primary
    assert read.as_of == computed.as_of


def test_the_engine_computes_what_memory_computes(stored):
    """The version's analyses are computed by the configured engine (DuckDB here) over the
    stored Parquet; ties ("the first in the table") follow the stored rows' order."""
    store, version_id, cohort = stored
    by_engine = analyses.compute(store, version_id, TODAY)
    in_memory = tr.CohortTrajectories(cohort, TODAY)
    ids = in_memory.matching()
    for name in ("patients", "treated", "status", "domain", "triad"):
        same(getattr(by_engine, name), getattr(in_memory, name))
    same(by_engine.rates(ids), in_memory.rates(ids))
    same(by_engine.table(ids), in_memory.table(ids))
    assert by_engine.as_of == in_memory.as_of
    assert by_engine.date_range == in_memory.date_range and by_engine.records_events
    assert by_engine.sorted_ids == in_memory.sorted_ids and by_engine.primary == in_memory.primary
    site = in_memory.filter_options()["sites"][0]
    for chosen in (ids, in_memory.matching(sites=[site])):
        for code, band in in_memory.bands(chosen).items():
            same(by_engine.bands(chosen)[code], band)
    for pid in ids.iloc[[0, 7, 23]]:
        same(by_engine.percentiles(pid), in_memory.percentiles(pid))
        for table in ("patients", "observations", "events"):
            same(getattr(by_engine.patient(pid), table), getattr(in_memory.patient(pid), table))
    several = list(ids.iloc[[5, 2, 9]])
    for table in ("observations", "events"):
        same(getattr(by_engine.patients_rows(several), table),
             getattr(in_memory.patients_rows(several), table))


def test_a_version_is_prepared_and_served_without_loading_its_observations(stored, monkeypatch):
    """A server holds the analyses, not the cohort: a patient's rows are read when opened."""
    store, version_id, cohort = stored

    def must_not_load(*_args, **_kwargs):
        raise AssertionError("the whole version was loaded")

    monkeypatch.setattr(CohortStore, "load", must_not_load)
    for _ in ("computed", "read back"):
        analysis = analyses.prepared(store, version_id)
        pid = analysis.sorted_ids[3]
        mine = analysis.patient(pid)
        expected = cohort.observations[cohort.observations["patient_id"] == pid]
        assert len(mine.observations) == len(expected) > 0
        assert mine.observations["date"].is_monotonic_increasing
        assert not hasattr(analysis, "cohort")
    nobody = analysis.patient("no-such-patient")
    assert nobody.patients.empty and nobody.observations.empty and nobody.events.empty


def test_age_bands_follow_today_not_the_day_they_were_kept(stored):
    store, version_id, cohort = stored
    folder = analyses.folder_of(store, version_id)
    analyses.keep(tr.CohortTrajectories(cohort, TODAY), folder)
    later = pd.Timestamp("2046-06-01")
    read = read_back(folder, cohort, later)
    expected = tr.age_bands(cohort.patients, later).tolist()
    assert read.patients["age_band"].tolist() == expected
    assert expected != tr.age_bands(cohort.patients, TODAY).tolist()


def test_prepared_computes_once_then_reads_back(stored, monkeypatch):
    store, version_id, cohort = stored
    first = analyses.prepared(store, version_id)
    folder = analyses.folder_of(store, version_id)
    assert (folder / "arrays.npz").exists()

    def must_not_compute(*_args, **_kwargs):
        raise AssertionError("computed again although the analyses are kept")

    monkeypatch.setattr(analyses, "CohortTrajectories", type(
        "ReadOnly", (), {"from_folder": staticmethod(tr.CohortTrajectories.from_folder),
                         "__init__": must_not_compute}))
    again = analyses.prepared(store, version_id)
    assert again.headline(again.matching()) == first.headline(first.matching())


@pytest.mark.parametrize("damage", ["not an npz file", "truncated", "meta missing",
                                    "mapped array truncated", "mapped array missing",
                                    "status missing"])
def test_damaged_analyses_are_recomputed_and_replaced(stored, damage):
    store, version_id, cohort = stored
    analyses.prepared(store, version_id)
    folder = analyses.folder_of(store, version_id)
    arrays = folder / "arrays.npz"
    if damage == "not an npz file":
        arrays.write_bytes(b"not an npz file")
    elif damage == "truncated":
        arrays.write_bytes(arrays.read_bytes()[:300])
    elif damage == "mapped array truncated":
        mapped = folder / "pct_values.npy"
        mapped.write_bytes(mapped.read_bytes()[:200])
    elif damage == "mapped array missing":
        (folder / "pain_value.npy").unlink()
    elif damage == "status missing":
        (folder / "status.parquet").unlink()
    else:
        (folder / "meta.json").unlink()
    recomputed = analyses.prepared(store, version_id)
    assert recomputed.headline(recomputed.matching())["patients"] == 40
    reread = read_back(folder, cohort)
    assert reread.headline(reread.matching())["patients"] == 40


def test_another_cohorts_analyses_are_not_used(stored, tmp_path):
    store, version_id, cohort = stored
    folder = analyses.folder_of(store, version_id)
    analyses.keep(tr.CohortTrajectories(cohort), folder)
    other = synth.generate(25, seed=3)
    with pytest.raises(ValueError, match="does not belong"):
        read_back(folder, other)


def test_a_read_only_store_still_gets_its_analyses(stored, monkeypatch):
    store, version_id, cohort = stored

    def refuse(self, folder, *_tag):
        raise PermissionError("read-only data folder")

    monkeypatch.setattr(tr.CohortTrajectories, "to_folder", refuse)
    result = analyses.prepared(store, version_id)
    assert result.headline(result.matching())["patients"] == 40
    assert not analyses.folder_of(store, version_id).exists()
    assert not list(store.path_of(version_id).glob(".staging-*"))


def test_the_weekly_indexes_are_memory_mapped_not_held(stored):
    store, version_id, _cohort = stored
    first = analyses.prepared(store, version_id)  # computed, kept, then served from the copy
    read = analyses.prepared(store, version_id)
    for served in (first, read):
        for name in tr.CohortTrajectories._MAPPED:
            array = getattr(served, name)
            assert isinstance(array, np.memmap), name
            assert str(analyses.folder_of(store, version_id)) in str(array.filename)


def test_the_engine_writes_the_weekly_indexes_as_files_equal_to_held_ones(stored, tmp_path):
    from paincycle.engine import connect, queries

    store, version_id, cohort = stored
    ids = cohort.patients["patient_id"].astype(str).to_numpy(dtype=object)
    engine = connect("duckdb")
    held = queries.weekly_indexes(engine, store.path_of(version_id), ids)
    mapped = queries.weekly_indexes(engine, store.path_of(version_id), ids, tmp_path)
    for name in ("band_key", "band_value", "band_pid", "pct_key", "pct_values", "pain_pid",
                 "pain_value"):
        assert not isinstance(getattr(held, name), np.memmap)
        assert isinstance(getattr(mapped, name), np.memmap)
        np.testing.assert_array_equal(getattr(mapped, name), getattr(held, name))
        assert getattr(mapped, name).dtype == getattr(held, name).dtype
    assert len(list(tmp_path.glob("*.npy"))) == 7


def test_the_responder_status_is_read_when_asked_not_held(stored):
    store, version_id, cohort = stored
    analyses.prepared(store, version_id)
    read = analyses.prepared(store, version_id)
    assert read._status is None  # 13 million rows at 1,000,000 patients: read per export
    same(read.status, tr.responder_status(cohort))


def test_latest_scores_are_the_later_score_else_the_baseline(stored):
    store, version_id, cohort = stored
    analyses.prepared(store, version_id)
    read = analyses.prepared(store, version_id)
    status = tr.responder_status(cohort)
    ids = pd.Series(sorted(cohort.patients["patient_id"].astype(str)) + ["nobody"])
    for code in ("pain_nrs", read.primary["function"]):
        rows = status[status["measure"] == code]
        want = dict(zip(rows["patient_id"].astype(str),
                        np.where(rows["latest"].isna(), rows["baseline"], rows["latest"]),
                        strict=True))
        got = read.latest_scores(code, ids)
        np.testing.assert_array_equal(got, [want.get(pid, np.nan) for pid in ids])
        assert np.isnan(got[-1])
    assert np.isnan(read.latest_scores("not_a_measure", ids)).all()


def test_kept_analyses_do_not_change_the_version(stored):
    store, version_id, cohort = stored
    before = store.versions()
    analyses.prepared(store, version_id)
    assert store.versions() == before
    assert store.load(version_id).observations.shape == cohort.observations.shape


def test_a_copy_already_in_place_stays(stored):
    """Two servers computing at once: the first copy to land is kept, the second is dropped."""
    store, version_id, cohort = stored
    folder = analyses.folder_of(store, version_id)
    first = tr.CohortTrajectories(cohort)
    assert analyses.keep(first, folder)
    (folder / "landed-first").write_text("")
    assert analyses.keep(tr.CohortTrajectories(cohort), folder)
    assert (folder / "landed-first").exists()
    assert not list(folder.parent.glob(".staging-*"))


def test_copies_for_other_data_or_reordered_patients_are_refused(stored):
    store, version_id, cohort = stored
    folder = analyses.folder_of(store, version_id)
    computed = tr.CohortTrajectories(cohort)
    analyses.keep(computed, folder, "hash-of-this-version")
    with pytest.raises(ValueError, match="another cohort version"):
        read_back(folder, cohort, cohort_tag="hash-of-another-version")
    read_back(folder, cohort, cohort_tag="hash-of-this-version")
    reordered = Cohort(cohort.patients.iloc[::-1].reset_index(drop=True), cohort.observations,
                       cohort.events)
    with pytest.raises(ValueError, match="does not belong"):
        read_back(folder, reordered)


def test_old_fingerprints_and_crash_leftovers_are_tidied_only_once_stale(stored):
    import os
    import time

    store, version_id, cohort = stored
    version_folder = store.path_of(version_id)
    old_code = version_folder / "analyses-0123456789ab"
    recent_code = version_folder / "analyses-ba9876543210"
    crashed = version_folder / ".staging-analyses-0123456789ab-dead"
    for folder in (old_code, recent_code, crashed):
        folder.mkdir()
    week_ago = time.time() - analyses.STALE_AFTER_S - 60
    os.utime(old_code, (week_ago, week_ago))
    os.utime(crashed, (week_ago, week_ago))
    analyses.prepared(store, version_id)
    assert not old_code.exists() and not crashed.exists()
    assert recent_code.exists()  # a server on other code may still be reading it
    assert analyses.folder_of(store, version_id).exists()


def test_a_patients_rows_are_read_once_for_the_pages_repeated_asks(stored, monkeypatch):
    store, version_id, cohort = stored
    analyses.prepared(store, version_id)
    read = analyses.prepared(store, version_id)
    reads = []
    real = CohortStore.patient_rows
    monkeypatch.setattr(CohortStore, "patient_rows",
                        lambda self, vid, ids: reads.append(list(ids)) or real(self, vid, ids))
    ids = read.sorted_ids
    first = read.patient(ids[0])
    assert read.patient(ids[0]) is first and len(reads) == 1
    same(first.observations, cohort.observations[cohort.observations["patient_id"] == ids[0]]
         .sort_values("date", kind="stable"))
    for pid in ids[1:1 + tr.RECENT_PATIENTS]:  # older ones make way
        read.patient(pid)
    read.patient(ids[0])
    assert len(reads) == 2 + tr.RECENT_PATIENTS
