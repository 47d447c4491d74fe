"""`doctors away --expect PLAN` refused because the plan changed says what changed: the
command line knows only the plan's id, and the appointment that left the plan (or joined it)
is worked out from the range and named on stderr and in `changed.differences`.

(A planned appointment cancelled after the dry run: exit 1, but `differences` was `[]` and
stderr named nothing.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.services import Desk
from tests.helpers import CliResult, fingerprint, make_appointment

pytestmark = pytest.mark.backends

CliRunner = Callable[..., CliResult]
MON = datetime(2026, 11, 23, tzinfo=UTC)


def away(cli: CliRunner, *extra: str) -> CliResult:
    return cli("doctors", "away", "dr-weber", "--from", "2026-11-23T00:00:00Z", "--to", "2026-11-24T00:00:00Z",
               "--reason", "Doctor called in sick", "--rebook", *extra)


@pytest.mark.parametrize("change", ["cancelled", "booked"])
def test_a_refused_expect_names_the_appointment_that_left_or_joined_the_plan(
        clinic: Desk, cli: CliRunner, data_dir: Path, change: str) -> None:
    planned = [make_appointment(clinic, start=MON + timedelta(hours=h), patient_id=p).uid
               for h, p in ((9, "pat-001"), (10, "pat-002"), (13, "pat-003"))]
    dry = away(cli, "--dry-run", "--json")
    assert dry.code == 0, dry.err
    plan_id = dry.json()["plan_id"]
    if change == "cancelled":
        changed = planned[1]
        clinic.appointments.cancel_appointment(changed, "patient called", "bob")
        said = f"{changed}: "
        then = "no longer held or confirmed: left as it is"
    else:
        changed = make_appointment(clinic, start=MON + timedelta(hours=14), patient_id="pat-001").uid
        said = f"{changed}: not in the plan → "
        then = ""
    before = fingerprint(data_dir)
    refused = away(cli, "--expect", plan_id)
    assert refused.code == 1 and refused.err.count("\n") == 1
    assert said in refused.err and then in refused.err
    assert fingerprint(data_dir) == before
    as_json = away(cli, "--expect", plan_id, "--json")
    (difference,) = as_json.json()["changed"]["differences"]
    assert difference.startswith(said) and difference.endswith(then)
    assert fingerprint(data_dir) == before
