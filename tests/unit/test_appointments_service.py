"""The overview's listing (each filter alone and combined), show, and the admin cancel."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import NotFound, Refused, RxdeskError, ValidationFailed
from rxdesk.domain.models import Appointment, EventType
from rxdesk.domain.models import AppointmentStatus as S
from rxdesk.domain.queries import Page
from rxdesk.services import Desk
from rxdesk.services.appointments import AppointmentFilter, AppointmentRow
from rxdesk.services.filters import FilterText, ParsedFilter
from tests.helpers import fingerprint, make_appointment, view_of

pytestmark = pytest.mark.backends


@pytest.fixture
def booked(clinic: Desk, now: datetime) -> dict[str, Appointment]:
    """A small, varied book: past and future, each status, three doctors, three patients."""
    h = timedelta(hours=1)
    d = timedelta(days=1)
    a = {
        "future_confirmed": make_appointment(clinic, start=now + 2 * h),
        "future_held": make_appointment(clinic, start=now + 3 * h, status=S.held, doctor_id="dr-sato", patient_id="pat-002",
                                        hold_minutes=60 * 48),
        "future_cancelled": make_appointment(clinic, start=now + 4 * h, status=S.cancelled),
        "next_week": make_appointment(clinic, start=now + 7 * d, doctor_id="dr-osei", patient_id="pat-003"),
        "next_month": make_appointment(clinic, start=now + 40 * d, patient_id="pat-002"),
        "past_completed": make_appointment(clinic, start=now - 2 * d, status=S.completed),
        "past_confirmed": make_appointment(clinic, start=now - 3 * h, doctor_id="dr-sato"),
        "old_no_show": make_appointment(clinic, start=now - 60 * d, status=S.no_show, patient_id="pat-003"),
        # 23:30 UTC on Tue 24 Nov is 00:30 on Wed 25 Nov in Berlin (the org's zone).
        "late_night": make_appointment(clinic, start=now.replace(hour=23, minute=30) + d, doctor_id="dr-osei", type_key="therapy", minutes=50),
    }
    return a


def uids(page: Page[AppointmentRow]) -> list[str]:
    return [r.appointment.uid for r in page.items]


def test_default_is_future_active_by_start(clinic: Desk, booked: dict[str, Appointment]) -> None:
    page = clinic.appointments.list_appointments()
    expected = ["future_confirmed", "future_held", "late_night", "next_week", "next_month"]
    assert uids(page) == [booked[k].uid for k in expected]
    assert page.total == 5
    row = page.items[0]
    assert (row.doctor_name, row.patient_name, row.type_name) == ("Dr Anna Weber", "Lena Fischer", "GP video consultation")


def test_status_replaces_status_default_only(clinic: Desk, booked: dict[str, Appointment]) -> None:
    page = clinic.appointments.list_appointments(AppointmentFilter(statuses=frozenset({"cancelled"})))
    assert uids(page) == [booked["future_cancelled"].uid]
    page = clinic.appointments.list_appointments(AppointmentFilter(statuses=frozenset({"held", "cancelled"})))
    assert uids(page) == [booked["future_held"].uid, booked["future_cancelled"].uid]


def test_status_with_all_drops_time_default(clinic: Desk, booked: dict[str, Appointment]) -> None:
    page = clinic.appointments.list_appointments(AppointmentFilter(statuses=frozenset({"completed", "no_show"}), all=True))
    # past_confirmed ended 2h40 ago: stored confirmed, it IS completed.
    assert uids(page) == [booked["old_no_show"].uid, booked["past_completed"].uid, booked["past_confirmed"].uid]
    assert [r.status.value for r in page.items] == ["no_show", "completed", "completed"]


def test_all_alone_shows_everything(clinic: Desk, booked: dict[str, Appointment]) -> None:
    assert clinic.appointments.list_appointments(AppointmentFilter(all=True)).total == len(booked)


def test_dates_replace_time_default_in_org_zone(clinic: Desk, booked: dict[str, Appointment], now: datetime) -> None:
    tue, wed = date(2026, 11, 24), date(2026, 11, 25)
    assert uids(clinic.appointments.list_appointments(AppointmentFilter(date_from=wed, date_to=wed))) == [booked["late_night"].uid]
    assert clinic.appointments.list_appointments(AppointmentFilter(date_from=tue, date_to=tue)).total == 0
    # Past dates work (the time default is replaced), the status default still applies (an
    # ended appointment is no longer active).
    sat = (now - timedelta(days=2)).date()
    assert uids(clinic.appointments.list_appointments(AppointmentFilter(date_from=sat, date_to=now.date()))) == [booked["future_confirmed"].uid, booked["future_held"].uid]
    # --from alone: from that day on; --to alone: everything up to that day (inclusive).
    assert uids(clinic.appointments.list_appointments(AppointmentFilter(date_from=wed + timedelta(days=30)))) == [booked["next_month"].uid]
    assert booked["old_no_show"].uid in uids(clinic.appointments.list_appointments(AppointmentFilter(date_to=tue, statuses=frozenset({"no_show"}))))


def test_dates_with_all_drop_status_default(clinic: Desk, booked: dict[str, Appointment], now: datetime) -> None:
    day = now.date()
    got = uids(clinic.appointments.list_appointments(AppointmentFilter(date_from=day, date_to=day, all=True)))
    assert got == [booked[k].uid for k in ("past_confirmed", "future_confirmed", "future_held", "future_cancelled")]


def test_doctor_and_patient_narrow(clinic: Desk, booked: dict[str, Appointment]) -> None:
    svc = clinic.appointments
    assert uids(svc.list_appointments(AppointmentFilter(doctor_id="dr-osei"))) == [booked["late_night"].uid, booked["next_week"].uid]
    assert uids(svc.list_appointments(AppointmentFilter(patient_id="pat-002"))) == [booked["future_held"].uid, booked["next_month"].uid]
    combined = AppointmentFilter(doctor_id="dr-weber", patient_id="pat-002", statuses=frozenset({"confirmed"}))
    assert uids(svc.list_appointments(combined)) == [booked["next_month"].uid]
    everything = AppointmentFilter(patient_id="pat-003", all=True)
    assert uids(svc.list_appointments(everything)) == [booked["old_no_show"].uid, booked["next_week"].uid]


def test_unknown_doctor_or_patient_is_refused(clinic: Desk) -> None:
    with pytest.raises(NotFound, match="no doctor 'dr-who'"):
        clinic.appointments.list_appointments(AppointmentFilter(doctor_id="dr-who"))
    with pytest.raises(NotFound, match="no patient"):
        clinic.appointments.list_appointments(AppointmentFilter(patient_id="nobody"))


def test_paging(clinic: Desk, booked: dict[str, Appointment]) -> None:
    svc = clinic.appointments
    first = svc.list_appointments(AppointmentFilter(all=True), offset=0, limit=4)
    second = svc.list_appointments(AppointmentFilter(all=True), offset=4, limit=4)
    third = svc.list_appointments(AppointmentFilter(all=True), offset=8, limit=4)
    assert first.total == second.total == len(booked)
    assert len(uids(first) + uids(second) + uids(third)) == len(booked)
    assert set(uids(first)).isdisjoint(uids(second))
    assert first.has_more and not third.has_more


def test_cancel_writes_event_and_audit_in_one_write(clinic: Desk, booked: dict[str, Appointment], data_dir: Path) -> None:
    uid = booked["future_confirmed"].uid
    before = clinic.store.generation()
    cancelled = clinic.appointments.cancel_appointment(uid, "Patient called", "alice")
    assert clinic.store.generation() == before + 1
    assert (cancelled.status, cancelled.cancel_reason, cancelled.cancelled_by) == (S.cancelled, "Patient called", "admin:alice")
    view = view_of(clinic)
    assert view.appointments.require(uid).status is S.cancelled
    events = view.events.newest().items
    assert [e.type for e in events] == [EventType.APPOINTMENT_CANCELLED]
    assert events[0].data["appointment"]["uid"] == uid
    audit = view.audit.for_target(f"appointment:{uid}")
    assert [(e.actor, e.action, e.details["reason"]) for e in audit] == [("admin:alice", "appointment.cancel", "Patient called")]


@pytest.mark.parametrize(
    ("key", "reason", "error"),
    [
        ("past_completed", "Called", Refused),
        ("future_cancelled", "Called", Refused),
        ("future_confirmed", "   ", ValidationFailed),
        ("future_confirmed", "x" * 501, ValidationFailed),
    ],
)
def test_refused_cancel_changes_nothing(clinic: Desk, booked: dict[str, Appointment], data_dir: Path, key: str, reason: str,
                                        error: type[RxdeskError]) -> None:
    before = fingerprint(data_dir)
    with pytest.raises(error):
        clinic.appointments.cancel_appointment(booked[key].uid, reason, "alice")
    assert fingerprint(data_dir) == before


def test_cancel_unknown_uid(clinic: Desk, data_dir: Path) -> None:
    before = fingerprint(data_dir)
    for uid in ("2611zzzzzzzzzz", "not-a-uid", ""):
        with pytest.raises(NotFound):
            clinic.appointments.cancel_appointment(uid, "x", "alice")
    assert fingerprint(data_dir) == before


def test_show_gathers_people_chain_and_audit(clinic: Desk, booked: dict[str, Appointment]) -> None:
    first = booked["future_confirmed"]
    second = make_appointment(clinic, start=first.starts_at + timedelta(days=1))
    third = make_appointment(clinic, start=first.starts_at + timedelta(days=2))
    with clinic.store.write() as w:
        w.appointments.put(second.model_copy(update={"previous_meeting_uid": first.uid}))
        w.appointments.put(third.model_copy(update={"previous_meeting_uid": second.uid}))
        w.appointments.link_successor(first.uid, second.uid)
        w.appointments.link_successor(second.uid, third.uid)
    middle = clinic.appointments.show(second.uid)
    assert [a.uid for a in middle.previous_chain] == [first.uid]
    assert [a.uid for a in middle.next_chain] == [third.uid]
    assert middle.patient is not None and middle.doctor is not None and middle.type is not None
    assert middle.patient.id == "pat-001" and middle.doctor.id == "dr-weber" and middle.type.key == "gp-consult"
    data = clinic.appointments.show(first.uid).to_json()
    assert data["rebook_chain"] == {"previous": [], "next": [second.uid, third.uid]}
    assert data["next_meeting_uid"] == second.uid
    assert clinic.appointments.show(booked["past_completed"].uid).cancel_refusal is not None


def test_typed_filters_say_their_window_and_all_keeps_it(clinic: Desk, booked: dict[str, Appointment]) -> None:
    from rxdesk.services.filters import FilterText

    def parse(text: FilterText) -> ParsedFilter:
        return clinic.appointments.parse_filter(text, overview=True)

    assert parse(FilterText()).window == "held, confirmed · not ended"
    every = parse(FilterText(statuses="all"))
    assert every.window == "any status · not ended"
    listed = uids(clinic.appointments.list_appointments(every.filter))
    assert booked["future_cancelled"].uid in listed and booked["past_completed"].uid not in listed
    back = parse(FilterText(statuses="all", date_from="any"))
    assert back.window == "any status · any time"
    assert booked["old_no_show"].uid in uids(clinic.appointments.list_appointments(back.filter))
    # An end alone starts today, as the empty `from` field says; before today it is refused.
    ahead = parse(FilterText(date_to="+7d"))
    assert ahead.filter.date_from == date(2026, 11, 23) and ahead.window.endswith("to 2026-11-30")
    behind = parse(FilterText(date_to="-1d"))
    assert "date_to" in behind.errors and behind.filter.date_from is None and behind.filter.date_to is None
    # The command line keeps its contract: `all` drops the time default, `--to` alone has no start.
    cli = clinic.appointments.parse_filter(FilterText(statuses="all"))
    assert cli.filter.all and cli.filter.statuses is None
    assert clinic.appointments.parse_filter(FilterText(date_to="+7d")).filter.date_from is None


def test_the_default_lists_appointments_in_progress_first_and_marked(clinic: Desk, booked: dict[str, Appointment], now: datetime, clock: FixedClock) -> None:
    """A patient calls ten minutes into their appointment: it is at the top of the default list."""
    running = make_appointment(clinic, start=now - timedelta(minutes=10), minutes=30, doctor_id="dr-sato",
                               patient_id="pat-003")
    held_running = make_appointment(clinic, start=now - timedelta(minutes=20), minutes=25, status=S.held,
                                    created_at=now - timedelta(minutes=30), hold_minutes=60, doctor_id="dr-osei")
    ends_now = make_appointment(clinic, start=now - timedelta(minutes=30), minutes=30)  # ended at this instant
    page = clinic.appointments.list_appointments()
    expected = ["future_confirmed", "future_held", "late_night", "next_week", "next_month"]
    assert uids(page) == [held_running.uid, running.uid, *(booked[k].uid for k in expected)]
    assert page.total == 7 and ends_now.uid not in uids(page)
    assert [r.in_progress for r in page.items] == [True, True, False, False, False, False, False]
    # A second later the shorter one has ended: the list follows the clock, not a tick.
    clock.set(held_running.ends_at)
    assert held_running.uid not in uids(clinic.appointments.list_appointments())
    assert clinic.appointments.list_appointments(limit=1).items[0].uid == running.uid
    # The cancelled one running now is not active; with `all` statuses it is listed, not marked.
    clock.set(now)
    cancelled = make_appointment(clinic, start=now - timedelta(minutes=5), status=S.cancelled)
    every = clinic.appointments.list_appointments(AppointmentFilter(statuses=frozenset(s.value for s in S)))
    row = next(r for r in every.items if r.uid == cancelled.uid)
    assert not row.in_progress and uids(every)[:3] == [held_running.uid, running.uid, cancelled.uid]


def test_only_past_statuses_list_the_past_newest_first(clinic: Desk, booked: dict[str, Appointment], now: datetime) -> None:
    past = AppointmentFilter(statuses=frozenset({"completed", "no_show"}))
    page = clinic.appointments.list_appointments(past)
    # past_confirmed ended 2h ago: stored confirmed, it IS completed, and the newest.
    assert uids(page) == [booked[k].uid for k in ("past_confirmed", "past_completed", "old_no_show")]
    assert page.total == 3
    assert clinic.appointments.parse_filter(FilterText(statuses="completed,no_show")).window == (
        "completed, no_show · any time · newest first")
    # Windows deep in the newest-first result are the walk to them.
    assert [uids(clinic.appointments.list_appointments(past, offset=i, limit=1)) for i in range(3)] == [
        [u] for u in uids(page)]
    # An expired hold for a slot still ahead is the past too (the hold is over): on top.
    lapsed = make_appointment(clinic, start=now + timedelta(days=2), status=S.held,
                              created_at=now - timedelta(hours=1), hold_minutes=15)
    assert uids(clinic.appointments.list_appointments(AppointmentFilter(statuses=frozenset({"expired"})))) == [
        lapsed.uid]
    # A past status beside an active one keeps the default window: what has not ended.
    mixed = clinic.appointments.list_appointments(AppointmentFilter(statuses=frozenset({"completed", "held"})))
    assert uids(mixed) == [booked["future_held"].uid]
