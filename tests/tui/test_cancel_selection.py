"""Cancelling several appointments at once from the app: the dialog lists them, one reason,
enter cancels all of them in one write, or none."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.models import Appointment
from rxdesk.services import Desk
from rxdesk.store import TinyStore
from rxdesk.tui.modals.cancel_selection import CancelSelectionModal
from tests.helpers import fingerprint, make_appointment, view_of
from tests.tui.conftest import make_app, settle, text_of, wait_until


def three(desk: Desk, now: datetime) -> list[str]:
    return [make_appointment(desk, start=now + timedelta(days=1, hours=h), patient_id=p).uid
            for h, p in ((1, "pat-001"), (2, "pat-002"), (3, "pat-003"))]


async def test_the_dialog_lists_the_selection_and_enter_cancels_them_all(clinic: Desk, now: datetime) -> None:
    uids = three(clinic, now)
    marked: list[Appointment] = []
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.start_cancel_selection(list(reversed(uids)), on_done=marked.extend)
        await wait_until(pilot, lambda: isinstance(app.screen, CancelSelectionModal), what="the dialog")
        listed = text_of(app.screen.query_one("#cancel-selection")).splitlines()
        assert [line.split("  ")[1].split(" · ")[0] for line in listed] == ["Lena Fischer", "Omar Haddad", "Sofia Rossi"]
        await pilot.press(*"Clinic closed", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, CancelSelectionModal), what="the dialog to close")
        assert any(n.title == "Appointments cancelled" and n.message.startswith("Cancelled 3 appointments")
                   for n in app.notices)
    assert sorted(a.uid for a in marked) == sorted(uids)
    assert {clinic.appointments.get(uid).cancel_reason for uid in uids} == {"Clinic closed"}
    events = [e for _, e in view_of(clinic).events.after(0)]
    assert [e.type.value for e in events] == ["APPOINTMENT_CANCELLED"] * 3


async def test_one_that_cannot_be_cancelled_is_named_and_nothing_opens(clinic: Desk, now: datetime, data_dir: Path) -> None:
    uids = three(clinic, now)
    ended = make_appointment(clinic, start=now - timedelta(days=1), status="completed").uid
    before = fingerprint(data_dir)
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.start_cancel_selection([*uids, ended])
        await settle(pilot)
        assert not isinstance(app.screen, CancelSelectionModal)
        (warning,) = [n for n in app.notices if n.title == "None of the 4 was cancelled"]
        assert ended in warning.message and "unselect it" in warning.message
    assert fingerprint(data_dir) == before


async def test_a_change_meanwhile_refuses_in_the_dialog_and_cancels_none(clinic: Desk, now: datetime, data_dir: Path) -> None:
    uids = three(clinic, now)
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.start_cancel_selection(uids)
        await wait_until(pilot, lambda: isinstance(app.screen, CancelSelectionModal), what="the dialog")
        other = Desk(TinyStore(data_dir), FixedClock(now), clinic.settings)  # another agent, meanwhile
        other.appointments.cancel_appointment(uids[1], "patient called", "bob")
        before = fingerprint(data_dir)
        await pilot.press(*"Clinic closed", "enter")
        await wait_until(pilot, lambda: "Nothing was cancelled" in text_of(app.screen.query_one("#reason-error")),
                       what="the refusal")
        assert uids[1] in text_of(app.screen.query_one("#reason-error"))
        await pilot.press("escape")
        await settle(pilot)
    assert fingerprint(data_dir) == before
    assert [clinic.appointments.get(uid).status.value for uid in uids] == ["confirmed", "cancelled", "confirmed"]


async def test_space_selects_rows_and_c_cancels_them_all_from_the_overview(clinic: Desk, now: datetime) -> None:
    from rxdesk.tui.screens.overview import OverviewScreen
    from rxdesk.tui.widgets.tables import AppointmentTable

    uids = three(clinic, now)
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        table = app.screen.query_one(AppointmentTable)
        await pilot.press("space", "j", "j", "space")
        assert table.selection == {uids[0], uids[2]}
        assert "2 selected" in str(app.screen.query_one("#filter-count").render())
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CancelSelectionModal), what="the dialog")
        assert len(text_of(app.screen.query_one("#cancel-selection")).splitlines()) == 2
        await pilot.press(*"Doctor unavailable", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen), what="the overview")
        await settle(pilot)
        assert table.selection == set() and "selected" not in str(app.screen.query_one("#filter-count").render())
        # Held and confirmed only: the two cancelled leave the list, the count follows.
        assert [row.uid for row in table.loaded_rows()] == [uids[1]]
        assert "1 match" in str(app.screen.query_one("#filter-count").render())
    assert [clinic.appointments.get(uid).status.value for uid in uids] == ["cancelled", "confirmed", "cancelled"]


async def test_names_from_data_are_listed_escaped(clinic: Desk, now: datetime) -> None:
    from tests.reliability.test_terminal_safety import raw_bytes_in, store_hostile_data

    store_hostile_data(clinic, now)  # Dr Weber's name holds a right-to-left override
    uids = three(clinic, now)
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.start_cancel_selection(uids)
        await wait_until(pilot, lambda: isinstance(app.screen, CancelSelectionModal), what="the dialog")
        listed = text_of(app.screen.query_one("#cancel-selection"))
        assert raw_bytes_in(listed) == [] and listed.count("\\u202e") == 3


async def test_a_common_reason_is_picked_and_the_footer_says_escape_keeps_them(clinic: Desk, now: datetime) -> None:
    from textual.widgets import OptionList

    from rxdesk.tui.modals.cancel import COMMON_REASONS
    from rxdesk.tui.widgets.footer import DeskFooter

    uids = three(clinic, now)
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.start_cancel_selection(uids[:2])
        await wait_until(pilot, lambda: isinstance(app.screen, CancelSelectionModal), what="the dialog")
        modal = app.screen
        footer = " ".join(str(key.render()) for key in modal.query_one(DeskFooter).children)
        assert "Keep them" in footer and "Clear selection" not in footer
        assert modal.query_one("#common-reasons", OptionList).option_count == len(COMMON_REASONS)
        await pilot.press("tab", "down", "enter")  # the second common reason, into the field
        await settle(pilot)
        assert modal.query_one("#reason").has_focus
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, CancelSelectionModal), what="the dialog to close")
    assert {clinic.appointments.get(uid).cancel_reason for uid in uids[:2]} == {COMMON_REASONS[1]}
    assert clinic.appointments.get(uids[2]).status.value == "confirmed"
