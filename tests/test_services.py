"""Every act is audited by its service, whichever door it came through (here: the CLI and the
services the pages call). Page doors are tested in tests/pages/test_doors.py."""

from __future__ import annotations

import getpass
from datetime import date

import openpyxl
import pandas as pd
import pytest

from paincycle import audit, cli, config, database, services, team
from paincycle import model as risk_model
from paincycle.access import LOCAL_USER, AccessDenied, Principal, Role
from paincycle.store import CohortStore

RESEARCHER = Principal("research@uni", Role.RESEARCHER)


def log(action: str | None = None) -> pd.DataFrame:
    return audit.entries(database.get_engine(), LOCAL_USER, action=action)


def cli_user() -> str:
    return f"{getpass.getuser()} (command line)"


def test_cli_import_is_audited_with_the_os_user_and_leaves_the_team_version(tiny_cohort_dir):
    assert cli.main(["import", str(tiny_cohort_dir)]) == 0
    entry = log("import").iloc[0]
    assert entry["user"] == cli_user() and entry["detail"] == "cohort: 3 patients"
    assert team.team_version(database.get_engine()) is None  # an import is not the team's choice
    assert cli.main(["import", str(tiny_cohort_dir), "--make-team-version"]) == 0
    assert team.team_version(database.get_engine()) == CohortStore().latest().id
    assert log("team_setting").iloc[0]["user"] == cli_user()


def test_a_failed_import_is_audited_without_patient_data(tiny_cohort_dir):
    obs = tiny_cohort_dir / "observations.csv"
    obs.write_text(obs.read_text() + "P001,2025-05-01,phq9,40\n")
    assert cli.main(["import", str(tiny_cohort_dir)]) == 1
    entry = log("import_failed").iloc[0]
    assert entry["detail"] == "cohort: refused with 1 problem(s); nothing stored"
    assert entry["patient_id"] is None and "P001" not in entry["detail"]
    assert CohortStore().versions() == []


def test_import_needs_the_admin_role(tiny_cohort_dir):
    with pytest.raises(AccessDenied):
        services.import_cohort(CohortStore(), tiny_cohort_dir, principal=RESEARCHER)


def test_cli_score_uses_the_team_threshold_and_is_audited(tmp_path):
    model = config.DEMO_MODEL
    services.set_flag_threshold(model, 0.9, principal=LOCAL_USER)
    out = tmp_path / "scores.csv"
    assert cli.main(["score", str(config.SAMPLE_COHORT), "--model", str(model), "--out", str(out)]) == 0
    scores = pd.read_csv(out)
    assert (scores["flagged"] == (scores["risk"] >= 0.9)).all()
    assert "at flag threshold 90%" in log("score").iloc[0]["detail"]


def test_cli_summary_flags_at_the_team_threshold_and_is_audited(tmp_path):
    services.set_flag_threshold(config.DEMO_MODEL, 0.7, principal=LOCAL_USER)
    out = tmp_path / "summary.xlsx"
    assert cli.main(["summary", str(config.SAMPLE_COHORT), "--out", str(out)]) == 0
    book = openpyxl.load_workbook(out, read_only=True)
    rows = list(book["Patients"].values)
    patients = pd.DataFrame(rows[1:], columns=rows[0])
    assert (patients["flagged by model"].map({"yes": True, "no": False, True: True, False: False})
            == (patients["risk"] >= 0.7)).all()
    flagged = list(book["Flagged by model"].values)
    assert len(flagged) - 1 == int((patients["risk"] >= 0.7).sum())
    assert log("export").iloc[0]["user"] == cli_user()


def test_cli_train_is_audited_and_refuses_a_leaking_landmark(tmp_path, capsys):
    out = tmp_path / "m.skops"
    assert cli.main(["train", str(config.SAMPLE_COHORT), "--out", str(out),
                     "--landmark-days", "300"]) == 1
    assert "on or before the landmark" in capsys.readouterr().err
    assert not out.exists() and log("retrain").empty
    assert cli.main(["train", str(config.SAMPLE_COHORT), "--out", str(out)]) == 0
    entry = log("retrain").iloc[0]
    assert entry["user"] == cli_user() and "CV AUC" in entry["detail"]


def test_meeting_record_downloads_are_audited(workflow_engine):
    agenda = pd.DataFrame(columns=["rank", "patient_id", "priority", "risk", "reasons",
                                   "reason_text", "source"])
    services.record_decision("A", "nursing", "call the patient", engine=workflow_engine,
                             meeting_date=date(2026, 11, 30))
    data = services.meeting_record_file("md", "demo", agenda, date(2026, 11, 30),
                                        engine=workflow_engine, cohort_version="v1")
    assert b"call the patient" in data
    entries = audit.entries(workflow_engine, LOCAL_USER, action="meeting_record")
    assert entries.iloc[0]["detail"] == "meeting of 2026-11-30 as .md, 1 decision revisions"
    with pytest.raises(AccessDenied):
        services.meeting_record_file("pdf", "demo", agenda, date(2026, 11, 30),
                                     engine=workflow_engine, principal=RESEARCHER)
    assert len(audit.entries(workflow_engine, LOCAL_USER, action="meeting_record")) == 1


def test_threshold_is_per_model_file(tmp_path):
    copy = tmp_path / "other.skops"
    copy.write_bytes(config.DEMO_MODEL.read_bytes() + b"")
    assert risk_model.file_id(copy) == risk_model.file_id(config.DEMO_MODEL)  # same bytes, same model
    services.set_flag_threshold(config.DEMO_MODEL, 0.5, principal=LOCAL_USER)
    assert services.team_threshold(copy) == pytest.approx(0.5)
