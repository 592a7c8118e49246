from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from paincycle import config, database


def test_sqlite_default_lives_in_the_data_folder(data_dir):
    assert config.database_url() == f"sqlite:///{(data_dir / 'paincycle.db').resolve()}"
    engine = database.get_engine()
    with engine.begin() as conn:
        conn.execute(database.audit_log.insert().values(
            at=datetime.now(UTC), user="nurse@clinic", role="clinician", action="view",
            patient_id="P001", cohort_version="v1", detail=""))
        assert conn.execute(sa.select(sa.func.count()).select_from(database.audit_log)).scalar() == 1
    assert (data_dir / "paincycle.db").exists()
    database.dispose_all()


def test_url_from_environment(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv("PAINCYCLE_DATABASE_URL", url)
    assert config.database_url() == url


def test_database_errors_quote_no_bound_value(workflow_engine):
    """An error's message reaches logs: it must not carry a note or a patient id."""

    from sqlalchemy.exc import IntegrityError


    with pytest.raises(IntegrityError) as caught:
        with workflow_engine.begin() as conn:
            conn.execute(database.decisions.insert().values(
                decision_id="d", revision=1, patient_id="P-SECRET-1", discipline=None,
                action="x", note="the patient's private note", author="a",
                created_at=datetime.now(UTC)))
    assert "P-SECRET-1" not in str(caught.value)
    assert "private note" not in str(caught.value)
