"""`paincycle convert` end to end, and input-kind detection."""

from __future__ import annotations

from pathlib import Path

from cohort_writers import day_rows, write_fhir_bundle, write_redcap_export

from paincycle import importers
from paincycle.cli import main
from paincycle.cohort import read_cohort


def test_convert_writes_a_valid_cohort_folder(sample_cohort, tmp_path: Path, capsys):
    export, mapping = write_redcap_export(sample_cohort, tmp_path)
    out = tmp_path / "cohort"
    assert main(["convert", "--from", "redcap", str(export), "--mapping", str(mapping),
                 "--out", str(out)]) == 0
    assert day_rows(read_cohort(out)) == day_rows(sample_cohort)
    assert "3 patients" in capsys.readouterr().out


def test_convert_bad_input_is_one_clear_message_and_writes_nothing(tmp_path: Path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out = tmp_path / "cohort"
    assert main(["convert", "--from", "fhir", str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "bad.json, row 1" in err and "not valid JSON" in err and "Traceback" not in err
    assert not out.exists()
    assert not list(tmp_path.glob(".convert-*"))


def test_convert_needs_mapping_for_wide(tmp_path: Path, capsys):
    path = tmp_path / "r.csv"
    path.write_text("id,pain\n1,5\n")
    assert main(["convert", "--from", "wide", str(path), "--out", str(tmp_path / "o")]) == 1
    assert "--mapping" in capsys.readouterr().err


def test_detect_kind(sample_cohort, tmp_path: Path):
    bundle = write_fhir_bundle(sample_cohort, tmp_path / "bundle.json")
    export, _ = write_redcap_export(sample_cohort, tmp_path)
    wide = tmp_path / "wide.csv"
    wide.write_text("PATIENT_NUM,PAIN\n1,5\n")
    assert importers.detect_kind(bundle) == "fhir"
    assert importers.detect_kind(export) == "redcap"
    assert importers.detect_kind(wide) == "wide"


def test_encrypted_zip_member_is_a_clear_error(tmp_path, capsys):
    import zipfile

    from paincycle.cli import main

    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("patients.csv", "Id,BIRTHDATE\n1,1970-01-01\n")
    raw = bytearray(archive.read_bytes())
    # set the "encrypted" flag bit in the local and central headers
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        raw[at + offset] |= 0x1
    archive.write_bytes(bytes(raw))
    code = main(["convert", "--from", "synthea", str(archive), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert "patients.csv" in err and "cannot unpack this zip member" in err and "password" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
