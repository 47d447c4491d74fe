"""The app's figures on one data dir, through Textual's pilot, printed as one JSON line.

    python -m bench.app_probe DATA_DIR [STARTED_AT_EPOCH]

- app_first_paint: from process start (the epoch the caller passes) to the first page of rows
  on screen.
- app_filter: median over a few filter changes (doctor, status, date) from the field's change
  to the new rows on screen.
- app_cancel: `c` to the dialog shown, plus `enter` (reason typed) to the row showing
  `cancelled` with the change on disk.
- app_freeze: the longest the event loop was unable to run a 5 ms timer while the probe
  scrolled, paged, filtered, cancelled and ran a maintenance tick.
- app_memory: peak resident memory of this process (MB, VmHWM).
"""

from __future__ import annotations

import time

_IMPORTED_AT = time.time()

import asyncio  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from statistics import median  # noqa: E402


class LoopWatch:
    """Measures the longest gap between 5 ms ticks of the event loop (a UI freeze)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - 0.005)
            last = now

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task:
            self._task.cancel()


async def wait_for(check: Callable[[], bool], pilot, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.001)
    await asyncio.sleep(0)  # one more turn of the loop: the refresh is queued behind it


async def settled(app, pilot) -> None:  # type: ignore[no-untyped-def]
    """Every running worker done (a superseded one counts as done) and the screen repainted."""
    from textual.worker import WorkerCancelled

    try:
        await app.workers.wait_for_complete()
    except WorkerCancelled:
        pass
    await pilot.pause()


async def probe(data_dir: Path, started: float) -> dict[str, float]:
    from textual.events import Key
    from textual.widgets import Input

    from rxdesk.config import Settings
    from rxdesk.services import Desk
    from rxdesk.tui.app import RxdeskApp
    from rxdesk.tui.modals.cancel import CancelModal
    from rxdesk.tui.screens.overview import OverviewScreen
    from rxdesk.tui.widgets.tables import AppointmentTable

    desk = Desk.open(Settings.from_env(data_dir=str(data_dir)))
    app = RxdeskApp(desk, worker=False, poll_seconds=3600)
    figures: dict[str, float] = {}
    watch = LoopWatch()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        await wait_for(lambda: screen.loads >= 1 and screen.table.row_count > 0, pilot)
        figures["app_first_paint"] = time.time() - started
        table = screen.query_one(AppointmentTable)
        watch.start()

        # Scrolling through the first pages, the way an agent holds the down key.
        for _ in range(250):
            app.post_message(Key("down", None))
            await asyncio.sleep(0.002)
        await settled(app, pilot)

        # Filters: each change to its rows on screen.
        doctor = desk.doctors.list_doctors()[0].name
        timings = []
        for selector, value in (("#filter-doctor", doctor), ("#filter-doctor", ""),
                                ("#filter-statuses", "held"), ("#filter-statuses", ""),
                                ("#filter-date_from", "+7d"), ("#filter-date_from", "")):
            field = screen.query_one(selector, Input)
            before = screen.loads
            began = time.perf_counter()
            field.value = value
            await wait_for(lambda: screen.loads > before, pilot)  # noqa: B023 - awaited here
            timings.append(time.perf_counter() - began)
        figures["app_filter"] = median(timings)
        table.focus()
        table.move_cursor(row=0)
        await settled(app, pilot)  # the agent reads the row before pressing c

        # Cancel the selected row: c, the reason, enter.
        uid = table.selected_key
        began = time.perf_counter()
        app.post_message(Key("c", "c"))  # as the terminal driver delivers it, no test pauses
        await wait_for(lambda: isinstance(app.screen, CancelModal) and bool(app.screen.query("#reason")), pilot)
        opened = time.perf_counter() - began
        app.screen.query_one("#reason", Input).value = "benchmark"
        began = time.perf_counter()
        app.post_message(Key("enter", "\r"))
        await wait_for(lambda: str(table.get_cell(uid, "status")) == "cancelled", pilot)
        figures["app_cancel"] = opened + (time.perf_counter() - began)
        if desk.appointments.get(uid).status.value != "cancelled":
            raise RuntimeError("the cancellation is not on disk")

        # One maintenance tick inside the app, as the in-app worker runs it.
        try:
            from rxdesk.services.maintenance import MaintenanceService  # noqa: F401
        except ImportError:
            pass
        else:
            app._tick()
            await wait_for(lambda: bool(app.maintenance), pilot, timeout=120)
        watch.stop()
        figures["app_freeze"] = watch.longest
    figures["app_memory"] = peak_memory_mb()
    return figures


def peak_memory_mb() -> float:
    """This process's own peak resident memory. (`ru_maxrss` is no good here: Linux carries
    the parent's peak across fork and exec, so a probe started by a big process reports its
    parent's memory.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    data_dir = Path(sys.argv[1])
    started = float(sys.argv[2]) if len(sys.argv) > 2 else _IMPORTED_AT
    figures = asyncio.run(probe(data_dir, started))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
