"""Booking for a patient from their page: `b`, the type, a free slot from the picker (by time
across doctors, filterable), yes; the new appointment opens, booked by the agent."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import Input, OptionList

from rxdesk.domain.models import EventType
from rxdesk.services import Desk
from rxdesk.tui.app import RxdeskApp
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.book import BookScreen
from rxdesk.tui.screens.patients import PatientDetailScreen
from rxdesk.tui.widgets.slots import SlotTable
from tests.helpers import view_of
from tests.tui.conftest import front, make_app, settle, text_of, wait_until


def types_listed(app: RxdeskApp) -> int:
    """How many types the booking screen in front offers (0 until it is there)."""
    if not isinstance(app.screen, BookScreen):
        return 0
    found = app.screen.query("#book-types")
    return found.first(OptionList).option_count if found else 0


async def test_b_on_a_patients_page_books_a_slot_picked_by_time(clinic: Desk, booked: dict[str, str], now: datetime) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_patient("pat-003")
        await wait_until(pilot, lambda: isinstance(app.screen, PatientDetailScreen) and app.screen.patient_name)
        await pilot.press("b")
        await wait_until(pilot, lambda: types_listed(app) == 3)
        screen = front(app, BookScreen)
        assert "Book for Sofia Rossi" in text_of(screen.query_one("#book-summary"))
        await pilot.press("enter")  # the first type by name: GP video consultation
        await wait_until(pilot, lambda: screen.loads > 0)
        table = screen.query_one(SlotTable)
        assert app.focused is table
        rows = table.loaded_rows()
        assert [r.starts_at for r in rows] == sorted(r.starts_at for r in rows)  # by time ...
        assert {r.doctor_id for r in rows} == {"dr-weber", "dr-sato", "dr-osei"}  # ... across doctors
        assert rows[0].starts_at >= now
        await pilot.press("slash", *"sato")
        await wait_until(pilot, lambda: {r.doctor_id for r in table.loaded_rows()} == {"dr-sato"})
        await pilot.press("down")  # from the filter into the slots
        assert app.focused is table
        slot = table.current_row
        assert slot is not None
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "Book Sofia Rossi for a GP video consultation" in text_of(app.screen.query_one(".dialog-body"))
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, AppointmentScreen) and app.screen.detail is not None)
        uid = front(app, AppointmentScreen).uid
        assert any(n.title == "Booked" and uid in n.message for n in app.notices)
        assert "by admin:tester" in text_of(app.screen.query_one("#appointment-main"))
    appt = clinic.appointments.get(uid)
    assert (appt.patient_id, appt.doctor_id, appt.starts_at) == ("pat-003", "dr-sato", slot.starts_at)
    assert appt.status.value == "confirmed" and appt.created_by == "admin:tester"
    assert view_of(clinic).events.newest(limit=1).items[0].type is EventType.APPOINTMENT_CONFIRMED


async def test_a_filter_that_matches_no_slot_says_so_and_another_type_can_be_picked(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_booking("pat-001", "Lena Fischer")
        await wait_until(pilot, lambda: types_listed(app) == 3)
        screen = front(app, BookScreen)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.loads > 0)
        await pilot.press("slash", *"nobody-of-that-name")
        note = screen.query_one("#slot-none")
        await wait_until(pilot, lambda: note.display)
        assert "no slot matches 'nobody-of-that-name'" in text_of(note)
        assert not screen.query_one(SlotTable).display
        await pilot.press("escape")  # out of the field (nothing to go to); the page stays
        await settle(pilot)
        assert isinstance(app.screen, BookScreen) and app.focused is None
        await pilot.press("escape")  # and back to the patient's page
        await wait_until(pilot, lambda: not isinstance(app.screen, BookScreen))
        app.open_booking("pat-001", "Lena Fischer")
        await wait_until(pilot, lambda: types_listed(app) == 3)
        screen = front(app, BookScreen)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.loads > 0)
        await pilot.press("t")
        assert app.focused is screen.query_one("#book-types", OptionList)
        assert screen.query_one("#slot-filter", Input).display is True  # the picker keeps its field


async def test_b_on_the_overview_and_on_an_appointment_books_for_that_rows_patient(clinic: Desk,
                                                                                booked: dict[str, str]) -> None:
    from tests.tui.conftest import overview_ready

    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await overview_ready(pilot)
        await pilot.press("j")  # the second row: Omar Haddad's hold
        await settle(pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: types_listed(app) > 0, what="booking")
        assert front(app, BookScreen).patient_id == "pat-002"
        assert "Book for Omar Haddad" in text_of(app.screen.query_one("#book-summary"))
        await pilot.press("escape")
        await settle(pilot)
        app.open_appointment(booked["osei_therapy"])
        await wait_until(pilot, lambda: isinstance(app.screen, AppointmentScreen) and app.screen.detail is not None,
                         what="the appointment")
        await pilot.press("b")
        await wait_until(pilot, lambda: types_listed(app) > 0, what="booking from the appointment")
        assert front(app, BookScreen).patient_id == "pat-003"
