"""Spark runs the same engine-neutral analyses as DuckDB and gets the same answers.

A local Spark (local[1]: one core, beside the rest of the suite) is started once; the tests need Java and
never skip without it: a machine that cannot run Spark fails here (.ci/run installs
a headless JRE).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paincycle import rules
from paincycle.engine import connect, queries
from tests.conftest import ROOT

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


def test_spark_gives_the_duckdb_answers(spark, duckdb) -> None:
    """One test, so one JVM: the bands, the responder status at 3, 6 and 12 months, and one
    patient's percentiles."""
    keys = ["measure", "week"]
    got = _by_key(queries.cohort_bands(spark, DEMO), keys)
    want = _by_key(queries.cohort_bands(duckdb, DEMO), keys)
    assert len(want) > 0 and list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, atol=1e-9, rtol=0)

    keys = ["patient_id", "measure"]
    for months in sorted(rules.FOLLOW_UPS):
        got = _by_key(queries.responder_status(spark, DEMO, rules.FOLLOW_UPS[months]), keys)
        want = _by_key(queries.responder_status(duckdb, DEMO, rules.FOLLOW_UPS[months]), keys)
        assert len(got) == len(want) > 0, months
        assert (got[keys].to_numpy() == want[keys].to_numpy()).all(), months
        assert (got["status"].to_numpy() == want["status"].to_numpy()).all(), months
        np.testing.assert_allclose(got["baseline"], want["baseline"], equal_nan=True)
        np.testing.assert_allclose(got["latest"], want["latest"], equal_nan=True)

    patient_id = str(pd.read_parquet(DEMO / "patients.parquet")["patient_id"].iloc[41])
    got = queries.patient_percentiles(spark, DEMO, patient_id)
    want = queries.patient_percentiles(duckdb, DEMO, patient_id)
    assert len(want) > 0
    pd.testing.assert_frame_equal(got, want, check_dtype=False, atol=1e-9, rtol=0)
