"""The app's frame as code sees it: bindings remapped by id, navigation by messages, the
switch interval, and the one thing taken from Textual's internals."""

from __future__ import annotations

import importlib
import pkgutil
import sys

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.dom import DOMNode
from textual.message import Message

import rxdesk.tui
from rxdesk.services import Desk
from rxdesk.services.appointments import AppointmentRow
from rxdesk.tui.app import RxdeskApp
from rxdesk.tui.navigation import (
    OpenAppointment,
    OpenDoctor,
    OpenPatient,
    OpenRebook,
    StartAttendance,
    StartCancel,
)
from rxdesk.tui.screens.appointment import AppointmentScreen
from rxdesk.tui.screens.doctors import DoctorsScreen
from rxdesk.tui.screens.help import HelpScreen
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.screens.patients import PatientDetailScreen
from rxdesk.tui.textual_gaps import forget_clipboard
from rxdesk.tui.widgets.tables import AppointmentTable
from tests.tui.conftest import make_app, settle


def test_every_app_binding_has_its_own_id() -> None:
    ids = [binding.id for binding in RxdeskApp.BINDINGS if isinstance(binding, Binding)]
    assert len(ids) == len(RxdeskApp.BINDINGS)
    assert all(ids) and len(set(ids)) == len(ids)
    assert {"section.overview", "section.doctors", "help", "quit"} <= set(ids)


def test_a_binding_id_means_one_action_wherever_it_is_used() -> None:
    """One keymap entry moves every binding of its id: an id shared by two different actions
    would move a key the agent did not mean."""
    actions: dict[str, set[str]] = {}
    without_id: list[str] = []
    for info in pkgutil.walk_packages(rxdesk.tui.__path__, "rxdesk.tui."):
        for value in vars(importlib.import_module(info.name)).values():
            if isinstance(value, type) and issubclass(value, DOMNode) and value.__module__ == info.name:
                for binding in value.BINDINGS:
                    if isinstance(binding, Binding) and binding.id:
                        actions.setdefault(binding.id, set()).add(binding.action)
                    elif isinstance(binding, Binding) and binding in vars(value).get("BINDINGS", ()):
                        without_id.append(f"{value.__name__}: {binding.key} {binding.action}")
    assert without_id == [], "every key of rxdesk gets an id a keymap can name"
    assert {"help", "appointment.cancel", "secrets.reveal"} <= set(actions)
    assert {name: found for name, found in actions.items() if len(found) > 1} == {}


async def test_a_keymap_remaps_an_app_binding_by_its_id(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.set_keymap({"section.doctors": "ctrl+d", "help": "f2"})
        await pilot.press("3")  # no longer the doctors' key
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("ctrl+d")
        await settle(pilot)
        assert isinstance(app.screen, DoctorsScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = {what: key for key, what in app.screen.screen_keys}
        assert keys["Help"].lower() == "f2"  # help lists the key as remapped


async def test_one_keymap_entry_moves_an_appointment_key_in_the_list_and_on_the_page(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.set_keymap({"appointment.patient": "i"})
        row = app.screen.query_one(AppointmentTable).selected
        assert row is not None
        await pilot.press("p")  # no longer the patient's key
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, PatientDetailScreen) and app.screen.patient_id == row.patient_id
        await pilot.press("escape", "enter")
        await settle(pilot)
        assert isinstance(app.screen, AppointmentScreen) and app.screen.uid == row.uid
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, AppointmentScreen)
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, PatientDetailScreen) and app.screen.patient_id == row.patient_id


class Recorder(App[None]):
    """A bare Textual app around one appointment table: what the table asks for arrives here
    as messages; this app has none of RxdeskApp's navigation methods to call."""

    def __init__(self, rows: list[AppointmentRow]) -> None:
        super().__init__()
        self.rows = rows
        self.asked: list[Message] = []

    def compose(self) -> ComposeResult:
        yield AppointmentTable()

    def on_mount(self) -> None:
        table = self.query_one(AppointmentTable)
        table.show_rows(self.rows, "UTC")
        table.focus()

    @on(OpenAppointment)
    @on(OpenPatient)
    @on(OpenDoctor)
    @on(OpenRebook)
    @on(StartCancel)
    @on(StartAttendance)
    def ask(self, message: Message) -> None:
        self.asked.append(message)


async def test_the_appointment_table_asks_for_navigation_by_messages(clinic: Desk, booked: dict[str, str]) -> None:
    rows = clinic.appointments.list_appointments().items
    first = rows[0]
    app = Recorder(rows)
    async with app.run_test(size=(140, 20)) as pilot:
        await pilot.pause()
        await pilot.press("enter", "c", "n", "r", "p", "d")
        await pilot.pause()
        opened, cancel, attendance, rebook, patient, doctor = app.asked
        assert isinstance(opened, OpenAppointment) and opened.uid == first.uid
        assert isinstance(cancel, StartCancel) and cancel.uid == first.uid and cancel.on_saved is not None
        assert isinstance(attendance, StartAttendance) and attendance.uid == first.uid
        assert isinstance(rebook, OpenRebook) and rebook.uid == first.uid
        assert isinstance(patient, OpenPatient) and patient.patient_id == first.patient_id
        assert isinstance(doctor, OpenDoctor) and doctor.doctor_id == first.doctor_id


async def test_a_message_from_any_screen_opens_the_page_in_the_desk(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.screen.post_message(OpenPatient("pat-002"))
        await settle(pilot)
        assert isinstance(app.screen, PatientDetailScreen) and app.screen.patient_id == "pat-002"
        app.screen.post_message(OpenAppointment(booked["weber_first"]))
        await settle(pilot)
        assert isinstance(app.screen, AppointmentScreen) and app.screen.uid == booked["weber_first"]
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)


def test_making_an_app_leaves_the_interpreters_switch_interval_alone(clinic: Desk) -> None:
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.004)
        make_app(clinic)
        assert sys.getswitchinterval() == 0.004
    finally:
        sys.setswitchinterval(before)


async def test_forgetting_the_clipboard_drops_the_apps_own_copy() -> None:
    """Fails when a Textual upgrade keeps `App.clipboard` elsewhere than `forget_clipboard` resets."""
    app: App[None] = App()
    async with app.run_test():
        app.copy_to_clipboard("whsec_not_for_long")
        assert app.clipboard == "whsec_not_for_long"
        forget_clipboard(app, "another value")
        assert app.clipboard == "whsec_not_for_long"  # only the dialog's own value is dropped
        forget_clipboard(app, "whsec_not_for_long")
        assert app.clipboard == ""
