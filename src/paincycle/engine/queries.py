"""Engine-neutral analyses: Ibis expressions run unchanged on DuckDB or Spark.

Why Ibis rather than SQL text: one expression compiles (through SQLGlot) to
each backend's dialect, including window functions and exact quantiles, so
there is one query per analysis and no home-made query layer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from paincycle import features, measures, rules, trajectories
from paincycle.trajectories import triad_thresholds, with_percentiles

ENGINES: tuple[str, ...] = ("duckdb", "spark")
NS_PER_DAY = 86_400 * 1_000_000_000
#: Observation rows per block of patients whose weekly means are computed in one query.
WEEKLY_BLOCK_ROWS = 40_000_000


@dataclass
class Engine:
    """An Ibis connection plus how it reads a version's Parquet (dates as ns since the epoch)."""

    name: str
    con: Any
    session: Any = None  # Spark's, to number rows in file order
    _read_tables: dict[str, dict[str, ibis.Table]] = field(default_factory=dict, repr=False)

    def tables(self, folder: str | Path) -> dict[str, ibis.Table]:
        """patients and observations of a stored version, each date as ``*_ns`` (int64 ns),
        and ``row``, the row's place in its file (same-day ties: the first in the table).

        Spark cannot read Parquet nanosecond timestamps as timestamps (it reads
        them as longs with ``spark.sql.legacy.parquet.nanosAsLong``), so both
        engines work on integer nanoseconds: whole days are then a floor division.
        """
        folder = Path(folder)
        if str(folder) in self._read_tables:  # a version's files never change: read once
            return self._read_tables[str(folder)]
        out = {}
        for table, column in (("patients", "intake_date"), ("observations", "date"),
                              ("events", "date")):
            path = str(folder / f"{table}.parquet")
            if table == "events" and not Path(path).exists():
                continue
            t = self._read(path, table)
            if self.name == "duckdb":
                t = t.mutate(**{f"{column}_ns": t[column].epoch_seconds().cast("int64")
                                * 1_000_000_000})
            else:
                t = t.mutate(**{f"{column}_ns": t[column].cast("int64")})
            out[table] = t.drop(column)
        self._read_tables[str(folder)] = out
        return out

    def batches(self, expr: ibis.Table, rows: int = 1_000_000) -> Iterator[pa.RecordBatch]:
        """The query's result as Arrow record batches, in its order (bounded memory here).

        For DuckDB through the relation Ibis itself builds for ``to_pyarrow``: Ibis 12's
        ``to_pyarrow_batches`` asks the cursor for ``fetch_record_batch``, which DuckDB 2.0
        no longer has (relations read out with ``to_arrow_reader``)."""
        if self.name == "duckdb":
            yield from self.con._to_duckdb_relation(expr).to_arrow_reader(rows)
        else:
            yield from expr.to_pyarrow_batches(chunk_size=rows)

    def read_parquet(self, path: str | Path) -> ibis.Table:
        """A Parquet file this process wrote (no dates to convert, no row numbers needed)."""
        if self.name == "duckdb":
            return self.con.read_parquet(str(path))
        frame = self.session.read.parquet(str(path))
        view = f"paincycle_read_{abs(hash(str(path))) % 10**8}"
        frame.createOrReplaceTempView(view)
        return self.con.table(view)

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


def _with_days(t: dict[str, ibis.Table], table: str = "observations") -> ibis.Table:
    """Observations (or events) with whole days since intake (floor, as
    rules.days_since_intake) and week."""
    rows, patients = t[table], t["patients"]
    joined = rows.join(patients.select("patient_id", "intake_date_ns"), "patient_id")
    days = (joined.date_ns - joined.intake_date_ns) // NS_PER_DAY
    joined = joined.mutate(days=days.cast("int64"))
    return joined.mutate(week=(joined.days // 7).cast("int64"))


def weekly_series(engine: Engine, folder: str | Path) -> ibis.Table:
    """One mean value per patient, measure and week since intake (trajectories.weekly_series)."""
    return _weekly_means(_with_days(engine.tables(folder)))


def _weekly_means(obs: ibis.Table) -> ibis.Table:
    return obs.group_by(["patient_id", "measure", "week"]).aggregate(value=obs.value.mean())


def _weekly_to_parquet(engine: Engine, folder: str | Path, ids: np.ndarray,
                       out: Path) -> np.ndarray:
    """Every weekly mean as integer codes (pid: place in the sorted ``ids``; mcode: place in
    the version's sorted measures; week; value), written to the Parquet file ``out`` one block
    of patients at a time; returns the sorted measure codes.

    Blocks bound the engine's memory (one query over 350 million rows ran DuckDB out of its
    2 GB) and batches bound this process's: the weekly means never sit here whole."""
    tables = engine.tables(folder)
    found = tables["observations"].select("measure").distinct().to_pandas()["measure"]
    codes = np.sort(found.astype(str).to_numpy(dtype=object))
    obs = _with_days(tables)
    measure_code = ibis.memtable(pd.DataFrame({"measure": codes,
                                               "mcode": np.arange(len(codes), dtype="int16")}))
    n_rows = int(tables["observations"].count().to_pandas())
    n_blocks = max(1, -(-n_rows // WEEKLY_BLOCK_ROWS))
    edges = np.linspace(0, len(ids), n_blocks + 1).astype("int64")
    schema = pa.schema([("pid", pa.int32()), ("mcode", pa.int16()), ("week", pa.int32()),
                        ("value", pa.float64())])
    with pq.ParquetWriter(out, schema) as writer:
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            if hi <= lo:
                continue
            patient_code = ibis.memtable(pd.DataFrame({"patient_id": ids[lo:hi],
                                                       "pid": np.arange(lo, hi, dtype="int32")}))
            # a range of the sorted ids: the engine skips the Parquet row groups outside it
            # (a file grouped by patient reads each block's share only); a join would not
            block = obs.filter((obs.patient_id >= ids[lo]) & (obs.patient_id <= ids[hi - 1]))
            coded = _weekly_means(block).join(patient_code, "patient_id").join(
                measure_code, "measure")
            coded = coded.select(pid=coded.pid.cast("int32"), mcode=coded.mcode.cast("int16"),
                                 week=coded.week.cast("int32"), value=coded.value.cast("float64"))
            for batch in engine.batches(coded):
                writer.write_table(pa.Table.from_batches([batch]).cast(schema))
    return codes


def _sorted_columns(engine: Engine, expr: ibis.Table, dtypes: dict[str, str],
                    into: Path | None = None) -> dict[str, np.ndarray]:
    """An (ordered) query's columns as numpy arrays, filled batch by batch: the result is
    never held twice (as Arrow and as numpy).

    With ``into`` (a path stem), each column is written batch by batch to its own .npy file
    (``<into>_<column>.npy``) and memory-mapped: the file's pages sit in the page cache, not
    in this process (1,000,000 patients: 3 GB of weekly indexes an import never holds)."""
    n = int(expr.count().to_pandas())
    paths = {name: Path(f"{into}_{name}.npy") for name in dtypes} if into is not None else {}
    arrays = {} if into is not None else {name: np.empty(n, dtype) for name, dtype in dtypes.items()}
    # plain file writes, not a writable memory map: its dirty pages would count as this
    # process's until written back
    files = {name: open(path, "wb") for name, path in paths.items()}  # noqa: SIM115
    try:
        for name, file in files.items():
            np.lib.format.write_array_header_1_0(file, {
                "descr": np.lib.format.dtype_to_descr(np.dtype(dtypes[name])),
                "fortran_order": False, "shape": (n,)})
        at = 0
        for batch in engine.batches(expr):
            for name, dtype in dtypes.items():
                values = batch.column(name).to_numpy(zero_copy_only=False).astype(dtype, copy=False)
                if files:
                    files[name].write(values.tobytes())
                else:
                    arrays[name][at:at + len(batch)] = values
            at += len(batch)
    finally:
        for file in files.values():
            file.close()
    if at != n:
        raise ValueError(f"the engine returned {at:,} rows where it counted {n:,}")
    return arrays or {name: np.load(path, mmap_mode="r", allow_pickle=False)
                      for name, path in paths.items()}


def weekly_indexes(engine: Engine, folder: str | Path, patient_ids: np.ndarray,
                   workdir: Path | None = None) -> trajectories.WeeklyIndexes:
    """trajectories.WeeklyIndexes, sorted by the engine: the weekly means go to a temporary
    Parquet file (integer codes only), and each index is one ordered query over it. With
    ``workdir`` the indexes are .npy files there, memory-mapped (see _sorted_columns); it
    must outlive them.

    Equal to trajectories.weekly_indexes to the last element: equal (key, value) in the
    bands are ordered by patient code, as numpy's stable sort leaves them."""
    ids = np.sort(np.asarray(patient_ids, dtype=object))
    with tempfile.TemporaryDirectory(prefix="paincycle-weekly-") as tmp:
        path = Path(tmp) / "weekly.parquet"
        codes = _weekly_to_parquet(engine, folder, ids, path)
        weekly = engine.read_parquet(path)
        present = weekly.select("mcode").distinct().to_pandas()["mcode"].to_numpy()
        primary = trajectories.primary_measures(codes[np.sort(present)])
        chosen = [int(np.searchsorted(codes, code)) for code in primary.values()]
        key = trajectories.week_key(weekly.mcode.cast("int64"), weekly.week.cast("int64"))
        band = _sorted_columns(
            engine, weekly.filter(weekly.mcode.isin(chosen)).select(key=key, value=weekly.value,
                                                            pid=weekly.pid)
            .order_by(["key", "value", "pid"]), {"key": "int64", "value": "float64",
                                                 "pid": "int32"}, _stem(workdir, "band"))
        pct = _sorted_columns(engine, weekly.select(key=key.cast("int32"), value=weekly.value)
                              .order_by(["key", "value"]), {"key": "int32", "value": "float64"},
                              _stem(workdir, "pct"))
        pain = primary.get("pain")
        pain_code = int(np.searchsorted(codes, pain)) if pain else -1
        trend = _sorted_columns(engine, weekly.filter(weekly.mcode == pain_code)
                                .order_by(["pid", "week"]).select("pid", "value"),
                                {"pid": "int32", "value": "float64"}, _stem(workdir, "pain"))
    return trajectories.WeeklyIndexes(ids, codes, primary, band["key"], band["value"],
                                      band["pid"], pct["key"], pct["value"], trend["pid"],
                                      trend["value"])


def _stem(workdir: Path | None, index: str) -> Path | None:
    return None if workdir is None else workdir / index


def date_range(engine: Engine, folder: str | Path) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """cohort.Cohort.date_range on the engine: the earliest and latest intake or observation."""
    tables = engine.tables(folder)
    p, o = tables["patients"], tables["observations"]
    ends = [p.aggregate(lo=p.intake_date_ns.min(), hi=p.intake_date_ns.max()).to_pandas(),
            o.aggregate(lo=o.date_ns.min(), hi=o.date_ns.max()).to_pandas()]
    lo = pd.concat([e["lo"] for e in ends]).dropna()
    hi = pd.concat([e["hi"] for e in ends]).dropna()
    if not len(lo):
        return None
    return pd.Timestamp(int(lo.min()), unit="ns"), pd.Timestamp(int(hi.max()), unit="ns")


def records_events(engine: Engine, folder: str | Path) -> bool:
    """Whether the version keeps any appointment or treatment at all."""
    events = engine.tables(folder).get("events")
    return events is not None and int(events.count().to_pandas()) > 0


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


def _closest_key(obs: ibis.Table, window: rules.Window) -> ibis.Expr:
    """The order rules.closest_rows picks in: distance to the target, then the earlier day,
    then the first in the table (a struct compares field by field on both engines)."""
    return ibis.struct({"distance": (obs.days - window.target).abs(), "days": obs.days,
                        "row": obs.row})


def _latest_key(obs: ibis.Table) -> ibis.Expr:
    """The order rules.latest_rows picks in: the latest day, then the first in the table."""
    return ibis.struct({"days_back": -obs.days, "row": obs.row})


def _picks(obs: ibis.Table, windows: dict[Any, rules.Window | None]) -> ibis.Table:
    """Per (patient, measure), in one pass: the baseline and each window's pick (None: the
    latest), as ``<i>`` value and ``<i>_days`` for the i-th window; ``b``, ``b_days`` for the
    baseline. An aggregate picking by key (arg-min), not a window function: one hash
    aggregate over the rows instead of a sort per window."""
    inside = (obs.days >= rules.BASELINE.lo) & (obs.days <= rules.BASELINE.hi)
    key = _closest_key(obs, rules.BASELINE)
    aggs = {"b": obs.value.argmin(key, where=inside), "b_days": obs.days.argmin(key, where=inside)}
    for i, window in enumerate(windows.values()):
        if window is None:
            key, inside = _latest_key(obs), None
        else:
            key = _closest_key(obs, window)
            inside = (obs.days >= window.lo) & (obs.days <= window.hi)
        aggs[f"w{i}"] = obs.value.argmin(key, where=inside)
        aggs[f"w{i}_days"] = obs.days.argmin(key, where=inside)
    return obs.group_by(["patient_id", "measure"]).aggregate(**aggs)


@dataclass
class _StatusPicks:
    """Per (patient, measure) the baseline and each window's pick, as numbers only: patients
    and measures as integer codes (the sorted ids and judged codes), days since intake.
    Text is made per window by :meth:`frame`, so one window's frame is held at a time."""

    ids: np.ndarray  # object, sorted
    codes: np.ndarray  # object, sorted
    pid: np.ndarray  # int32
    mcode: np.ndarray  # int16
    intake: np.ndarray  # datetime64[ns] per row
    columns: dict[str, np.ndarray]  # b, b_days, w<i>, w<i>_days as float64

    def frame(self, i: int) -> pd.DataFrame:
        """trajectories.responder_status's frame for the i-th window."""
        codes = self.codes[self.mcode]
        baseline, baseline_days = self.columns["b"], self.columns["b_days"]
        latest = self.columns[f"w{i}"].copy()
        latest_days = self.columns[f"w{i}_days"].copy()
        same_visit = latest_days <= baseline_days  # NaN compares False: kept as missing
        latest[same_visit] = np.nan
        latest_days[same_visit] = np.nan
        usable = ~np.isnan(baseline) & ~np.isnan(latest)
        domains = trajectories.per_measure(self.codes, "domain", None)
        return pd.DataFrame({
            "patient_id": _text_of(self.ids, self.pid),
            "measure": _text_of(self.codes, self.mcode),
            "domain": _text_of(domains, self.mcode),
            "baseline": baseline, "latest": latest,
            "change": np.where(usable, latest - baseline, np.nan),
            "improvement": np.where(usable, rules.improvement(codes, baseline, latest), np.nan),
            "status": pd.array(pa.array(rules.verdicts(codes, baseline, latest), pa.string()),
                               dtype="str"),
            "baseline_date": self.intake + pd.to_timedelta(baseline_days, unit="D").to_numpy(),
            "latest_date": self.intake + pd.to_timedelta(latest_days, unit="D").to_numpy(),
            "mcid": trajectories.per_measure(self.codes, "mcid").astype("float64")[self.mcode]})


def _text_of(values: np.ndarray, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values[codes]`` as a text column, taken by Arrow (13 million rows: 1.5 s, where
    Python strings take 9 s)."""
    return pd.array(pa.array(values, pa.string()).take(pa.array(codes)), dtype="str")


def _status_picks(engine: Engine, folder: str | Path,
                  windows: dict[Any, rules.Window | None]) -> _StatusPicks:
    """The engine's one pass over the observations for the responder status: per (patient,
    measure) the rows rules.closest_rows and rules.latest_rows pick, coded to integers on
    the engine (13 million rows at 1,000,000 patients: no text per row comes back)."""
    tables = engine.tables(folder)
    obs = _with_days(tables)
    obs = obs.filter(obs.measure.isin(rules.judged_measures()))
    intake = _intake_by_id(tables)
    ids = intake.index.to_numpy(dtype=object)  # sorted, one per patient
    found = obs.select("measure").distinct().to_pandas()["measure"]
    codes = np.sort(found.astype(str).to_numpy(dtype=object))
    patient_code = ibis.memtable(pd.DataFrame({"patient_id": ids,
                                               "pid": np.arange(len(ids), dtype="int32")}))
    measure_code = ibis.memtable(pd.DataFrame({"measure": codes,
                                               "mcode": np.arange(len(codes), dtype="int16")}))
    picked = _picks(obs, windows).join(patient_code, "patient_id").join(measure_code, "measure")
    names = ["b", "b_days"] + [f"w{i}{part}" for i in range(len(windows)) for part in ("", "_days")]
    table = picked.select("pid", "mcode", *names).order_by(["pid", "mcode"]).to_pyarrow()
    pid = table.column("pid").to_numpy().astype("int32")
    return _StatusPicks(
        ids, codes, pid, table.column("mcode").to_numpy().astype("int16"),
        intake.to_numpy()[pid],
        {name: table.column(name).to_numpy(zero_copy_only=False).astype("float64")
         for name in names})


def responder_statuses(engine: Engine, folder: str | Path,
                       windows: dict[Any, rules.Window | None]) -> dict[Any, pd.DataFrame]:
    """trajectories.responder_status for each of ``windows`` (None: the latest follow-up), from
    one pass over the observations.

    The engine picks the rows (the heavy part over every observation); the
    verdict is rules.verdicts on the one row per patient and measure it returns,
    so the MCID rule stays in one place.
    """
    picks = _status_picks(engine, folder, windows)
    return {name: picks.frame(i) for i, name in enumerate(windows)}


def responder_status(engine: Engine, folder: str | Path,
                     at: rules.Window | None = None) -> pd.DataFrame:
    """Baseline, follow-up and the MCID verdict per patient and judged measure, with the
    columns of trajectories.responder_status. The follow-up is the latest observation or,
    with ``at``, the one closest to its target within it."""
    return responder_statuses(engine, folder, {"at": at})["at"]


def _intake_by_id(tables: dict[str, ibis.Table]) -> pd.Series:
    """Each patient's intake date (the patients table is small: one row per patient)."""
    p = tables["patients"].select("patient_id", "intake_date_ns").to_pandas()
    return pd.Series(pd.to_datetime(p["intake_date_ns"].to_numpy(dtype="int64"), unit="ns")
                     .to_numpy(dtype="datetime64[ns]"), index=p["patient_id"].astype(str).to_numpy(
                         dtype=object)).groupby(level=0).first()


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


def triad_flags(engine: Engine, folder: str | Path) -> pd.DataFrame:
    """trajectories.triad_flags on the engine: every patient's latest pain, PHQ-9 and ISI and
    whether all three reach the registry's cut-offs (trajectories.triad_thresholds)."""
    thresholds = triad_thresholds()
    tables = engine.tables(folder)
    obs = _with_days(tables)
    obs = obs.filter(obs.measure.isin(list(thresholds)))
    key = _latest_key(obs)
    wide = obs.group_by("patient_id").aggregate(**{
        code: obs.value.argmin(key, where=obs.measure == code) for code in thresholds})
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


def patients_frame(engine: Engine, folder: str | Path) -> pd.DataFrame:
    """The version's patients table, in file order, dates as datetime64 (one row a patient)."""
    p = engine.tables(folder)["patients"]
    frame = p.order_by("row").to_pandas().drop(columns="row")
    intake = pd.to_datetime(frame.pop("intake_date_ns").to_numpy(dtype="int64"), unit="ns")
    frame.insert(1, "intake_date", intake.to_numpy(dtype="datetime64[ns]"))
    return frame.reset_index(drop=True)


def observation_days(engine: Engine, folder: str | Path) -> pd.DataFrame:
    """trajectories.observation_days on the engine: per patient with observations, how many
    and the first and last day since intake."""
    obs = _with_days(engine.tables(folder))
    per = obs.group_by("patient_id").aggregate(
        n_observations=obs.count(), first_day=obs.days.min(), last_day=obs.days.max())
    out = per.order_by("patient_id").to_pandas()
    return out.set_index(pd.Index(out.pop("patient_id").astype(str).to_numpy(dtype=object),
                                  name="patient_id"))


def _events(engine: Engine, folder: str | Path, kind: str) -> ibis.Table | None:
    events = engine.tables(folder).get("events")
    return None if events is None else events.filter(events.event == kind)


def last_attended(engine: Engine, folder: str | Path) -> pd.Series:
    """trajectories.last_attended on the engine: each patient's last attended appointment."""
    attended = _events(engine, folder, "appointment_attended")
    if attended is None:
        return pd.Series([], dtype="datetime64[ns]")
    out = attended.group_by("patient_id").aggregate(last=attended.date_ns.max()).to_pandas()
    return pd.Series(pd.to_datetime(out["last"].to_numpy(dtype="int64"), unit="ns")
                     .to_numpy(dtype="datetime64[ns]"),
                     index=out["patient_id"].astype(str).to_numpy(dtype=object))


def treatment_starts(engine: Engine, folder: str | Path) -> pd.DataFrame:
    """The treatment_start events (patient and treatment), a small share of the events."""
    starts = _events(engine, folder, "treatment_start")
    if starts is None:
        return pd.DataFrame({"patient_id": pd.Series(dtype=object),
                             "detail": pd.Series(dtype=object)})
    return starts.order_by("row").select("patient_id", "detail").to_pandas()


def per_patient(engine: Engine, folder: str | Path, today: pd.Timestamp) -> trajectories.PerPatient:
    """trajectories.PerPatient on the engine: responder status (latest and at each
    rules.FOLLOW_UPS window), the triad and the patient table of a stored version."""
    picks = _status_picks(engine, folder, {"latest": None, **rules.FOLLOW_UPS})
    # one window's full frame at a time: only its domain verdicts are kept
    by_month = {month: trajectories.month_verdicts(picks.frame(i))
                for i, month in enumerate(rules.FOLLOW_UPS, start=1)}
    status = picks.frame(0)
    del picks
    domain = trajectories.domain_status(status)
    triad = triad_flags(engine, folder)
    patients = patients_frame(engine, folder)
    activity = trajectories.patient_activity(patients, observation_days(engine, folder),
                                             last_attended(engine, folder))
    as_of = activity["last_record"].max() if activity["n_observations"].sum() else None
    table, treated = trajectories.patient_table(patients, activity, triad, domain,
                                                treatment_starts(engine, folder), today, as_of)
    return trajectories.PerPatient(status, by_month, triad, table, treated, as_of)


def _pivot(frame: pd.DataFrame, columns: str, values: str) -> pd.DataFrame:
    """patient x ``columns`` from long rows (the shape LandmarkParts holds)."""
    if frame.empty:
        return pd.DataFrame()
    frame = frame.assign(patient_id=frame["patient_id"].astype(str),
                         **{columns: frame[columns].astype(str)})
    wide = frame.pivot(index="patient_id", columns=columns, values=values)
    return wide.rename_axis(index="patient_id", columns="measure" if columns == "measure" else
                            columns)


def _baseline_of(rows: ibis.Table, landmark_days: int) -> pd.DataFrame:
    window = features.baseline_window(landmark_days)
    inside = rows.filter((rows.days >= window.lo) & (rows.days <= window.hi))
    picked = inside.group_by(["patient_id", "measure"]).aggregate(
        value=inside.value.argmin(_closest_key(inside, window)))
    return _pivot(picked.to_pandas(), "measure", "value")


def _known(rows: ibis.Table) -> ibis.Table:
    """Rows with a value (missing and NaN both count as no value, as in pandas)."""
    return rows.filter(rows.value.notnull() & ~rows.value.isnan())


def landmark_parts(engine: Engine, folder: str | Path,
                   landmark_days: int = features.DEFAULT_LANDMARK_DAYS,
                   include_custom: bool = False) -> features.LandmarkParts:
    """features.LandmarkParts on the engine: the per-patient sums of every patient's rows up
    to the landmark; features.features_from_parts composes the features from them."""
    tables = engine.tables(folder)
    cut = _with_days(tables)
    cut = cut.filter(cut.days <= landmark_days)
    obs = _known(cut.filter((cut.days >= rules.BASELINE.lo)
                            & cut.measure.isin(list(features.MEASURE_CODES))))
    keys = ["patient_id", "measure"]

    latest = obs.group_by(keys).aggregate(latest_day=obs.days.max())
    with_latest = obs.join(latest, keys)
    recent_rows = with_latest.filter(
        with_latest.days > with_latest.latest_day - rules.RECENT_DAYS)
    recent = recent_rows.group_by(keys).aggregate(recent=recent_rows.value.mean())
    t = obs.days.cast("float64")
    sums = obs.group_by(keys).aggregate(
        t=t.sum(), v=obs.value.sum(), tt=(t * t).sum(), tv=(t * obs.value).sum(), n=obs.count(),
        t_min=t.min(), t_max=t.max(), latest_day=obs.days.max())
    per_pair = sums.left_join(recent, keys).select(sums, recent.recent).to_pandas()
    per_pair = per_pair.assign(patient_id=per_pair["patient_id"].astype(str),
                               measure=per_pair["measure"].astype(str))
    slope_sums = per_pair.set_index(keys)[["t", "v", "tt", "tv", "n", "t_min", "t_max"]]

    counts = pd.DataFrame()
    has_events = False
    if "events" in tables:
        events = _with_days(tables, "events")
        events = events.filter(events.days <= landmark_days)
        has_events = bool(events.count().to_pandas() > 0)
        since = events.filter(events.days >= 0)
        counts = _pivot(since.group_by(["patient_id", "event"]).aggregate(n=since.count())
                        .to_pandas(), "event", "n").fillna(0)

    weeks = features.diary_weeks(landmark_days)
    diary_rows = obs.filter(obs.measure.isin(list(features.DIARY_MEASURES)) & (obs.days >= 0))
    week = ibis.least(diary_rows.days // 7, weeks - 1)
    active = diary_rows.select("patient_id", week=week).distinct()
    half = weeks / 2
    diary = active.group_by("patient_id").aggregate(
        n_weeks=active.count(), early=(active.week < half).cast("int64").sum(),
        late=(active.week >= half).cast("int64").sum()).to_pandas()
    diary = diary.set_index(diary.pop("patient_id").astype(str).rename("patient_id"))

    asked = obs.filter(~obs.measure.isin(list(features.DIARY_MEASURES)))
    pairs = asked.group_by(keys).aggregate(
        at_intake=(asked.days <= rules.BASELINE.hi).cast("int64").max(),
        again=(asked.days > rules.BASELINE.hi).cast("int64").max())
    pairs = pairs.filter(pairs.at_intake == 1)
    questionnaires = pairs.group_by("patient_id").aggregate(
        n_intake=pairs.count(), n_again=pairs.again.sum()).to_pandas()
    questionnaires = questionnaires.set_index(
        questionnaires.pop("patient_id").astype(str).rename("patient_id"))

    custom: list[str] = []
    custom_baseline = pd.DataFrame()
    if include_custom:
        every = tables["observations"]
        codes = every.filter(every.measure.startswith(measures.CUSTOM_PREFIX)) \
            .select("measure").distinct().to_pandas()
        custom = sorted(codes["measure"].astype(str))
        if custom:
            custom_baseline = _baseline_of(_known(cut.filter(cut.measure.isin(custom))),
                                           landmark_days)
    return features.LandmarkParts(
        baseline=_baseline_of(obs, landmark_days),
        latest_day=_pivot(per_pair, "measure", "latest_day"),
        recent=_pivot(per_pair, "measure", "recent"), slope_sums=slope_sums,
        event_counts=counts, has_events=has_events, diary=diary,
        questionnaires=questionnaires, custom_baseline=custom_baseline, custom=custom)


def landmark_features(engine: Engine, folder: str | Path,
                      landmark_days: int = features.DEFAULT_LANDMARK_DAYS,
                      include_custom: bool = False, records_events: bool | None = None
                      ) -> pd.DataFrame:
    """features.landmark_features of a stored version, the rows summed on the engine."""
    parts = landmark_parts(engine, folder, landmark_days, include_custom)
    return features.features_from_parts(parts, patients_frame(engine, folder), landmark_days,
                                        records_events)
