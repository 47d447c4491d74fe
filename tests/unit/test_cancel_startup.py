"""A cancel on the command line builds no pydantic schema and loads nothing it does not use: no
plugin lookup (importlib.metadata scans every installed package)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from rxdesk.services import Desk
from tests.helpers import make_appointment, run_cli
from tests.unit.test_cli_shape import heavy, loaded_after


def test_a_cancel_builds_no_schema_and_skips_the_plugin_lookup(clinic: Desk, cli_env: dict[str, str], now: datetime) -> None:
    appt = make_appointment(clinic, start=now + timedelta(days=2))
    answer = loaded_after(["appointments", "cancel", appt.uid, "--reason", "patient asked"], cli_env)
    assert answer["code"] == 0
    assert heavy(answer["modules"], "importlib.metadata", "pydantic.plugin._loader") == []
    # What it wrote is what pydantic would have written: read back and validated in full.
    shown = run_cli("appointments", "show", appt.uid, "--json", env=cli_env)
    stored = json.loads(shown.out)
    assert stored["status"] == "cancelled" and stored["cancel_reason"] == "patient asked"
    events = json.loads(run_cli("events", "list", "--json", env=cli_env).out)
    assert any(e["type"] == "APPOINTMENT_CANCELLED" and e["data"]["appointment"]["uid"] == appt.uid for e in events)
