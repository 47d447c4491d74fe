"""The app's figures on one data dir, through Textual's pilot, printed as one JSON line.

    python -m bench.app_probe DATA_DIR [STARTED_AT_EPOCH] [--explain]

"Painted" below means: the change is on screen, i.e. the screen's next refresh after it has
run (Textual's `call_after_refresh`), as a terminal would show it.

- app_first_paint: from process start (the epoch the caller passes) to the first rows painted.
- app_cursor: p95 over 200 single moves of the cursor (`down`, `up`) from the key to the
  frame painted; app_cursor_median beside it.
- app_filter: median over a few filter changes (doctor, status, date) from the field's change
  to the new rows painted.
- app_cancel: `c` to the dialog shown, plus `enter` (reason typed) to the row painted as
  `cancelled`, with the change on disk: the median of the second to the ninth cancel of the
  session (the dialog is built once and kept; a cancel takes 30-60 ms, and two of them could
  not tell a 20% difference between data sets from a busy core's noise); app_cancel_first:
  the first one.
- app_end: `G` to the last row of the whole list painted.
- app_freeze: the longest the event loop could not run a 5 ms timer while the probe held `j`
  through 5,000 rows (or the whole list; a key every 5 ms), pressed `G`, changed filters,
  cancelled and ran a maintenance tick. app_freeze_cpu: the same gaps counted in this
  process's CPU time, which leaves out what a busy machine gave to other processes.
- app_memory: peak resident memory of this process (MB, VmHWM).

With `--explain`, where the time of each step goes (service calls in threads, layout and
rendering on the UI thread) is printed to stderr from timestamps taken inside the app.
"""

from __future__ import annotations

import time

_IMPORTED_AT = time.time()

import asyncio  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from statistics import median  # noqa: E402
from typing import Any  # noqa: E402

HOLD_ROWS = 5000
CANCELS_REUSED = 8  # cancels after the first: their median is app_cancel


class LoopWatch:
    """Measures the longest gap between 5 ms ticks of the event loop (a UI freeze)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.step = ""  # what the probe was doing (for --explain)
        self.worst: dict[str, float] = {}
        self.longest_cpu = 0.0
        self.worst_cpu: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last, last_cpu = time.perf_counter(), time.process_time()
        while True:
            await asyncio.sleep(0.005)
            now, cpu = time.perf_counter(), time.process_time()
            gap = now - last - 0.005
            self.longest = max(self.longest, gap)
            self.worst[self.step] = max(self.worst.get(self.step, 0.0), gap)
            # The same gap in CPU time of this process (all its threads): what the app itself
            # spent, without the time a busy machine gave to other processes.
            self.longest_cpu = max(self.longest_cpu, min(gap, cpu - last_cpu))
            self.worst_cpu[self.step] = max(self.worst_cpu.get(self.step, 0.0), min(gap, cpu - last_cpu))
            last, last_cpu = now, cpu

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task:
            self._task.cancel()


async def wait_for(check: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Until `check()` holds, looking every millisecond. The loop sleeps between looks, as an
    app waiting for a key does: a poll that never sleeps keeps the interpreter lock, and each
    system call of the app's own threads (a write's files, its fsyncs) then waits up to the
    switch interval (5 ms) to get it back, a cost no terminal puts on the app."""
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the app did not get there in time ({what or 'a condition'})")
        await asyncio.sleep(0.001)


async def painted(app: Any) -> tuple[float, float]:
    """Until the screen has refreshed with every change made so far. Returns when that was
    (perf_counter, time): taken in the callback that runs right after the refresh, as the
    frame goes to the terminal, not when this coroutine gets its turn again."""
    done = asyncio.get_running_loop().create_future()
    app.screen.call_after_refresh(
        lambda: done.done() or done.set_result((time.perf_counter(), time.time())))
    return await done


async def settled(app: Any, pilot: Any) -> None:
    """Every running worker done (a superseded one counts as done) and the screen repainted."""
    from textual.worker import WorkerCancelled

    try:
        await app.workers.wait_for_complete()
    except WorkerCancelled:
        pass
    await pilot.pause()


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


class Explain:
    """Timestamps inside the app: how long each kind of work took during one step."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.spent: dict[str, list[float]] = {}
        self.step = ""

    def wrap(self, owner: Any, name: str, label: str) -> None:
        if not self.enabled:
            return
        original = getattr(owner, name)
        spent = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent.spent.setdefault(label, []).append(time.perf_counter() - began)

        setattr(owner, name, timed)

    def begin(self, step: str) -> None:
        self.step = step
        self.spent = {}

    def report(self, total: float) -> None:
        if not self.enabled:
            return
        parts = ", ".join(f"{label} {sum(v) * 1000:.1f} ms ×{len(v)}" for label, v in sorted(self.spent.items()))
        print(f"[explain] {self.step}: {total * 1000:.1f} ms — {parts}", file=sys.stderr)


async def probe(data_dir: Path, started: float, explain_on: bool = False) -> dict[str, float]:
    import rxdesk.tui  # first, as the app does: it sets Textual's frame rate

    rxdesk.tui.hold_collector()  # as `rxdesk` does before it imports Textual and the app
    from textual.events import Key
    from textual.screen import Screen
    from textual.widgets import Input

    from rxdesk.config import Settings
    from rxdesk.services import Desk
    from rxdesk.tui.app import RxdeskApp
    from rxdesk.tui.screens.overview import OverviewScreen
    from rxdesk.tui.widgets.virtual_table import VirtualTable

    watch = LoopWatch()
    explain = Explain(explain_on)
    if explain_on:
        import gc

        collections: dict[str, list[float]] = {}
        began_gc = [0.0]

        def gc_timer(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                began_gc[0] = time.process_time()
            else:
                spent = time.process_time() - began_gc[0]
                collections.setdefault(f"{watch.step} gen{info['generation']}", []).append(spent)

        gc.callbacks.append(gc_timer)
    if explain_on:  # (the services and their models load before the first frame then)
        from rxdesk.services.appointments import AppointmentService

        explain.wrap(AppointmentService, "list_appointments", "service list (thread)")
        explain.wrap(AppointmentService, "parse_filter", "service parse filter (thread)")
        explain.wrap(AppointmentService, "cancel_appointment", "service cancel (thread)")
        explain.wrap(AppointmentService, "summary", "service summary (thread)")
    explain.wrap(VirtualTable, "show", "table show (UI)")
    explain.wrap(VirtualTable, "render_line", "table render_line (UI)")
    explain.wrap(Screen, "_refresh_layout", "screen layout (UI)")
    explain.wrap(Screen, "_on_timer_update", "screen refresh (UI)")

    # The end of the frame that first draws a row: noted from inside the app (the drawing of
    # a row asks to be called once that frame is out), not when this probe gets its turn.
    first_frame: list[float] = []
    draw_row = VirtualTable._row_strip

    def drawing_row(table: Any, *args: Any, **kwargs: Any) -> Any:
        if not first_frame:
            first_frame.append(0.0)
            table.call_after_refresh(lambda: first_frame.__setitem__(0, time.time()))
        return draw_row(table, *args, **kwargs)

    VirtualTable._row_strip = drawing_row  # type: ignore[method-assign]

    desk = Desk.open(Settings.from_env(data_dir=str(data_dir)))
    app = RxdeskApp(desk, worker=False, poll_seconds=3600)
    figures: dict[str, float] = {}
    rng = random.Random(7)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        await wait_for(lambda: bool(first_frame) and first_frame[0] > 0, what="the first rows painted")
        figures["app_first_paint"] = first_frame[0] - started
        # Only now: the probe's own imports would load the models before the first frame,
        # which the app itself no longer does.
        from rxdesk.tui.modals.cancel import CancelModal

        table = screen.table
        await settled(app, pilot)

        # Single cursor moves, key to frame painted, at random moments against the frame clock.
        moves = []
        for i in range(200):
            key = "down" if (i // 20) % 2 == 0 else "up"
            before = table.cursor
            explain.begin("cursor move")
            began = time.perf_counter()
            app.post_message(Key(key, None))
            await wait_for(lambda: table.cursor != before, what="a cursor move")  # noqa: B023 - awaited here
            moves.append((await painted(app))[0] - began)
            explain.report(moves[-1]) if i < 3 else None
            await asyncio.sleep(rng.uniform(0.0, 0.02))
        figures["app_cursor"] = p95(moves)
        figures["app_cursor_median"] = median(moves)
        table.move_cursor(0)
        await settled(app, pilot)

        watch.start()
        # Holding j: a key every 5 ms (200 a second, several times a keyboard's repeat rate),
        # through 5,000 rows.
        target = min(HOLD_ROWS, table.total - 1)
        watch.step = "hold j"
        explain.begin("hold j")
        began = time.perf_counter()
        while table.cursor < target:
            app.post_message(Key("j", "j"))
            await asyncio.sleep(0.005)
        await painted(app)
        explain.report(time.perf_counter() - began)
        await settled(app, pilot)

        # G: the last row of the whole list.
        watch.step = "G"
        explain.begin("G")
        began = time.perf_counter()
        app.post_message(Key("G", "G"))
        await wait_for(lambda: table.cursor == table.total - 1 and table.current_row is not None, what="G")
        figures["app_end"] = (await painted(app))[0] - began
        explain.report(figures["app_end"])
        await settled(app, pilot)
        app.post_message(Key("g", "g"))
        await wait_for(lambda: table.cursor == 0, what="g")
        await settled(app, pilot)

        # Filters: each change to its rows painted.
        watch.step = "filters"
        doctor = desk.doctors.list_doctors()[0].name
        timings = []
        for selector, value in (("#filter-doctor", doctor), ("#filter-doctor", ""),
                                ("#filter-statuses", "held"), ("#filter-statuses", ""),
                                ("#filter-date_from", "+7d"), ("#filter-date_from", "")):
            field = screen.query_one(selector, Input)
            before = screen.loads
            explain.begin(f"filter {selector}={value!r}")
            watch.step = f"filter {selector[8:]}={value!r}"
            began = time.perf_counter()
            field.value = value
            await wait_for(lambda: screen.loads > before, what=f"filter {selector}")  # noqa: B023 - awaited here
            timings.append((await painted(app))[0] - began)
            explain.report(timings[-1])
            await settled(app, pilot)
        figures["app_filter"] = median(timings)
        table.focus()
        table.move_cursor(0)
        await settled(app, pilot)

        # Cancel the row under the cursor: c, the reason, enter; the first of the session (the
        # dialog is built), then CANCELS_REUSED more (the dialog is kept and reused).
        watch.step = "cancel"
        cancels = []
        marked: set[str] = set()  # appointments the table has shown cancelled
        mark = table.mark

        def marking(appointment: Any) -> None:
            mark(appointment)
            if appointment.status.value == "cancelled" and table.index_of(appointment.uid) is not None:
                marked.add(appointment.uid)

        table.mark = marking  # type: ignore[method-assign]  # the dialog is handed `table.mark` on `c`
        for attempt in range(1 + CANCELS_REUSED):
            uid = table.current_key
            assert uid is not None
            explain.begin(f"c to dialog (cancel {attempt + 1})")
            began = time.perf_counter()
            app.post_message(Key("c", "c"))  # as the terminal driver delivers it, no test pauses
            await wait_for(lambda: isinstance(app.screen, CancelModal) and app.screen.uid == uid  # noqa: B023
                           and bool(app.screen.query("#reason")), what="the cancel dialog")
            opened = (await painted(app))[0] - began
            explain.report(opened)
            app.screen.query_one("#reason", Input).value = "benchmark"
            explain.begin(f"enter to row cancelled (cancel {attempt + 1})")
            began = time.perf_counter()
            app.post_message(Key("enter", "\r"))

            def shows_cancelled() -> bool:
                # Marked cancelled in place (the next frame paints it), seen by the table's own
                # call: the reload that follows takes the row out of the default view, and a look
                # every millisecond on a busy machine can come after both.
                return uid in marked and app.screen is screen  # noqa: B023 - awaited in this turn

            await wait_for(shows_cancelled, what="the row shown cancelled")
            closed = (await painted(app))[0] - began
            explain.report(closed)
            cancels.append(opened + closed)
            if desk.appointments.get(uid).status.value != "cancelled":
                raise RuntimeError("the cancellation is not on disk")
            await settled(app, pilot)  # the agent reads the next row before pressing c
            table.move_cursor(table.cursor + 1)
            await settled(app, pilot)
        figures["app_cancel_first"] = cancels[0]
        figures["app_cancel"] = median(cancels[1:])

        # One maintenance tick inside the app, as the in-app worker runs it.
        watch.step = "tick"
        app.run_tick()
        await wait_for(lambda: bool(app.maintenance), timeout=120, what="the tick")
        await settled(app, pilot)
        watch.stop()
        figures["app_freeze"] = watch.longest
        figures["app_freeze_cpu"] = watch.longest_cpu
        if explain.enabled:
            worst = ", ".join(f"{step} {gap * 1000:.0f} ms ({watch.worst_cpu.get(step, 0) * 1000:.0f} ms CPU)"
                              for step, gap in watch.worst.items())
            print(f"[explain] longest freeze by step: {worst}", file=sys.stderr)
            spent = ", ".join(f"{k} ×{len(v)} max {max(v) * 1000:.0f} ms CPU" for k, v in collections.items())
            print(f"[explain] garbage collections: {spent}", file=sys.stderr)
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
    args = [a for a in sys.argv[1:] if a != "--explain"]
    data_dir = Path(args[0])
    started = float(args[1]) if len(args) > 1 else _IMPORTED_AT
    figures = asyncio.run(probe(data_dir, started, explain_on="--explain" in sys.argv))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
