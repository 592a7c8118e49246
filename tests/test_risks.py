"""The light half of the model: the pages that show kept risks never import scikit-learn."""

from __future__ import annotations

import subprocess
import sys

from paincycle import model, risks


def test_the_model_re_exports_the_light_half():
    for name in ("DISCLAIMER", "Scores", "file_id", "flag_threshold", "risk_percent", "risk_words"):
        assert getattr(model, name) is getattr(risks, name)


def test_case_review_and_the_patient_pages_load_without_scikit_learn():
    """Importing what Case review, the Patient and Cohort pages import leaves scikit-learn and
    skops unloaded (seconds on a fresh server); only training, scoring and explaining load them."""
    code = ("import sys; import paincycle.ui.review, paincycle.ui.trajectories, "
            "paincycle.ui.risk, paincycle.services, paincycle.reports.meeting, "
            "paincycle.reports.patient, paincycle.kept_scores; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'skops'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
