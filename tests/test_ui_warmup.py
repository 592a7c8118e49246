"""The background warm-up runs once per process and leaves the model's libraries imported."""

from __future__ import annotations

import sys
import threading

from paincycle.ui import warmup


def test_warmup_runs_once_and_imports_the_model_libraries(monkeypatch):
    monkeypatch.setattr(warmup, "_started", False)
    assert warmup.start() is True
    assert warmup.start() is False
    for thread in threading.enumerate():
        if thread.name == "paincycle-warmup":
            thread.join(timeout=120)
    assert all(name in sys.modules for name in warmup.MODULES)
