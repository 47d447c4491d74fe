"""What the app does before its first rows are on screen: nothing it can do after them. Work
started earlier runs in a thread that shares the interpreter with the first frame."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.message import Message
from textual.worker import Worker, WorkerState

from rxdesk.services import Desk
from rxdesk.tui.screens.base import size_classes
from rxdesk.tui.screens.overview import OverviewScreen
from rxdesk.tui.screens.problem import ProblemScreen
from rxdesk.tui.widgets.virtual_table import VirtualTable
from tests.helpers import REPO, WAIT_LIMIT, another_store, fingerprint
from tests.tui.conftest import make_app, overview_ready, settle, wait_until


async def test_the_headers_count_and_the_names_wait_for_the_first_rows(clinic: Desk, booked: dict[str, str]) -> None:
    seen: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, Worker.StateChanged) and message.state is WorkerState.RUNNING:
            seen.append(f"start {message.worker.group}")
        elif isinstance(message, VirtualTable.Loaded):
            seen.append(f"rows{'' if message.counted else ' uncounted'}")

    app: Any = make_app(clinic)
    async with app.run_test(size=(140, 40), message_hook=hook) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, OverviewScreen) and screen.names_learned
        assert app.attention_count is not None  # counted all the same
    first_rows = seen.index("rows uncounted")
    assert seen.index("start attention-count") > first_rows, seen
    assert seen.index("start warm-up") > seen.index("rows"), seen


@pytest.mark.backends
async def test_the_first_frame_shows_the_rows_read_while_the_app_started(clinic: Desk, booked: dict[str, str],
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         backend: str) -> None:
    drawn: list[int] = []  # the rows the table held at each line it drew
    draw = VirtualTable.render_line

    def drawing(table: VirtualTable[Any], y: int) -> Any:
        drawn.append(table.total)
        return draw(table, y)

    monkeypatch.setattr(VirtualTable, "render_line", drawing)
    app: Any = make_app(clinic)
    # The first rows are read from the moment the app is made, while Textual starts; here the
    # read is let finish first, as it does on an agent's machine while Textual is imported.
    early = getattr(app, "first_read", None)
    assert early is not None, "nothing reads the first rows before the screen asks for them"
    early.result.result(timeout=WAIT_LIMIT)
    async with app.run_test(size=(140, 40)) as pilot:
        await overview_ready(pilot)
        assert app.screen.loads == 1 and app.screen.table.total == 3
    assert drawn and drawn[0] == 3, f"the first frame drew the table with {drawn[:1]} rows (loading…)"


async def test_a_sections_stylesheet_is_read_when_the_section_is_first_shown(clinic: Desk,
                                                                            booked: dict[str, str]) -> None:
    from rxdesk.tui.screens.doctors import DoctorsScreen

    app: Any = make_app(clinic)

    def read() -> set[str]:
        return {Path(path).name for path, _ in app.stylesheet.source if path.endswith(".tcss")}

    async with app.run_test(size=(140, 40)) as pilot:
        await overview_ready(pilot)
        assert read() == {"app.tcss", "modals.tcss", "overview.tcss"}
        await pilot.press("3")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorsScreen) and app.screen.query("#doctors-count"))
        await settle(pilot)
        assert "doctors.tcss" in read()
        # Its rules apply to the screen that named it: the count line's padding.
        assert app.screen.query_one("#doctors-count").styles.padding.left == 1


async def test_first_rows_that_cannot_be_read_show_the_reason(clinic: Desk, booked: dict[str, str],
                                                            data_dir: Path) -> None:
    week = max((data_dir / "segments").glob("appt-*.json"))  # the week of the first rows
    week.write_bytes(b"x" * week.stat().st_size)  # its size as committed: found when it is read
    before = fingerprint(data_dir)
    app: Any = make_app(Desk(another_store(clinic), clinic.clock, clinic.settings))
    assert app.problem is None  # the organisation reads; the week of the first rows does not
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ProblemScreen))
        assert week.name in str(app.screen.query_one("#problem-message").render())
    assert fingerprint(data_dir) == before



@pytest.mark.parametrize(("damage", "named"), [({"timezone": "Mars/Olympus_Mons"}, "'Mars/Olympus_Mons'"),
                                              ({"name": 42}, "name")])
async def test_an_organisation_that_cannot_be_read_shows_the_reason(clinic: Desk, booked: dict[str, str],
                                                                   damage: dict[str, object], named: str) -> None:
    """Every screen shows the organisation's name and its times in its zone: a stored one that
    cannot be read (a zone no such, a name of another shape) is the problem screen, one reason,
    not a quit nor a screen of refusals."""
    with clinic.store.write() as w, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic's "expected str" while writing it: the point here
        org = w.org.get()
        assert org is not None
        w.org.put(org.model_copy(update=damage))
    app: Any = make_app(Desk(another_store(clinic), clinic.clock, clinic.settings))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ProblemScreen))
        message = str(app.screen.query_one("#problem-message").render())
        assert "stored org cannot be read" in message and named in message


async def test_the_first_screens_widgets_are_styled_once_for_the_terminals_size(clinic: Desk, booked: dict[str, str],
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Textual styles a screen's widgets as they mount and once more as it is shown; a screen
    # that took its size's classes (`-wide`, `-tall`) only at its first resize was styled a
    # third time before its first frame.
    whole_screen: list[int] = []  # the widgets restyled by each style pass over the screen
    drawn: list[bool] = []
    update = App.update_styles
    draw = VirtualTable._row_strip

    def updating(app: App[Any], node: Any, animate: bool = True) -> None:
        if isinstance(node, OverviewScreen) and not drawn and len(node.children):
            whole_screen.append(len(list(node.walk_children())))
        update(app, node, animate)

    def drawing(table: VirtualTable[Any], *args: Any, **kwargs: Any) -> Any:
        drawn.append(True)
        return draw(table, *args, **kwargs)

    monkeypatch.setattr(App, "update_styles", updating)
    monkeypatch.setattr(VirtualTable, "_row_strip", drawing)
    app: Any = make_app(clinic)
    async with app.run_test(size=(160, 48)) as pilot:
        await overview_ready(pilot)
        assert {"-wide", "-tall"} <= app.screen.classes
    assert drawn and len(whole_screen) == 1, whole_screen


@pytest.mark.parametrize("size", [(80, 24), (100, 29), (110, 30), (119, 50), (120, 40), (200, 60)])
async def test_a_screens_size_classes_are_those_textual_gives_it(clinic: Desk, booked: dict[str, str],
                                                                 size: tuple[int, int]) -> None:
    app: Any = make_app(clinic)
    async with app.run_test(size=size) as pilot:
        await overview_ready(pilot)
        await pilot.resize_terminal(size[0] + 1, size[1] + 1)  # Textual's own, at a resize
        await pilot.resize_terminal(*size)
        await settle(pilot)
        named = {name for _, name in app.HORIZONTAL_BREAKPOINTS + app.VERTICAL_BREAKPOINTS}
        assert {name for name, on in size_classes(app.screen).items() if on} == app.screen.classes & named

# Loaded when the agent first needs them, never for the first screen.
NOT_AT_START = ("rxdesk.tui.dialogs", "rxdesk.tui.modals.attendance", "rxdesk.tui.modals.cancel",
                "rxdesk.tui.screens.problem", "rxdesk.worker.process", "rxdesk.tui.screens.doctors")


def _first_screen_in_a_process(cli_env: dict[str, str], before: str, wait: str, report: str) -> list[str]:
    """Start the app in a process of its own on `cli_env`'s data (`before`: code run first),
    pause until `wait` holds, print `report`'s lines; returns what it printed."""
    code = (
        "import asyncio, sys\n"
        "from rxdesk.config import Settings\n"
        "from rxdesk.services import Desk\n"
        "from rxdesk.tui.app import RxdeskApp\n"
        f"{before}"
        "async def first_rows():\n"
        "    app = RxdeskApp(Desk.open(Settings.from_env()), worker=False, poll_seconds=3600)\n"
        "    async with app.run_test(size=(140, 40)) as pilot:\n"
        f"        while not ({wait}):\n"
        "            await pilot.pause(0.01)\n"
        "        await pilot.pause()\n"
        f"        print({report})\n"
        "asyncio.run(first_rows())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, **cli_env}, timeout=WAIT_LIMIT)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()


def test_the_first_screen_loads_no_dialog_no_worker_and_no_other_section(clinic: Desk, booked: dict[str, str],
                                                                          cli_env: dict[str, str]) -> None:
    *_, modules = _first_screen_in_a_process(
        cli_env, "", "getattr(app.screen, 'loads', 0)",
        "'LOADED:' + ','.join(sorted(m for m in sys.modules if m.startswith('rxdesk.')))")
    loaded = set(modules.removeprefix("LOADED:").split(","))
    assert "rxdesk.tui.screens.overview" in loaded
    assert loaded.isdisjoint(NOT_AT_START), sorted(loaded & set(NOT_AT_START))


@pytest.mark.backends
def test_the_first_frame_is_drawn_without_pydantic_or_the_models(clinic: Desk, booked: dict[str, str],
                                                                  cli_env: dict[str, str], backend: str) -> None:
    # The first rows come from the stored records; the models (and pydantic, the dearest import
    # of start-up) load after them. The modules are noted as the first row is drawn.
    noting = (
        "from rxdesk.tui.widgets.virtual_table import VirtualTable\n"
        "seen = []\n"
        "draw = VirtualTable._row_strip\n"
        "def drawing(table, *args, **kwargs):\n"
        "    if not seen:\n"
        "        seen.append(sorted(m for m in sys.modules if m.startswith(('pydantic', 'rxdesk.'))))\n"
        "    return draw(table, *args, **kwargs)\n"
        "VirtualTable._row_strip = drawing\n"
    )
    *_, rows, modules = _first_screen_in_a_process(
        cli_env, noting, "seen and app.screen.table.total",
        "'ROWS:', app.screen.table.total, '\\nLOADED:' + ','.join(seen[0])")
    assert rows.strip() == "ROWS: 3"  # the upcoming held and confirmed of `booked`, as the agent sees them
    loaded = set(modules.removeprefix("LOADED:").split(","))
    assert "rxdesk.tui.screens.overview" in loaded
    assert not {m for m in loaded if m.startswith("pydantic") or m == "rxdesk.domain.models"}, sorted(loaded)


async def test_the_collector_held_while_the_app_starts_is_back_once_it_settled(clinic: Desk, booked: dict[str, str]) -> None:
    import gc

    from rxdesk.tui import hold_collector

    app: Any = make_app(clinic)
    hold_collector()
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            assert not gc.isenabled()  # the first rows are drawn without a pass over what was loaded
            await overview_ready(pilot)
            await wait_until(pilot, lambda: app._frozen, what="what the app keeps taken out of the collector's sight")
            assert gc.isenabled()
    finally:
        gc.enable()


async def test_the_collector_is_back_after_a_while_if_the_app_never_settles(clinic: Desk, booked: dict[str, str],
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    import rxdesk.tui.app as app_module
    from rxdesk.tui import hold_collector

    monkeypatch.setattr(app_module, "COLLECTOR_HELD_SECONDS", 0.2)
    monkeypatch.setattr(app_module.RxdeskApp, "keep_loaded", lambda self: None)  # it never settles
    app: Any = make_app(clinic)
    hold_collector()
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_until(pilot, gc.isenabled, what="the collector back on")
    finally:
        gc.enable()
