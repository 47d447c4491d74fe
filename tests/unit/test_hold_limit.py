"""A patient holds at most HOLDS_PER_PATIENT slots at once, whatever the path.

(One booking token used ten times held ten slots: a token may be used again until it
expires, so a partner, or anyone who saw a token, could hold every free slot.) Dr Weber works
Mondays from 10:00 Berlin (09:00 UTC, past the hour's booking notice) in 30-minute slots.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import Refused
from rxdesk.domain.models import Appointment, AppointmentStatus
from rxdesk.services import Desk
from rxdesk.services.booking import HOLDS_PER_PATIENT
from tests.helpers import CliResult, another_store, fingerprint
from tests.unit.test_tokens_minting import claims_at, mint

pytestmark = pytest.mark.backends

CliRunner = Callable[..., CliResult]
SLOTS = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC) + timedelta(minutes=30 * i) for i in range(4)] + [
    datetime(2026, 11, 23, 12, 0, tzinfo=UTC) + timedelta(minutes=30 * i) for i in range(6)]


def token_for(clinic: Desk, clock: FixedClock) -> str:
    made = clinic.secrets.create_secret("shop", "ops")
    return mint(made.value, claims_at(clock.now(), "shop-10001"), kid=made.secret.key_id)


def held_by(clinic: Desk, patient_id: str) -> list[Appointment]:
    return [row.appointment for row in clinic.appointments.list_appointments().items
            if row.patient_id == patient_id and row.status is AppointmentStatus.held]


def test_one_token_used_again_and_again_holds_only_a_few_slots(
        clinic: Desk, clock: FixedClock, cli: CliRunner) -> None:
    token = token_for(clinic, clock)
    results = [cli("booking", "hold", "--token", token, "--doctor", "dr-weber", "--type", "gp-consult",
                   "--start", start.strftime("%Y-%m-%dT%H:%M:%SZ")) for start in SLOTS[:HOLDS_PER_PATIENT]]
    assert [r.code for r in results] == [0] * HOLDS_PER_PATIENT
    before = fingerprint(clinic.settings.data_dir)
    for start in SLOTS[HOLDS_PER_PATIENT:]:
        refused = cli("booking", "hold", "--token", token, "--doctor", "dr-weber", "--type", "gp-consult",
                      "--start", start.strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert refused.code == 1 and refused.err.count("\n") == 1
        assert f"already holds {HOLDS_PER_PATIENT} slots" in refused.err
    assert fingerprint(clinic.settings.data_dir) == before
    assert len(held_by(clinic, "pat-001")) == HOLDS_PER_PATIENT


def test_a_confirmed_or_lapsed_hold_makes_room_for_another(clinic: Desk, clock: FixedClock) -> None:
    token = token_for(clinic, clock)
    holds = [clinic.booking.hold(token, "dr-weber", "gp-consult", start) for start in SLOTS[:HOLDS_PER_PATIENT]]
    with pytest.raises(Refused, match="already holds"):
        clinic.booking.hold(token, "dr-weber", "gp-consult", SLOTS[HOLDS_PER_PATIENT])
    clinic.booking.confirm(token, holds[0].uid)
    clinic.booking.hold(token, "dr-weber", "gp-consult", SLOTS[HOLDS_PER_PATIENT])
    # An agent's hold counts too; another patient is not held back.
    with pytest.raises(Refused, match="already holds"):
        clinic.agent_booking.book("pat-001", "gp-consult", SLOTS[HOLDS_PER_PATIENT + 1], doctor_id="dr-weber",
                                  hold=True, agent="tester")
    clinic.agent_booking.book("pat-002", "gp-consult", SLOTS[HOLDS_PER_PATIENT + 1], doctor_id="dr-weber",
                              hold=True, agent="tester")
    clock.advance(minutes=16)  # the holds lapse
    fresh = mint_again(clinic, clock)
    clinic.booking.hold(fresh, "dr-weber", "gp-consult", SLOTS[HOLDS_PER_PATIENT + 2])


def mint_again(clinic: Desk, clock: FixedClock) -> str:
    (secret,) = [row.secret for row in clinic.secrets.list_secrets() if row.secret.label == "shop"]
    return mint(clinic.secrets.reveal(secret.key_id, "ops").value, claims_at(clock.now(), "shop-10001"),
                kid=secret.key_id)


def test_holds_made_at_once_are_counted_one_after_another(
        clinic: Desk, clock: FixedClock, settings: Settings) -> None:
    token = token_for(clinic, clock)
    desks = [Desk(another_store(clinic), clock, settings) for _ in SLOTS]
    barrier = threading.Barrier(len(SLOTS))
    outcomes: list[str] = []

    def hold(desk: Desk, start: datetime) -> None:
        barrier.wait()
        try:
            if start.minute:  # a partner's token, or an agent's booking: the same limit
                desk.booking.hold(token, "dr-weber", "gp-consult", start)
            else:
                desk.agent_booking.book("pat-001", "gp-consult", start, doctor_id="dr-weber", hold=True, agent="ops")
            outcomes.append("held")
        except Refused:
            outcomes.append("refused")

    threads = [threading.Thread(target=hold, args=pair) for pair in zip(desks, SLOTS, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes.count("held") == HOLDS_PER_PATIENT and outcomes.count("refused") == len(SLOTS) - HOLDS_PER_PATIENT
    assert len(held_by(clinic, "pat-001")) == HOLDS_PER_PATIENT
