"""The CLI's validate and import commands, run as a user would."""

import subprocess
import sys
from pathlib import Path

from paincycle import analyses
from paincycle.cli import main
from paincycle.store import CohortStore


def test_validate_valid_cohort(tiny_cohort_dir, capsys):
    assert main(["validate", str(tiny_cohort_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("valid: 3 patients, 11 observations, 4 events")


def test_validate_lists_problems_and_exits_1(tiny_cohort_dir, capsys):
    obs = tiny_cohort_dir / "observations.csv"
    obs.write_text(obs.read_text() + "P001,2025-05-01,phq9,40\n")
    assert main(["validate", str(tiny_cohort_dir)]) == 1
    err = capsys.readouterr().err
    assert "observations.csv, row 13, column value: 40 is outside the range of phq9 (0-27)" in err
    assert "Traceback" not in err


def test_validate_caps_the_list_at_50(tiny_cohort_dir, capsys):
    obs = tiny_cohort_dir / "observations.csv"
    obs.write_text(obs.read_text() + "P001,2025-05-01,phq9,40\n" * 80)
    assert main(["validate", str(tiny_cohort_dir)]) == 1
    err = capsys.readouterr().err
    assert err.count("outside the range") == 50
    assert "... and 30 more problems" in err


def test_import_stores_a_version(tiny_cohort_dir, capsys, data_dir):
    assert main(["import", str(tiny_cohort_dir), "--name", "north"]) == 0
    version_id = capsys.readouterr().out.strip()
    assert CohortStore().find(version_id).name == "north"
    assert (data_dir / "cohorts" / version_id / "manifest.json").exists()
    kept = analyses.folder_of(CohortStore(), version_id)
    assert (kept / "arrays.npz").exists()  # prepared at import, so the app's first view is quick


def test_import_of_bad_cohort_writes_nothing(tiny_cohort_dir, capsys, data_dir):
    (tiny_cohort_dir / "patients.csv").write_text("patient_id\nP001\n")
    assert main(["import", str(tiny_cohort_dir)]) == 1
    assert "required column 'intake_date' is missing" in capsys.readouterr().err
    assert CohortStore().versions() == []


def test_installed_entry_point_never_prints_a_traceback(tmp_path):
    exe = Path(sys.executable).with_name("paincycle")
    result = subprocess.run([str(exe), "validate", str(tmp_path / "missing")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "no such file or folder" in result.stderr
    assert "Traceback" not in result.stderr
    help_text = subprocess.run([str(exe), "import", "--help"], capture_output=True, text=True)
    assert "--name" in help_text.stdout


def test_top_level_help_lists_every_command_without_loading_them(capsys):
    import pytest

    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in ("convert", "import", "sample", "score", "summary", "train", "validate"):
        assert command in out
    assert "Validate a cohort, store it as a new immutable version" in " ".join(out.split())


def test_a_data_folder_that_cannot_be_written_says_so_plainly(tmp_path, monkeypatch, capsys,
                                                               tiny_cohort_dir):
    """A full disk or a read-only folder is named, not reported as "unexpected ... please report"."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the data folder should be")
    monkeypatch.setenv("PAINCYCLE_DATA_DIR", str(blocked))
    assert main(["import", str(tiny_cohort_dir)]) == 1
    err = capsys.readouterr().err
    assert "the operating system refused" in err and "not-a-folder" in err
    assert "unexpected" not in err


def test_a_setting_not_understood_refuses_naming_it(monkeypatch, capsys, tiny_cohort_dir):
    monkeypatch.setenv("PAINCYCLE_DATABASE_URL", "mysql://somewhere")
    assert main(["import", str(tiny_cohort_dir)]) == 1
    assert "PAINCYCLE_DATABASE_URL" in capsys.readouterr().err
