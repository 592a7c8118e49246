"""Load the model's libraries in the background when a server starts, once per process.

scikit-learn and skops take seconds to import; without this, the first person
to open Case review or the Risk model page after a restart waits for them.
The landing page does not need them, so once it has drawn they are imported on
a daemon thread while its reader reads (started before, the import would slow
the landing page itself: both want the same interpreter); a page that needs
them first simply waits for the import to finish (Python's import lock), never
for a second copy.
"""

from __future__ import annotations

import importlib
import threading

#: Modules the model pages need (in import order); importing them reads no patient data.
MODULES = ("paincycle.model", "skops.io", "paincycle.charts")

_lock = threading.Lock()
_started = False


def start() -> bool:
    """Begin the background import; True the first time in this process, False after."""
    global _started
    with _lock:
        if _started:
            return False
        _started = True
    threading.Thread(target=_import_all, name="paincycle-warmup", daemon=True).start()
    return True


def _import_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the page that needs it will raise it properly
            return
