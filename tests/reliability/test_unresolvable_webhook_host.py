"""A webhook to a host that does not resolve says so, in the delivery's error, on the command
line and in the app, instead of a bare `cannot connect (ConnectError)`."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rxdesk.domain.models import DeliveryStatus
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from rxdesk.tui.widgets.tables import DeskTable
from tests.helpers import Cli, make_appointment
from tests.tui.conftest import make_app, settle
from tests.tui.test_webhooks_screen import open_webhooks

pytestmark = pytest.mark.backends

# RFC 2606: a name under .invalid never resolves.
NOWHERE = "https://partner-hooks.invalid/hook"
SAID = "cannot resolve host partner-hooks.invalid"


def test_an_unresolvable_host_is_named_in_the_delivery_and_on_the_command_line(clinic: Desk, now: datetime, cli: Cli) -> None:
    sub = clinic.webhooks.add_subscription(NOWHERE, ["APPOINTMENT_CANCELLED"], {}, "tester").subscription
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    clinic.appointments.cancel_appointment(appt.uid, "moved away", "tester")
    assert MaintenanceService(clinic).tick().retrying == 1
    (delivery,) = clinic.webhooks.list_deliveries().items
    assert delivery.status is DeliveryStatus.pending and delivery.last_error.startswith(SAID)
    shown = cli("deliveries", "show", delivery.id)
    assert shown.code == 0 and SAID in shown.out
    tested = cli("subscriptions", "test", sub.id)
    assert tested.code == 1 and SAID in tested.err and tested.err.count("\n") == 1


async def test_the_app_shows_why_a_delivery_to_an_unresolvable_host_failed(clinic: Desk, now: datetime) -> None:
    clinic.webhooks.add_subscription(NOWHERE, ["APPOINTMENT_CANCELLED"], {}, "tester")
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    clinic.appointments.cancel_appointment(appt.uid, "moved away", "tester")
    MaintenanceService(clinic).tick()
    app = make_app(clinic)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_webhooks(app, pilot)
        await pilot.press("]")
        await settle(pilot)
        table = screen.query_one("#deliveries", DeskTable)
        assert table.row_count == 1
        assert any(SAID in str(cell) for cell in table.get_row_at(0))
