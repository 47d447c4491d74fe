"""A doctor's meeting room changed from the doctor's page: `o`, a URL or nothing, enter."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from rxdesk.services import Desk
from rxdesk.tui.modals.confirm import TextPromptModal
from rxdesk.tui.screens.doctors import DoctorDetailScreen
from tests.helpers import fingerprint, make_appointment
from tests.tui.conftest import AnyPilot, app_of, front, make_app, settle, text_of


async def open_room_dialog(pilot: AnyPilot, doctor_id: str) -> TextPromptModal:
    app_of(pilot).open_doctor(doctor_id)
    await settle(pilot)
    assert isinstance(pilot.app.screen, DoctorDetailScreen)
    await pilot.press("o")
    await settle(pilot)
    return front(pilot.app, TextPromptModal)


async def test_o_gives_a_new_room_and_moves_the_upcoming_appointments(clinic: Desk, now: datetime) -> None:
    upcoming = make_appointment(clinic, start=now + timedelta(days=2))
    past = make_appointment(clinic, start=now - timedelta(days=2), status="completed")
    app = make_app(clinic)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        modal = await open_room_dialog(pilot, "dr-weber")
        assert "1 held or confirmed appointment that has not started" in text_of(modal.query_one(".dialog-body"))
        await pilot.press(*"https://video.example/weber", "enter")
        await settle(pilot)
        assert isinstance(app.screen, DoctorDetailScreen)
        assert "https://video.example/weber" in text_of(app.screen.query_one("#doctor-contact"))
        assert any("1 upcoming appointment moved" in n.message for n in app.notices)
    assert clinic.appointments.get(upcoming.uid).room_url == "https://video.example/weber"
    assert clinic.appointments.get(past.uid).room_url == past.room_url


async def test_a_bad_url_keeps_the_dialog_open_and_escape_changes_nothing(clinic: Desk, data_dir: Path) -> None:
    before = fingerprint(data_dir)
    app = make_app(clinic)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        await open_room_dialog(pilot, "dr-sato")
        await pilot.press(*"ftp://nope", "enter")
        await settle(pilot)
        assert isinstance(app.screen, TextPromptModal)
        assert "http:// or https://" in text_of(app.screen.query_one("#prompt-error"))
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DoctorDetailScreen)
    assert fingerprint(data_dir) == before
