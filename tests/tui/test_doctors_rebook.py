"""Doctors and rebooking through the keys: the doctor detail, the phone edit, a full rebook
from the overview, and a slot taken by someone else meanwhile."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from textual.widgets import Input

from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.doctors import DoctorDetailScreen, DoctorsScreen
from rxdesk.tui.screens.rebook import RebookScreen, SlotTable
from rxdesk.tui.widgets.tables import DeskTable
from tests.helpers import another_store, fingerprint, make_appointment
from tests.tui.conftest import front, make_app, settle, text_of


async def test_doctor_detail_shows_the_week_troubleshooter_and_preview(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(150, 50)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, DoctorsScreen)
        table = app.screen.query_one(DeskTable)
        table.select_key("dr-osei")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DoctorDetailScreen)
        week = text_of(app.screen.query_one("#doctor-week"))
        assert "America/New_York" in week and "08:00–16:00" in week and "14:00–22:00" in week  # Berlin beside
        trouble = text_of(app.screen.query_one("#doctor-troubleshooter"))
        assert "Prescription review" in trouble and "the doctor does not offer this appointment type" in trouble
        assert "free slots" in trouble
        contact = text_of(app.screen.query_one("#doctor-contact"))
        assert "SMS reminders are skipped" in contact


async def test_the_mobile_number_is_edited_inline_and_a_bad_one_changes_nothing(clinic: Desk, booked: dict[str, str], data_dir: Path) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(150, 50)) as pilot:
        await settle(pilot)
        app.open_doctor("dr-osei")
        await settle(pilot)
        before = fingerprint(data_dir)
        await pilot.press("m")
        field = app.screen.query_one("#doctor-phone", Input)
        assert field.has_focus
        await pilot.press(*"+1 212 555 01", "enter")
        await settle(pilot)
        assert field.has_class("-invalid")
        assert "not" in text_of(app.screen.query_one("#doctor-phone-error"))
        assert fingerprint(data_dir) == before
        field.value = ""
        await pilot.press(*"+1 212 555 0199", "enter")
        await settle(pilot)
        assert not field.has_class("-invalid")
    assert clinic.doctors.get("dr-osei").mobile_phone == "+12125550199"


async def test_a_full_rebook_from_the_overview(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    original = booked["weber_first"]
    async with app.run_test(size=(150, 50)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, RebookScreen) and app.screen.loads == 1
        slots = app.screen.query_one(SlotTable)
        assert slots.total > 10
        await pilot.press("j", "j", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, AppointmentScreen)
        new_uid = app.screen.uid
    assert new_uid != original
    assert clinic.appointments.get(original).status.value == "cancelled"
    assert clinic.appointments.get(new_uid).previous_meeting_uid == original


async def test_a_slot_taken_meanwhile_is_refused_and_the_list_refreshes(clinic: Desk, booked: dict[str, str], data_dir: Path, now: datetime) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(150, 50)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        screen = front(app, RebookScreen)
        table = screen.query_one(SlotTable)
        key = table.current_key
        assert key is not None
        slot = screen.slots[key]
        # Another agent books that very slot through their own store.
        other = Desk(another_store(clinic), FixedClock(now), clinic.settings)
        make_appointment(other, start=slot.starts_at, doctor_id=slot.doctor_id, patient_id="pat-003")
        before = fingerprint(data_dir)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen and screen.loads == 2
        assert key not in screen.slots
        assert any("taken" in n.message for n in app.notices)
        assert fingerprint(data_dir) == before


async def test_r_on_a_cancelled_appointment_says_why(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(150, 50)) as pilot:
        await settle(pilot)
        app.open_rebook(booked["weber_cancelled"])
        await settle(pilot)
        assert "cannot" in text_of(app.screen.query_one("#rebook-summary")).lower()
