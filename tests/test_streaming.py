"""A cohort folder imported in batches stores what the in-memory import stores, names the
file's rows in its problems, and leaves nothing behind when refused."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from paincycle import services, streaming
from paincycle.cohort import load_and_validate
from paincycle.problems import CohortError
from paincycle.store import CohortStore
from tests.conftest import ROOT

DEMO = ROOT / "sample_data" / "demo"


def _same_tables(left, right) -> None:
    for table in ("patients", "observations", "events"):
        pd.testing.assert_frame_equal(
            getattr(left, table).astype({c: object for c in getattr(left, table).columns}),
            getattr(right, table).astype({c: object for c in getattr(right, table).columns}))


@pytest.mark.parametrize("batch_rows", [40_000, 1_000_000], ids=["many batches", "one batch"])
def test_streamed_import_stores_what_memory_stores(tmp_path, monkeypatch, batch_rows) -> None:
    monkeypatch.setattr(streaming, "BATCH_ROWS", batch_rows)
    store = CohortStore(tmp_path / "store")
    assert streaming.streamable(DEMO)
    streamed = services.import_cohort(store, DEMO, name="streamed").version
    in_memory = store.save(load_and_validate(DEMO)[0], name="in-memory")
    assert streamed.rows == in_memory.rows and streamed.rows["observations"] > 100_000
    _same_tables(store.load(streamed.id), store.load(in_memory.id))


def test_a_csv_folder_streams_too(tiny_cohort_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(streaming, "BATCH_ROWS", 3)
    store = CohortStore(tmp_path / "store")
    version = services.import_cohort(store, tiny_cohort_dir).version
    _same_tables(store.load(version.id), load_and_validate(tiny_cohort_dir)[0])


def test_problems_name_the_files_rows_across_batches(tiny_cohort_dir, tmp_path,
                                                     monkeypatch) -> None:
    """A bad value in the ninth data row (row 10, the header is row 1) of a file read three
    rows at a time is reported at row 10, as the in-memory import reports it; nothing is
    stored and no staging folder is left."""
    obs = tiny_cohort_dir / "observations.csv"
    lines = obs.read_text().splitlines()
    lines[9] = ",".join(lines[9].split(",")[:3] + ["eleven"])
    obs.write_text("\n".join(lines) + "\n")
    want = load_and_validate(tiny_cohort_dir)[1]
    monkeypatch.setattr(streaming, "BATCH_ROWS", 3)
    store = CohortStore(tmp_path / "store")
    with pytest.raises(CohortError) as refused:
        services.import_cohort(store, tiny_cohort_dir)
    got = refused.value.report
    assert [(p.file, p.row, p.column) for p in got.problems] == \
        [(p.file, p.row, p.column) for p in want.problems] == [("observations.csv", 10, "value")]
    assert store.versions() == [] and not list(store.root.glob(".tmp-*"))


def test_an_unknown_patient_in_a_later_batch_refuses(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    obs = pd.read_parquet(folder / "observations.parquet")
    obs.loc[len(obs) - 1, "patient_id"] = "NOBODY"
    obs.to_parquet(folder / "observations.parquet", index=False)
    monkeypatch.setattr(streaming, "BATCH_ROWS", 50_000)
    store = CohortStore(tmp_path / "store")
    with pytest.raises(CohortError) as refused:
        services.import_cohort(store, folder)
    problem = refused.value.report.problems[0]
    assert (problem.file, problem.row, problem.column) == \
        ("observations.parquet", len(obs) + 1, "patient_id")
    assert "NOBODY" in problem.message and store.versions() == []


def test_what_is_not_a_cohort_folder_takes_the_in_memory_path(tmp_path, tiny_cohort_dir) -> None:
    assert not streaming.streamable(tiny_cohort_dir / "patients.csv")
    (tmp_path / "only").mkdir()
    shutil.copy(tiny_cohort_dir / "patients.csv", tmp_path / "only")
    assert not streaming.streamable(tmp_path / "only")
    pd.read_csv(tiny_cohort_dir / "patients.csv").to_excel(tmp_path / "only" / "x.xlsx")
    assert not streaming.streamable(tmp_path / "only")
