"""The rebook screen from everywhere `r` works: the appointment detail and a patient's list;
a held appointment, a same-doctor type, more days, and a change of mind."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rxdesk.services import Desk
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.patients import PatientDetailScreen
from rxdesk.tui.screens.rebook import RebookScreen, SlotTable
from rxdesk.tui.widgets.tables import AppointmentTable
from tests.helpers import fingerprint, make_appointment
from tests.tui.conftest import front, make_app, settle, text_of


async def test_r_in_the_appointment_detail_moves_a_held_appointment_as_a_hold(clinic: Desk, booked: dict[str, str]) -> None:
    held = booked["sato_held"]
    app = make_app(clinic)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        app.open_appointment(held)
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        screen = front(app, RebookScreen)
        assert isinstance(screen, RebookScreen) and screen.uid == held
        summary = text_of(screen.query_one("#rebook-summary"))
        assert "Omar Haddad" in summary and "Dr Emi Sato" in summary and "held" in summary
        assert "any doctor offering it" in summary
        assert {s.doctor_id for s in screen.slots.values()} == {"dr-weber", "dr-osei", "dr-sato"}
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, AppointmentScreen) and app.screen.uid != held
        new_uid = app.screen.uid
    new = clinic.appointments.get(new_uid)
    assert new.status.value == "held" and new.previous_meeting_uid == held and new.hold_expires_at is not None


async def test_r_in_a_patients_list_offers_only_the_same_doctor_for_therapy(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        app.open_patient("pat-003")
        await settle(pilot)
        assert isinstance(app.screen, PatientDetailScreen)
        table = app.screen.query_one(AppointmentTable)
        table.select_key(booked["osei_therapy"])
        await pilot.press("r")
        await settle(pilot)
        screen = front(app, RebookScreen)
        assert isinstance(screen, RebookScreen) and screen.uid == booked["osei_therapy"]
        assert "same doctor only" in text_of(screen.query_one("#rebook-summary"))
        assert {s.doctor_id for s in screen.slots.values()} == {"dr-osei"}
        first_count = len(screen.slots)
        await pilot.press("m")
        await settle(pilot)
        assert screen.days == 28 and len(screen.slots) > first_count
        assert "in 28 days" in text_of(screen.query_one("#rebook-summary"))
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, PatientDetailScreen)


async def test_saying_no_changes_nothing_and_keeps_the_list(clinic: Desk, booked: dict[str, str], data_dir: Path) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        app.open_rebook(booked["weber_first"])
        await settle(pilot)
        screen = front(app, RebookScreen)
        before = fingerprint(data_dir)
        await pilot.press("j", "enter")
        await settle(pilot)
        front(app, ConfirmModal)
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is screen and screen.loads == 1
        assert fingerprint(data_dir) == before
        assert screen.query_one(SlotTable).cursor == 1


async def test_a_lapsed_hold_says_why_it_cannot_move(clinic: Desk, booked: dict[str, str], now: datetime) -> None:
    lapsed = make_appointment(clinic, start=now.replace(day=25, hour=9), status="held", patient_id="pat-002")
    app = make_app(clinic)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        app.open_rebook(lapsed.uid)
        await settle(pilot)
        screen = front(app, RebookScreen)
        summary = text_of(screen.query_one("#rebook-summary"))
        assert f"Cannot rebook {lapsed.uid}: the hold on appointment {lapsed.uid} expired" in summary
        # The refusal only: no empty table, no keys that would act on one.
        assert screen.query_one(SlotTable).total == 0 and not screen.query_one("#rebook-slots").display
        keys = {b.description for (_n, b, enabled, _t) in screen.active_bindings.values() if enabled}
        assert "14 more days" not in keys and "Filter slots" not in keys
        await pilot.press("m")
        await settle(pilot)
        assert screen.days == 14 and screen.loads == 0
