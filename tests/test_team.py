"""The team's settings: stored, admin-only, audited in the same transaction, on both backends."""

from __future__ import annotations

import pytest

from paincycle import audit, team
from paincycle.access import LOCAL_USER, AccessDenied, Principal, Role

NURSE = Principal("nurse@clinic", Role.CLINICIAN)


def test_the_latest_setting_is_in_force_and_each_change_is_audited(workflow_engine):
    assert team.flag_threshold(workflow_engine, "m1") is None
    team.set_flag_threshold(workflow_engine, LOCAL_USER, "m1", 0.4)
    team.set_flag_threshold(workflow_engine, LOCAL_USER, "m1", 0.35)
    assert team.flag_threshold(workflow_engine, "m1") == pytest.approx(0.35)
    assert team.flag_threshold(workflow_engine, "other model") is None  # per model file
    log = audit.entries(workflow_engine, LOCAL_USER, action="team_setting")
    assert len(log) == 2 and "35%" in log["detail"].iloc[0]


def test_only_admins_change_settings_and_a_refusal_writes_nothing(workflow_engine):
    with pytest.raises(AccessDenied):
        team.set_flag_threshold(workflow_engine, NURSE, "m1", 0.5)
    with pytest.raises(AccessDenied):
        team.set_team_version(workflow_engine, NURSE, "v1")
    assert team.flag_threshold(workflow_engine, "m1") is None
    assert team.team_version(workflow_engine) is None
    assert audit.entries(workflow_engine, LOCAL_USER, action="team_setting").empty


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, float("nan")])
def test_a_threshold_is_a_risk_between_0_and_1(workflow_engine, bad):
    with pytest.raises(ValueError, match="between 0 and 1"):
        team.set_flag_threshold(workflow_engine, LOCAL_USER, "m1", bad)


def test_the_team_version_is_a_setting_too(workflow_engine):
    team.set_team_version(workflow_engine, LOCAL_USER, "20260101T000000-abc")
    assert team.team_version(workflow_engine) == "20260101T000000-abc"
    entry = audit.entries(workflow_engine, LOCAL_USER, action="team_setting").iloc[0]
    assert entry["cohort_version"] == "20260101T000000-abc"
