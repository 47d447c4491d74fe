"""Cancelling from the keyboard: reason, enter; escape and an empty reason change nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Input

from rxdesk.domain.models import Appointment
from rxdesk.services import Desk
from rxdesk.tui.app import RxdeskApp
from rxdesk.tui.modals.cancel import CancelModal
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.widgets.tables import AppointmentTable
from tests.helpers import fingerprint
from tests.tui.conftest import AnyPilot, front, make_app, settle, text_of, wait_until


def status_cell(app: RxdeskApp, uid: str) -> str:
    table = app.screen.query_one(AppointmentTable)
    index = table.index_of(uid)
    assert index is not None
    return str(table.cell_text(index, "status"))


async def open_cancel(pilot: AnyPilot) -> CancelModal:
    await pilot.press("c")
    await settle(pilot)
    return front(pilot.app, CancelModal)


async def test_c_reason_enter_cancels_and_the_row_leaves_the_list_of_active_ones(clinic: Desk, booked: dict[str, str]) -> None:
    uid = booked["weber_first"]
    app = make_app(clinic, tick_seconds=3600)  # nothing but the cancel itself reloads the list
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        overview = front(app, OverviewScreen)
        before = overview.table.total
        count = overview.query_one("#filter-count")
        assert f"{before} matches" in str(count.render())
        modal = await open_cancel(pilot)
        assert "Lena Fischer" in text_of(modal.query_one("#cancel-summary"))
        await pilot.press(*"Patient has the flu", "enter")
        await settle(pilot)
        assert app.screen is overview
        # Held and confirmed only: the cancelled row leaves at once, and the count follows.
        assert overview.table.index_of(uid) is None and overview.table.total == before - 1
        assert f"{before - 1} matches" in str(count.render())
        assert any("Cancelled Lena Fischer" in n.message for n in app.notices)
    stored = clinic.appointments.get(uid)
    assert stored.status.value == "cancelled"
    assert stored.cancel_reason == "Patient has the flu"
    assert stored.cancelled_by == "admin:tester"
    audit = clinic.appointments.show(uid).audit
    assert [e.actor for e in audit] == ["admin:tester"]


async def test_the_cancel_is_painted_before_the_list_is_read_again(clinic: Desk, booked: dict[str, str]) -> None:
    # The row shown cancelled, in the frame that closes the dialog; the query that takes it out
    # of the list runs after that frame, not beside its repaint.
    uid = booked["weber_first"]
    app = make_app(clinic, tick_seconds=3600)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        overview = front(app, OverviewScreen)
        table = overview.table
        marked: list[int] = []  # lines the table had drawn when the row was marked cancelled
        reloads: list[tuple[bool, int]] = []  # (the dialog closed, lines drawn) at each query
        mark, reload = table.mark, overview.reload

        def marking(appointment: Appointment) -> None:
            mark(appointment)
            marked.append(table.rendered_lines)

        def reloading(**how: Any) -> None:
            reloads.append((app.screen is overview, table.rendered_lines))
            reload(**how)

        table.mark = marking  # type: ignore[method-assign]  # handed to the dialog on `c`
        overview.reload = reloading  # type: ignore[method-assign]
        loads = overview.loads
        await open_cancel(pilot)
        await pilot.press(*"Patient has the flu", "enter")
        await wait_until(pilot, lambda: overview.loads > loads, what="the list read again")
        assert len(marked) == 1 and len(reloads) == 1
        closed, drawn = reloads[0]
        assert closed and drawn > marked[0]  # the row drawn again (cancelled) before the query
        assert overview.table.index_of(uid) is None


async def test_a_common_reason_can_be_picked_from_the_list(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await open_cancel(pilot)
        await pilot.press("tab", "down", "enter")  # the second common reason
        assert app.screen.query_one("#reason", Input).value == "Doctor unavailable"
        await pilot.press("enter")
        await settle(pilot)
    assert clinic.appointments.get(booked["weber_first"]).cancel_reason == "Doctor unavailable"


async def test_escape_and_an_empty_reason_change_nothing(clinic: Desk, booked: dict[str, str], data_dir: Path) -> None:
    before = fingerprint(data_dir)
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        modal = await open_cancel(pilot)
        await pilot.press("space", "space", "enter")
        await settle(pilot)
        assert app.screen is modal  # the modal stays, with the reason marked
        assert "reason is required" in text_of(modal.query_one("#reason-error"))
        assert modal.query_one("#reason", Input).has_class("-invalid")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert status_cell(app, booked["weber_first"]) == "confirmed"
    assert fingerprint(data_dir) == before


async def test_a_row_that_cannot_be_cancelled_explains_why(clinic: Desk, booked: dict[str, str], data_dir: Path) -> None:
    before = fingerprint(data_dir)
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        field = app.screen.query_one("#filter-statuses", Input)
        field.value = "completed,cancelled"
        app.screen.query_one("#filter-date_from", Input).value = "-7d"
        await settle(pilot)
        assert app.screen.query_one(AppointmentTable).total == 2
        await pilot.press("escape")
        for _ in range(2):
            await pilot.press("c")
            await settle(pilot)
            assert isinstance(app.screen, OverviewScreen)
            await pilot.press("j")
        messages = [n.message for n in app.notices]
        assert any("cannot be cancelled" in m and "has ended; mark it no_show instead" in m for m in messages)
        assert any("cannot be cancelled" in m and "cancelled" in m for m in messages)
    assert fingerprint(data_dir) == before


async def test_cancel_from_the_detail_screen_updates_it(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await open_cancel(pilot)
        await pilot.press(*"Duplicate", "enter")
        await settle(pilot)
        assert isinstance(app.screen, AppointmentScreen)
        body = text_of(app.screen.query_one("#appointment-main"))
        assert "cancelled" in body and "Duplicate" in body
        assert "appointment.cancel" in text_of(app.screen.query_one("#appointment-audit"))


async def test_the_dialog_is_reused_and_one_left_open_elsewhere_does_not_block_another(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        first = await open_cancel(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert await open_cancel(pilot) is first  # the same dialog, ready again
        assert first.query_one("#reason", Input).value == ""
        # Left open over the overview while the agent goes to a patient in another section.
        app.action_section("patients")
        await settle(pilot)
        app.open_patient("pat-002")
        await settle(pilot)
        app.screen.query_one(AppointmentTable).select_key(booked["sato_held"])
        second = await open_cancel(pilot)
        assert second is not first and second.uid == booked["sato_held"]
        await pilot.press(*"Moved abroad", "enter")
        await settle(pilot)
        app.action_section("overview")
        await settle(pilot)
        assert app.screen is first and first.uid == booked["weber_first"]
    assert clinic.appointments.get(booked["sato_held"]).status.value == "cancelled"
    assert clinic.appointments.get(booked["weber_first"]).status.value == "confirmed"
