"""Patient booking calls: hold, confirm, cancel behind a verified token.

The clinic's `now` is Monday 2026-11-23 08:00 UTC (09:00 Berlin). Dr Weber (Berlin) works
Mondays 09:00-12:00 and 13:00-17:00 local; gp-consult is 30 minutes, 60 minutes' booking
notice, 120 minutes' cancellation notice, a 15-minute hold.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import Conflict, NotFound, Refused, RxdeskError
from rxdesk.domain.models import AppointmentStatus, Event, EventType, appointment_target
from rxdesk.services import Desk
from rxdesk.services.tokens import TokenRefused
from tests.helpers import another_store, make_appointment, refused_unchanged, view_of
from tests.receiver import Receiver
from tests.unit.test_tokens_minting import TokenFor, claims_at, mint

pytestmark = pytest.mark.backends

SLOT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 11:00 Berlin


@pytest.fixture
def partner(clinic: Desk) -> tuple[str, str]:
    made = clinic.secrets.create_secret("shop", "ops")
    return made.secret.key_id, made.value


@pytest.fixture
def token(clinic: Desk, partner: tuple[str, str], clock: FixedClock) -> TokenFor:
    """`token("shop-10001")`: a fresh token for a patient, minted at the clock's now."""
    kid, value = partner

    def fresh(sub: str = "shop-10001") -> str:
        return mint(value, claims_at(clock.now(), sub), kid=kid)

    return fresh


def events(desk: Desk) -> list[Event]:
    return list(reversed(view_of(desk).events.newest().items))




# -- hold -----------------------------------------------------------------------------


def test_hold_takes_an_offered_slot(clinic: Desk, token: TokenFor, partner: tuple[str, str], now: datetime) -> None:
    appt = clinic.booking.hold(token(), "dr-weber", "gp-consult", SLOT)
    assert appt.status is AppointmentStatus.held
    assert (appt.patient_id, appt.doctor_id, appt.type_key) == ("pat-001", "dr-weber", "gp-consult")
    assert (appt.starts_at, appt.ends_at) == (SLOT, SLOT + timedelta(minutes=30))
    assert appt.created_at == now and appt.hold_expires_at == now + timedelta(minutes=15)
    assert appt.room_url == view_of(clinic).doctors.require("dr-weber").room_url != ""
    assert clinic.appointments.get(appt.uid) == appt
    [entry] = view_of(clinic).audit.for_target(appointment_target(appt.uid))
    assert (entry.actor, entry.action, entry.details["kid"]) == ("patient:pat-001", "booking.hold", partner[0])
    [held] = events(clinic)
    assert (held.type, held.data, held.created_at) == (EventType.APPOINTMENT_HELD, {"appointment": appt.to_json()}, now)
    assert clinic.secrets.get(partner[0]).last_used_at == now


def test_hold_in_another_zone_and_type(clinic: Desk, token: TokenFor) -> None:
    # Dr Osei: Tuesdays 08:00-16:00 New York; therapy is 50 minutes with 240 minutes' notice.
    start = datetime(2026, 11, 24, 13, 50, tzinfo=UTC)  # 08:50 in New York
    appt = clinic.booking.hold(token("pat-003"), "dr-osei", "therapy", start)
    assert appt.patient_id == "pat-003" and appt.ends_at == start + timedelta(minutes=50)


@pytest.mark.parametrize(
    ("doctor", "type_key", "start", "error", "match"),
    [
        ("dr-weber", "gp-consult", SLOT + timedelta(minutes=10), Refused, "not a GP video consultation slot"),
        ("dr-weber", "gp-consult", datetime(2026, 11, 23, 11, 0, tzinfo=UTC), Refused, "not a .* slot"),  # lunch
        ("dr-weber", "gp-consult", datetime(2026, 11, 24, 10, 0, tzinfo=UTC), Refused, "not a .* slot"),  # Tuesday
        ("dr-weber", "gp-consult", datetime(2026, 11, 23, 8, 30, tzinfo=UTC), Refused, "starts too soon.*60 minutes"),
        ("dr-weber", "gp-consult", datetime(2026, 11, 16, 10, 0, tzinfo=UTC), Refused, "starts too soon"),  # past
        ("dr-weber", "therapy", SLOT, Refused, "does not offer Therapy session"),
        ("dr-nobody", "gp-consult", SLOT, NotFound, "no doctor"),
        ("dr-weber", "massage", SLOT, NotFound, "no appointment type"),
    ],
)
def test_hold_refusals_change_nothing(clinic: Desk, token: TokenFor, doctor: str, type_key: str, start: datetime,
                                      error: type[RxdeskError], match: str) -> None:
    tok = token()
    err = refused_unchanged(clinic, lambda: clinic.booking.hold(tok, doctor, type_key, start), error)
    assert re.search(match, str(err)), str(err)


def test_a_taken_slot_is_a_conflict(clinic: Desk, token: TokenFor) -> None:
    make_appointment(clinic, start=SLOT - timedelta(minutes=15), minutes=30)  # overlaps 10:00-10:15
    err = refused_unchanged(clinic, lambda: clinic.booking.hold(token(), "dr-weber", "gp-consult", SLOT), Conflict)
    assert "is taken" in str(err)
    # Another doctor's appointment, or a cancelled one, does not block the slot.
    later = SLOT + timedelta(minutes=30)
    make_appointment(clinic, start=later, doctor_id="dr-sato")
    make_appointment(clinic, start=later, status="cancelled")
    clinic.booking.hold(token(), "dr-weber", "gp-consult", later)


def test_a_held_slot_cannot_be_held_again(clinic: Desk, token: TokenFor) -> None:
    clinic.booking.hold(token(), "dr-weber", "gp-consult", SLOT)
    refused_unchanged(clinic, lambda: clinic.booking.hold(token("shop-10002"), "dr-weber", "gp-consult", SLOT), Conflict)


def test_two_racing_holds_book_the_slot_once(clinic: Desk, token: TokenFor, clock: FixedClock, settings: Settings) -> None:
    tokens = [token("shop-10001"), token("shop-10002")]
    desks = [Desk(another_store(clinic), clock, settings) for _ in tokens]
    results: list[object] = []
    barrier = threading.Barrier(2)

    def book(desk: Desk, tok: str) -> None:
        barrier.wait()
        try:
            results.append(desk.booking.hold(tok, "dr-weber", "gp-consult", SLOT))
        except Conflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=book, args=pair) for pair in zip(desks, tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(type(r).__name__ for r in results) == ["Appointment", "Conflict"]
    active = view_of(clinic).appointments.active_for_doctor("dr-weber", SLOT, SLOT + timedelta(minutes=30))
    assert len(active) == 1


def test_a_refused_token_holds_nothing(clinic: Desk, partner: tuple[str, str], token: TokenFor, now: datetime) -> None:
    kid, value = partner
    bad = mint(value, claims_at(now, lifetime=3600), kid=kid)
    assert refused_unchanged(clinic, lambda: clinic.booking.hold(bad, "dr-weber", "gp-consult", SLOT), TokenRefused).reason == "lifetime_too_long"
    tok = token()
    clinic.secrets.revoke(kid, "ops")
    assert refused_unchanged(clinic, lambda: clinic.booking.hold(tok, "dr-weber", "gp-consult", SLOT), TokenRefused).reason == "revoked_kid"


# -- confirm --------------------------------------------------------------------------


def test_confirm_a_hold(clinic: Desk, token: TokenFor, clock: FixedClock, now: datetime, partner: tuple[str, str]) -> None:
    held = clinic.booking.hold(token(), "dr-weber", "gp-consult", SLOT)
    clock.advance(minutes=14, seconds=59)
    confirmed = clinic.booking.confirm(token(), held.uid.upper())
    assert confirmed.status is AppointmentStatus.confirmed and confirmed.confirmed_at == clock.now()
    assert confirmed.hold_expires_at is None
    [_, event] = events(clinic)
    assert event.type is EventType.APPOINTMENT_CONFIRMED
    assert event.data["appointment"] == confirmed.to_json() and event.created_at == clock.now()
    actions = [(e.actor, e.action) for e in view_of(clinic).audit.for_target(appointment_target(held.uid))]
    assert actions == [("patient:pat-001", "booking.hold"), ("patient:pat-001", "booking.confirm")]
    assert clinic.secrets.get(partner[0]).last_used_at == clock.now()


def test_confirm_after_the_hold_expired_is_refused(clinic: Desk, token: TokenFor, clock: FixedClock) -> None:
    held = clinic.booking.hold(token(), "dr-weber", "gp-consult", SLOT)
    clock.advance(minutes=15)
    tok = token()
    assert "expired" in str(refused_unchanged(clinic, lambda: clinic.booking.confirm(tok, held.uid), Refused))


def test_confirm_twice_is_refused(clinic: Desk, token: TokenFor) -> None:
    held = clinic.booking.hold(token(), "dr-weber", "gp-consult", SLOT)
    clinic.booking.confirm(token(), held.uid)
    assert "confirmed" in str(refused_unchanged(clinic, lambda: clinic.booking.confirm(token(), held.uid), Refused))


def test_a_patient_cannot_touch_another_patients_appointment(clinic: Desk, token: TokenFor) -> None:
    held = clinic.booking.hold(token(), "dr-weber", "gp-consult", SLOT)
    other = token("shop-10002")
    for call in (clinic.booking.confirm, clinic.booking.cancel):
        err = refused_unchanged(clinic, lambda: call(other, held.uid), NotFound)
        assert "of patient pat-002" in str(err)
    err = refused_unchanged(clinic, lambda: clinic.booking.confirm(other, "0000000000000a"), NotFound)
    assert "of patient pat-002" in str(err)  # not there at all reads the same


# -- cancel ---------------------------------------------------------------------------


def test_patient_cancels_a_confirmed_appointment(clinic: Desk, token: TokenFor, now: datetime) -> None:
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wednesday 10:00 Berlin
    held = clinic.booking.hold(token(), "dr-weber", "gp-consult", start)
    clinic.booking.confirm(token(), held.uid)
    cancelled = clinic.booking.cancel(token(), held.uid)
    assert cancelled.status is AppointmentStatus.cancelled
    assert cancelled.cancelled_by == "patient:pat-001" and cancelled.cancelled_at == now
    event = events(clinic)[-1]
    assert event.type is EventType.APPOINTMENT_CANCELLED
    assert event.data["appointment"] == cancelled.to_json()
    assert event.data["cancelled_by"] == "patient:pat-001"
    entry = view_of(clinic).audit.for_target(appointment_target(held.uid))[-1]
    assert entry.action == "booking.cancel" and entry.details["from_status"] == "confirmed"
    # The slot is free again.
    clinic.booking.hold(token("shop-10002"), "dr-weber", "gp-consult", start)


def test_patient_cancels_a_hold(clinic: Desk, token: TokenFor) -> None:
    held = clinic.booking.hold(token(), "dr-weber", "gp-consult", SLOT)
    assert clinic.booking.cancel(token(), held.uid).status is AppointmentStatus.cancelled


def test_cancel_inside_the_notice_is_refused(clinic: Desk, token: TokenFor, clock: FixedClock) -> None:
    appt = make_appointment(clinic, start=SLOT + timedelta(hours=2))  # 12:00 UTC, confirmed
    clock.set(appt.starts_at - timedelta(minutes=120))
    tok = token()
    clock.advance(seconds=1)
    err = refused_unchanged(clinic, lambda: clinic.booking.cancel(tok, appt.uid), Refused)
    assert "120 minutes' notice" in str(err)
    clock.advance(seconds=-1)
    assert clinic.booking.cancel(tok, appt.uid).status is AppointmentStatus.cancelled


def test_cancel_of_a_finished_appointment_is_refused(clinic: Desk, token: TokenFor) -> None:
    appt = make_appointment(clinic, start=SLOT + timedelta(days=3), status="cancelled")
    tok = token()
    assert "only held or confirmed" in str(refused_unchanged(clinic, lambda: clinic.booking.cancel(tok, appt.uid), Refused))


def test_a_partner_subscribed_to_holds_receives_each_as_the_other_events_are_shaped(clinic: Desk, token: TokenFor, receiver: Receiver, now: datetime) -> None:
    from rxdesk.services.maintenance import MaintenanceService

    clinic.webhooks.add_subscription(receiver.url + "/hook", ["APPOINTMENT_HELD", "APPOINTMENT_CONFIRMED"], {},
                                     "tester", allow_private_network=True)
    held = clinic.booking.hold(token(), "dr-weber", "gp-consult", SLOT)
    confirmed = clinic.booking.confirm(token(), held.uid)
    assert MaintenanceService(clinic).tick().delivered == 2
    bodies = {got.json()["type"]: got.json() for got in receiver.received}  # sent side by side, in any order
    assert {kind: (set(body), body["data"]) for kind, body in bodies.items()} == {
        "APPOINTMENT_HELD": ({"type", "timestamp", "data"}, {"appointment": held.to_json()}),
        "APPOINTMENT_CONFIRMED": ({"type", "timestamp", "data"}, {"appointment": confirmed.to_json()}),
    }


def test_a_refused_hold_announces_nothing(clinic: Desk, token: TokenFor) -> None:
    make_appointment(clinic, start=SLOT, patient_id="pat-002")
    refused_unchanged(clinic, lambda: clinic.booking.hold(token(), "dr-weber", "gp-consult", SLOT), Conflict)
    assert events(clinic) == []
