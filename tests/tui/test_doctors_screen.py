"""Section 3 through the keys: the week grid, the troubleshooter when nothing is open, and
the mobile number typed the way an agent types it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.widgets import Input

from rxdesk.services import Desk
from rxdesk.tui.screens.doctors import DoctorDetailScreen, DoctorsScreen
from rxdesk.tui.widgets.tables import DeskTable
from tests.helpers import fingerprint, make_appointment
from tests.tui.conftest import front, make_app, record_calls, settle, text_of


def lines_with(text: str, word: str) -> list[str]:
    return [line for line in text.splitlines() if word in line]


async def test_the_week_grid_has_every_day_and_the_org_times_only_when_zones_differ(clinic: Desk) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        app.open_doctor("dr-osei")
        await settle(pilot)
        week = text_of(app.screen.query_one("#doctor-week"))
        assert [line.split()[0] for line in week.splitlines()[2:9]] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
                                                                         "Sun"]
        assert "Org time (Europe/Berlin, this week)" in week
        assert "—" in lines_with(week, "Mon")[0] and "Thu 14:00–22:00" in lines_with(week, "Thu")[0]
        await pilot.press("escape")
        await settle(pilot)
        app.open_doctor("dr-weber")
        await settle(pilot)
        week = text_of(app.screen.query_one("#doctor-week"))
        assert "Org time" not in week and "09:00–12:00, 13:00–17:00" in lines_with(week, "Mon")[0]


async def test_the_troubleshooter_counts_bookings_and_names_an_empty_week(clinic: Desk) -> None:
    make_appointment(clinic, start=datetime(2026, 11, 25, 9, tzinfo=UTC))  # Wed 10:00 Berlin
    app = make_app(clinic)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        app.open_doctor("dr-weber")
        await settle(pilot)
        screen = app.screen
        gp = lines_with(text_of(screen.query_one("#doctor-troubleshooter")), "GP video consultation")[0].split()
        # in windows, inside notice, booked, free: 2 of today's slots are inside the hour of notice
        assert gp[3:7] == ["76", "2", "1", "73"]
        # Dr Weber offers no therapy: no slot of it is counted, in windows or anywhere.
        therapy = lines_with(text_of(screen.query_one("#doctor-troubleshooter")), "Therapy session")[0].split()
        assert therapy[2:6] == ["0", "0", "0", "0"] and "does not offer" in " ".join(therapy)
        preview = text_of(screen.query_one("#doctor-preview"))
        assert "Mon 23 10:00" in lines_with(preview, "GP video consultation")[0]
        # Dr Weber's windows are removed elsewhere; ctrl+r shows why patients now see nothing.
        with clinic.store.write() as view:
            weber = view.doctors.require("dr-weber")
            view.doctors.put(weber.model_copy(update={"availability": []}))
        await pilot.press("ctrl+r")
        await settle(pilot)
        trouble = text_of(screen.query_one("#doctor-troubleshooter"))
        assert "the doctor has no availability windows" in lines_with(trouble, "GP video consultation")[0]
        assert "no windows: patients see no slots" in text_of(screen.query_one("#doctor-week"))
        assert "none" in lines_with(text_of(screen.query_one("#doctor-preview")), "Prescription review")[0]


async def test_a_national_number_is_read_in_the_doctors_country_and_empty_clears(clinic: Desk, data_dir: Path) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, DoctorsScreen)
        app.screen.query_one(DeskTable).select_key("dr-weber")
        await pilot.press("enter")
        await settle(pilot)
        screen = front(app, DoctorDetailScreen)
        field = screen.query_one("#doctor-phone", Input)
        assert "national (DE)" in field.placeholder
        await pilot.press("m")
        field.value = ""
        await pilot.press(*"0160 98765432", "enter")
        await settle(pilot)
        assert clinic.doctors.get("dr-weber").mobile_phone == "+4916098765432"
        assert "+49 160 98765432" in text_of(screen.query_one("#doctor-contact"))
        # A landline is refused inline, and nothing changes.
        before = fingerprint(data_dir)
        field.value = ""
        await pilot.press(*"030 901820", "enter")
        await settle(pilot)
        assert field.has_class("-invalid") and "not a mobile number" in text_of(screen.query_one("#doctor-phone-error"))
        assert fingerprint(data_dir) == before
        field.value = ""
        await pilot.press("enter")
        await settle(pilot)
        assert not field.has_class("-invalid") and text_of(screen.query_one("#doctor-phone-error")) == ""
        assert "SMS reminders are skipped" in text_of(screen.query_one("#doctor-contact"))
        await pilot.press("escape")  # leaves the field
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DoctorsScreen)
        assert "— (SMS skipped)" in str(app.screen.query_one(DeskTable).get_row("dr-weber"))
    assert clinic.doctors.get("dr-weber").mobile_phone == ""


async def test_section_3_reads_the_list_once_on_opening_and_again_back_from_a_doctor(
        clinic: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    # Textual resumes a section's first screen twice: each resume had read the list again.
    reads = record_calls(monkeypatch, DoctorsScreen, "reload", lambda _: "read")
    app = make_app(clinic)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, DoctorsScreen) and len(reads) == 1
        await pilot.press("enter")
        await settle(pilot)
        front(app, DoctorDetailScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DoctorsScreen) and len(reads) == 2
