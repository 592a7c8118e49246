"""The cohort analyses as engine-neutral queries (Ibis), on DuckDB (default) or Spark.

Today's analyses (paincycle.trajectories) load a whole version into memory
and compute with numpy. Here the same analyses are written once as Ibis
expressions over the version's canonical Parquet tables, so an embedded
DuckDB reads them out of core and a Spark cluster can run them where a
network's warehouse lives. Windows, the tie rule and MCIDs are read from
paincycle.rules and paincycle.measures and passed into the queries as
literals; nothing clinical is re-typed here.

Done so far (issue 16): weekly series, weekly cohort bands, responder status, the triad and one
patient's percentiles against the cohort.
"""

from __future__ import annotations

from paincycle.engine.queries import Engine, connect

__all__ = ["Engine", "connect"]
