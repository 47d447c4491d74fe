"""Section 8, what agents did: by default my actions today, newest first; another agent's or
another day's by typing; `enter` opens what an entry is about."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from textual.widgets import Input

from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.services.activity import ActivityFilter
from rxdesk.tui.screens.activity import ActivityScreen
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.doctors import DoctorDetailScreen
from rxdesk.tui.widgets.tables import DeskTable
from tests.tui.conftest import AnyPilot, front, make_app, record_calls, settle, text_of, wait_until
from tests.tui.test_overview import type_into


async def open_activity(pilot: AnyPilot) -> ActivityScreen:
    """Section 8 as `8` opens it, once its first read is shown."""
    await settle(pilot)
    await pilot.press("8")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ActivityScreen) and pilot.app.screen.loads > 0)
    return front(pilot.app, ActivityScreen)


def actions_shown(screen: ActivityScreen) -> list[tuple[str, str]]:
    table = screen.query_one(DeskTable)
    return [(row.entry.action, row.entry.target) for row in
            (screen.rows[str(key.value)] for key in table.rows)]


async def test_my_actions_today_newest_first_then_anyones_and_enter_opens_them(clinic: Desk, booked: dict[str, str], clock: FixedClock, now: datetime) -> None:
    clock.set(now - timedelta(days=1))
    clinic.doctors.set_phone("dr-weber", "+4915111223399", "tester")  # yesterday: not today's
    clock.set(now)
    clinic.doctors.set_phone("dr-osei", "+12025550123", "bob")
    clock.set(now + timedelta(minutes=5))
    clinic.appointments.cancel_appointment(booked["sato_held"], "patient called", "tester")
    app = make_app(clinic)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_activity(pilot)
        assert screen.query_one("#activity-agent", Input).value == "tester"
        assert actions_shown(screen) == [("appointment.cancel", f"appointment:{booked['sato_held']}")]
        assert "1 entry by tester since today" in text_of(screen.query_one("#activity-count"))
        await type_into(pilot, "#activity-agent", "")  # everyone's, today
        await wait_until(pilot, lambda: len(actions_shown(screen)) == 3)
        assert [action for action, _ in actions_shown(screen)] == ["appointment.cancel", "doctor.set_phone",
                                                                   "provision"]
        assert actions_shown(screen)[1] == ("doctor.set_phone", "doctor:dr-osei")
        await pilot.press("escape", "j", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorDetailScreen))
        assert front(app, DoctorDetailScreen).doctor_id == "dr-osei"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        await type_into(pilot, "#activity-since", "someday")
        count = screen.query_one("#activity-count")
        await wait_until(pilot, lambda: "not a date" in text_of(count))
        assert screen.query_one("#activity-since", Input).has_class("-invalid")
        await pilot.press("ctrl+l")  # back to mine today
        await wait_until(pilot, lambda: len(actions_shown(screen)) == 1 and app.focused is screen.query_one(DeskTable))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, AppointmentScreen))
        assert front(app, AppointmentScreen).uid == booked["sato_held"]


async def test_entries_name_patients_and_doctors_and_the_details_give_way_whole_at_80(clinic: Desk, now: datetime) -> None:
    slot = clinic.agent_booking.slots("pat-001", "gp-consult", doctor_id="dr-weber").slots[0]
    booked = clinic.agent_booking.book("pat-001", "gp-consult", slot.starts_at, doctor_id="dr-weber", agent="tester")
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_activity(pilot)
        table = screen.query_one(DeskTable)
        assert "details" not in table.shown_columns  # left out whole, not cut to "patient_i…"
        cells = [str(c) for c in table.get_row_at(0)]
        detail = " ".join(text_of(screen.query_one("#activity-detail")).split())
        await pilot.resize_terminal(160, 48)
        await wait_until(pilot, lambda: "details" in table.shown_columns, what="the details at 160")
        wide = [str(c) for c in table.get_row_at(0)]
    assert cells[2:4] == ["appointment.book", "Lena Fischer · Dr Anna Weber"]
    assert detail.startswith(f"appointment.book · appointment {booked.uid} (Lena Fischer · Dr Anna Weber)")
    assert "patient: Lena Fischer · doctor: Dr Anna Weber · type_key: gp-consult" in detail
    assert "pat-001" not in detail and wide[4].startswith("patient: Lena Fischer · doctor: Dr Anna Weber")


async def test_end_in_a_list_emptied_under_the_cursor_leaves_the_app_up(clinic: Desk, now: datetime) -> None:
    clinic.doctors.set_phone("dr-osei", "+12025550123", "bob")
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_activity(pilot)
        await type_into(pilot, "#activity-agent", "")  # everyone's
        await wait_until(pilot, lambda: len(actions_shown(screen)) == 2)
        await pilot.press("escape", "j")
        await type_into(pilot, "#activity-target", "zzz")
        await wait_until(pilot, lambda: not actions_shown(screen))
        await pilot.press("escape", "end", "pagedown", "home")
        await settle(pilot)
        assert app.is_running and app.screen is screen
        assert "nothing by everyone" in text_of(screen.query_one("#activity-count"))
        assert text_of(screen.query_one("#activity-detail")) == ""


async def test_section_8_reads_once_on_opening_and_again_for_each_change(clinic: Desk,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # The fields' first values (the agent, today) arrive as changes after on_mount read them.
    asked = record_calls(monkeypatch, ActivityScreen, "reload", ActivityScreen.typed)
    app = make_app(clinic)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("8")
        await wait_until(pilot, lambda: isinstance(app.screen, ActivityScreen) and app.screen.loads > 0)
        await settle(pilot)
        assert asked == [ActivityFilter("tester", "today", "")]
        await type_into(pilot, "#activity-since", "")
        await wait_until(pilot, lambda: asked[-1] == ActivityFilter("tester", "", ""), what="the read for any time")
