"""The frame: sections, help, palette, live data, a damaged data file, and the layering."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Input

from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.tui.screens.doctors import DoctorsScreen
from rxdesk.tui.screens.help import HelpScreen
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.screens.patients import PatientDetailScreen, PatientsScreen
from rxdesk.tui.screens.problem import ProblemScreen
from rxdesk.tui.screens.secrets import SecretsScreen
from rxdesk.tui.screens.types import TypesScreen
from rxdesk.tui.screens.webhooks import WebhooksScreen
from rxdesk.tui.widgets.tables import AppointmentTable, DeskTable
from tests.helpers import CLINIC_TOML, REPO, another_store, fingerprint
from tests.tui.conftest import make_app, overview_ready, settle, text_of, wait_until


async def test_number_keys_switch_sections_and_q_quits(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        for key, screen_type in (("2", PatientsScreen), ("3", DoctorsScreen), ("4", SecretsScreen),
                                 ("5", TypesScreen), ("6", WebhooksScreen), ("1", OverviewScreen)):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen_type), key
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_q_in_a_text_field_types_instead_of_quitting(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", "q", "1")
        await settle(pilot)
        assert app.is_running and isinstance(app.screen, OverviewScreen)
        assert app.screen.query_one("#filter-doctor", Input).value == "q1"


async def test_help_lists_the_keys_of_the_current_screen(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        for key in ("question_mark", "f1"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            shown = " ".join(text_of(w) for w in app.screen.query("Static"))
            for what in ("Cancel", "Rebook", "Filter", "Select", "sections", "command palette"):
                assert what in shown
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, OverviewScreen)


async def test_the_palette_offers_the_actions_of_the_current_screen(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for what in ("Cancel", "Rebook", "Patient", "Doctor", "Filter", "Help", "Quit"):
            assert what in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"filter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen)
        assert app.focused is app.screen.query_one("#filter-doctor")


async def test_patients_search_and_detail(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        table = app.screen.query_one(DeskTable)
        assert table.row_count == 3
        for key, row in (("G", 2), ("g", 0), ("end", 2), ("home", 0)):  # as in the appointment lists
            await pilot.press(key)
            assert table.cursor_row == row, key
        await pilot.press("slash", *"shop-10002")
        await settle(pilot)
        assert table.row_count == 1 and "1 patient" in text_of(app.screen.query_one("#patient-count"))
        await pilot.press("enter")  # back to the list
        await pilot.press("enter")  # open the patient
        await settle(pilot)
        assert isinstance(app.screen, PatientDetailScreen)
        contact = text_of(app.screen.query_one("#patient-contact"))
        assert "Omar Haddad" in contact and "omar.haddad@mail.example" in contact
        appointments = app.screen.query_one(AppointmentTable)
        assert {row.uid for row in appointments.loaded_rows()} == {booked["sato_held"], booked["weber_cancelled"]}
        # The same keys as the overview: c on the held appointment opens the cancel modal.
        appointments.select_key(booked["sato_held"])
        await pilot.press("c")
        await settle(pilot)
        assert type(app.screen).__name__ == "CancelModal"


@pytest.mark.backends
async def test_an_outside_change_refreshes_the_view_and_keeps_the_selection(clinic: Desk, booked: dict[str, str], data_dir: Path, now: datetime, backend: str) -> None:
    # A data dir is polled (quickly, for the test); a database announces changes: no polling.
    app = make_app(clinic, poll_seconds=0.05 if backend == "tiny" else 3600)
    async with app.run_test(size=(140, 40)) as pilot:
        # Settled first (counted, columns sized): a late count would move the cursor back.
        await overview_ready(pilot)
        table = app.screen.query_one(AppointmentTable)
        table.select_key(booked["sato_held"])
        # Another agent's process cancels the first row through its own store.
        other = Desk(another_store(clinic), FixedClock(now), clinic.settings)
        other.appointments.cancel_appointment(booked["weber_first"], "called in", "someone-else")
        # The next poll (or announcement) sees the change, however long a loaded machine takes.
        await wait_until(pilot, lambda: booked["weber_first"] not in [row.uid for row in table.loaded_rows()]
                         and table.counted, what="the outside change")
        assert [row.uid for row in table.loaded_rows()] == [booked["sato_held"], booked["osei_therapy"]]
        assert table.selected_key == booked["sato_held"]


async def test_a_damaged_data_file_shows_the_reason_instead_of_crashing(clinic: Desk, booked: dict[str, str], data_dir: Path) -> None:
    core = next((data_dir / "segments").glob("core.*.json"))
    core.write_bytes(core.read_bytes()[:40])
    before = fingerprint(data_dir)
    desk = Desk(another_store(clinic), clinic.clock, clinic.settings)
    app = make_app(desk)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ProblemScreen)
        message = text_of(app.screen.query_one("#problem-message"))
        assert core.name in message and "\n" not in message
        await pilot.press("1", "c", "enter")
        assert isinstance(app.screen, ProblemScreen)
    assert fingerprint(data_dir) == before


def test_only_the_app_imports_textual(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import rxdesk.cli, rxdesk.services, rxdesk.worker, rxdesk.domain, rxdesk.store\n"
        "from rxdesk.cli import main\n"
        f"assert main(['--data-dir', {str(tmp_path / 'd')!r}, 'provision', {str(CLINIC_TOML)!r}]) == 0\n"
        f"code = main(['--data-dir', {str(tmp_path / 'd')!r}, 'appointments', 'list'])\n"
        "assert code == 0, code\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print('LOADED:' + ','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "LOADED:"
