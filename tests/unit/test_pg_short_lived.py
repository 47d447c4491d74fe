"""A command that answers and exits on PostgreSQL keeps the collector's passes off what it
loads and reads, as it does on the data dir (`test_store_memory`); the app and a running
worker never freeze."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest

from rxdesk.services import Desk
from rxdesk.store import open_store

pytestmark = pytest.mark.database_only


def test_a_short_lived_command_keeps_what_it_reads_out_of_the_collectors_passes(clinic: Desk) -> None:
    settings = clinic.settings
    assert settings.database_url
    stores = []
    try:
        frozen = gc.get_freeze_count()
        for long_lived in (open_store(settings), open_store(settings, long_running=True, short_lived=True)):
            stores.append(long_lived)
            with long_lived.read() as view:  # the app's, the tests' and a running worker's: nothing frozen
                assert view.org.get() is not None
            assert gc.get_freeze_count() == frozen
        command = open_store(settings, short_lived=True)
        stores.append(command)
        with command.read() as view:
            assert view.org.get() is not None
            assert view.doctors.all()
        assert gc.get_freeze_count() > frozen  # what its reads made, and what was there before
    finally:
        for store in stores:
            store.close()
        gc.unfreeze()  # leave the test process as it was


LOADING = """
import gc, json, sys
from rxdesk.config import Settings
from rxdesk.store import open_store
passes = []
gc.callbacks.append(lambda phase, info: passes.append(info["generation"]) if phase == "stop" else None)
store = open_store(Settings.from_env(data_dir=sys.argv[1], database_url=sys.argv[2]), short_lived=True)
print(json.dumps({"loaded": "psycopg" in sys.modules, "passes": passes, "frozen": gc.get_freeze_count(),
                  "collecting": gc.isenabled()}))
"""


def test_a_short_lived_command_loads_the_driver_without_the_collectors_passes(clinic: Desk) -> None:
    """The driver's modules are thousands of objects and no garbage: loaded with the collector
    held, and kept out of its passes after."""
    settings = clinic.settings
    assert settings.database_url
    done = subprocess.run([sys.executable, "-c", LOADING, str(settings.data_dir), settings.database_url],
                          capture_output=True, text=True, timeout=60, check=True)
    seen = json.loads(done.stdout)
    assert seen["loaded"] and seen["passes"] == [] and seen["collecting"]
    assert seen["frozen"] > 10_000
