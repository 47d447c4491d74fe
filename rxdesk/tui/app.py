"""The rxdesk app: a section on each number key, live data, and the maintenance worker inside.

`RxdeskApp` takes a `Desk`, so tests run it on a fixed clock; `run_app` opens it on the
data dir of the settings. Screens reach the services through `rxdesk.tui.context` (the app,
typed) and go elsewhere by posting the messages of `rxdesk.tui.navigation`, handled here once.
Every binding of the app has an id (`section.overview` … `section.activity`, `help`, `quit`),
as do the appointment keys of every list and page (`appointment.cancel`, `.attendance`,
`.rebook`, `.patient`, `.doctor`), a detail page's `back` and the actions of the doctors',
secrets, types and webhooks screens (`secrets.reveal`, …): `set_keymap` remaps them by id.
"""

from __future__ import annotations

import gc
import importlib
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import get_current_worker

from rxdesk.config import Settings
from rxdesk.crashlog import log_crash
from rxdesk.domain.errors import RxdeskError, StoreError, UnreadableRecord
from rxdesk.domain.times import format_utc
from rxdesk.resources import stylesheet
from rxdesk.services import Desk
from rxdesk.tui import COLLECTOR_HELD_SECONDS
from rxdesk.tui.keys import ScreenKey, screen_keys
from rxdesk.tui.navigation import (
    OpenAppointment,
    OpenAway,
    OpenBooking,
    OpenDoctor,
    OpenPatient,
    OpenRebook,
    OpenSection,
    OpenWebhooks,
    Saved,
    StartAttendance,
    StartCancel,
    StartCancelSelection,
)
from rxdesk.tui.screens.base import DeskScreen
from rxdesk.tui.screens.overview import FirstRead, OverviewScreen
from rxdesk.tui.text import shown
from rxdesk.tui.textual_gaps import crash_report
from rxdesk.tui.work import call_service

if TYPE_CHECKING:
    from rxdesk.domain.models import Appointment
    from rxdesk.tui.modals.cancel import CancelModal


def section(module: str, name: str) -> Callable[[], Screen[Any]]:
    """A section's screen, imported when the agent first opens it: the app starts with the
    overview's code alone (the doctors' screen alone pulls in the phone number tables)."""

    def make() -> Screen[Any]:
        screen: Screen[Any] = getattr(importlib.import_module(f"rxdesk.tui.screens.{module}"), name)()
        return screen

    return make


@dataclass(frozen=True)
class Notice:
    """A notification as the agent was shown it (control characters already escaped)."""

    message: str
    title: str
    severity: SeverityLevel


# Notices the app remembers (`RxdeskApp.notices`): the last few, never a day's worth.
NOTICES_KEPT = 200


# What the app reads as it starts: the shared styles, the dialogs' (any screen opens one) and
# the first screen's. Every other screen names its own stylesheet (`CSS_PATH`), which Textual
# reads the first time that screen is shown: each stylesheet read is parsed again at every
# change of the app's CSS, and start-up makes three.
STARTING_STYLES = ("app", "modals", "overview")


def stylesheets() -> list[str | PurePath]:
    """app.tcss first, then the dialogs' and the overview's."""
    return [stylesheet(name) for name in STARTING_STYLES]


class RxdeskApp(App[int]):
    TITLE = "rxdesk"
    CSS_PATH = stylesheets()
    ENABLE_COMMAND_PALETTE = True
    # Screen classes by terminal width (styles/*.tcss): below 100 columns the narrow layout
    # (80x24 fully usable), from 120 the side panels beside their tables.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]  # 24 lines: dialogs drop their spacing

    MODES = {
        "overview": OverviewScreen,
        "patients": section("patients", "PatientsScreen"),
        "doctors": section("doctors", "DoctorsScreen"),
        "secrets": section("secrets", "SecretsScreen"),
        "types": section("types", "TypesScreen"),
        "webhooks": section("webhooks", "WebhooksScreen"),
        "attention": section("attention", "AttentionScreen"),
        "activity": section("activity", "ActivityScreen"),
    }
    DEFAULT_MODE = "overview"

    BINDINGS = [
        Binding("1", "section('overview')", "Overview", show=False, id="section.overview"),
        Binding("2", "section('patients')", "Patients", show=False, id="section.patients"),
        Binding("3", "section('doctors')", "Doctors", show=False, id="section.doctors"),
        Binding("4", "section('secrets')", "Secrets", show=False, id="section.secrets"),
        Binding("5", "section('types')", "Types & reminders", show=False, id="section.types"),
        Binding("6", "section('webhooks')", "Webhooks", show=False, id="section.webhooks"),
        Binding("7", "section('attention')", "Needs attention", show=False, id="section.attention"),
        Binding("8", "section('activity')", "Activity", show=False, id="section.activity"),
        Binding("question_mark,f1", "help", "Help", id="help"),
        Binding("q,ctrl+q", "quit", "Quit", id="quit"),  # ctrl+q shows where q is typed (a text field)
        # Moved at once, before the next key is handed on: otherwise the app hands keys typed
        # right after tab to the field tab is leaving, while tab makes its way up from it.
        # No description: Textual's own focus keys, not listed in help or the palette.
        Binding("tab", "focus_next", "", show=False, priority=True, id="focus.next"),
        Binding("shift+tab", "focus_previous", "", show=False, priority=True, id="focus.previous"),
    ]

    org_label: reactive[str] = reactive("rxdesk")
    maintenance: reactive[str] = reactive("")
    maintenance_failed: reactive[bool] = reactive(False)
    attention_count: reactive[int | None] = reactive(None)  # what section 7 lists (None: not known yet)

    def __init__(
        self,
        desk: Desk,
        *,
        worker: bool = True,
        poll_seconds: float = 2.0,
        tick_seconds: float = 60.0,
    ) -> None:
        super().__init__()
        self.desk = desk
        self.agent = desk.agent
        self.run_worker_inside = worker
        self.poll_seconds = poll_seconds
        self.tick_seconds = tick_seconds
        # Time changes what needs attention too (a hold about to lapse, a quiet worker): the
        # header's count and section 7 look again this often.
        self.attention_every = 15.0
        self.org_zone = "UTC"
        self.problem: str | None = None
        self.known_generation: int | None = None
        self.crashed: str | None = None  # the line for the shell after an internal error closed the app
        self._ticking = False
        self._frozen = False
        self._counted_once = False
        self.cancel_modal: CancelModal | None = None  # the one cancel dialog, reused (`dialogs.cancel_dialog`)
        # What the agent was told, newest last: what a notification said stays readable after
        # its toast is gone (tests read it too).
        self.notices: deque[Notice] = deque(maxlen=NOTICES_KEPT)
        self._stop_watching = threading.Event()
        now = desk.settings.now if desk.settings else None
        self.fixed_time_label = format_utc(now) if now else ""
        self.first_read: FirstRead | None = None  # the overview's first rows, taken by it once
        try:
            self._read_org()
            self.known_generation = desk.generation()
        except (StoreError, UnreadableRecord) as exc:  # every screen needs the organisation
            self.problem = str(exc)
        else:
            self.first_read = FirstRead(desk)

    def _read_org(self) -> None:
        org = self.desk.org_basics()
        self.org_label = shown(org.name)
        self.org_zone = org.timezone

    # Start-up, live data and the maintenance worker.

    def on_mount(self) -> None:
        self.set_timer(COLLECTOR_HELD_SECONDS, gc.enable, name="collector back")  # (`hold_collector`)
        if self.problem:
            from rxdesk.tui.screens.problem import ProblemScreen

            self.push_screen(ProblemScreen(self.problem))
            return
        if self.desk.live_changes:  # a server database announces each change: wait for it
            threading.Thread(target=self._watch_changes, name="rxdesk-watch", daemon=True).start()
        else:
            self.set_interval(self.poll_seconds, self._poll, name="poll")
        self.set_interval(self.attention_every, self._count_attention, name="attention")
        # The first count waits for the first rows (`first_rows_shown`).
        if self.run_worker_inside:
            self.set_timer(1.0 if self.tick_seconds == 60.0 else self.tick_seconds, self.run_tick, name="first tick")
        else:
            self.maintenance = "worker off"
            # No tick writes down what time decides, so no write tells the screens: look again
            # each tick period, so a lapsed hold or an ended appointment shows as it is.
            self.set_interval(self.tick_seconds, self._refresh_screens, name="time moves")

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Notifications carry names, reasons and refusals: shown as typed (control characters
        escaped) unless asked."""
        if not markup:
            message, title = shown(message), shown(title)
        self.notices.append(Notice(message, title, severity))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def _fatal_error(self) -> None:
        # Textual's own report shows every frame's locals, secrets among them.
        self.crashed = crash_report(self, self.desk.settings.data_dir)

    def action_help_quit(self) -> None:
        """ctrl+c (reflex from a shell) says how to quit, in words, not as markup."""
        self.notify("Press ctrl+q (or q outside a text field) to quit rxdesk", title="Do you want to quit?")

    def show_problem(self, message: str) -> None:
        """A data file cannot be read: say so on a screen instead of failing on every key."""
        from rxdesk.tui.screens.problem import ProblemScreen

        if self.problem is None:
            self.problem = message
            self.push_screen(ProblemScreen(message))

    def _poll(self) -> None:
        if self.problem is None:
            call_service(self, self.desk.generation, done=self._seen_generation, group="poll")

    def _watch_changes(self) -> None:
        """Wait for the database to announce a committed write (another agent, the worker, a
        script) and reload then: no polling. A thread of its own, not a worker (it never
        ends); it wakes each second to notice the app closing. A lost server is retried
        quietly: the next action says what is wrong."""
        while not self._stop_watching.is_set():
            known = self.known_generation if self.known_generation is not None else -1
            try:
                generation = self.desk.wait_for_change(known, 1.0)
            except RxdeskError:
                self._stop_watching.wait(min(self.poll_seconds, 5.0))
                continue
            if generation != self.known_generation and not self._stop_watching.is_set():
                try:
                    self.call_from_thread(self._seen_generation, generation)
                except RuntimeError:  # the app has closed
                    return

    def on_unmount(self) -> None:
        self._stop_watching.set()

    def _seen_generation(self, generation: int) -> None:
        if generation == self.known_generation:
            return
        self.known_generation = generation
        try:
            self._read_org()
        except RxdeskError:
            pass
        self._refresh_screens()
        self._count_attention()

    def _count_attention(self) -> None:
        """The header's count of what needs attention, looked at again in a worker."""
        # Section 7 counts for itself while it is on screen.
        if self.problem is None and getattr(self.screen, "SECTION", "") != "attention":
            desk = self.desk

            def count() -> int:  # the service is made here, in the worker: the first one loads the models
                return desk.attention.count()

            call_service(self, count, done=self._counted, group="attention-count")

    def first_rows_shown(self) -> None:
        """The overview's first rows are on screen: the header's count of what needs attention
        comes after them (it reads the holds and the queues in a thread that would share the
        interpreter with the first frame)."""
        if not self._counted_once:
            self._counted_once = True
            self._count_attention()

    def _counted(self, count: int) -> None:
        self.attention_count = count

    def _desk_screens(self) -> list[DeskScreen]:
        """Every desk screen the app holds: the stack in front and those of the other sections."""
        found: list[DeskScreen] = [s for s in self.screen_stack if isinstance(s, DeskScreen)]
        for mode in self.MODES:
            found += [s for s in self._stack_of(mode) if isinstance(s, DeskScreen) and s not in found]
        return found

    def _refresh_screens(self) -> None:
        if self.problem is not None or not self.is_running:
            return  # closing: the screens are being taken apart, a reload would find no table
        for screen in self._desk_screens():
            screen.data_changed()

    def _stack_of(self, mode: str) -> list[Screen[Any]]:
        """The screens of a section; none for a section not opened yet."""
        try:
            return self.get_screen_stack(mode)
        except KeyError:
            return []

    def keep_loaded(self) -> None:
        """Once, after start-up: take what the app holds for good (its modules, the overview,
        the first data) out of the garbage collector's full scans, which took 100-200 ms with
        a data set in memory. Never again: a screen frozen while open would stay in memory
        after it closes (frozen objects in a cycle are never collected), page by page, all
        day."""
        if self._frozen:
            return
        self._frozen = True
        gc.collect()
        gc.freeze()
        gc.enable()  # held since start-up (`rxdesk.tui.hold_collector`)

    def note_own_write(self, *, shown: bool = False) -> None:
        """Our own change: the screen in front has drawn it on its line at once and, once that
        frame is out, runs its query again, so a row leaves a list whose filter it no longer
        matches and the count follows (a cancelled row leaves "held, confirmed"); with `shown`
        it shows the outcome itself (what a run did) and is left as it is. Every other screen,
        under it or in another section, loads again when it is shown."""
        front = self.screen
        for screen in self._desk_screens():
            if screen is front and not shown:  # (`is_current` is also true of a screen behind one)
                # Not beside that frame's repaint: at a million appointments, the two at once
                # often cost a cancel a second frame.
                screen.call_after_refresh(screen.data_changed)
            elif screen is not front:
                screen.stale = True
        call_service(
            self, self.desk.generation, done=lambda g: setattr(self, "known_generation", g), group="poll"
        )

    def _schedule_tick(self) -> None:
        if self.tick_seconds == 60.0:
            now = self.desk.clock.now()  # on the minute, like the headless worker
            delay = 60.0 - (now.second + now.microsecond / 1e6) + 0.5
        else:
            delay = self.tick_seconds
        self.set_timer(delay, self.run_tick, name="tick")

    def run_tick(self) -> None:
        """One maintenance tick now, in a child process (what the minute timer calls); the
        next is scheduled once it is done. A tick still running is not doubled."""
        if self._ticking or self.problem is not None:
            self._schedule_tick()
            return
        self._ticking = True
        self.run_worker(self._tick_job, thread=True, group="maintenance", exit_on_error=False)

    def _tick_job(self) -> None:
        """One tick in a child process (rxdesk.worker.process): the app never shares its
        interpreter with the tick's parsing and sending, so the screen does not stutter."""
        from rxdesk.worker.process import tick_in_child

        worker = get_current_worker()
        try:
            if self.desk.is_empty():  # nothing to maintain yet; the worker refuses an empty data dir
                outcome = ("", False)
            else:
                done = tick_in_child(self.desk.settings, self.desk.clock, cancelled=lambda: worker.is_cancelled)
                outcome = (f"worker {done.text}" if done.ok else f"worker {self._clock_label()} failed: {done.text}",
                           not done.ok)
        except StoreError as exc:
            outcome = (f"worker {self._clock_label()} failed: {exc}", True)
        except Exception as exc:  # noqa: BLE001 - the app stays up; support gets the traceback
            log_crash(self.desk.settings.data_dir)
            outcome = (f"worker {self._clock_label()} failed ({type(exc).__name__}); see logs/errors.log", True)
        if not worker.is_cancelled:
            try:
                self.call_from_thread(self._ticked, *outcome)
            except RuntimeError:
                pass

    def _clock_label(self) -> str:
        """When a failed tick failed, by the service clock (RXDESK_NOW too), in UTC like a
        tick's own summary."""
        return f"{self.desk.clock.now():%H:%M}"

    def _ticked(self, summary: str, failed: bool) -> None:
        self._ticking = False
        if failed and not self.maintenance_failed:
            self.notify(summary, severity="warning", title="Maintenance")
        self.maintenance = shown(summary)
        self.maintenance_failed = failed
        self._count_attention()
        self._schedule_tick()

    # Navigation: the messages of rxdesk.tui.navigation, and the methods they call.

    def action_section(self, name: str) -> None:
        """A section key lands on that section's list: the pages opened over it are closed."""
        if self.problem is None and name in self.MODES:
            if self.current_mode != name:
                self.switch_mode(name)
            while len(self.screen_stack) > 1 and isinstance(self.screen, DeskScreen):
                self.pop_screen()

    def open_webhooks(self, tab: str) -> None:
        """Section 6 on one of its tabs (`tab-deliveries`, `tab-outbox`, ...)."""
        if self.problem is None:
            self.call_later(self._open_webhooks, tab)

    async def _open_webhooks(self, tab: str) -> None:
        await self.switch_mode("webhooks")
        from rxdesk.tui.screens.webhooks import WebhooksScreen

        if isinstance(self.screen, WebhooksScreen):
            self.screen.show_tab(tab)

    def on_open_appointment(self, message: OpenAppointment) -> None:
        self.open_appointment(message.uid)

    def on_open_patient(self, message: OpenPatient) -> None:
        self.open_patient(message.patient_id)

    def on_open_doctor(self, message: OpenDoctor) -> None:
        self.open_doctor(message.doctor_id)

    def on_open_rebook(self, message: OpenRebook) -> None:
        self.open_rebook(message.uid)

    def on_open_booking(self, message: OpenBooking) -> None:
        self.open_booking(message.patient_id, message.patient_name)

    def on_start_cancel(self, message: StartCancel) -> None:
        self.start_cancel(message.uid, on_done=message.on_saved)

    def on_start_attendance(self, message: StartAttendance) -> None:
        self.start_attendance(message.uid, on_done=message.on_saved)

    def on_start_cancel_selection(self, message: StartCancelSelection) -> None:
        self.start_cancel_selection(message.uids, on_done=message.on_saved)

    def on_open_away(self, message: OpenAway) -> None:
        self.open_away(message.doctor_id, message.doctor_name)

    def on_open_webhooks(self, message: OpenWebhooks) -> None:
        self.open_webhooks(message.tab)

    def on_open_section(self, message: OpenSection) -> None:
        self.action_section(message.name)

    def open_appointment(self, uid: str) -> None:
        from rxdesk.tui.screens.appointment import AppointmentScreen

        self.push_screen(AppointmentScreen(uid))

    def open_patient(self, patient_id: str) -> None:
        from rxdesk.tui.screens.patients import PatientDetailScreen

        self.push_screen(PatientDetailScreen(patient_id))

    def open_doctor(self, doctor_id: str) -> None:
        from rxdesk.tui.screens.doctors import DoctorDetailScreen

        self.push_screen(DoctorDetailScreen(doctor_id))

    def open_away(self, doctor_id: str, doctor_name: str = "") -> None:
        from rxdesk.tui.screens.away import AwayScreen

        self.push_screen(AwayScreen(doctor_id, doctor_name))

    def open_booking(self, patient_id: str, patient_name: str = "") -> None:
        from rxdesk.tui.screens.book import BookScreen

        self.push_screen(BookScreen(patient_id, patient_name))

    def open_rebook(self, uid: str) -> None:
        from rxdesk.tui.screens.rebook import RebookScreen

        self.push_screen(RebookScreen(uid))

    def start_cancel(self, uid: str, *, on_done: Saved | None = None) -> None:
        """`c`: explain why not, or ask for the reason and cancel (`tui.dialogs`)."""
        from rxdesk.tui import dialogs

        dialogs.start_cancel(self, uid, on_done=on_done)

    def start_cancel_selection(self, uids: list[str], *,
                               on_done: Callable[[list[Appointment]], Any] | None = None) -> None:
        """`c` with rows selected: one reason, one write for them all (`tui.dialogs`)."""
        from rxdesk.tui import dialogs

        dialogs.start_cancel_selection(self, uids, on_done=on_done)

    def start_attendance(self, uid: str, *, on_done: Saved | None = None) -> None:
        """`n`: explain why not, or ask no_show/completed and the reason (`tui.dialogs`)."""
        from rxdesk.tui import dialogs

        dialogs.start_attendance(self, uid, on_done=on_done)

    # Help and the command palette list the keys of the screen the agent is on.

    def screen_keys(self, screen: Screen[Any]) -> list[ScreenKey]:
        return screen_keys(self, screen)

    def action_help(self) -> None:
        from rxdesk.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            rows = [(k.key, k.description) for k in self.screen_keys(self.screen)]
            self.push_screen(HelpScreen(rows, type(self.screen).__name__.removesuffix("Screen")))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        ours = self.screen_keys(screen)
        for k in ours:
            yield SystemCommand(k.description, f"key {k.key}", partial(self.call_later, k.node.run_action, k.action))
        # Textual's own commands, but none we list already under its name (Quit).
        titles = {k.description.casefold() for k in ours}
        yield from (command for command in super().get_system_commands(screen)
                    if command.title.casefold() not in titles)


def run_app(settings: Settings, *, worker: bool = True) -> int:
    """Open the app on the settings' data dir; returns the exit code."""
    desk = Desk.open(settings)
    app = RxdeskApp(desk, worker=worker)
    try:
        app.run()
    finally:
        desk.close()
    if app.crashed:
        print(app.crashed, file=sys.stderr)
    return app.return_code or 0
