"""Marking attendance from the keyboard: `n`, the allowed choice pre-selected, a reason, enter."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from textual.widgets import Input, RadioButton

from rxdesk.domain.models import AppointmentStatus as S
from rxdesk.services import Desk
from rxdesk.tui.modals.attendance import AttendanceModal
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.patients import PatientDetailScreen
from rxdesk.tui.widgets.tables import AppointmentTable
from tests.helpers import fingerprint, make_appointment
from tests.tui.conftest import front, make_app, settle, text_of


def choices(modal: AttendanceModal) -> dict[str, tuple[bool, bool]]:
    """status -> (selected, can be picked)."""
    return {str(b.id).removeprefix("mark-"): (b.value, not b.disabled) for b in modal.query(RadioButton)}


async def test_n_marks_a_no_show_from_the_patients_appointments(clinic: Desk, booked: dict[str, str]) -> None:
    uid = booked["weber_past"]  # completed three days ago
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.open_patient("pat-001")
        await settle(pilot)
        assert isinstance(app.screen, PatientDetailScreen)
        title = text_of(app.screen.query_one("#patient-appointments-title"))
        assert "1 upcoming · 1 completed · 0 no-shows · 0 cancelled" in title
        table = app.screen.query_one(AppointmentTable)
        table.select_key(uid)
        await pilot.press("n")
        await settle(pilot)
        modal = front(app, AttendanceModal)
        assert "Lena Fischer" in text_of(modal.query_one("#attendance-summary"))
        # Completed already: no_show is the one choice, and it is picked.
        assert choices(modal) == {"no_show": (True, True), "completed": (False, False)}
        await pilot.press(*"Patient never joined", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PatientDetailScreen)
        row = table.index_of(uid)
        assert row is not None and table.cell_text(row, "status") == "no_show"
        assert any("Marked no_show" in n.message and "Patient never joined" in n.message for n in app.notices)
    stored = clinic.appointments.get(uid)
    assert (stored.status, stored.attendance_note, stored.attendance_by) == (S.no_show, "Patient never joined",
                                                                            "admin:tester")
    assert [e.action for e in clinic.appointments.show(uid).audit] == ["appointment.mark"]


async def test_n_under_way_offers_both_and_the_choice_can_change(clinic: Desk, now: datetime) -> None:
    running = make_appointment(clinic, start=now - timedelta(minutes=10))
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.open_appointment(running.uid)
        await settle(pilot)
        assert isinstance(app.screen, AppointmentScreen)
        await pilot.press("n")
        await settle(pilot)
        modal = front(app, AttendanceModal)
        assert choices(modal) == {"no_show": (True, True), "completed": (False, True)}
        await pilot.press("shift+tab", "down", "enter", "tab")  # to the choice, completed, back to the reason
        assert choices(modal)["completed"] == (True, True)
        await pilot.press(*"Left early, seen", "enter")
        await settle(pilot)
        assert isinstance(app.screen, AppointmentScreen)
        assert "Left early, seen" in text_of(app.screen.query_one("#appointment-main"))
    assert clinic.appointments.get(running.uid).status is S.completed


async def test_n_before_the_start_explains_and_escape_or_no_reason_change_nothing(clinic: Desk, booked: dict[str, str], data_dir: Path) -> None:
    before = fingerprint(data_dir)
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("n")  # the overview's first row starts tomorrow
        await settle(pilot)
        assert not isinstance(app.screen, AttendanceModal)
        assert any("has not started" in n.message for n in app.notices)
        app.open_patient("pat-001")
        await settle(pilot)
        app.screen.query_one(AppointmentTable).select_key(booked["weber_past"])
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, AttendanceModal)
        await pilot.press("enter")  # no reason
        await settle(pilot)
        assert isinstance(app.screen, AttendanceModal)
        assert "reason is required" in text_of(app.screen.query_one("#reason-error"))
        assert app.screen.query_one("#reason", Input).has_class("-invalid")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, PatientDetailScreen)
    assert fingerprint(data_dir) == before


async def test_a_missed_appointment_is_rebooked_with_r_and_stays_no_show(clinic: Desk, now: datetime) -> None:
    from rxdesk.tui.modals.confirm import ConfirmModal
    from rxdesk.tui.screens.rebook import RebookScreen

    missed = make_appointment(clinic, start=now - timedelta(days=1), status="no_show")
    app = make_app(clinic)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        app.open_appointment(missed.uid)
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RebookScreen)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        assert f"{missed.uid} stays no_show" in text_of(app.screen.query_one(".dialog-body"))
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, AppointmentScreen) and app.screen.uid != missed.uid
        new_uid = app.screen.uid
    assert clinic.appointments.get(missed.uid).status is S.no_show
    new = clinic.appointments.get(new_uid)
    assert new.status is S.confirmed and new.previous_meeting_uid == missed.uid
