"""The cohort analyses as engine-neutral queries (Ibis), on DuckDB (default) or Spark.

Today's analyses (paincycle.trajectories) load a whole version into memory
and compute with numpy. Here the same analyses are written once as Ibis
expressions over the version's canonical Parquet tables, so an embedded
DuckDB reads them out of core and a Spark cluster can run them where a
network's warehouse lives. Windows, the tie rule and MCIDs are read from
paincycle.rules and paincycle.measures and passed into the queries as
literals; nothing clinical is re-typed here.

Which engine runs them is the deployment's choice (PAINCYCLE_ENGINE, read by paincycle.config):
:func:`configured` gives it. So far (issue 16): weekly series, weekly cohort bands, responder
status, the triad, the patient table and one patient's percentiles against the cohort.
"""

from __future__ import annotations

from paincycle import config
from paincycle.engine.queries import Engine, connect

__all__ = ["Engine", "configured", "connect"]


def configured() -> Engine:
    """The engine the settings choose: DuckDB embedded (a new connection per call: cheap, and
    a DuckDB connection is not shared across a server's threads) or Spark at
    PAINCYCLE_SPARK_MASTER (its session is one per process, reused)."""
    chosen = config.settings()
    if chosen.engine == config.AnalysisEngine.SPARK:
        return connect("spark", master=chosen.spark_master)
    return connect("duckdb")
