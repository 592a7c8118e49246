"""Spark runs the same engine-neutral analyses as DuckDB and gets the same answers.

A local Spark (local[1]: one core, beside the rest of the suite) is started once; the tests need Java and
never skip without it: a machine that cannot run Spark fails here (.ci/run installs
a headless JRE).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paincycle import rules, trajectories
from paincycle.cohort import read_cohort
from paincycle.engine import connect, queries
from tests.conftest import ROOT
from tests.engine.ties import write_tied_cohort

DEMO = ROOT / "sample_data" / "demo"

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("paincycle-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    yield connect("spark", session=session)
    session.stop()


@pytest.fixture(scope="module")
def duckdb():
    return connect("duckdb")


def _by_key(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys).reset_index(drop=True)


def test_spark_gives_the_duckdb_answers(spark, duckdb, tiny_cohort_dir, tmp_path) -> None:
    """One test, so one JVM: the bands, the responder status (latest and at 3, 6 and 12
    months), the patient table and the rest of trajectories.PerPatient, the landmark features, one
    patient's percentiles, the triad, and a cohort built with ties (the earlier, then the
    first in the table, wins: rules.closest_rows and rules.latest_rows)."""
    keys = ["measure", "week"]
    got = _by_key(queries.cohort_bands(spark, DEMO), keys)
    want = _by_key(queries.cohort_bands(duckdb, DEMO), keys)
    assert len(want) > 0 and list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, atol=1e-9, rtol=0)

    keys = ["patient_id", "measure"]
    for window in [None, *(rules.FOLLOW_UPS[m] for m in sorted(rules.FOLLOW_UPS))]:
        got = _by_key(queries.responder_status(spark, DEMO, window), keys)
        want = _by_key(queries.responder_status(duckdb, DEMO, window), keys)
        assert len(got) == len(want) > 0, window
        pd.testing.assert_frame_equal(got, want, check_dtype=False, atol=1e-9, rtol=0)

    today = pd.Timestamp("2026-12-03")
    got, want = (queries.per_patient(e, DEMO, today) for e in (spark, duckdb))
    for name in ("patients", "treated", "status", "triad"):
        assert len(getattr(want, name)) > 0
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name), check_dtype=False)
    for month, frame in want.by_month.items():
        pd.testing.assert_frame_equal(got.by_month[month], frame, check_dtype=False)

    for landmark in (14, 90):
        got = queries.landmark_features(spark, DEMO, landmark)
        want = queries.landmark_features(duckdb, DEMO, landmark)
        assert want["withdrawal_index"].notna().any()
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-9)

    patient_id = str(pd.read_parquet(DEMO / "patients.parquet")["patient_id"].iloc[41])
    got = queries.patient_percentiles(spark, DEMO, patient_id)
    want = queries.patient_percentiles(duckdb, DEMO, patient_id)
    assert len(want) > 0
    pd.testing.assert_frame_equal(got, want, check_dtype=False, atol=1e-9, rtol=0)

    pd.testing.assert_frame_equal(queries.triad_flags(spark, DEMO),
                                  queries.triad_flags(duckdb, DEMO), check_dtype=False)

    tied = write_tied_cohort(tiny_cohort_dir, tmp_path / "tied")
    keys = ["patient_id", "measure"]
    got = _by_key(queries.responder_status(spark, tied, rules.FOLLOW_UPS[12]), keys)
    want = _by_key(trajectories.responder_status(read_cohort(tied), rules.FOLLOW_UPS[12]), keys)
    isi = got[(got["patient_id"] == "P001") & (got["measure"] == "isi")]
    assert isi[["baseline", "latest"]].to_numpy().tolist() == [[20.0, 11.0]]
    np.testing.assert_allclose(got["baseline"], want["baseline"], equal_nan=True)
    np.testing.assert_allclose(got["latest"], want["latest"], equal_nan=True)
    triad = queries.triad_flags(spark, tied)
    assert triad.set_index("patient_id").loc["P001", "isi"] == 4.0
    pd.testing.assert_frame_equal(triad, trajectories.triad_flags(read_cohort(tied)),
                                  check_dtype=False)


def test_the_configured_engine_is_spark_when_chosen(spark, tmp_path, monkeypatch) -> None:
    """PAINCYCLE_ENGINE=spark: a version's analyses are computed on Spark (the session of this
    module: one JVM) and equal DuckDB's."""
    from paincycle import analyses
    from paincycle import engine as engines
    from paincycle.store import CohortStore

    store = CohortStore(tmp_path / "store")
    version = store.save(read_cohort(DEMO))
    today = pd.Timestamp("2026-12-03")
    by_duckdb = analyses.compute(store, version.id, today)
    monkeypatch.setenv("PAINCYCLE_ENGINE", "spark")
    assert engines.configured().name == "spark"
    by_spark = analyses.compute(store, version.id, today)
    for name in ("patients", "treated", "status", "domain", "triad"):
        pd.testing.assert_frame_equal(getattr(by_spark, name), getattr(by_duckdb, name),
                                      check_dtype=False)
    ids = by_duckdb.matching()
    pd.testing.assert_frame_equal(by_spark.rates(ids), by_duckdb.rates(ids))
    for code, band in by_duckdb.bands(ids).items():  # the weekly means, coded on each engine
        pd.testing.assert_frame_equal(by_spark.bands(ids)[code], band)
    pid = ids.iloc[11]
    pd.testing.assert_frame_equal(by_spark.percentiles(pid), by_duckdb.percentiles(pid))
    assert by_spark.date_range == by_duckdb.date_range
