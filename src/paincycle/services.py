"""The service layer: every act on the team's data, whichever door it comes through.

Pages and CLI commands are doors; they read inputs, call one function here and
draw or print the result. Each service checks the role, does the work through
the core and writes the audit entry itself, so an import, a retrain, an
export, a meeting-record download, a decision or a team setting is audited
the same way from the browser and from the command line. A failed import is
audited too, with the kind of file and the number of problems only: never a
value, a file name or anything else that could carry patient data.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy.engine import Engine

from paincycle import audit, database, meetings, review, risks, team
from paincycle.access import Permission, Principal, Role, require
from paincycle.cohort import Cohort, CohortError
from paincycle.importers.common import Conversion
from paincycle.outcomes import OutcomeDefinition
from paincycle.reports import meeting
from paincycle.reports import summary as export
from paincycle.store import CohortStore, Version
from paincycle.trajectories import CohortTrajectories

if TYPE_CHECKING:  # scikit-learn loads only for the services that train, score or explain
    from paincycle import model as risk_model

Progress = Callable[[float, str], None]

# Decisions and hand changes to the agenda already check the role and audit in the
# workflow module; the doors reach them through here like every other act.
record_decision = review.record_decision
revise_decision = review.revise_decision
add_to_agenda = review.add_to_agenda
remove_from_agenda = review.remove_from_agenda
# The meeting's start (with who is there), attendee changes and sign-off: same pattern.
start_meeting = meetings.start
sign_off_meeting = meetings.sign_off


def _engine(engine: Engine | None) -> Engine:
    return engine if engine is not None else database.get_engine()


def _noop(_fraction: float, _message: str) -> None:
    return None


def cli_principal() -> Principal:
    """Who runs the command line: the operating-system user, acting as the clinic's admin.

    Whoever can run `paincycle` on the server can already read its data folder,
    so the CLI holds the admin role; the audit log names the account that ran it.
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = "unknown"
    return Principal(f"{user} (command line)", Role.ADMIN)


# --------------------------------------------------------------------------- import


@dataclass
class Imported:
    version: Version
    notices: pd.DataFrame  # what was left out and why (reason, count)


def check_import(path: str | Path, *, kind: str = "cohort", mapping: dict[str, Any] | None = None,
                 principal: Principal | None = None, engine: Engine | None = None,
                 progress: Progress = _noop) -> Conversion:
    """Convert and validate without storing, so the importer sees what would come in and what
    would be left out before anything is kept. A refusal is audited as a failed import."""
    from paincycle import importers

    who = require(principal, Permission.IMPORT_DATA)
    try:
        return importers.convert(kind, path, mapping, progress=progress)
    except CohortError as exc:
        audit.record(_engine(engine), who, audit.Action.IMPORT_FAILED,
                     detail=f"{kind}: refused when checked, {exc.report.total} problem(s); "
                            "nothing stored")
        raise


def import_cohort(store: CohortStore, path: str | Path, *, kind: str = "cohort",
                  mapping: dict[str, Any] | None = None, name: str = "", source: str = "",
                  principal: Principal | None = None, engine: Engine | None = None,
                  progress: Progress = _noop, checked: Conversion | None = None) -> Imported:
    """Convert and validate ``path``, store it as a new version and audit it (or its failure).

    The version becomes current only for the person importing it: making it
    the team's is a separate, deliberate act (:func:`set_team_version`).
    ``checked`` is the result of :func:`check_import` on the same file, kept by the
    page so the file is not converted twice.
    """
    from paincycle import importers, streaming

    who = require(principal, Permission.IMPORT_DATA)
    engine = _engine(engine)
    try:
        if checked is None and kind == importers.COHORT and streaming.streamable(path):
            # a cohort folder of Parquet or CSV: checked and stored in batches, bounded memory
            notices = Conversion.no_notices()
            version = store.save_written(
                lambda staging: streaming.write_validated(path, staging, progress),
                name=name, source=source or f"{kind} import", principal=who)
        else:
            result = checked or importers.convert(kind, path, mapping, progress=progress)
            version = store.save(result.cohort, name=name, source=source or f"{kind} import",
                                 principal=who)
            notices = result.notices_frame()
    except CohortError as exc:
        audit.record(engine, who, audit.Action.IMPORT_FAILED,
                     detail=f"{kind}: refused with {exc.report.total} problem(s); nothing stored")
        raise
    except Exception as exc:
        audit.record(engine, who, audit.Action.IMPORT_FAILED,
                     detail=f"{kind}: failed ({type(exc).__name__}); nothing stored")
        raise
    audit.record(engine, who, audit.Action.IMPORT, cohort_version=version.id,
                 detail=f"{kind}: {version.rows.get('patients', 0)} patients")
    return Imported(version, notices)


def set_team_version(version_id: str, *, store: CohortStore, principal: Principal | None = None,
                     engine: Engine | None = None) -> team.Setting:
    """Make a stored version the one every colleague's next session opens (admins; audited)."""
    found = store.find(version_id)
    if found is None:
        raise KeyError(f"no stored cohort version {version_id!r}")
    return team.set_team_version(_engine(engine), principal, found.id)  # the id, not a name


# --------------------------------------------------------------------------- model


def retrain(cohort: Cohort, outcome: OutcomeDefinition, landmark_days: int, out: str | Path, *,
            principal: Principal | None = None, engine: Engine | None = None,
            cohort_version: str | None = None, synthetic: bool = False, seed: int = 0,
            progress: Progress | None = None, include_custom: bool = False,
            missing_indicators: bool = False) -> tuple[risk_model.TrainedModel, Path]:
    """Train on ``cohort``, save the model file and audit the retrain (feature options as
    paincycle.model.train)."""
    who = require(principal, Permission.TRAIN_MODEL)
    outcome.check_landmark(landmark_days)
    from paincycle import model as risk_model

    trained = risk_model.train(cohort, outcome, landmark_days, seed=seed, progress=progress,
                               synthetic=synthetic, principal=who, include_custom=include_custom,
                               missing_indicators=missing_indicators,
                               cohort_version=cohort_version or "")
    metrics = trained.metadata.metrics
    return trained, _save_audited(trained, out, who, engine, cohort_version,
                                  f"landmark {landmark_days} days; outcome "
                                  f"{', '.join(outcome.measures)}; {metrics.n_train} labelled; "
                                  f"CV AUC {metrics.auc:.3f}")


def _save_audited(trained: risk_model.TrainedModel, out: str | Path, who: Principal,
                  engine: Engine | None, cohort_version: str | None, detail: str) -> Path:
    """Save a trained model and record the retrain (every door trains through here)."""
    from paincycle import model as risk_model

    path = risk_model.save(trained, out)
    audit.record(_engine(engine), who, audit.Action.RETRAIN, cohort_version=cohort_version,
                 detail=detail)
    return path


def prepare_version(store: CohortStore, version_id: str) -> None:
    """Compute what every page reads of a new version once, now: its trajectory analyses and
    the risks from the model that scores it (both kept beside the version)."""
    from paincycle import analyses, applicability, kept_scores
    from paincycle import engine as engines
    from paincycle import model as risk_model
    from paincycle.engine import queries

    analysis = analyses.prepared(store, version_id, engine=engines.configured())
    path = model_path(version_id)
    if path is None:
        return
    trained = risk_model.load(path)
    version = store.find(version_id)
    # the scoring needs the patients and the version's latest record, not its observations
    nobody = analysis.patients_rows([])  # the tables' columns, no rows
    patients_only = Cohort(analysis.cohort_patients, nobody.observations, nobody.events,
                           analysis.name)
    as_of = analysis.date_range[1] if analysis.date_range else None
    del analysis  # nor the analyses: at 1,000,000 patients their tables are a gigabyte
    # a new connection: the analyses' one keeps its working memory (up to DuckDB's limit)
    engine = engines.configured()

    def origin() -> dict:
        # only a model trained on as many patients can be this version's: hash it then
        same_size = trained.metadata.metrics.n_patients == len(patients_only.patients)
        here = applicability.trained_here(
            trained, store.load(version_id) if same_size else patients_only, version_id)
        return applicability.provenance(trained, trained_here=here, cohort_synthetic=(
            version.synthetic if version else None)).to_dict()

    def scored() -> risk_model.Scores:
        # the features summed by the configured engine over the stored version's Parquet
        folder = store.path_of(version_id)
        X = queries.landmark_features(engine, folder, trained.landmark_days,
                                      include_custom=trained.include_custom)
        first_day = queries.observation_days(engine, folder)["first_day"]
        return risk_model.score(trained, patients_only, explain=True, as_of=as_of,
                                computed=(X, first_day))

    # every patient's reasons too: Case review and the Risk page then never wait for the model
    kept_scores.scores(store, version_id, path, scored, origin)


def retrained_path(version_id: str) -> Path:
    """Where a model retrained on a stored version is kept (beside the cohort store)."""
    from paincycle import config

    return config.data_dir() / "models" / f"{version_id}.skops"


def model_path(version_id: str | None) -> Path | None:
    """The model that scores a version, for every door: one retrained on it, else the shipped one."""
    from paincycle import config

    if version_id and retrained_path(version_id).exists():
        return retrained_path(version_id)
    return config.DEMO_MODEL if Path(config.DEMO_MODEL).exists() else None


def weekly_retrained_path(version_id: str) -> Path:
    """Where a weekly model retrained on a stored version is kept (beside the cohort store)."""
    return retrained_path(version_id).with_name(f"{version_id}-weekly.skops")


def weekly_model_path(version_id: str | None) -> Path | None:
    """The weekly (earliest-warning) model for a version: one retrained on it, else the
    shipped one, else None."""
    from paincycle import config

    if version_id and weekly_retrained_path(version_id).exists():
        return weekly_retrained_path(version_id)
    return config.WEEKLY_MODEL if Path(config.WEEKLY_MODEL).exists() else None


def retrain_weekly(cohort: Cohort, outcome: OutcomeDefinition, out: str | Path, *,
                   principal: Principal | None = None, engine: Engine | None = None,
                   cohort_version: str | None = None, synthetic: bool = False, seed: int = 0,
                   progress: Progress | None = None, include_custom: bool = False,
                   missing_indicators: bool = False) -> tuple[risk_model.TrainedModel, Path]:
    """Train the weekly model on ``cohort``, save it and audit the retrain."""
    who = require(principal, Permission.TRAIN_MODEL)
    from paincycle import weekly_model

    trained = weekly_model.train_weekly(cohort, outcome, seed=seed, progress=progress,
                                        synthetic=synthetic, principal=who,
                                        include_custom=include_custom,
                                        missing_indicators=missing_indicators,
                                        cohort_version=cohort_version or "")
    meta = trained.metadata
    return trained, _save_audited(trained, out, who, engine, cohort_version,
                                  f"weekly model, landmarks {meta.weekly_landmarks[0]}-"
                                  f"{meta.weekly_landmarks[-1]} days; outcome "
                                  f"{', '.join(outcome.measures)}; CV AUC at day "
                                  f"{trained.landmark_days} {meta.metrics.auc:.3f}")


def team_threshold(model_path: str | Path, engine: Engine | None = None) -> float | None:
    """The team's flag threshold for this model file, or None (the model's default share)."""
    return team.flag_threshold(_engine(engine), risks.file_id(model_path))


def set_flag_threshold(model_path: str | Path, threshold: float, *,
                       principal: Principal | None = None, engine: Engine | None = None,
                       cohort_version: str | None = None) -> team.Setting:
    """Set the team's flag threshold for this model (admins; audited with the change)."""
    return team.set_flag_threshold(_engine(engine), principal, risks.file_id(model_path),
                                   threshold, cohort_version)


def score(trained: risk_model.TrainedModel, cohort: Cohort, *, model_path: str | Path,
          landmark_days: int | None = None, threshold: float | None = None,
          as_of: pd.Timestamp | None = None, principal: Principal | None = None,
          engine: Engine | None = None, cohort_version: str | None = None) -> risks.Scores:
    """Score every patient (identified risks: clinicians and admins) at the team's threshold
    unless one is given; audited."""
    who = require(principal, Permission.VIEW_IDENTIFIED)
    engine = _engine(engine)
    if threshold is None:
        threshold = team_threshold(model_path, engine)
    from paincycle import model as risk_model

    scores = risk_model.score(trained, cohort, landmark_days, threshold=threshold, as_of=as_of)
    audit.record(engine, who, audit.Action.SCORE, cohort_version=cohort_version,
                 detail=f"{len(scores.table)} patients scored at flag threshold "
                        f"{scores.threshold:.0%}")
    return scores


def model_section(cohort: Cohort, path: str | Path | None, *, principal: Principal | None = None,
                  engine: Engine | None = None, scores: risks.Scores | None = None,
                  cohort_synthetic: bool | None = None) -> export.ModelSection | None:
    """The summary's model section, flagged at the team's threshold (None without a model file).

    Its risks go into an export, identified or pseudonymised, so it needs at
    least the right to export de-identified data. ``scores`` already computed for
    this version and model at the team's threshold (the app's cache) are reused.
    ``cohort_synthetic`` says whether the cohort holds generated patients (None: not
    known), so the export can say when a model trained on synthetic data scores real ones.
    """
    require(principal, Permission.EXPORT_DEIDENTIFIED)
    if path is None or not Path(path).exists():
        return None
    return export.model_section(cohort, path, threshold=team_threshold(path, engine), scores=scores,
                                cohort_synthetic=cohort_synthetic)


# --------------------------------------------------------------------------- exports


def export_summary(analysis: CohortTrajectories, fmt: str, ids: pd.Series | None = None, *,
                   deidentify: bool = False, principal: Principal | None = None,
                   model: export.ModelSection | None = None, progress: Progress | None = None,
                   filters: str = "", cohort_version: str | None = None,
                   engine: Engine | None = None) -> bytes:
    """Build, render and audit one cohort summary (the Export page and `paincycle summary`)."""
    who = require(principal, Permission.EXPORT_DEIDENTIFIED if deidentify
                  else Permission.EXPORT_IDENTIFIED)
    fmt = export.check_format(fmt)
    step = progress or _noop
    summary = export.build_summary(analysis, ids, deidentify=deidentify, principal=who,
                                   model=model, progress=lambda f, m: step(0.9 * f, m),
                                   charts=fmt in ("html", "pdf"), filters=filters)
    step(0.92, f"Writing the .{fmt} file")
    data = export.render(summary, fmt)
    audit.record(_engine(engine), who, audit.Action.EXPORT, cohort_version=cohort_version,
                 detail=f"cohort summary .{fmt}{' de-identified' if deidentify else ''}, "
                        f"{len(summary.per_patient)} patients")
    step(1.0, "Done")
    return data


def meeting_record_file(fmt: str, cohort_name: str, agenda: pd.DataFrame, meeting_date: date, *,
                        principal: Principal | None = None, engine: Engine | None = None,
                        cohort_version: str | None = None) -> bytes:
    """One meeting's record (every decision and revision) as .md, .html or .pdf; audited."""
    if fmt not in meeting.MEETING_FORMATS:
        raise ValueError(f"unknown meeting-record format {fmt!r}; choose one of "
                         f"{', '.join(meeting.MEETING_FORMATS)}")
    engine = _engine(engine)
    who = require(principal, Permission.EXPORT_IDENTIFIED)
    record = meeting.meeting_record(cohort_name, agenda, meeting_date, engine=engine, principal=who)
    content = meeting.MEETING_FORMATS[fmt][1](record)
    audit.record(engine, who, audit.Action.MEETING_RECORD, cohort_version=cohort_version,
                 detail=f"meeting of {meeting_date:%Y-%m-%d} as .{fmt}, "
                        f"{len(record.revisions)} decision revisions")
    return content.encode("utf-8") if isinstance(content, str) else content


def verify_audit_log(principal: Principal, *, expect: str | None = None,
                     engine: Engine | None = None, record: bool = True) -> audit.ChainReport:
    """Check the audit log's chain (admins); the check is recorded after it ran.

    The Audit page passes ``record=False``: opening it is recorded as ``view_audit``
    already, and the check runs as part of that view.
    """
    engine = _engine(engine)
    report = audit.verify(engine, principal, expect=expect)
    if record:
        audit.record(engine, principal, audit.Action.VERIFY_AUDIT,
                     detail=f"{'intact' if report.intact else 'broken'}, {report.entries} entries")
    return report


def patient_report_file(analysis: CohortTrajectories, patient_id: str, *,
                        principal: Principal | None = None, engine: Engine | None = None,
                        cohort_version: str | None = None,
                        risk: pd.DataFrame | None = None, model_note: str = "") -> bytes:
    """One patient's one-page report (PDF) for their chart; identified, so export rights; audited.

    ``risk`` is the model's scores where a model scores the cohort (columns as
    paincycle.reports.patient expects), else None; ``model_note`` says where the
    model comes from (printed beside the risk).
    """
    from paincycle.reports import patient as patient_report  # heavy (fpdf, charts): on demand

    who = require(principal, Permission.EXPORT_IDENTIFIED)
    content = patient_report.patient_report_pdf(analysis, str(patient_id), risk=risk,
                                                model_note=model_note)
    audit.record(_engine(engine), who, audit.Action.EXPORT, patient_id=str(patient_id),
                 cohort_version=cohort_version, detail="patient report .pdf")
    return content
