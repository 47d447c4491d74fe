"""What the agent sees, pinned: every screen and dialog at 80x24 (the smallest terminal an
agent may have), 100x30 and 160x48.

Fixed clock, fixed data, fixed uids and ids, and the worker's status set by hand, so a change
in any of these pictures is a change someone made on purpose (`pytest --snapshot-update`
after reading the new picture). What must hold at every size (the status of every row, a
revoked key reading revoked, the worker's status in the header) is asserted in
tests/tui/test_fits_the_terminal.py; these pictures catch the rest.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from textual.widgets import Input, Select

from rxdesk.domain import ids
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from rxdesk.tui.app import RxdeskApp
from rxdesk.tui.modals.cancel import CancelModal
from rxdesk.tui.modals.rule import RuleModal
from rxdesk.tui.screens.away import AwayScreen
from rxdesk.tui.widgets.tables import AppointmentTable
from tests.helpers import make_appointment
from tests.tui.conftest import AnyPilot, SnapCompare, app_of, front, make_app, overview_ready, settle, wait_until
from tests.unit.test_worker import only_rule

SIZES = {"80x24": (80, 24), "100x30": (100, 30), "160x48": (160, 48)}
WORKER = "worker 09:00 · 1 reminder · 1 webhook to retry"

sizes = pytest.mark.parametrize("size", list(SIZES))
Step = Callable[[Any], Awaitable[None]]


def snapshot(snap_compare: SnapCompare, app: RxdeskApp, size: str, *keys: str, then: Step | None = None,
             ready: bool = True) -> bool:
    """The app at `size` after `keys` (each one settled), and `then`. With `ready`, the
    overview has settled first (rows, count, widths from the names): conditions, not rounds of
    waiting, so a loaded machine takes the same picture."""

    async def run_before(pilot: AnyPilot) -> None:
        await settle(pilot)
        if ready:
            await overview_ready(pilot)
        app.maintenance = WORKER
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        if then is not None:
            await then(pilot)
            await settle(pilot)

    return bool(snap_compare(app, terminal_size=SIZES[size], run_before=run_before))


@pytest.fixture(autouse=True)
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Meeting rooms, secret key_ids and subscription ids from a seeded generator, so they
    are the same on every run."""
    rng = random.Random(15)
    real = ids.random_token

    def seeded(length: int, _rng: random.Random | None = None) -> str:
        return real(length, rng)

    monkeypatch.setattr("rxdesk.services.provisioning.random_token", seeded)
    monkeypatch.setattr("rxdesk.services.secrets.random_token", seeded)
    monkeypatch.setattr("rxdesk.services.webhooks.random_token", seeded)


@pytest.fixture
def stocked(clinic: Desk, booked: dict[str, str], now: datetime) -> Desk:
    """The clinic with booking secrets (one revoked, one with a long label), a webhook
    subscription with one failed delivery, and an email in the outbox."""
    clinic.secrets.create_secret("Shopify storefront of the Riverside pharmacy", "tester")
    old = clinic.secrets.create_secret("old minter", "tester").secret.key_id
    clinic.secrets.revoke(old, "tester")
    clinic.webhooks.add_subscription("http://127.0.0.1:9/hooks/rxdesk/appointments", ["APPOINTMENT_CANCELLED"],
                                     {"X-Shop": "riverside"}, "tester", allow_private_network=True)
    rng = random.Random(3)
    gone = make_appointment(clinic, start=now + timedelta(days=2), uid=ids.new_appointment_uid(now, rng))
    clinic.appointments.cancel_appointment(gone.uid, "Patient asked to cancel", "tester")
    only_rule(clinic, "gp-consult", "patient", 60, email=True)
    make_appointment(clinic, start=now + timedelta(minutes=30), uid=ids.new_appointment_uid(now, rng))
    MaintenanceService(clinic).tick()  # the delivery fails (nothing listens on port 9); the email stays
    return clinic


# -- section 1: the overview and what opens from it -------------------------------------------

@sizes
def test_overview(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    """Start, patient, doctor, status and type at 80 columns (the start without its year,
    names cut with `…`); the uid from 120; the selected row above the cursor."""
    assert snapshot(snap_compare, make_app(clinic), size, "space", "j")


@sizes
def test_overview_nobody_matches(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    """A patient typed that matches nobody: no rows, the field marked, the reason on the count line."""
    assert snapshot(snap_compare, make_app(clinic), size, "slash", "tab", *"Lena Fishcer", "escape")


@sizes
def test_appointment(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    assert snapshot(snap_compare, make_app(clinic), size, "enter")


@sizes
def test_appointment_in_progress(snap_compare: SnapCompare, clinic: Desk, now: datetime, size: str) -> None:
    """A call that started ten minutes ago: in progress, and until when, on its page."""
    start = now - timedelta(minutes=10)
    make_appointment(clinic, start=start, minutes=30, uid=ids.new_appointment_uid(start, random.Random(5)))
    assert snapshot(snap_compare, make_app(clinic), size, "enter")


@sizes
def test_cancel_dialog(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    """Every field, the five common reasons and the hint on screen at 80x24."""

    async def steady_cursor(pilot: AnyPilot) -> None:
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, CancelModal)
                         and pilot.app.focused is pilot.app.screen.query_one("#reason", Input), what="the cancel dialog")
        # A blinking cursor is on or off depending on how long the steps above took.
        pilot.app.screen.query_one("#reason", Input).cursor_blink = False

    assert snapshot(snap_compare, make_app(clinic), size, "c", then=steady_cursor)


@sizes
def test_attendance_dialog(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    async def mark_the_past_one(pilot: AnyPilot) -> None:
        app_of(pilot).open_patient("pat-001")
        await settle(pilot)
        pilot.app.screen.query_one("#patient-appointments", AppointmentTable).select_key(booked["weber_past"])
        await pilot.press("n")
        await settle(pilot)
        pilot.app.screen.query_one("#reason", Input).cursor_blink = False

    assert snapshot(snap_compare, make_app(clinic), size, then=mark_the_past_one)


@sizes
def test_cancel_selection_dialog(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    """Two selected appointments cancelled together: the list, the reason, the hint."""

    async def steady_cursor(pilot: AnyPilot) -> None:
        pilot.app.screen.query_one("#reason", Input).cursor_blink = False

    assert snapshot(snap_compare, make_app(clinic), size, "space", "j", "space", "c", then=steady_cursor)


@sizes
def test_rebook(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    assert snapshot(snap_compare, make_app(clinic), size, "r")


@sizes
def test_help(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    assert snapshot(snap_compare, make_app(clinic), size, "question_mark")


@sizes
def test_empty_data_dir(snap_compare: SnapCompare, desk: Desk, size: str) -> None:
    assert snapshot(snap_compare, make_app(desk), size, ready=False)


# -- section 2: patients ------------------------------------------------------------------------

@sizes
def test_patients(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    assert snapshot(snap_compare, make_app(clinic), size, "2")


@sizes
def test_patient(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    """The patient's appointments without a patient column (every row would repeat it)."""
    assert snapshot(snap_compare, make_app(clinic), size, "p")


@sizes
def test_book(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    """`b` on a patient's page, the first type: free slots of every doctor offering it, by time."""

    async def slots_listed(pilot: AnyPilot) -> None:
        from rxdesk.tui.screens.book import BookScreen

        await wait_until(pilot, lambda: isinstance(pilot.app.screen, BookScreen)
                         and bool(pilot.app.screen.types), what="the types")
        await pilot.press("enter")
        await wait_until(pilot, lambda: front(pilot.app, BookScreen).loads > 0, what="the slots")

    assert snapshot(snap_compare, make_app(clinic), size, "p", "b", then=slots_listed)


# -- section 3: doctors ----------------------------------------------------------------------

@sizes
def test_doctors(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    assert snapshot(snap_compare, make_app(clinic), size, "3")


@sizes
def test_doctor(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    assert snapshot(snap_compare, make_app(clinic), size, "d")


@sizes
def test_why_no_slots(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    """The doctor page scrolled to the troubleshooter."""

    async def to_the_answers(pilot: AnyPilot) -> None:
        screen = pilot.app.screen
        screen.query_one("#doctor-body").scroll_to_widget(screen.query_one("#doctor-troubleshooter"),
                                                          animate=False, top=True)

    assert snapshot(snap_compare, make_app(clinic), size, "d", then=to_the_answers)


@sizes
def test_doctor_away(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    """`a` on the doctor page, the range to the day after tomorrow: the plan for tomorrow's patient."""

    async def plan_two_days(pilot: AnyPilot) -> None:
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, AwayScreen) and pilot.app.screen.plans > 0,
                         what="the first plan")
        screen = front(pilot.app, AwayScreen)
        first = screen.plans
        screen.query_one("#away-to", Input).value = "+2d"
        await wait_until(pilot, lambda: screen.plans > first and not screen.planning, what="the plan for two days")
        for field in screen.query(Input):
            field.cursor_blink = False

    assert snapshot(snap_compare, make_app(clinic), size, "d", "a", then=plan_two_days)


# -- sections 4 to 7 -----------------------------------------------------------------------------

@sizes
def test_secrets(snap_compare: SnapCompare, stocked: Desk, size: str) -> None:
    """Status and Last used at every size; the rotation steps beside the table from 120
    columns, folded into a line below it under that."""
    assert snapshot(snap_compare, make_app(stocked), size, "4")


@sizes
def test_types(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    assert snapshot(snap_compare, make_app(clinic), size, "5")


@sizes
def test_rule_dialog(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    """A new reminder rule for the doctor, a day before: how many confirmed appointments are
    already inside that window and what "Also remind now" would do, before saving."""

    async def counted(pilot: AnyPilot) -> None:
        modal = front(pilot.app, RuleModal)
        modal.query_one("#rule-recipient", Select).value = "doctor"
        for key in "1d":
            await pilot.press(key)
        await wait_until(pilot, lambda: modal.counted, what="the count")
        modal.query_one("#rule-minutes", Input).cursor_blink = False

    assert snapshot(snap_compare, make_app(clinic), size, "5", "a", then=counted)


@sizes
def test_attention(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    """What a clinic whose worker never ran needs: the queue, and the first item in full below."""
    assert snapshot(snap_compare, make_app(clinic), size, "7")


@sizes
def test_activity(snap_compare: SnapCompare, stocked: Desk, size: str) -> None:
    """Section 8 as the agent opens it: their own actions today, newest first."""

    async def listed(pilot: AnyPilot) -> None:
        await wait_until(pilot, lambda: getattr(pilot.app.screen, "loads", 0) > 0, what="the activity")
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False

    assert snapshot(snap_compare, make_app(stocked), size, "8", then=listed)


@sizes
def test_new_subscription_dialog(snap_compare: SnapCompare, clinic: Desk, booked: dict[str, str], size: str) -> None:
    """Every field on screen at 80x24, the private-network box under the URL."""

    async def steady_cursor(pilot: AnyPilot) -> None:
        pilot.app.screen.query_one("#sub-url", Input).cursor_blink = False

    assert snapshot(snap_compare, make_app(clinic), size, "6", "a", then=steady_cursor)


@pytest.mark.parametrize("tab", ["subscriptions", "deliveries", "outbox"])
@sizes
def test_webhooks(snap_compare: SnapCompare, stocked: Desk, size: str, tab: str) -> None:
    turns = {"subscriptions": 0, "deliveries": 1, "outbox": 2}[tab]
    assert snapshot(snap_compare, make_app(stocked), size, "6", *itertools.repeat("right_square_bracket", turns))
