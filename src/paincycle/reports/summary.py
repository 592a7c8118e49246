"""The cohort summary a clinic hands to its managers, funders or a registry.

One :class:`Summary` (tables, band-chart images and notes) is built from the
analyses (trajectories, review's agenda reasons, the risk model when one is
shipped) and written as .xlsx (one sheet per table, real number formats),
self-contained .html (charts as PNG data URIs: no external request), .pdf, or
.csv (the per-patient table). Every number comes from the analysis functions;
nothing is recomputed here.

Two safety rules hold in every format:

- **De-identification** (``deidentify=True``): patient ids become pseudonyms
  (access.pseudonym with a random salt per export, so they are stable within
  one export and unlinkable across exports), ages are bands instead of birth
  years, dates are days since intake, and free text (notes, unknown columns) is
  dropped. Diagnosis and site are free text too: a value fewer than
  ``MIN_SHARED_TEXT`` patients of the cohort share (where a name or a story
  would hide) is replaced by a placeholder; common categories stay.
- **No formulas from user text**: any text cell starting with ``=``, ``+``,
  ``-``, ``@`` (or a tab or carriage return) is prefixed with a single quote,
  so a spreadsheet shows it instead of running it.
"""

from __future__ import annotations

import base64
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from paincycle import access, clock, measures, review, rules, trajectories
from paincycle.access import Permission, Principal
from paincycle.cohort import Cohort
from paincycle.reports import document
from paincycle.risks import DISCLAIMER, risk_percent, risk_words
from paincycle.trajectories import CohortTrajectories

FORMATS: tuple[str, ...] = ("xlsx", "html", "pdf", "csv")
MIME: dict[str, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html", "pdf": "application/pdf", "csv": "text/csv",
}
#: Flagged patients printed in HTML and PDF; the .xlsx and .csv carry them all.
MAX_PRINTED_ROWS = 50

#: Number formats by kind: (openpyxl number_format, the text HTML and PDF print).
NUMBER_FORMATS: dict[str, tuple[str, Callable[[float], str]]] = {
    "int": ("#,##0", "{:,.0f}".format),
    "year": ("0", "{:.0f}".format),
    "1dp": ("0.0", "{:,.1f}".format),
    "2dp": ("0.00", "{:,.2f}".format),
    "3dp": ("0.000", "{:,.3f}".format),
    "pct": ("0.0%", "{:.1%}".format),
    "risk": ("0%", risk_words),  # a patient's risk: whole percent, as the model says it in words
    "date": ("yyyy-mm-dd", str),  # a calendar day: a date cell in .xlsx, ISO text elsewhere
}
#: Kinds whose cells are whole numbers in a spreadsheet (1968, not 1968.0).
WHOLE_KINDS = ("int", "year")
#: Said beside every risk: the model helps a team decide, it never decides.
RISK_NOTE = f"Risks are {DISCLAIMER[0].lower()}{DISCLAIMER[1:]}"
#: The per-patient table's risk column in a .csv: whole percent, a number a spreadsheet sorts.
CSV_RISK = "risk (%)"

Progress = Callable[[float, str], None]


# --------------------------------------------------------------------------- the summary


@dataclass
class Table:
    """One table of the summary: a sheet in .xlsx, a section in HTML and PDF."""

    sheet: str
    title: str
    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)  # column -> NUMBER_FORMATS key
    note: str = ""
    printed_rows: int | None = None  # cap in HTML/PDF (the .xlsx has every row)
    row_formats: list[str] | None = None  # per-row kinds, for columns formatted "row"
    group_by: str | None = None  # HTML/PDF print the rows in blocks by this column, each with its chart


@dataclass
class Chart:
    """A chart and where it is printed: beside the rows of its ``section`` (a table's sheet)
    whose ``group`` column holds ``group`` (a domain), or after the section when no row does."""

    title: str
    png: bytes
    section: str = ""
    group: str = ""


@dataclass
class ModelSection:
    """What the risk model contributes: each patient's risk and how well the model works."""

    risk: pd.DataFrame  # patient_id, risk, flagged (top_factors optional)
    performance: pd.DataFrame  # metric, value
    outcome: str  # the outcome definition in words
    description: str = ""
    threshold: float = float("nan")  # the flag threshold the risks were flagged at
    synthetic: bool = False  # trained on synthetic (generated) data, per the model's metadata
    cohort_synthetic: bool | None = None  # the scored cohort is synthetic too (None: not known)
    trained_on: str = ""  # the training cohort's name
    trained_here: bool = False  # trained on this very cohort

    def provenance(self) -> str:
        """What the model was trained on, against the patients scored (applicability.Provenance)."""
        from paincycle.applicability import Provenance

        return Provenance(self.trained_here, self.synthetic, self.cohort_synthetic,
                          self.trained_on).words()


@dataclass
class Summary:
    title: str
    cohort_name: str
    generated_at: datetime
    deidentified: bool
    tables: list[Table]
    charts: list[Chart]
    notes: list[str]
    per_patient: pd.DataFrame
    filters: str = ""

    def table(self, sheet: str) -> Table:
        for item in self.tables:
            if item.sheet == sheet:
                return item
        raise KeyError(sheet)


#: The responder-rates section, where each domain's band chart is printed.
RATES = "Responder rates"


def _noop(_fraction: float, _message: str) -> None:
    return None


def build_summary(analysis: CohortTrajectories, ids: pd.Series | None = None, *,
                  deidentify: bool = False, principal: Principal | None = None,
                  model: ModelSection | None = None, progress: Progress | None = None,
                  charts: bool = True, filters: str = "", salt: str | None = None) -> Summary:
    """Every table and chart of the cohort summary, read from the version's one analysis.

    ``ids`` are the patients the filters keep (None: everyone). Nothing is
    recomputed here: each verdict, rate and band is the one the Cohort page,
    the Patient page and the case card show. Identified exports need
    EXPORT_IDENTIFIED; de-identified ones only EXPORT_DEIDENTIFIED (researchers).
    ``progress(fraction, message)`` is told how far along the work is.
    """
    access.require(principal, Permission.EXPORT_DEIDENTIFIED if deidentify
                   else Permission.EXPORT_IDENTIFIED)
    step = progress or _noop
    ids = analysis.patients["patient_id"] if ids is None else pd.Series(ids, dtype=object).astype(str)
    chosen = set(ids)
    patients = analysis.patients[analysis.patients["patient_id"].isin(chosen)].reset_index(drop=True)
    n = len(patients)
    from paincycle.charts import min_patients_per_week  # the pages' rule, one definition

    minimum = min_patients_per_week(n)
    step(0.05, "Change since baseline for every patient")
    status = analysis.status[analysis.status["patient_id"].isin(chosen)]
    domains = analysis.domain[analysis.domain["patient_id"].isin(chosen)]
    step(0.25, "Responder rates at 3, 6 and 12 months")
    rates = analysis.rates(ids)
    step(0.45, "Triad, deterioration and safety signals")
    triad = analysis.triad[analysis.triad["patient_id"].isin(chosen)]
    worse = trajectories.deterioration(None, domains)
    inputs = review.AgendaInputs(risk=model.risk if model else None, domains=domains, triad=triad)
    agenda = review.rank_agenda(patients["patient_id"], inputs)
    safety = review.safety_signals(triad)

    ids_shown = _id_mapping(patients["patient_id"], deidentify, salt)
    tables = [
        _headline(patients, status, deidentify),
        _baseline_profile(status, n),
        Table(RATES, "Responder rates by domain at 3, 6 and 12 months", rates.copy(),
              {"months": "int", "n_patients": "int", "n_responders": "int", "rate": "pct"},
              "Among patients with a baseline and a follow-up in the window, the share whose "
              "domain improved by at least the MCID, on the measure that speaks for the domain. "
              "Beside each domain: the cohort's scores by week since intake (median and "
              f"middle half; weeks with fewer than {minimum} patients left out).",
              group_by="domain"),
        _flag_counts(triad, worse, safety, model, n),
        _agenda_table(agenda, ids_shown),
    ]
    notes: list[str] = []
    if model is not None:
        tables.append(_flagged_by_model(model, ids_shown, chosen))
        tables.append(_model_table(model))
        notes += [RISK_NOTE, *filter(None, [model.provenance()]),
                  f"Outcome definition: {model.outcome}"]
    else:
        notes.append("No risk model was available: the review list comes from deterioration, "
                     "the triad and safety signals only, and no patient is flagged by a model.")

    step(0.6, "Per-patient table")
    per_patient = _per_patient(analysis.cohort_patients, patients, domains, worse, safety, agenda,
                               model, ids_shown, deidentify)
    images: list[Chart] = []
    if charts:
        bands = analysis.bands(ids)
        for i, (domain, code) in enumerate(analysis.primary.items()):
            step(0.65 + 0.3 * i / max(1, len(analysis.primary)), f"Band chart: {domain}")
            images.append(Chart(f"{domain.capitalize()}: {measures.get(code).instrument}",
                                band_png(bands[code], code, minimum), section=RATES,
                                group=domain))
    step(1.0, "Done")
    return Summary(
        title="PainCycle cohort summary" + (" (de-identified)" if deidentify else ""),
        cohort_name=analysis.name or "cohort", generated_at=clock.now(),
        deidentified=deidentify, tables=tables, charts=images, notes=notes,
        per_patient=per_patient, filters=filters,
    )


def _id_mapping(ids: pd.Series, deidentify: bool, salt: str | None) -> dict[str, str]:
    ids = ids.astype(str)
    if not deidentify:
        return dict(zip(ids, ids, strict=True))
    salt = salt or secrets.token_hex(16)  # per export: codes do not link across exports
    return {pid: access.pseudonym(pid, salt) for pid in ids}


def _headline(patients: pd.DataFrame, status: pd.DataFrame, deidentify: bool) -> Table:
    n = len(patients)
    with_baseline = status.loc[status["baseline"].notna(), "patient_id"].nunique()
    with_follow_up = status.loc[status["status"] != rules.NOT_ENOUGH_DATA, "patient_id"].nunique()
    rows: list[tuple[str, float | str, str]] = [
        ("Patients", n, "int"),
        ("Observations", int(patients["n_observations"].sum()), "int"),
        ("Sites", patients["site"].nunique(), "int"),
        ("Median follow-up (weeks)", float(patients["weeks_followed"].median()) if n else np.nan,
         "1dp"),
        ("Active patients (a record in the last 90 days)", int(patients["active"].sum()), "int"),
        ("Patients with a baseline score", with_baseline, "int"),
        ("Completeness: share with a baseline score", with_baseline / n if n else np.nan, "pct"),
        ("Patients with a follow-up after baseline", with_follow_up, "int"),
        ("Completeness: share with a follow-up after baseline",
         with_follow_up / n if n else np.nan, "pct"),
    ]
    first = pd.concat([patients["intake_date"], patients["first_score"]]).min()
    last = pd.concat([patients["intake_date"], patients["last_score"]]).max()
    if n and not deidentify and pd.notna(first):
        rows.append(("First record", f"{first:%Y-%m-%d}", "text"))
        rows.append(("Last record", f"{last:%Y-%m-%d}", "text"))
    frame = pd.DataFrame({"measure": [r[0] for r in rows], "value": [r[1] for r in rows]})
    return Table("Headline", "Headline numbers", frame, {"value": "row"},
                 row_formats=[r[2] for r in rows])


def _baseline_profile(status: pd.DataFrame, n: int) -> Table:
    """Baseline score distribution per domain and measure (registry order)."""
    base = status[status["baseline"].notna()]
    rows = []
    for domain in measures.VERDICT_GROUPS:
        for m in measures.in_domain(domain):
            values = base.loc[base["measure"] == m.code, "baseline"].astype(float)
            if values.empty:
                continue
            rows.append({"domain": domain, "measure": m.code, "instrument": m.instrument,
                         "patients": len(values), "share of cohort": len(values) / n if n else np.nan,
                         "mean": values.mean(), "sd": values.std(), "median": values.median(),
                         "q1": values.quantile(0.25), "q3": values.quantile(0.75)})
    frame = pd.DataFrame(rows, columns=["domain", "measure", "instrument", "patients",
                                        "share of cohort", "mean", "sd", "median", "q1", "q3"])
    return Table("Baseline profile", "Baseline profile per domain", frame,
                 {"patients": "int", "share of cohort": "pct", "mean": "1dp", "sd": "1dp",
                  "median": "1dp", "q1": "1dp", "q3": "1dp"},
                 f"Baseline: the score {rules.BASELINE.words()} since intake (ties: the earlier).")


def _flag_counts(triad: pd.DataFrame, worse: pd.DataFrame, safety: pd.DataFrame,
                 model: ModelSection | None, n: int) -> Table:
    rows = [("Triad: severe pain, moderate depression and moderate insomnia",
             int(triad["triad"].sum()))]
    for domain in measures.VERDICT_GROUPS:
        rows.append((f"Worse than baseline by the MCID or more: {domain}",
                     int(worse.loc[worse["domain"] == domain, "patient_id"].nunique())))
    rows.append(("Worse than baseline by the MCID or more: any domain",
                 int(worse["patient_id"].nunique())))
    rows.append((f"Safety signal: latest PHQ-9 of {review.SAFETY_PHQ9:g} or more",
                 int(safety["patient_id"].nunique())))
    if model is not None:
        rows.append(("Flagged by the risk model (the team's threshold)",
                     int(model.risk["flagged"].astype(bool).sum())))
    frame = pd.DataFrame(rows, columns=["flag", "patients"])
    frame["share of cohort"] = frame["patients"] / n if n else np.nan
    return Table("Triad and deterioration", "Triad, deterioration, safety and model flags", frame,
                 {"patients": "int", "share of cohort": "pct"})


def _agenda_table(agenda: pd.DataFrame, ids: dict[str, str]) -> Table:
    frame = pd.DataFrame({
        "rank": agenda["rank"].astype(int),
        "patient": agenda["patient_id"].map(ids),
        "priority": agenda["priority"].astype(float),
        "risk": agenda["risk"].astype(float),
        "reasons": agenda["reason_text"],
    })
    return Table("Review list", "Patients the case-review rules would list, with their reasons",
                 frame, {"rank": "int", "priority": "2dp", "risk": "risk"},
                 "Ranked as the case-review agenda ranks them (hand changes are not included). "
                 "Being listed is not the same as being flagged by the risk model. "
                 + RISK_NOTE, printed_rows=MAX_PRINTED_ROWS)


def _flagged_by_model(model: ModelSection, ids: dict[str, str], chosen: set[str]) -> Table:
    risk = model.risk[model.risk["patient_id"].astype(str).isin(chosen)
                      & model.risk["flagged"].astype(bool)]
    risk = risk.sort_values("risk", ascending=False, kind="stable")
    frame = pd.DataFrame({"patient": risk["patient_id"].astype(str).map(ids),
                          "risk": risk["risk"].astype(float)})
    note = " ".join(filter(None, [f"Risk at or above the team's threshold "
                                  f"({model.threshold:.0%}).", RISK_NOTE, model.provenance()]))
    return Table("Flagged by model", "Patients flagged by the risk model", frame,
                 {"risk": "risk"}, note, printed_rows=MAX_PRINTED_ROWS)


#: How each row of the model's performance table reads (AUC 0.712, 763 patients, 12%).
MODEL_ROW_KINDS: dict[str, str] = {
    "Patients with an outcome label (training)": "int",
    "Share with a poor outcome (training)": "pct",
    "Risk threshold for a flag": "risk",
}


def _model_table(model: ModelSection) -> Table:
    frame = model.performance.copy()
    kinds = [MODEL_ROW_KINDS.get(str(metric), "3dp") for metric in frame["metric"]]
    frame["value"] = [int(v) if kind == "int" and pd.notna(v) else v
                      for v, kind in zip(frame["value"], kinds, strict=True)]
    note = " ".join(filter(None, [model.description, model.provenance(), RISK_NOTE]))
    return Table("Model", "The risk model's performance", frame, {"value": "row"}, note,
                 row_formats=kinds)


#: De-identified exports keep a diagnosis or site only when this many patients share it.
MIN_SHARED_TEXT = 5
RARE_TEXT = f"(shared by fewer than {MIN_SHARED_TEXT} patients)"


def shared_text_only(values: pd.Series, cohort_values: pd.Series) -> pd.Series:
    """Free-text categories as a de-identified export shows them: rare ones replaced."""
    counts = cohort_values.astype(object).value_counts(dropna=True)
    common = set(counts[counts >= MIN_SHARED_TEXT].index)
    return values.astype(object).where(values.isin(common) | values.isna(), RARE_TEXT)


def _per_patient(all_patients: pd.DataFrame, patients: pd.DataFrame, domains: pd.DataFrame,
                 worse: pd.DataFrame, safety: pd.DataFrame, agenda: pd.DataFrame,
                 model: ModelSection | None, ids: dict[str, str], deidentify: bool) -> pd.DataFrame:
    """One row per patient: profile, follow-up, each domain's verdict and measure, flags, reasons."""
    pid = patients["patient_id"].astype(str)
    out = pd.DataFrame({"patient": pid.map(ids)})
    out["sex"] = patients["sex"].astype(object).to_numpy()
    if deidentify:
        out["age band"] = patients["age_band"].to_numpy()
    else:
        birth = all_patients.set_index(all_patients["patient_id"].astype(str))["birth_year"]
        out["birth year"] = pid.map(birth).astype("Float64").round().astype("Int64")
    for column in ("diagnosis", "site"):
        values = patients[column].astype(object)
        if deidentify:
            values = shared_text_only(values, all_patients[column])
        out[column] = values.to_numpy()
    intake = pd.to_datetime(patients["intake_date"])
    if not deidentify:
        out["intake date"] = intake.dt.strftime("%Y-%m-%d")
    out["last score (days since intake)"] = pd.Series(
        rules.days_since_intake(patients["last_score"], intake), index=out.index).where(
        patients["last_score"].notna()).astype("Float64").round().astype("Int64")
    out["observations"] = patients["n_observations"].astype(int).to_numpy()
    by_domain = domains.set_index(["patient_id", "domain"])
    for domain in measures.VERDICT_GROUPS:
        mine = by_domain.xs(domain, level="domain") if domain in set(domains["domain"]) \
            else pd.DataFrame(columns=["status", "measure"])
        out[domain] = pid.map(mine["status"]).astype(object).fillna(rules.NOT_ENOUGH_DATA)
        out[f"{domain} measure"] = pid.map(mine["measure"]).astype(object).fillna("")
    out["triad"] = patients["triad"].astype(bool).to_numpy()
    worse_domains = worse.groupby("patient_id")["domain"].agg(
        lambda d: ", ".join(g for g in measures.VERDICT_GROUPS if g in set(d)))
    out["worse in"] = pid.map(worse_domains).astype(object).fillna("")
    out["safety signal"] = pid.isin(set(safety["patient_id"]))
    if model is not None:
        risk = model.risk.set_index(model.risk["patient_id"].astype(str))
        out["risk"] = pid.map(risk["risk"]).astype(float)
        out["flagged by model"] = pid.map(risk["flagged"].astype(bool)).fillna(False).astype(bool)
    out["review reasons"] = pid.map(agenda.set_index("patient_id")["reason_text"]).astype(object).fillna("")
    return out


# --------------------------------------------------------------------------- model and one-call export


def model_section(cohort: Cohort, path: str | Path | None = None, explain: bool = False,
                  threshold: float | None = None, scores=None,
                  cohort_synthetic: bool | None = None,
                  trained_here: bool | None = None) -> ModelSection | None:
    """Score the whole version ``cohort`` with the shipped (or given) model; None without a model file.

    ``threshold`` is the team's flag threshold (None: the model's default share).
    Score the whole version, not a filtered part, so that a patient's flag does
    not depend on the filters. ``explain`` adds each patient's top factors in
    words (they cost most of the scoring time). ``cohort_synthetic`` says whether
    ``cohort`` holds generated patients (None: not known), so the export can say
    whether a model trained on synthetic data is scoring real patients.
    """
    from paincycle import config

    path = Path(path) if path else config.DEMO_MODEL
    if not path.exists():
        return None
    from paincycle import model as risk_model

    trained = risk_model.load(path)
    if scores is None:  # the app passes the scores it already holds for this version and model
        scores = risk_model.score(trained, cohort, explain=explain, threshold=threshold)
    meta = trained.metadata
    metrics = meta.metrics
    rows = [("AUC (out-of-fold)", metrics.auc),
            ("AUC 95% CI, lower", metrics.auc_ci[0]),
            ("AUC 95% CI, upper", metrics.auc_ci[1]),
            ("Brier score", metrics.brier),
            ("Calibration intercept", metrics.calibration_intercept),
            ("Calibration slope", metrics.calibration_slope),
            ("Patients with an outcome label (training)", metrics.n_train),
            ("Share with a poor outcome (training)", metrics.prevalence),
            ("Risk threshold for a flag", scores.threshold)]
    performance = pd.DataFrame(rows, columns=["metric", "value"])
    description = (f"{metrics.model_kind.capitalize()} model scored "
                   f"{trained.landmark_days} days after intake; "
                   f"{len(scores.skipped):,} patients could not be scored yet.")
    if trained_here is None:  # not told: trained here when trained on exactly this data
        from paincycle.applicability import trained_on_this

        trained_here = trained_on_this(trained, cohort)
    return ModelSection(scores.table, performance, meta.outcome_words, description,
                        scores.threshold, synthetic=meta.synthetic,
                        cohort_synthetic=cohort_synthetic, trained_on=meta.cohort_name,
                        trained_here=trained_here)


# --------------------------------------------------------------------------- charts


def band_png(bands: pd.DataFrame, code: str, minimum: int) -> bytes:
    """One measure's cohort band chart (from CohortTrajectories.bands) as PNG (vl-convert,
    offline), weeks with fewer than ``minimum`` patients left out as on the Cohort page."""
    from paincycle import charts

    chart = charts.band_chart(bands, code, min_patients=minimum).properties(width=520)
    return document.chart_png(chart)


# --------------------------------------------------------------------------- writers


def _format_value(value: object, kind: str | None) -> str:
    """A cell as HTML and PDF print it: yes/no, the kind's number format, else text."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return yes_no(value)
    if kind in NUMBER_FORMATS and isinstance(value, (int, float, np.integer, np.floating)):
        return NUMBER_FORMATS[kind][1](float(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:,.2f}"
    return str(value)


def yes_no(value: object) -> str:
    """A true/false cell as a spreadsheet reader says it (not True/False)."""
    return "yes" if bool(value) else "no"


def whole_percent(risk: float) -> int:
    """A risk as a whole percent for a number column (risks.risk_percent: 1 to 99)."""
    return risk_percent(risk)


def _cell_kind(table: Table, row: int, column: str) -> str | None:
    kind = table.formats.get(column)
    if kind == "row":
        return table.row_formats[row] if table.row_formats else None
    return kind


def _printed(table: Table) -> tuple[pd.DataFrame, int]:
    frame = table.frame
    if table.printed_rows is not None and len(frame) > table.printed_rows:
        return frame.head(table.printed_rows), len(frame) - table.printed_rows
    return frame, 0


def _spreadsheet_frame(table: Table, csv: bool = False) -> pd.DataFrame:
    """The table with cells typed as a spreadsheet user expects, then made formula-safe.

    Whole-number columns are nullable integers (a birth year 1968, a count 763),
    true/false reads yes/no, and in a .csv a risk is a whole percent under
    ``risk (%)`` (the .xlsx keeps the risk itself under a percent format).
    """
    frame = table.frame.copy()
    for column in frame.columns:
        kind = table.formats.get(column)
        values = frame[column]
        if pd.api.types.is_bool_dtype(values):
            frame[column] = values.map(yes_no).astype(object)
        elif kind in WHOLE_KINDS and pd.api.types.is_numeric_dtype(values):
            frame[column] = pd.to_numeric(values).round().astype("Int64")
        elif kind == "date" and not csv:
            frame[column] = pd.to_datetime(values, errors="coerce").dt.date.astype(object)
        elif kind == "risk" and csv:
            frame[column] = pd.array([pd.NA if pd.isna(v) else whole_percent(float(v))
                                      for v in values], dtype="Int64")
            frame = frame.rename(columns={column: CSV_RISK if column == "risk"
                                          else f"{column} (%)"})
    return document.safe_frame(frame)


def _per_patient_table(summary: Summary) -> Table:
    return Table("Patients", "Per-patient table", summary.per_patient,
                 {"last score (days since intake)": "int", "observations": "int",
                  "risk": "risk", "birth year": "year", "intake date": "date"})


def to_csv(summary: Summary) -> bytes:
    """The per-patient table as CSV (UTF-8 with BOM, so Excel reads accents right)."""
    frame = _spreadsheet_frame(_per_patient_table(summary), csv=True)
    return frame.to_csv(index=False).encode("utf-8-sig")


def to_xlsx(summary: Summary) -> bytes:
    """One sheet per table plus the per-patient sheet, with number formats."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    about = workbook.active
    about.title = "About"
    for line in _about_lines(summary):
        about.append([_xlsx_value(document.safe_cell(line))])
    about["A1"].font = Font(bold=True, size=14)
    about.column_dimensions["A"].width = 110
    for table in [*summary.tables, _per_patient_table(summary)]:
        sheet = workbook.create_sheet(table.sheet[:31])
        frame = _spreadsheet_frame(table)
        sheet.append([_xlsx_value(c) for c in frame.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        columns = list(table.frame.columns)
        for r, values in enumerate(frame.itertuples(index=False)):
            row = [_xlsx_value(v) for v in values]
            sheet.append(row)
            for c, column in enumerate(columns):
                kind = _cell_kind(table, r, column)
                if kind in NUMBER_FORMATS and isinstance(row[c], (int, float, date)) \
                        and not isinstance(row[c], bool):
                    sheet.cell(row=r + 2, column=c + 1).number_format = NUMBER_FORMATS[kind][0]
        for c, column in enumerate(columns):
            longest = max([len(str(column))] + [len(str(v)) for v in frame.iloc[:200, c]])
            sheet.column_dimensions[sheet.cell(row=1, column=c + 1).column_letter].width = \
                min(80, max(10, longest + 2))
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_value(value: object) -> object:
    """A cell value openpyxl accepts: no NaN, plain Python numbers, no control characters."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None or value is pd.NA or value is pd.NaT or (
            isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def _about_lines(summary: Summary) -> list[str]:
    lines = [summary.title, f"Cohort: {summary.cohort_name}",
             f"Generated: {clock.local_text(summary.generated_at)}"]
    if summary.filters:
        lines.append(f"Filters: {summary.filters}")
    if summary.deidentified:
        lines.append("De-identified: pseudonymous ids valid within this export only, ages in "
                     "bands, dates as days since intake, free text dropped.")
    lines += summary.notes
    return lines


@dataclass
class _Block:
    """Part of a section as HTML and PDF print it: a subtitle, its rows and its chart."""

    subtitle: str
    frame: pd.DataFrame
    rows: list[list[str]]
    chart: Chart | None = None


def _blocks(table: Table, charts: list[Chart]) -> tuple[list[_Block], int]:
    """A table's printed rows, in blocks by ``group_by`` each beside its chart; the rows left out."""
    frame, more = _printed(table)
    frame = frame.reset_index(drop=True)  # a row's position is its index: row formats go by it

    def texts(part: pd.DataFrame) -> list[list[str]]:
        return [[_format_value(v, _cell_kind(table, i, c)) for c, v in
                 zip(part.columns, values, strict=True)]
                for i, values in zip(part.index, part.itertuples(index=False), strict=True)]

    mine = [c for c in charts if c.section == table.sheet]
    if table.group_by is None or table.group_by not in frame.columns:
        return [_Block("", frame, texts(frame))] + [_Block("", frame.iloc[:0], [], c)
                                                     for c in mine], more
    by_group = {c.group: c for c in mine}
    blocks = []
    for group in pd.unique(frame[table.group_by].astype(str)):
        part = frame[frame[table.group_by].astype(str) == group]
        chart = by_group.pop(group, None)
        blocks.append(_Block(chart.title if chart else str(group).capitalize(), part,
                             texts(part), chart))
    blocks += [_Block(c.title, frame.iloc[:0], [], c) for c in by_group.values()]
    return blocks, more


def _unplaced(summary: Summary) -> list[Chart]:
    sections = {t.sheet for t in summary.tables}
    return [c for c in summary.charts if c.section not in sections]


def to_html(summary: Summary) -> str:
    """One self-contained page (templates/summary.html.j2): inline CSS, charts as PNG data URIs
    beside their sections, every text escaped by the template engine."""
    def chart_view(chart: Chart | None) -> dict[str, str] | None:
        return None if chart is None else {
            "title": chart.title, "data": base64.b64encode(chart.png).decode("ascii")}

    tables = []
    for table in summary.tables:
        blocks, more = _blocks(table, summary.charts)
        tables.append({"title": table.title, "note": table.note,
                       "columns": [str(c) for c in table.frame.columns], "more": more,
                       "blocks": [{"subtitle": b.subtitle, "chart": chart_view(b.chart),
                                   "rows": [list(zip(row, (_is_number(v) for v in values),
                                                     strict=True))
                                            for row, values in zip(b.rows, b.frame.itertuples(
                                                index=False), strict=True)]}
                                  for b in blocks]})
    return document.render_html("summary.html.j2", title=summary.title,
                                about=_about_lines(summary)[1:], tables=tables,
                                charts=[chart_view(c) for c in _unplaced(summary)])


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def to_pdf(summary: Summary) -> bytes:
    """The summary on A4: each section's note, its rows and, beside them, its charts; numbered pages."""
    pdf = document.PdfReport(summary.title, footer=f"{summary.title}: {summary.cohort_name}")
    for line in _about_lines(summary)[1:]:
        pdf.paragraph(line)
    for table in summary.tables:
        pdf.heading(table.title)
        if table.note:
            pdf.paragraph(table.note, size=8.5)
        blocks, more = _blocks(table, summary.charts)
        headings = [str(c) for c in table.frame.columns]
        for block in blocks:
            if block.chart is not None:
                pdf.figure(block.chart.png, block.subtitle, width=0.75)
            elif block.subtitle:
                pdf.subheading(block.subtitle)
            if block.rows:
                pdf.table(headings, block.rows, document.column_widths(headings, block.rows))
        if more:
            pdf.paragraph(f"... and {more:,} more rows in the .xlsx export.", size=8.5)
    for chart in _unplaced(summary):
        pdf.figure(chart.png, chart.title)
    return pdf.output()


WRITERS: dict[str, Callable[[Summary], bytes | str]] = {
    "xlsx": to_xlsx, "html": to_html, "pdf": to_pdf, "csv": to_csv,
}


def check_format(fmt: str) -> str:
    """``fmt`` normalised ('.XLSX' -> 'xlsx'); ValueError naming the choices otherwise."""
    fmt = fmt.lower().lstrip(".")
    if fmt not in WRITERS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def render(summary: Summary, fmt: str) -> bytes:
    """The summary in one of FORMATS, as bytes ready to save or download."""
    data = WRITERS[check_format(fmt)](summary)
    return data.encode("utf-8") if isinstance(data, str) else data


def format_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(f"{Path(path).name}: the output must end in .xlsx, .html, .pdf or .csv")
    return suffix
