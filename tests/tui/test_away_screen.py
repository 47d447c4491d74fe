"""A doctor away from the doctor's page: `a`, the reason, the plan as a table, enter, y."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.widgets import Input

from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.store import TinyStore
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.screens.away import AwayScreen
from rxdesk.tui.screens.doctors import DoctorDetailScreen
from rxdesk.tui.widgets.tables import DeskTable
from tests.helpers import fingerprint, make_appointment
from tests.tui.conftest import AnyPilot, app_of, front, hold_calls, make_app, settle, text_of, wait_until
from tests.tui.test_overview import uids_shown

MON = datetime(2026, 11, 23, tzinfo=UTC)
AT_7_40 = datetime(2026, 11, 23, 6, 40, tzinfo=UTC)  # 07:40 in Berlin


async def open_away(pilot: AnyPilot) -> AwayScreen:
    app_of(pilot).open_doctor("dr-weber")
    await settle(pilot)
    assert isinstance(pilot.app.screen, DoctorDetailScreen)
    await pilot.press("a")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AwayScreen) and pilot.app.screen.plans > 0,
                   what="the first plan")
    return front(pilot.app, AwayScreen)


def rows(screen: AwayScreen) -> list[list[str]]:
    table = screen.query_one(DeskTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_at_7_40_the_reason_and_enter_move_todays_patients(clinic: Desk, clock: FixedClock) -> None:
    clock.set(AT_7_40)
    booked = [make_appointment(clinic, start=MON.replace(hour=h), patient_id=p)
              for h, p in ((9, "pat-001"), (14, "pat-002"))]
    tomorrow = make_appointment(clinic, start=MON.replace(day=24, hour=9), patient_id="pat-003")
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_away(pilot)
        assert screen.query_one("#away-reason").has_focus  # the one thing to type
        assert [r[1] for r in rows(screen)] == ["Lena Fischer", "Omar Haddad"]
        assert "2 to move, 0 to cancel" in text_of(screen.query_one("#away-summary"))
        assert rows(screen)[1][2] == "Dr Emi Sato, Mon 2026-11-23 15:00" and rows(screen)[1][3] == "same time"
        # At 80 columns the why is cut from the table: the highlighted row is shown in full below it.
        assert text_of(screen.query_one("#away-detail")).splitlines() == [
            "Lena Fischer · GP video consultation · Mon 2026-11-23 10:00",
            "→ moves to Dr Emi Sato, Mon 2026-11-23 11:00 · doctor's time Mon 2026-11-23 10:00 Europe/London "
            "(nearest free slot)"]
        screen.query_one(DeskTable).focus()
        await pilot.press("j")
        assert "Omar Haddad" in text_of(screen.query_one("#away-detail"))
        screen.query_one("#away-reason").focus()
        await pilot.press(*"Doctor called in sick", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the confirmation")
        assert "Move 2 of Dr Anna Weber's appointments" in text_of(app.screen.query_one(".dialog-body"))
        await pilot.press("y")
        await wait_until(pilot, lambda: "Done" in text_of(screen.query_one("#away-summary")), what="the run")
        assert any(n.title == "Doctor away" and "2 moved" in n.message for n in app.notices)
        assert all(" · " in r[2] for r in rows(screen))  # each with its new uid
    for appt in booked:
        stored = clinic.appointments.get(appt.uid)
        assert stored.status.value == "cancelled" and "Doctor called in sick" in (stored.cancel_reason or "")
    assert clinic.appointments.get(tomorrow.uid).status.value == "confirmed"


async def test_the_plan_follows_the_fields_and_nothing_runs_without_a_reason(clinic: Desk, data_dir: Path, clock: FixedClock) -> None:
    clock.set(AT_7_40)
    make_appointment(clinic, start=MON.replace(hour=9))
    make_appointment(clinic, start=MON.replace(day=25, hour=9), patient_id="pat-002")  # Wednesday
    before = fingerprint(data_dir)
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_away(pilot)
        assert len(rows(screen)) == 1
        await settle(pilot)
        assert screen.plans == 1 and not screen.planning  # planned once on opening, not again for each field
        await pilot.press("enter")  # no reason yet
        await settle(pilot)
        assert isinstance(app.screen, AwayScreen)
        assert any(n.title == "No reason" for n in app.notices)
        shown = screen.plans
        screen.query_one("#away-to", Input).value = "+2d"
        await wait_until(pilot, lambda: screen.plans > shown and not screen.planning, what="the plan for three days")
        assert len(rows(screen)) == 2
        shown = screen.plans
        await pilot.click("#away-rebook")
        await wait_until(pilot, lambda: screen.plans > shown and not screen.planning, what="the plan without rebooking")
        assert screen.plans == shown + 1 and screen.plan is not None and not screen.plan.rebook
        assert {r[2] for r in rows(screen)} == {"cancelled"}
        screen.query_one("#away-to", Input).value = "yesterday"
        await wait_until(pilot, lambda: screen.plan is None, what="the refusal")
        assert "No plan: the range ends before it starts" in text_of(screen.query_one("#away-summary"))
        screen.query_one("#away-reason").focus()
        await pilot.press(*"sick")
        await wait_until(pilot, lambda: not screen.planning, what="the plan after the reason")
        await pilot.press("enter")  # a reason, and no plan to carry out
        await settle(pilot)
        assert isinstance(app.screen, AwayScreen)
        assert any(n.title == "No plan" and "ends before it starts" in n.message for n in app.notices)
    assert fingerprint(data_dir) == before


async def test_a_booking_after_the_plan_was_shown_stops_the_run_and_shows_the_plan_now(clinic: Desk, data_dir: Path, clock: FixedClock) -> None:
    clock.set(AT_7_40)
    appt = make_appointment(clinic, start=MON.replace(hour=13))
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_away(pilot)
        shown = screen.plans
        await pilot.press(*"sick")
        await wait_until(pilot, lambda: screen.plans > shown and not screen.planning, what="the plan after typing")
        assert rows(screen)[0][2] == "Dr Emi Sato, Mon 2026-11-23 14:00"
        # Another process books Dr Sato then, after the plan was shown.
        other = Desk(TinyStore(data_dir), FixedClock(AT_7_40), clinic.settings)
        make_appointment(other, start=MON.replace(hour=13), doctor_id="dr-sato", patient_id="pat-003")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: any(n.title == "Plan changed" for n in app.notices), what="the warning")
        (warning,) = [n for n in app.notices if n.title == "Plan changed"]
        assert appt.uid in warning.message and "Nothing was done" in warning.message
        # Only the plan shown is carried out: nothing changed, and the table shows the plan now.
        assert clinic.appointments.get(appt.uid).status.value == "confirmed"
        now_shown = rows(screen)[0][2]
        assert now_shown != "Dr Emi Sato, Mon 2026-11-23 14:00" and " · " not in now_shown
        screen.query_one("#away-reason").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the second confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: "Done" in text_of(screen.query_one("#away-summary")), what="the run")
        assert rows(screen)[0][2].startswith(now_shown + " · ")  # what was shown, with its new uid
    assert clinic.appointments.get(appt.uid).status.value == "cancelled"


async def test_names_from_data_are_shown_escaped(clinic: Desk, now: datetime) -> None:
    from tests.reliability.test_terminal_safety import raw_bytes_in, store_hostile_data
    from tests.tui.test_markup_in_data import shown

    store_hostile_data(clinic, now)  # Dr Weber's name holds a right-to-left override
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_away(pilot)
        screen.query_one("#away-to", Input).value = "+7d"
        await wait_until(pilot, lambda: not screen.planning and len(rows(screen)) == 1, what="the week's plan")
        assert raw_bytes_in(shown(app)) == [] and "\\u202e" in text_of(screen.query_one("#away-title"))


async def test_a_doctor_abroad_sees_the_range_and_each_move_in_their_own_zone_too(clinic: Desk) -> None:
    with clinic.store.write() as view:
        osei = view.doctors.require("dr-osei")
        view.doctors.put(osei.model_copy(update={"timezone": "Australia/Sydney"}))
    make_appointment(clinic, start=datetime(2026, 11, 25, 21, tzinfo=UTC), doctor_id="dr-osei", type_key="therapy")
    app = make_app(clinic)
    async with app.run_test(size=(160, 48)) as pilot:
        app_of(pilot).open_doctor("dr-osei")
        await settle(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AwayScreen) and app.screen.plans > 0,
                         what="the first plan")
        screen = front(app, AwayScreen)
        first = screen.plans
        screen.query_one("#away-from", Input).value = "2026-11-25"
        screen.query_one("#away-to", Input).value = "2026-11-25"
        await wait_until(pilot, lambda: screen.plans > first and not screen.planning and rows(screen),
                         what="the plan for Wednesday")
        summary = text_of(screen.query_one("#away-summary")).splitlines()
        (row,) = rows(screen)
        detail = text_of(screen.query_one("#away-detail"))
    assert summary[1:] == [
        "Range, read in the organisation's zone: Wed 2026-11-25 00:00 – Thu 2026-11-26 00:00 (Europe/Berlin)",
        "Dr Kwame Osei's own time: Wed 2026-11-25 10:00 – Thu 2026-11-26 10:00 (Australia/Sydney)"]
    # His Thursday in Sydney is still his day off: the first free slot is his next Tuesday there.
    assert row[2:] == ["Dr Kwame Osei, Mon 2026-11-30 22:00", "first free slot after the range",
                       "Tue 2026-12-01 08:00"]
    assert "· doctor's time Tue 2026-12-01 08:00 Australia/Sydney" in " ".join(detail.split())


async def test_enter_right_after_a_change_confirms_the_plan_of_the_fields_as_they_read(clinic: Desk, data_dir: Path, clock: FixedClock) -> None:
    clock.set(AT_7_40)
    make_appointment(clinic, start=MON.replace(hour=9))
    wednesday = make_appointment(clinic, start=MON.replace(day=25, hour=9), patient_id="pat-002")
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_away(pilot)
        await pilot.press(*"sick")
        await wait_until(pilot, lambda: not screen.planning, what="the plan with a reason")
        assert len(rows(screen)) == 1  # today's
        screen.query_one("#away-to", Input).value = "+2d"
        await pilot.press("enter")  # at once, before the pause after the change is over
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the confirmation")
        body = text_of(app.screen.query_one(".dialog-body"))
        assert "Move 2 of Dr Anna Weber's appointments" in body and "Thu 2026-11-26" in body, body
        # Another process cancels the Wednesday one before y: nothing is done, and the plan
        # shown is the one of the fields as they read (to +2d), not of the range before.
        other = Desk(TinyStore(data_dir), FixedClock(AT_7_40), clinic.settings)
        other.appointments.cancel_appointment(wednesday.uid, "patient called", "bob")
        await pilot.press("y")
        await wait_until(pilot, lambda: any(n.title == "Plan changed" for n in app.notices), what="the warning")
        await settle(pilot)
        assert len(rows(screen)) == 1 and "Thu 2026-11-26" in text_of(screen.query_one("#away-summary"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the second confirmation")
        assert "Thu 2026-11-26" in text_of(app.screen.query_one(".dialog-body"))


async def test_what_a_run_did_stays_on_screen_when_another_process_writes(clinic: Desk, data_dir: Path, clock: FixedClock) -> None:
    clock.set(AT_7_40)
    make_appointment(clinic, start=MON.replace(hour=9))
    elsewhere = make_appointment(clinic, start=MON.replace(day=26, hour=9), doctor_id="dr-osei", patient_id="pat-002",
                                 type_key="therapy")
    app = make_app(clinic, poll_seconds=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_away(pilot)
        await pilot.press(*"sick", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: "Done" in text_of(screen.query_one("#away-summary")), what="the run")
        done = rows(screen)
        assert " · " in done[0][2]  # the new uid the agent reads out
        seen = app.known_generation
        other = Desk(TinyStore(data_dir), FixedClock(AT_7_40), clinic.settings)
        other.appointments.cancel_appointment(elsewhere.uid, "patient called", "bob")
        await wait_until(pilot, lambda: app.known_generation != seen, what="the other process's write noticed")
        await settle(pilot)
        assert rows(screen) == done and "Done" in text_of(screen.query_one("#away-summary"))
        screen.query_one("#away-to", Input).value = "+1d"  # a change plans again
        await wait_until(pilot, lambda: "Done" not in text_of(screen.query_one("#away-summary")), what="a new plan")


async def test_a_confirmation_asked_for_before_its_plan_is_dropped_if_the_agent_goes_elsewhere(
        clinic: Desk, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    clock.set(AT_7_40)
    appt = make_appointment(clinic, start=MON.replace(hour=9))
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")  # the page stays open in section 3 while the agent is in another
        screen = await open_away(pilot)
        await pilot.press(*"sick")
        await wait_until(pilot, lambda: not screen.planning, what="the plan with a reason")
        release = hold_calls(monkeypatch, clinic.away, "plan")  # the next plan comes late
        screen.query_one("#away-to", Input).value = "+2d"
        screen.query_one(DeskTable).focus()
        await pilot.press("ctrl+s", "1")  # carry out, then off to the overview before the plan
        assert app.current_mode == "overview"
        release.set()
        await settle(pilot)
        assert "Thu 2026-11-26" in text_of(screen.query_one("#away-summary"))  # the plan came
        assert not any(isinstance(s, ConfirmModal) for s in app.screen_stack)
        await pilot.press("2")  # and in section 2 too: nothing was left to pop up later
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmModal)
        assert screen in app.get_screen_stack("doctors") and len(rows(screen)) == 1
    assert clinic.appointments.get(appt.uid).status.value == "confirmed"


async def test_a_run_that_ends_while_the_agent_is_in_another_section_is_shown_there(
        clinic: Desk, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    clock.set(AT_7_40)
    appt = make_appointment(clinic, start=MON.replace(hour=9))
    app = make_app(clinic, tick_seconds=3600)  # no look again because time moved, within the test
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert appt.uid in uids_shown(app)
        await pilot.press("3")
        screen = await open_away(pilot)
        await pilot.press(*"sick", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the confirmation")
        release = hold_calls(monkeypatch, clinic.away, "run")  # a slow store: the run ends later
        await pilot.press("y")
        screen.query_one(DeskTable).focus()
        await pilot.press("1")
        assert app.current_mode == "overview"
        release.set()
        await wait_until(pilot, lambda: screen.outcome_shown, what="the run")
        # Read again after the run, as after any of the agent's writes (not when time next moves).
        await wait_until(pilot, lambda: appt.uid not in uids_shown(app), what="the overview without the moved one")
        assert len(uids_shown(app)) == 1  # its new appointment, with Dr Sato
