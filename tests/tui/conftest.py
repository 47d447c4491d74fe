"""App tests: a small clinic with known appointments, and ways to wait for the app: until its
workers are done (`settle`), until a condition holds (`wait_until`)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Any, Protocol, TypeVar

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import WorkerCancelled

from rxdesk.domain.ids import new_appointment_uid
from rxdesk.services import Desk
from rxdesk.tui.app import RxdeskApp
from tests.helpers import WAIT_LIMIT, make_appointment, still_waiting

# A pilot of the app (or of a small app a test makes around one widget).
AnyPilot = Pilot[Any]


ScreenKind = TypeVar("ScreenKind", bound=Screen[Any])


def front(app: App[Any], kind: type[ScreenKind]) -> ScreenKind:
    """The screen in front of the agent, which must be a `kind`."""
    screen = app.screen
    assert isinstance(screen, kind), f"{type(screen).__name__} is in front, not {kind.__name__}"
    return screen


def app_of(pilot: AnyPilot) -> RxdeskApp:
    """The app a pilot drives, which must be rxdesk's."""
    assert isinstance(pilot.app, RxdeskApp)
    return pilot.app


class SnapCompare(Protocol):
    """pytest-textual-snapshot's `snap_compare` fixture, as it is called (the plugin ships no
    types): True when the app's screen matches its stored snapshot."""

    def __call__(self, app: str | PurePath | App[Any], press: Iterable[str] = (),
                 terminal_size: tuple[int, int] = (80, 24),
                 run_before: Callable[[AnyPilot], Awaitable[None] | None] | None = None) -> bool: ...


async def settle(pilot: AnyPilot, rounds: int = 3) -> None:
    """Let thread workers finish and their results reach the screen. A worker superseded by a
    newer one of its group (the live refresh's poll, a reload) counts as finished."""
    for _ in range(rounds):
        await wait_for_workers(pilot.app)
        await pilot.pause()


async def wait_for_workers(app: App[Any]) -> None:
    """Wait until no worker is running; one superseded meanwhile by a newer call of its group
    (a poll under a slow machine) is done too, not a failure. Each round waits for the
    workers running then; a result they deliver may start more, hence the rounds."""
    while running := [w for w in app.workers if not w.is_finished]:
        with contextlib.suppress(WorkerCancelled):
            await asyncio.gather(*(w.wait() for w in running))
        await asyncio.sleep(0)


async def overview_ready(pilot: AnyPilot) -> None:
    """The overview as an agent sees it once it settled: its rows, their count, the column
    widths made from the doctors' and types' names, and nothing left running."""
    from rxdesk.tui.screens.overview import OverviewScreen

    def ready() -> bool:
        screen = pilot.app.screen
        return (isinstance(screen, OverviewScreen) and screen.loads > 0 and screen.names_learned
                and screen.table.counted and not any(not w.is_finished for w in pilot.app.workers))

    await wait_until(pilot, ready, what="the overview to settle")


async def wait_until(pilot: AnyPilot, condition: Callable[[], object], *, what: str = "",
                     limit: float = WAIT_LIMIT) -> None:
    """Let the app run until `condition()` holds (a timer, a worker or a key did its part), or
    fail naming what was awaited (by default the condition's source): a condition, never a time.
    Threads and other processes are awaited with `tests.helpers.wait_until`."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise still_waiting(what or condition, limit)
        await wait_for_workers(pilot.app)
        await pilot.pause(0.01)
    await pilot.pause()


Noted = TypeVar("Noted")


def record_calls(monkeypatch: pytest.MonkeyPatch, owner: type, name: str,
                 note: Callable[[Any], Noted]) -> list[Noted]:
    """What `note(self)` gives at each call of `owner.name`, which still does its work: how
    often a screen reads or counts, and with what."""
    seen: list[Noted] = []
    original = getattr(owner, name)

    def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(note(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return seen


def hold_calls(monkeypatch: pytest.MonkeyPatch, service: object, name: str) -> threading.Event:
    """From now on `service.name` waits for the event returned before it answers: a slow store,
    so what the agent does meanwhile comes first. Set the event to let the answers go (until
    then the app's own waits, which wait for its workers, would wait for it too)."""
    release = threading.Event()
    original = getattr(service, name)

    def held(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(WAIT_LIMIT), f"{name} was never let go"
        return original(*args, **kwargs)

    monkeypatch.setattr(service, name, held)
    return release


def make_app(desk: Desk, **options: Any) -> RxdeskApp:
    options.setdefault("worker", False)
    options.setdefault("poll_seconds", 3600)
    return RxdeskApp(desk, **options)


@pytest.fixture
def booked(clinic: Desk, now: datetime) -> dict[str, str]:
    """Five appointments with fixed uids: name -> uid. Times are from Tuesday 24 Nov."""
    rng = random.Random(7)
    day = now + timedelta(days=1)
    plan: dict[str, dict[str, Any]] = {
        "weber_first": dict(start=day.replace(hour=8), doctor_id="dr-weber", patient_id="pat-001"),
        "sato_held": dict(start=day.replace(hour=10), doctor_id="dr-sato", patient_id="pat-002",
                          status="held", hold_minutes=60 * 24 * 3),
        "osei_therapy": dict(start=day.replace(hour=15), doctor_id="dr-osei", patient_id="pat-003",
                             type_key="therapy"),
        "weber_cancelled": dict(start=day.replace(hour=11), doctor_id="dr-weber", patient_id="pat-002",
                                status="cancelled"),
        "weber_past": dict(start=now - timedelta(days=3), doctor_id="dr-weber", patient_id="pat-001",
                           status="completed"),
    }
    uids = {}
    for name, spec in plan.items():
        uid = new_appointment_uid(spec["start"], rng)
        make_appointment(clinic, uid=uid, **spec)
        uids[name] = uid
    return uids


def text_of(widget: Widget) -> str:
    """What a Static shows, as plain text (Rich tables included)."""
    from io import StringIO

    from rich.console import Console

    assert isinstance(widget, Static), f"{widget!r} shows no text of its own"
    content = widget.content
    if isinstance(content, str):
        return content
    buffer = StringIO()
    Console(file=buffer, width=200, color_system=None).print(content)
    return buffer.getvalue()
