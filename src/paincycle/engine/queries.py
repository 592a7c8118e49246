"""Engine-neutral analyses: Ibis expressions run unchanged on DuckDB or Spark.

Why Ibis rather than SQL text: one expression compiles (through SQLGlot) to
each backend's dialect, including window functions and exact quantiles, so
there is one query per analysis and no home-made query layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from paincycle import measures, rules
from paincycle.trajectories import triad_thresholds, with_percentiles

ENGINES: tuple[str, ...] = ("duckdb", "spark")
NS_PER_DAY = 86_400 * 1_000_000_000


@dataclass
class Engine:
    """An Ibis connection plus how it reads a version's Parquet (dates as ns since the epoch)."""

    name: str
    con: Any
    session: Any = None  # Spark's, to number rows in file order

    def tables(self, folder: str | Path) -> dict[str, ibis.Table]:
        """patients and observations of a stored version, each date as ``*_ns`` (int64 ns),
        and ``row``, the row's place in its file (same-day ties: the first in the table).

        Spark cannot read Parquet nanosecond timestamps as timestamps (it reads
        them as longs with ``spark.sql.legacy.parquet.nanosAsLong``), so both
        engines work on integer nanoseconds: whole days are then a floor division.
        """
        folder = Path(folder)
        out = {}
        for table, column in (("patients", "intake_date"), ("observations", "date")):
            path = str(folder / f"{table}.parquet")
            t = self._read(path, table)
            if self.name == "duckdb":
                t = t.mutate(**{f"{column}_ns": t[column].epoch_seconds().cast("int64")
                                * 1_000_000_000})
            else:
                t = t.mutate(**{f"{column}_ns": t[column].cast("int64")})
            out[table] = t.drop(column)
        return out

    def _read(self, path: str, table: str) -> ibis.Table:
        if self.name == "duckdb":
            t = self.con.read_parquet(path, file_row_number=True)
            return t.rename(row="file_row_number")
        from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

        # one file per table: Spark's increasing ids follow the file's order
        frame = self.session.read.parquet(path).withColumn("row", F.monotonically_increasing_id())
        view = f"paincycle_{table}_{abs(hash(path)) % 10**8}"
        frame.createOrReplaceTempView(view)
        return self.con.table(view)


#: DuckDB's working memory before it spills to disk: an app server's analyses stay bounded
#: whatever the cohort's size (the rest of the server needs memory too).
DUCKDB_MEMORY_LIMIT = "2GB"


def connect(engine: str = "duckdb", *, session: Any = None, master: str = "local[2]",
            memory_limit: str = DUCKDB_MEMORY_LIMIT) -> Engine:
    """An engine by name: "duckdb" (embedded, the default; spills to a temporary folder past
    ``memory_limit``) or "spark" (``session`` or a new local one at ``master``)."""
    if engine == "duckdb":
        import tempfile

        spill = Path(tempfile.gettempdir()) / "paincycle-duckdb"
        return Engine("duckdb", ibis.duckdb.connect(memory_limit=memory_limit,
                                                    temp_directory=str(spill)))
    if engine == "spark":
        if session is None:
            from pyspark.sql import SparkSession

            session = (SparkSession.builder.master(master).appName("paincycle")
                       .config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", "false")
                       .config("spark.sql.shuffle.partitions", "2")
                       .config("spark.sql.session.timeZone", "UTC")
                       .getOrCreate())
        session.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
        session.conf.set("spark.sql.session.timeZone", "UTC")
        return Engine("spark", ibis.pyspark.connect(session), session)
    raise ValueError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")


def _with_days(t: dict[str, ibis.Table]) -> ibis.Table:
    """Observations with whole days since intake (floor, as rules.days_since_intake) and week."""
    obs, patients = t["observations"], t["patients"]
    joined = obs.join(patients.select("patient_id", "intake_date_ns"), "patient_id")
    days = (joined.date_ns - joined.intake_date_ns) // NS_PER_DAY
    joined = joined.mutate(days=days.cast("int64"))
    return joined.mutate(week=(joined.days // 7).cast("int64"))


def weekly_series(engine: Engine, folder: str | Path) -> ibis.Table:
    """One mean value per patient, measure and week since intake (trajectories.weekly_series)."""
    obs = _with_days(engine.tables(folder))
    return obs.group_by(["patient_id", "measure", "week"]).aggregate(value=obs.value.mean())


def cohort_bands(engine: Engine, folder: str | Path) -> pd.DataFrame:
    """Per measure and week: median, quartiles (linear interpolation) and patients counted.

    As trajectories.cohort_bands: each patient counts once per week (their weekly mean).
    """
    weekly = weekly_series(engine, folder)
    bands = weekly.group_by(["measure", "week"]).aggregate(
        median=weekly.value.quantile(0.5), q1=weekly.value.quantile(0.25),
        q3=weekly.value.quantile(0.75), n_patients=weekly.count())
    out = bands.order_by(["measure", "week"]).to_pandas()
    return out.astype({"week": "int64", "n_patients": "int64"})[
        ["measure", "week", "median", "q1", "q3", "n_patients"]]


def _closest(obs: ibis.Table, window: rules.Window, name: str) -> ibis.Table:
    """Each (patient, measure)'s observation closest to the window's target: rules.closest_rows.

    Ties: the earlier day wins (order by distance, then day); the same day: the first in
    the table.
    """
    inside = obs.filter((obs.days >= window.lo) & (obs.days <= window.hi))
    rank = ibis.row_number().over(group_by=["patient_id", "measure"],
                                  order_by=[(inside.days - window.target).abs(), inside.days,
                                            inside.row])
    picked = inside.mutate(_rank=rank)
    picked = picked.filter(picked._rank == 0)
    return picked.select("patient_id", "measure", **{f"{name}": picked.value,
                                                      f"{name}_days": picked.days})


def responder_status(engine: Engine, folder: str | Path, at: rules.Window) -> pd.DataFrame:
    """Baseline, follow-up in ``at`` and the MCID verdict per patient and judged measure.

    The engine picks the rows (the heavy part over every observation); the
    verdict is rules.verdicts on the one row per patient and measure it returns,
    so the MCID rule stays in one place.
    """
    obs = _with_days(engine.tables(folder))
    obs = obs.filter(obs.measure.isin(rules.judged_measures()))
    baseline = _closest(obs, rules.BASELINE, "baseline")
    later = _closest(obs, at, "latest")
    pairs = obs.select("patient_id", "measure").distinct()
    joined = pairs.left_join(baseline, ["patient_id", "measure"]).select(
        "patient_id", "measure", "baseline", "baseline_days")
    joined = joined.left_join(later, ["patient_id", "measure"]).select(
        "patient_id", "measure", "baseline", "baseline_days", "latest", "latest_days")
    out = joined.order_by(["patient_id", "measure"]).to_pandas()
    same_visit = (out["latest_days"] <= out["baseline_days"]).fillna(False).to_numpy(bool)
    out.loc[same_visit, ["latest", "latest_days"]] = np.nan
    codes = out["measure"].to_numpy(dtype=object)
    baseline_v = out["baseline"].to_numpy(dtype=float)
    latest_v = out["latest"].to_numpy(dtype=float)
    usable = ~np.isnan(baseline_v) & ~np.isnan(latest_v)
    out["domain"] = [measures.domain_of(c) for c in codes]
    out["change"] = np.where(usable, latest_v - baseline_v, np.nan)
    out["improvement"] = np.where(usable, rules.improvement(codes, baseline_v, latest_v), np.nan)
    out["status"] = rules.verdicts(codes, baseline_v, latest_v).astype(str)
    return out[["patient_id", "measure", "domain", "baseline", "latest", "change",
                "improvement", "status", "baseline_days", "latest_days"]]


def patient_percentiles(engine: Engine, folder: str | Path, patient_id: str) -> pd.DataFrame:
    """Where one patient sits against the cohort at the same week (trajectories.
    patient_percentiles): the engine counts, over every other patient's weekly values, those
    below and equal to the patient's; trajectories.with_percentiles turns the counts into the
    percentile, so the formula stays in one place. Only the patient's rows come back."""
    weekly = weekly_series(engine, folder)
    mine = weekly.filter(weekly.patient_id == patient_id).select(
        "measure", "week", value_mine=weekly.value)
    others = weekly.filter(weekly.patient_id != patient_id)
    joined = others.join(mine, ["measure", "week"])
    counts = joined.group_by(["measure", "week"]).aggregate(
        below=(joined.value < joined.value_mine).cast("int64").sum(),
        tie=(joined.value == joined.value_mine).cast("int64").sum(),
        n_compared=joined.count())
    table = mine.left_join(counts, ["measure", "week"]).select(
        "measure", "week", value=mine.value_mine, below=counts.below, tie=counts.tie,
        n_compared=counts.n_compared).to_pandas()
    table = table.astype({"week": "int64"}).assign(
        below=table["below"].fillna(0), tie=table["tie"].fillna(0))
    return with_percentiles(table)


def _latest(obs: ibis.Table) -> ibis.Table:
    """Each (patient, measure)'s most recent observation (rules.latest_rows: the latest day;
    the same day: the first in the table)."""
    rank = ibis.row_number().over(group_by=["patient_id", "measure"],
                                  order_by=[obs.days.desc(), obs.row])
    ranked = obs.mutate(_rank=rank)
    return ranked.filter(ranked._rank == 0)


def triad_flags(engine: Engine, folder: str | Path) -> pd.DataFrame:
    """trajectories.triad_flags on the engine: every patient's latest pain, PHQ-9 and ISI and
    whether all three reach the registry's cut-offs (trajectories.triad_thresholds)."""
    thresholds = triad_thresholds()
    tables = engine.tables(folder)
    obs = _with_days(tables)
    latest = _latest(obs.filter(obs.measure.isin(list(thresholds))))
    wide = latest.group_by("patient_id").aggregate(**{
        code: (latest.measure == code).ifelse(latest.value, ibis.null()).max()
        for code in thresholds})
    patients = tables["patients"].select("patient_id", "row")
    joined = patients.left_join(wide, "patient_id").select(
        patients.patient_id, patients.row, *[wide[code] for code in thresholds])
    out = joined.order_by("row").to_pandas().drop(columns="row")
    flag = pd.Series(True, index=out.index)
    for code, cut in thresholds.items():
        out[code] = out[code].astype("float64")
        flag &= out[code] >= cut
    out.insert(1, "triad", flag.astype(bool))
    return out.rename(columns={"pain_nrs": "pain"}).reset_index(drop=True)
