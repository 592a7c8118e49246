import json

import pytest

from paincycle.cohort import read_cohort
from paincycle.store import CohortStore


def test_save_load_and_list_versions(tiny_cohort_dir, tmp_path):
    store = CohortStore(tmp_path / "store")
    cohort = read_cohort(tiny_cohort_dir)
    version = store.save(cohort, name="tiny clinic")
    assert version.name == "tiny-clinic"
    assert version.rows == {"patients": 3, "observations": 11, "events": 4}
    manifest = json.loads((store.path_of(version.id) / "manifest.json").read_text())
    assert manifest["content_hash"] == version.content_hash
    loaded = store.load(version.id)
    assert loaded.observations["value"].sum() == cohort.observations["value"].sum()
    assert store.find("tiny-clinic") == version
    assert store.latest() == version


def test_identical_content_is_stored_once(tiny_cohort_dir, tmp_path):
    store = CohortStore(tmp_path / "store")
    cohort = read_cohort(tiny_cohort_dir)
    assert store.save(cohort).id == store.save(cohort).id
    assert len(store.versions()) == 1
    smaller = cohort.subset(["P001"])
    assert store.save(smaller).id != store.versions()[-1].id or len(store.versions()) == 2
    assert len(store.versions()) == 2


def test_a_crash_mid_write_leaves_no_version(tiny_cohort_dir, tmp_path, monkeypatch):
    store = CohortStore(tmp_path / "store")
    cohort = read_cohort(tiny_cohort_dir)

    def explode(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("paincycle.store._hash_folder", explode)
    with pytest.raises(OSError):
        store.save(cohort)
    assert store.versions() == []
    assert list(store.root.iterdir()) == []


def test_unknown_version_is_refused(tmp_path):
    with pytest.raises(KeyError, match="no stored cohort version"):
        CohortStore(tmp_path / "s").load("nope")


def test_only_admins_import(tiny_cohort_dir, tmp_path):
    from paincycle.access import AccessDenied, Principal, Role

    store = CohortStore(tmp_path / "store")
    cohort = read_cohort(tiny_cohort_dir)
    with pytest.raises(AccessDenied, match="clinician role may not import"):
        store.save(cohort, principal=Principal("c@clinic", Role.CLINICIAN))
    assert store.versions() == []
    assert store.save(cohort, principal=Principal("a@clinic", Role.ADMIN)).rows["patients"] == 3


def test_loaded_tables_match_parquet_and_are_contiguous(tmp_path):
    import pandas as pd

    from paincycle import config
    from paincycle.store import ENCODED

    store = CohortStore(tmp_path / "store")
    version = store.save(read_cohort(config.SAMPLE_COHORT))
    loaded = store.load(version.id)
    for table in ("patients", "observations", "events"):
        expected = pd.read_parquet(store.path_of(version.id) / f"{table}.parquet")
        frame = getattr(loaded, table)
        for column in ENCODED.get(table, ()):
            assert isinstance(frame[column].dtype, pd.CategoricalDtype)
            frame = frame.assign(**{column: frame[column].astype(expected[column].dtype)})
        pd.testing.assert_frame_equal(frame, expected)
    for frame, column in ((loaded.patients, "patient_id"), (loaded.events, "detail")):
        text = frame[column].array
        assert getattr(text, "_pa_array", None) is None or text._pa_array.num_chunks == 1


def test_an_edited_version_is_refused_when_loaded(tiny_cohort_dir, tmp_path):
    """An edited Parquet would otherwise load silently with its stale kept analyses."""
    import pyarrow.parquet as pq

    from paincycle.store import StoreIntegrityError

    store = CohortStore(tmp_path / "store")
    version = store.save(read_cohort(tiny_cohort_dir), name="tiny")
    store.load(version.id)
    path = store.path_of(version.id) / "observations.parquet"
    table = pq.read_table(path)
    pq.write_table(table.slice(1), path)  # one score quietly removed
    with pytest.raises(StoreIntegrityError, match="has changed since it was stored"):
        CohortStore(tmp_path / "store").load(version.id)


def test_staging_left_by_a_killed_import_is_removed_later_not_while_fresh(tmp_path):
    import os
    import time

    root = tmp_path / "store"
    root.mkdir()
    old, fresh = root / ".tmp-old", root / ".tmp-fresh"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "patients.parquet").write_bytes(b"patient data")
    long_ago = time.time() - 7 * 3600
    os.utime(old, (long_ago, long_ago))
    CohortStore(root)
    assert not old.exists() and fresh.exists()


def test_patients_rows_are_read_from_the_parquet_in_the_order_a_slice_has(tmp_path):
    """Grouped by patient in the order asked, each by date, same-day rows in stored order."""
    import numpy as np
    import pandas as pd

    from paincycle import synth
    from paincycle.cohort import Cohort

    cohort = synth.generate(30, seed=4)
    rng = np.random.default_rng(1)  # rows not stored in patient order
    cohort = Cohort(cohort.patients, cohort.observations.iloc[rng.permutation(len(cohort.observations))],
                    cohort.events.iloc[rng.permutation(len(cohort.events))])
    store = CohortStore(tmp_path / "store")
    version = store.save(cohort)
    ids = list(cohort.patients["patient_id"].iloc[[4, 1, 17]])
    read = store.patient_rows(version.id, [*ids, ids[0], "nobody"])
    for table, by in (("observations", ["patient_id", "date"]), ("events", ["patient_id", "date"])):
        frame = getattr(cohort, table)
        expected = pd.concat([frame[frame["patient_id"] == pid].sort_values("date", kind="stable")
                              for pid in ids], ignore_index=True)
        pd.testing.assert_frame_equal(getattr(read, table), expected, check_dtype=False)
        assert not getattr(read, table).empty, by
    assert read.patients["patient_id"].tolist() == ids
    assert read.observations["patient_id"].dtype == object  # plain text, not the whole id list

    nobody = store.patient_rows(version.id, [])
    assert nobody.patients.empty and nobody.observations.empty
    assert list(nobody.observations.columns) == list(cohort.observations.columns)


def test_a_patients_rows_are_not_read_from_an_edited_version(tiny_cohort_dir, tmp_path):
    import pyarrow.parquet as pq

    from paincycle.store import StoreIntegrityError

    store = CohortStore(tmp_path / "store")
    version = store.save(read_cohort(tiny_cohort_dir), name="tiny")
    path = store.path_of(version.id) / "observations.parquet"
    pq.write_table(pq.read_table(path).slice(1), path)
    with pytest.raises(StoreIntegrityError):
        CohortStore(tmp_path / "store").patient_rows(version.id, ["P001"])
    with pytest.raises(KeyError):
        store.patient_rows("no-such-version", ["P001"])
