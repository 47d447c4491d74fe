"""The reminder-rule dialog through its keys, and a fired reminder on the appointment's page."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from textual.widgets import Input, Select

from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from rxdesk.tui.app import RxdeskApp
from rxdesk.tui.modals.rule import RuleModal
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.types import TypesScreen
from rxdesk.tui.widgets.checkbox import DeskCheckbox
from tests.helpers import make_appointment
from tests.tui.conftest import AnyPilot, front, hold_calls, make_app, record_calls, settle, text_of, wait_until
from tests.unit.test_worker import only_rule


async def open_new_rule(app: RxdeskApp, pilot: AnyPilot, type_key: str = "prescription") -> RuleModal:
    await settle(pilot)
    await pilot.press("5")
    await settle(pilot)
    screen = front(app, TypesScreen)
    screen.type_table.select_key(type_key)
    await settle(pilot)
    await pilot.press("a")
    await settle(pilot)
    return front(app, RuleModal)


async def test_the_error_goes_once_the_minutes_are_right(clinic: Desk) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await open_new_rule(app, pilot)
        await pilot.press("0", "enter")
        await settle(pilot)
        assert "between 1 and 43200" in text_of(modal.query_one("#rule-error"))
        await pilot.press("backspace", "9")  # still wrong while typing: "9" is fine, so it goes
        await settle(pilot)
        assert text_of(modal.query_one("#rule-error")) == ""
        assert not modal.query_one("#rule-minutes", Input).has_class("-invalid")
        await pilot.press("backspace", "x")  # wrong again: nothing is said until it is saved
        await settle(pilot)
        assert text_of(modal.query_one("#rule-error")) == ""


async def test_enter_on_the_recipient_list_chooses_and_never_saves(clinic: Desk) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await open_new_rule(app, pilot)
        await pilot.press("4", "5", "shift+tab")
        assert app.focused is modal.query_one("#rule-recipient", Select)
        await pilot.press("enter")  # opens the list
        await settle(pilot)
        await pilot.press("down", "enter")  # chooses doctor
        await settle(pilot)
        assert app.screen is modal and modal.query_one("#rule-recipient", Select).value == "doctor"
        assert clinic.types.get("prescription").reminders == []
        modal.query_one("#rule-minutes", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, RuleModal)
    (rule,) = clinic.types.get("prescription").reminders
    assert (rule.recipient.value, rule.minutes_before) == ("doctor", 45)


async def test_remind_now_is_a_choice_off_by_default(clinic: Desk, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "doctor", 5)
    inside = make_appointment(clinic, start=now + timedelta(hours=3), created_at=now - timedelta(days=4))
    app = make_app(clinic)
    async with app.run_test(size=(100, 30)) as pilot:
        modal = await open_new_rule(app, pilot, "gp-consult")
        assert modal.query_one("#rule-also-now", DeskCheckbox).value is False
        await pilot.press(*"1d", "enter")
        await settle(pilot)
        assert any("1 confirmed appointment already inside its window: not reminded" in n.message
                   for n in app.notices)
        assert clinic.appointments.show(inside.uid).reminders_sent == []
        modal = await open_new_rule(app, pilot, "gp-consult")
        modal.query_one("#rule-also-now", DeskCheckbox).value = True
        await pilot.press(*"2d", "enter")
        await settle(pilot)
        assert any("already inside its window: reminded now" in n.message for n in app.notices)
    (sent,) = clinic.appointments.show(inside.uid).reminders_sent
    assert sent.rule_id == "patient-2880m"


async def test_the_appointment_page_shows_lateness_and_the_messages_state(clinic: Desk, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "patient", 24 * 60, email=True, sms=True)
    appt = make_appointment(clinic, start=now + timedelta(hours=2), created_at=now - timedelta(days=5))
    MaintenanceService(clinic).tick()  # 22 h late: the worker was down; no transport: the outbox
    app = make_app(clinic)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.open_appointment(appt.uid)
        await wait_until(pilot, lambda: isinstance(app.screen, AppointmentScreen)
                         and any("rule" in text_of(w) for w in app.screen.query("#appointment-reminders")),
                         what="the page")
        shown = text_of(app.screen.query_one("#appointment-reminders"))
    assert "22 h late · email outbox · SMS outbox" in " ".join(shown.split())
    assert "79200" not in shown


async def test_an_identical_rule_is_refused_in_the_dialog_naming_the_one_there(clinic: Desk) -> None:
    only_rule(clinic, "prescription", "patient", 90)
    app = make_app(clinic)
    async with app.run_test(size=(100, 30)) as pilot:
        modal = await open_new_rule(app, pilot)
        await pilot.press(*"1h 30min", "enter")
        await settle(pilot)
        assert app.screen is modal
        assert "already has rule patient-90m: patient, 1 h 30 min before" in text_of(modal.query_one("#rule-error"))
        modal.query_one("#rule-recipient", Select).value = "doctor"  # another recipient: the refusal goes
        await settle(pilot)
        assert text_of(modal.query_one("#rule-error")) == ""
        modal.query_one("#rule-minutes", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, RuleModal)
    assert sorted(r.recipient.value for r in clinic.types.get("prescription").reminders) == ["doctor", "patient"]


async def test_the_dialog_counts_the_window_and_says_what_the_box_does_before_saving(clinic: Desk,
                                                                                   now: datetime) -> None:
    only_rule(clinic, "gp-consult", "doctor", 5)
    for hours, patient in ((5, "pat-001"), (50, "pat-002")):
        make_appointment(clinic, start=now + timedelta(hours=hours), patient_id=patient,
                         created_at=now - timedelta(days=10))
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await open_new_rule(app, pilot, "gp-consult")
        window = modal.query_one("#rule-window")
        assert "Type the minutes" in text_of(window)
        await pilot.press(*"3d")
        await wait_until(pilot, lambda: "2 confirmed appointments are already inside this window: not reminded "
                         'unless you tick "Also remind now"' in " ".join(text_of(window).split()), what="the count")
        await pilot.press("backspace", "backspace", *"6h")
        await wait_until(pilot, lambda: "1 confirmed appointment is already inside" in text_of(window),
                         what="the count for 6 h")
        modal.query_one("#rule-also-now", DeskCheckbox).value = True
        await wait_until(pilot, lambda: "saving reminds it now" in text_of(window), what="what the box does")
        assert [r.recipient.value for r in clinic.types.get("gp-consult").reminders] == ["doctor"]  # not saved yet
        modal.query_one("#rule-minutes", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, RuleModal), what="saved")
        await wait_until(pilot, lambda: any(n.title == "Saved" for n in app.notices), what="the notice")
        (notice,) = [n.message for n in app.notices if n.title == "Saved"]
    assert notice == ("Reminder rule saved: patient, 6 h before, no message. "
                      "1 confirmed appointment already inside its window: reminded now")


async def test_a_rule_saved_without_the_box_names_the_box_not_a_flag(clinic: Desk, now: datetime) -> None:
    only_rule(clinic, "gp-consult", "doctor", 5)
    make_appointment(clinic, start=now + timedelta(hours=5), created_at=now - timedelta(days=10))
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_new_rule(app, pilot, "gp-consult")
        await pilot.press(*"1d", "enter")
        await wait_until(pilot, lambda: any(n.title == "Saved" for n in app.notices), what="the notice")
        (notice,) = [n.message for n in app.notices if n.title == "Saved"]
    assert notice.endswith('not reminded ("Also remind now" was not ticked)') and "--also-now" not in notice


async def test_enter_with_no_minutes_says_why_nothing_was_saved(clinic: Desk) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await open_new_rule(app, pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is modal
        assert text_of(modal.query_one("#rule-error")).startswith("Nothing saved: type how long before the start")
    assert clinic.types.get("prescription").reminders == []


async def edit_the_one_rule(pilot: AnyPilot, type_key: str) -> TypesScreen:
    """Section 5, the type's only rule, `e`: the rule dialog in front."""
    await settle(pilot)
    await pilot.press("5")
    await settle(pilot)
    screen = front(pilot.app, TypesScreen)
    screen.type_table.select_key(type_key)
    await wait_until(pilot, lambda: screen.rule_table.row_count == 1, what="the rule")
    screen.rule_table.focus()
    await pilot.press("e")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, RuleModal), what="the dialog")
    return screen


async def test_the_rules_are_told_apart_by_recipient_and_span_not_by_id(clinic: Desk) -> None:
    only_rule(clinic, "gp-consult", "doctor", 3 * 1440, sms=True)
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await edit_the_one_rule(pilot, "gp-consult")
        row = " ".join(str(c) for c in screen.rule_table.get_row_at(0))
        title = text_of(front(app, RuleModal).query_one(".dialog-title"))
    assert "doctor-4320m" not in row and row.startswith("doctor 3 d")
    assert title.startswith("Edit the rule doctor, 3 d before, SMS of ")


async def test_editing_a_rule_counts_its_window_once_on_opening(clinic: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    # The minutes and the recipient of the rule arrive as changes after on_mount counted them.
    asked = record_calls(monkeypatch, RuleModal, "_ask_window", RuleModal._window_asked)
    only_rule(clinic, "gp-consult", "doctor", 3 * 1440, sms=True)
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await edit_the_one_rule(pilot, "gp-consult")
        await wait_until(pilot, lambda: front(app, RuleModal).counted, what="the count")
        await settle(pilot)
        assert asked == [("3 d", "doctor")]
        await pilot.press("backspace", "backspace", "backspace", *"2d")
        await wait_until(pilot, lambda: asked[-1] == ("2d", "doctor"), what="the count for 2 d")


async def test_a_count_that_comes_after_the_minutes_went_wrong_is_not_shown(clinic: Desk,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    only_rule(clinic, "gp-consult", "doctor", 3 * 1440, sms=True)
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await edit_the_one_rule(pilot, "gp-consult")
        modal = front(app, RuleModal)
        await wait_until(pilot, lambda: modal.counted, what="the count")
        release = hold_calls(monkeypatch, clinic.reminders, "inside_window")  # a slow store
        minutes = modal.query_one("#rule-minutes", Input)
        minutes.value = "2d"
        await pilot.pause()
        minutes.value = "2dx"  # wrong before the count for 2 d came
        await pilot.pause()
        release.set()
        await settle(pilot)
        assert not modal.counted
        assert text_of(modal.query_one("#rule-window")).startswith("Type the minutes")
