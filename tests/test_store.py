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
