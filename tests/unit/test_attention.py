"""What needs attention: each kind appears when its trouble does and disappears when fixed.

The clinic (examples/clinic.toml), now Monday 2026-11-23 08:00 UTC. Dr Osei has no mobile
number, and GP consultations text the doctor 15 minutes before (rule doctor-heads-up).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.domain.models import DeliveryStatus
from rxdesk.services import Desk
from rxdesk.services.attention import AttentionItem, AttentionKind
from rxdesk.services.maintenance import MaintenanceService as Maintenance
from tests.helpers import Cli, free_port, make_appointment
from tests.receiver import Receiver
from tests.unit.test_worker import only_rule, subscribe

pytestmark = pytest.mark.backends


@pytest.fixture
def ticked(clinic: Desk) -> Desk:
    """The clinic with a worker that has just ticked (so the worker item is not in the way)."""
    Maintenance(clinic).tick()
    return clinic


def kinds(desk: Desk) -> list[str]:
    return [item.kind.value for item in desk.attention.items()]


def of(desk: Desk, kind: AttentionKind) -> list[AttentionItem]:
    return [item for item in desk.attention.items() if item.kind is kind]


def test_a_worker_that_never_ticked_or_went_quiet(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    (item,) = of(clinic, AttentionKind.worker)
    assert item.title == "The maintenance worker has never run on this data" and item.command == "rxdesk worker"
    Maintenance(clinic, owner="night").tick()
    assert of(clinic, AttentionKind.worker) == []
    clock.advance(minutes=5)
    assert of(clinic, AttentionKind.worker) == []
    clock.advance(minutes=7)
    (item,) = of(clinic, AttentionKind.worker)
    assert item.title == "No maintenance tick for 12 minutes" and item.since == now and "night" in item.detail
    Maintenance(clinic).tick()
    assert of(clinic, AttentionKind.worker) == []


def test_a_hold_about_to_lapse(ticked: Desk, clock: FixedClock, now: datetime) -> None:
    soon = make_appointment(ticked, start=now + timedelta(days=1), status="held", created_at=now - timedelta(minutes=12))
    later = make_appointment(ticked, start=now + timedelta(days=1, hours=1), status="held", created_at=now,
                             patient_id="pat-002")  # lapses at 08:15
    (item,) = of(ticked, AttentionKind.hold_lapsing)
    assert item.target == f"appointment:{soon.uid}" and item.title == "Hold of Lena Fischer lapses in 3 minutes"
    assert item.command == f"rxdesk appointments show {soon.uid}"
    clock.advance(minutes=2)
    ticked.appointments.cancel_appointment(soon.uid, "patient called", "alice")
    assert of(ticked, AttentionKind.hold_lapsing) == []
    clock.advance(minutes=9)  # 08:11: the other lapses at 08:15
    Maintenance(ticked).tick()
    (item,) = of(ticked, AttentionKind.hold_lapsing)
    assert item.target == f"appointment:{later.uid}"
    clock.advance(minutes=3, seconds=30)
    (item,) = of(ticked, AttentionKind.hold_lapsing)
    assert item.title == "Hold of Omar Haddad lapses in under a minute"
    clock.advance(minutes=1, seconds=30)  # lapsed: nothing left to do about it
    Maintenance(ticked).tick()
    assert of(ticked, AttentionKind.hold_lapsing) == []


def test_deliveries_failing_for_an_hour_and_dead_ones(ticked: Desk, receiver: Receiver, clock: FixedClock, now: datetime) -> None:
    sub = subscribe(ticked, receiver, "APPOINTMENT_CANCELLED").subscription
    receiver.default = (503, {})
    appt = make_appointment(ticked, start=now + timedelta(days=2))
    ticked.appointments.cancel_appointment(appt.uid, "patient asked", "alice")
    assert Maintenance(ticked).tick().retrying == 1
    assert of(ticked, AttentionKind.deliveries) == []  # failing, but not for an hour yet
    clock.advance(minutes=61)
    Maintenance(ticked).tick()
    (item,) = of(ticked, AttentionKind.deliveries)
    assert item.target == f"subscription:{sub.id}" and item.count == 1
    assert "1 failing for over an hour" in item.title and "503" in item.detail
    assert item.command == f"rxdesk subscriptions test {sub.id}"
    # The endpoint recovers: the retry delivers it.
    receiver.default = (200, {})
    clock.advance(hours=3)
    assert Maintenance(ticked).tick().delivered == 1
    assert of(ticked, AttentionKind.deliveries) == []
    # One that went dead shows until it is replayed.
    (delivery,) = ticked.webhooks.list_deliveries().items
    with ticked.store.write() as view:
        view.deliveries.put(delivery.model_copy(update={"status": DeliveryStatus.dead, "last_error": "gave up",
                                                        "last_attempt_at": clock.now()}))
    (item,) = of(ticked, AttentionKind.deliveries)
    assert "1 dead" in item.title and item.command.endswith(f"rxdesk deliveries replay {delivery.id}")
    ticked.webhooks.replay(delivery.id, "alice")
    assert of(ticked, AttentionKind.deliveries) == []
    # A day after it died, a dead delivery is history: the deliveries list has it.
    with ticked.store.write() as view:
        view.deliveries.put(delivery.model_copy(update={"status": DeliveryStatus.dead, "last_attempt_at": clock.now()}))
    clock.advance(hours=25)
    Maintenance(ticked).tick()
    assert of(ticked, AttentionKind.deliveries) == []


def test_emails_that_failed_for_appointments_not_started(ticked: Desk, settings: Settings, clock: FixedClock, now: datetime) -> None:
    desk = Desk(ticked.store, ticked.clock, settings.with_overrides(smtp_url=f"smtp://127.0.0.1:{free_port()}",
                                                                    mail_from="desk@riverside.example"))
    only_rule(desk, "gp-consult", "patient", 120, email=True)
    appt = make_appointment(desk, start=now + timedelta(minutes=90))
    for wait in (0, 1, 5, 30):  # the first attempt and three retries
        clock.advance(minutes=wait)
        Maintenance(desk).tick()
    (item,) = of(desk, AttentionKind.messages_failed)
    assert item.title.startswith("1 email of reminders could not be sent") and "cannot reach" in item.detail
    assert item.command == "rxdesk outbox list" and item.target == "outbox"
    clock.set(appt.starts_at)  # it has started: too late to matter
    assert of(desk, AttentionKind.messages_failed) == []


def test_reminders_without_a_mobile_number_until_the_doctor_has_one(ticked: Desk, clock: FixedClock, now: datetime) -> None:
    make_appointment(ticked, start=now + timedelta(minutes=10), doctor_id="dr-osei")
    Maintenance(ticked).tick()  # doctor-heads-up is due: Dr Osei has no mobile number
    (item,) = of(ticked, AttentionKind.reminders_skipped)
    assert item.title == "Dr Kwame Osei has no mobile number: 1 SMS reminder skipped"
    assert item.target == "doctor:dr-osei" and item.command == "rxdesk doctors set-phone dr-osei NUMBER"
    ticked.doctors.set_phone("dr-osei", "+1 212 555 0199", "alice")
    assert of(ticked, AttentionKind.reminders_skipped) == []
    ticked.doctors.set_phone("dr-osei", "", "alice")
    assert len(of(ticked, AttentionKind.reminders_skipped)) == 1
    clock.advance(minutes=10)  # the appointment has started
    assert of(ticked, AttentionKind.reminders_skipped) == []


def test_a_landline_is_named_as_such_and_a_cancel_takes_its_skipped_reminders_away(
        ticked: Desk, clock: FixedClock, now: datetime) -> None:
    only_rule(ticked, "gp-consult", "patient", 60, sms=True)
    with ticked.store.write() as view:
        lena = view.patients.require("pat-001")
        view.patients.put(lena.model_copy(update={"phone": "+442079460018"}))  # a London landline
    kept = make_appointment(ticked, start=now + timedelta(minutes=30), patient_id="pat-001")
    gone = make_appointment(ticked, start=now + timedelta(minutes=40), patient_id="pat-001", doctor_id="dr-sato")
    Maintenance(ticked).tick()
    (item,) = of(ticked, AttentionKind.reminders_skipped)
    assert item.title == "Lena Fischer's phone number is not a mobile one: 2 SMS reminders skipped"
    ticked.appointments.cancel_appointment(gone.uid, "patient asked", "alice")
    (item,) = of(ticked, AttentionKind.reminders_skipped)
    assert item.title.endswith(": 1 SMS reminder skipped")
    ticked.appointments.cancel_appointment(kept.uid, "patient asked", "alice")
    assert of(ticked, AttentionKind.reminders_skipped) == []


def test_a_doctor_without_a_mobile_number_whose_appointments_text_them(ticked: Desk, now: datetime) -> None:
    assert of(ticked, AttentionKind.no_mobile) == []  # Dr Osei has nothing coming up
    make_appointment(ticked, start=now + timedelta(days=2), doctor_id="dr-osei")
    make_appointment(ticked, start=now + timedelta(days=3), doctor_id="dr-osei", type_key="therapy")  # no SMS rule
    make_appointment(ticked, start=now + timedelta(days=9), doctor_id="dr-osei")  # beyond the week
    (item,) = of(ticked, AttentionKind.no_mobile)
    assert item.title == "Dr Kwame Osei has no mobile number: 1 appointment in 7 days text the doctor"
    ticked.doctors.set_phone("dr-osei", "+1 212 555 0199", "alice")
    assert of(ticked, AttentionKind.no_mobile) == []


def test_a_doctor_who_offers_a_type_without_windows(ticked: Desk) -> None:
    assert of(ticked, AttentionKind.no_windows) == []
    with ticked.store.write() as view:
        weber = view.doctors.require("dr-weber")
        view.doctors.put(weber.model_copy(update={"availability": []}))
        sato = view.doctors.require("dr-sato")
        short = [w.model_copy(update={"end": "10:20"}) for w in sato.availability]  # 20 minutes a day
        view.doctors.put(sato.model_copy(update={"availability": short}))
    items = {item.target: item for item in of(ticked, AttentionKind.no_windows)}
    assert items["doctor:dr-weber"].title == ("Dr Anna Weber offers GP video consultation, Prescription review "
                                               "but has no availability windows")
    assert items["doctor:dr-sato"].title.startswith("Dr Emi Sato offers Therapy session, GP video consultation but")
    assert items["doctor:dr-sato"].command == "rxdesk doctors slots dr-sato --type therapy"
    with ticked.store.write() as view:
        view.doctors.put(weber)
        view.doctors.put(sato)
    assert of(ticked, AttentionKind.no_windows) == []


def test_most_urgent_first(clinic: Desk, now: datetime) -> None:
    with clinic.store.write() as view:
        weber = view.doctors.require("dr-weber")
        view.doctors.put(weber.model_copy(update={"availability": []}))
    make_appointment(clinic, start=now + timedelta(days=1), status="held", created_at=now - timedelta(minutes=11))
    make_appointment(clinic, start=now + timedelta(days=1, hours=2), status="held", created_at=now - timedelta(minutes=14),
                     patient_id="pat-002")
    make_appointment(clinic, start=now + timedelta(days=2), doctor_id="dr-osei")
    found = clinic.attention.items()
    assert [i.kind.value for i in found] == ["worker", "hold_lapsing", "hold_lapsing", "no_mobile", "no_windows"]
    assert found[1].title.startswith("Hold of Omar Haddad lapses in 1 minute")  # the soonest first


def test_the_cli_lists_each_item_with_its_fix(clinic: Desk, cli: Cli, now: datetime) -> None:
    make_appointment(clinic, start=now + timedelta(days=2), doctor_id="dr-osei")
    listed = cli("attention", "--json")
    assert listed.code == 0, listed.err
    assert [(i["kind"], i["target"], i["command"]) for i in listed.json()] == [
        ("worker", "worker", "rxdesk worker"),
        ("no_mobile", "doctor:dr-osei", "rxdesk doctors set-phone dr-osei NUMBER"),
    ]
    assert listed.json()[1]["since"] is None and listed.json()[1]["count"] == 1
    assert cli("worker", "--once").code == 0  # RXDESK_NOW: the tick is recorded at that instant
    text = cli("attention")
    assert text.code == 0 and text.out.splitlines() == [
        "1. Dr Kwame Osei has no mobile number: 1 appointment in 7 days text the doctor",
        "   SMS reminders to the doctor (GP video consultation) will be skipped; next Wed 2026-11-25 09:00",
        "   fix: rxdesk doctors set-phone dr-osei NUMBER",
    ]
    assert cli("doctors", "set-phone", "dr-osei", "+1 212 555 0199").code == 0
    assert cli("attention").out == "nothing needs attention\n"
