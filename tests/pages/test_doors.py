"""The page doors: every act done through a page is audited by its service, and the team's
settings (threshold, version) reach every page that uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from paincycle import audit, config, database, services, team
from paincycle import model as risk_model
from paincycle.access import LOCAL_USER
from paincycle.cohort import read_cohort
from paincycle.store import CohortStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")
BROKEN = {"resourceType": "Bundle", "type": "collection", "entry": [
    {"resource": {"resourceType": "Patient", "id": "1", "identifier": [{"value": "MRN-SECRET"}]}}]}


def log(action: str) -> pd.DataFrame:
    return audit.entries(database.get_engine(), LOCAL_USER, action=action)


def open_page(page: str, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    return at


def test_a_page_import_and_a_failed_one_are_audited(monkeypatch, tmp_path):
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tmp_path / "none")
    at = open_page("pages/data.py")
    at.get("file_uploader")[0].set_value(("export.json", json.dumps(BROKEN).encode(),
                                          "application/json")).run()
    at.run()  # a rerun does not check (or audit) the same file again
    assert not at.exception
    assert any("nothing was imported" in e.value for e in at.error)
    problems = at.dataframe[-1].value
    assert problems["problem"].str.contains("no pain-related encounter").any()
    failed = log("import_failed")
    assert len(failed) == 1 and "MRN-SECRET" not in failed.iloc[0]["detail"]
    assert failed.iloc[0]["user"] == "local user"
    assert CohortStore().versions() == []


def test_an_import_is_not_the_teams_until_an_admin_says_so(tiny_cohort_dir):
    store = CohortStore()
    first = store.save(read_cohort(config.SAMPLE_COHORT), name="demo")
    services.set_team_version(first.id, store=store, principal=LOCAL_USER)
    second = services.import_cohort(store, tiny_cohort_dir, principal=LOCAL_USER).version
    at = open_page("pages/home.py")  # a colleague's new session: the team's version
    assert at.session_state["cohort_version"] == first.id
    at = open_page("pages/data.py", version=second.id)  # the importer's link: the new one
    assert at.session_state["cohort_version"] == second.id
    next(b for b in at.button if "the team's version" in b.label).click().run()
    assert team.team_version(database.get_engine()) == second.id
    assert log("team_setting").iloc[0]["cohort_version"] == second.id


def test_the_threshold_set_on_the_risk_page_is_used_by_case_review_and_the_export():
    at = open_page("pages/risk_model.py")
    slider = next(s for s in at.slider if s.key.startswith("rm_threshold_"))
    slider.set_value(0.9).run()
    next(b for b in at.button if "team's flag threshold" in b.label).click().run()
    assert not at.exception
    assert services.team_threshold(config.DEMO_MODEL) == 0.9
    assert "90% for model" in log("team_setting").iloc[0]["detail"]

    version_id = CohortStore().latest().id
    scores = risk_model.score(risk_model.load(config.DEMO_MODEL),
                              CohortStore().load(version_id), explain=False, threshold=0.9)
    flagged = set(scores.table.loc[scores.table["flagged"] == 1, "patient_id"])

    review_page = open_page("pages/case_review.py")
    review_page.sidebar.number_input(key="agenda_limit").set_value(200).run()
    agenda = review_page.dataframe[0].value
    by_model = set(agenda.loc[agenda["model risk"].str.endswith("flagged"), "patient"])
    assert by_model and by_model <= flagged

    section = services.model_section(CohortStore().load(version_id), config.DEMO_MODEL)
    assert set(section.risk.loc[section.risk["flagged"] == 1, "patient_id"]) == flagged
    assert section.threshold == 0.9


def test_a_patient_link_opens_that_patient_in_that_version(tiny_cohort_dir):
    store = CohortStore()
    older = store.save(read_cohort(config.SAMPLE_COHORT), name="demo")
    store.save(read_cohort(tiny_cohort_dir), name="tiny")  # newer, the default
    at = open_page("pages/patient.py", version=older.id, patient_id="P000266")
    assert at.session_state["cohort_version"] == older.id
    picker = next(s for s in at.selectbox if s.key and s.key.startswith("patient_"))
    assert picker.value == "P000266"
    assert log("view_patient").iloc[0]["patient_id"] == "P000266"
    assert log("view_patient").iloc[0]["cohort_version"] == older.id


def test_a_link_to_a_patient_not_in_the_version_opens_nobody(tiny_cohort_dir):
    store = CohortStore()
    version = store.save(read_cohort(tiny_cohort_dir), name="tiny")
    at = open_page("pages/patient.py", version=version.id, patient_id="P000266")
    assert any("not in the cohort version shown" in w.value for w in at.warning)
    picker = next(s for s in at.selectbox if s.key and s.key.startswith("patient_"))
    assert picker.value is None
    assert log("view_patient").empty  # nobody was opened, so nobody's view was recorded


def test_a_link_to_a_version_not_stored_opens_nobody(tiny_cohort_dir):
    CohortStore().save(read_cohort(tiny_cohort_dir), name="tiny")
    at = open_page("pages/patient.py", version="20990101T000000-nothere", patient_id="P001")
    picker = next(s for s in at.selectbox if s.key and s.key.startswith("patient_"))
    assert picker.value is None
    assert log("view_patient").empty


def test_identified_patient_lists_are_audited_once_per_session():
    """The Cohort table and the Risk page's flagged list show identified patients: both recorded."""
    cohort_page = open_page("pages/cohort.py")
    cohort_page.run()
    risk_page = open_page("pages/risk_model.py")
    listed = log("view_patient_list")
    assert sorted(listed["detail"]) == ["cohort table", "risk model flagged list"]
    assert set(listed["cohort_version"]) == {CohortStore().latest().id}
    assert risk_page is not None


def test_a_refused_page_visit_is_audited(monkeypatch, tmp_path):
    """A researcher typing the patient page's URL is refused, and the refusal is recorded."""
    roles = tmp_path / "roles.toml"
    roles.write_text('[roles]\n"khan@uni.example" = "researcher"\n')
    monkeypatch.setenv("PAINCYCLE_ROLES_FILE", str(roles))
    monkeypatch.delenv("PAINCYCLE_ACCESS")
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback",
                           "cookie_secret": "x", "client_id": "x", "client_secret": "y",
                           "server_metadata_url": "https://id.example/.well-known/openid-configuration"}}
    at.user = {"is_logged_in": True, "email": "khan@uni.example", "email_verified": True}
    at.run()
    at.switch_page("pages/patient.py").run()
    assert not at.exception
    refused = log("access_denied")
    assert list(refused["user"]) == ["khan@uni.example"]
    assert list(refused["role"]) == ["researcher"]
    assert "patient page" in refused["detail"].item()
