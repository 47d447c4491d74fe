"""Names, reasons and labels are data, never markup: brackets in them are shown as typed,
on every screen that shows them, and never break the app."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from textual.widgets import DataTable, Input, Static

from rxdesk.services import Desk
from rxdesk.tui.app import RxdeskApp
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.doctors import DoctorDetailScreen, DoctorsScreen
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.screens.patients import PatientDetailScreen, PatientsScreen
from rxdesk.tui.screens.types import TypesScreen
from rxdesk.tui.widgets.virtual_table import VirtualTable
from tests.helpers import CLINIC_TOML, make_appointment
from tests.tui.conftest import front, make_app, settle, text_of

PATIENT = "Lena [/x] Fischer [b]"
DOCTOR = "Dr Anna [red]Weber[/]"
TYPE = "GP [link=x]consult"
REASON = "asked [/i] twice"


def shown(app: RxdeskApp) -> str:
    """Every table cell and static text on the current screen, as plain text."""
    parts: list[str] = []
    for table in app.screen.query(DataTable):
        for row in range(table.row_count):
            parts.extend(str(getattr(cell, "plain", cell)) for cell in table.get_row_at(row))
    for vtable in app.screen.query(VirtualTable):
        for index in range(vtable.total):
            parts.extend(str(vtable.cell_text(index, column.key)) for column in vtable.columns)
    for widget in app.screen.query(Static):
        visual = widget.visual  # what is drawn, after any markup was read
        parts.append(visual.plain if hasattr(visual, "plain") else text_of(widget))
    return "\n".join(parts)


async def test_brackets_in_names_and_reasons_are_shown_as_typed(desk: Desk, tmp_path: Path, now: datetime) -> None:
    toml = CLINIC_TOML.read_text().replace('"Lena Fischer"', f'"{PATIENT}"')
    toml = toml.replace('"Dr Anna Weber"', f'"{DOCTOR}"').replace('"GP video consultation"', f'"{TYPE}"')
    path = tmp_path / "clinic.toml"
    path.write_text(toml)
    desk.provisioning.provision_file(path, "setup")
    make_appointment(desk, start=now + timedelta(days=1, hours=2), doctor_id="dr-weber", patient_id="pat-001")
    uid = make_appointment(desk, start=now + timedelta(days=1, hours=4), doctor_id="dr-weber",
                           patient_id="pat-001").uid
    desk.appointments.cancel_appointment(uid, REASON, "ops")

    app = make_app(desk)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert PATIENT in shown(app) and DOCTOR in shown(app) and TYPE in shown(app)

        # Cancel from the keyboard with a reason in brackets: the dialog, the row and the
        # notification all read as typed.
        await pilot.press("c")
        await settle(pilot)
        assert PATIENT in shown(app)
        app.screen.query_one("#reason", Input).value = "[/b] no show [i]"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert any("[/b] no show [i]" in n.message for n in app.notices)

        app.screen.query_one("#filter-statuses", Input).value = "all"
        await settle(pilot)
        front(app, OverviewScreen).table.focus()
        app.screen.table.select_key(uid)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AppointmentScreen)
        assert REASON in shown(app) and PATIENT in shown(app)

        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PatientDetailScreen) and PATIENT in shown(app)
        await pilot.press("escape", "d")
        await settle(pilot)
        assert isinstance(app.screen, DoctorDetailScreen) and DOCTOR in shown(app)
        await pilot.press("escape", "escape", "2")
        await settle(pilot)
        assert isinstance(app.screen, PatientsScreen) and PATIENT in shown(app)
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, DoctorsScreen) and DOCTOR in shown(app)
        await pilot.press("5")
        await settle(pilot)
        assert isinstance(app.screen, TypesScreen) and TYPE in shown(app)
        app.screen.query_one("#types").focus()
        await pilot.press("a")  # the new-rule dialog names the type in its title
        await settle(pilot)
        assert TYPE in shown(app)
        await pilot.press("escape")
    assert app.return_code in (None, 0)
