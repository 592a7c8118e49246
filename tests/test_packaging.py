"""An installed wheel finds every file the package reads: templates, mappings, migrations,
the demo cohort and the demo model (through importlib.resources, not the checkout)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from paincycle import config

ROOT = Path(__file__).resolve().parents[1]


def test_bundled_files_are_found_through_the_package():
    package = Path(__file__).resolve().parents[1] / "src" / "paincycle"
    assert config.SAMPLE_COHORT.is_relative_to(package) and config.DEMO_MODEL.is_relative_to(package)
    assert (config.SAMPLE_COHORT / "patients.parquet").is_file()
    assert config.DEMO_MODEL.is_file()
    assert config.DEMO_MODEL.resolve() == (ROOT / "models" / "demo.skops").resolve(), \
        "one copy in the checkout: bundled/ links to models/"


@pytest.mark.slow
def test_the_wheel_carries_every_file_the_package_reads(tmp_path):
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is missing from the environment `make` installs")
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "data", "test-output", "build", "*.egg-info", "__pycache__", ".*cache",
        ".hypothesis", "bench"))
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(tmp_path / "dist"), "-q",
                    str(source)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("paincycle-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        sizes = {info.filename: info.file_size for info in archive.infolist()}
    wanted = ["paincycle/bundled/demo/patients.parquet", "paincycle/bundled/demo/observations.parquet",
              "paincycle/bundled/models/demo.skops",
              "paincycle/bundled/models/demo-weekly.skops", "paincycle/reports/templates/summary.html.j2",
              "paincycle/migrations/env.py", "paincycle/migrations/versions/0002_audit_chain.py"]
    for name in wanted:
        assert sizes.get(name, 0) > 0, f"{name} is not in the wheel (or is an empty link)"
    assert any(n.startswith("paincycle/importers/mappings/") for n in sizes)
