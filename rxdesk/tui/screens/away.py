"""A doctor away, from the doctor's page: the range and the reason, the plan as a table, confirm.

Made for the call at 7:40: the range starts as "now" to the end of today and rebooking is on,
so the agent types the reason and sees what will happen to every patient before anything
does; `enter` on the reason (or ctrl+s anywhere) asks once and carries the plan out in one
write. The plan follows every keystroke (recomputed in a worker); a run carries out the plan
shown or nothing: if something changed in between, nothing is done, the table shows the plan
now and the agent is told which patients it treats differently (confirm again to carry it out).
"""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widgets import Checkbox, DataTable, Input, Label, Static
from textual.worker import Worker

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.times import format_local
from rxdesk.resources import stylesheet
from rxdesk.services.away import AwayItem, AwayPlan, AwayResult, PlanChanged
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.screens.base import DetailScreen
from rxdesk.tui.text import shown
from rxdesk.tui.widgets.checkbox import DeskCheckbox
from rxdesk.tui.widgets.fields import SuggestingInput
from rxdesk.tui.widgets.tables import DeskTable
from rxdesk.tui.work import call_service

COMMON_REASONS = (
    "Doctor called in sick",
    "Doctor unavailable (emergency)",
    "Doctor on leave",
    "Technical problem on the doctor's side",
)
# Typing moves the plan after this pause, not on every key.
PLAN_DELAY = 0.25
# What a plan is asked with: from, to, the reason and whether to rebook, as the fields read.
Fields = tuple[str, str, str, bool]


class AwayScreen(DetailScreen):
    CSS_PATH = stylesheet("away")

    SECTION = "doctors"
    TITLE_TEXT = "Doctor away"

    BINDINGS = [
        Binding("ctrl+s", "carry_out", "Carry out", id="away.carry_out"),
        Binding("ctrl+r", "reload", "Recompute", show=False, id="screen.reload"),
    ]

    def __init__(self, doctor_id: str, doctor_name: str = "") -> None:
        super().__init__()
        self.doctor_id = doctor_id
        self.doctor_name = doctor_name or doctor_id
        self.plan: AwayPlan | None = None
        self.problem: str | None = "type a reason"
        self.busy = False
        self.plans = 0  # plans shown (tests wait on it)
        self.runs = 0  # runs started: a plan asked for before one is not shown after it
        self._timer: Timer | None = None
        self._worker: Worker[None] | None = None
        self._asked: Fields | None = None  # the fields of the last plan asked for
        self._shown_for: Fields | None = None  # the fields of what the table shows
        self._carry_out_next = False  # enter came before the plan of the fields: confirm that one
        self._ran_for: Fields | None = None  # the fields of the last run confirmed
        self.outcome_shown = False  # the table shows what a run did, not a plan
        self.shown: dict[str, AwayItem] = {}  # the table's rows (a plan, or what a run did)
        self.shown_zone = "UTC"

    def compose_body(self) -> ComposeResult:
        yield Static(shown(f"{self.doctor_name}: every held or confirmed appointment starting in the range is "
                           "moved or cancelled"), id="away-title", markup=False)
        with Horizontal(id="away-range"):
            yield Label("From", classes="away-label")
            yield Input("now", id="away-from", classes="away-time", compact=True)
            yield Label("To", classes="away-label")
            yield Input("today", id="away-to", classes="away-time", compact=True)
            yield DeskCheckbox("Rebook where the type allows", True, id="away-rebook", compact=True)
        with Horizontal(id="away-reason-row"):
            yield Label("Reason", classes="away-label")
            yield SuggestingInput(placeholder="why (required; on every cancellation)", id="away-reason", max_length=500,
                        suggester=SuggestFromList(COMMON_REASONS, case_sensitive=False), compact=True)
        yield Static("", id="away-summary", markup=False)
        yield DeskTable(id="away-plan")
        yield Static("", id="away-detail", markup=False)
        yield Static("enter carry out · tab next field · times: now, today, 14:00, 2026-11-24, +2d",
                     id="away-hint", classes="dialog-hint")

    def on_mount(self) -> None:
        table = self.query_one(DeskTable)
        # (key, label, narrowest): at 80 columns the why is cut first, then the outcome (both in
        # full under the table), never the start.
        # The doctor's time (of a move to a doctor abroad) gives way first: it is in the line below.
        for key, label, least, priority in (("start", "Start", None, 0), ("patient", "Patient", 12, 1),
                                            ("outcome", "Moves to / cancelled", 16, 2), ("why", "Why", 10, 3),
                                            ("theirs", "Doctor's time", 20, 4)):
            table.add_column(label, key=key, min_width=least, priority=priority)
        self.query_one("#away-reason", Input).focus()
        self.reload()

    # -- the plan, as the fields change ---------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._schedule()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._schedule()

    def _schedule(self) -> None:
        self._stop_timer()
        # The fields' first values arrive as changes too, after the plan they already have.
        if self._request() != self._asked:
            self._timer = self.set_timer(PLAN_DELAY, self.reload)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    @property
    def planning(self) -> bool:
        """A change still waits for its plan (the pause after typing, or the plan's worker)."""
        worker = self._worker
        return self._timer is not None or (worker is not None and not worker.is_finished)

    def _request(self) -> Fields:
        return (self.query_one("#away-from", Input).value, self.query_one("#away-to", Input).value,
                self.query_one("#away-reason", Input).value, self.query_one("#away-rebook", Checkbox).value)

    def reload(self) -> None:
        self._stop_timer()
        if self.busy:
            return
        desk = self.desk
        self._asked = start_text, end_text, reason, rebook = self._request()
        doctor_id = self.doctor_id

        def compute() -> AwayPlan:
            start, end = desk.away.range(start_text, end_text)
            # The plan does not depend on the reason: show it while the reason is still empty.
            plan: AwayPlan = desk.away.plan(doctor_id, start, end, reason.strip() or "(reason)", rebook=rebook)
            return plan

        runs, asked = self.runs, self._asked

        def show(plan: AwayPlan) -> None:
            if self.runs == runs:
                self._show(plan, asked)

        def unplannable(exc: RxdeskError) -> None:
            if self.runs == runs:
                self._unplannable(exc, asked)

        self._worker = call_service(self, compute, done=show, failed=unplannable, group="away-plan")

    def action_reload(self) -> None:
        self.reload()

    def _unplannable(self, exc: RxdeskError, fields: Fields) -> None:
        self._shown_for, self.outcome_shown = fields, False
        self.plan = None
        self.problem = str(exc)
        self.query_one("#away-summary", Static).update(shown(f"No plan: {exc}"))
        self.query_one(DeskTable).clear()
        self.shown = {}
        self._describe(None)
        self._carry_out_if_waiting()

    def _show(self, plan: AwayPlan, fields: Fields) -> None:
        self._shown_for, self.outcome_shown = fields, False
        self.plans += 1
        self.plan = plan
        self.problem = None
        reason_typed = bool(self.query_one("#away-reason", Input).value.strip())
        self.query_one("#away-summary", Static).update(
            f"{len(plan.items)} appointment{'' if len(plan.items) == 1 else 's'}: {plan.summary()}"
            + ("" if reason_typed or not plan.items else " · type a reason to carry it out")
            + "\n" + _ranges(plan))
        self._fill(plan)
        self._carry_out_if_waiting()

    def _fill(self, plan: AwayPlan) -> None:
        table = self.query_one(DeskTable)
        keep = table.selected_key
        table.clear()
        tz = plan.zone
        for item in plan.items:
            outcome = item.outcome(tz)
            if item.new_uid:
                outcome = f"{outcome} · {item.new_uid}"
            why = item.why or ("" if plan.rebook else "not rebooked")
            table.add_row(format_local(item.appointment.starts_at, tz), item.patient_name, outcome, why,
                          item.doctors_time(tz, with_zone=False), key=item.uid)
        self.shown = {item.uid: item for item in plan.items}
        self.shown_zone = tz
        table.select_key(keep)
        self._describe(table.selected_key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._describe(event.row_key.value)

    def _describe(self, uid: str | None) -> None:
        """The highlighted row in full under the table: at 80 columns the table cuts the
        outcome and the why, and the why is what the agent tells the patient."""
        item = self.shown.get(uid or "")
        text = ""
        if item is not None:
            start = format_local(item.appointment.starts_at, self.shown_zone)
            was = f"{item.patient_name} · {item.type_name} · {start}"
            if item.action == "move":
                theirs = item.doctors_time(self.shown_zone)
                now = (f"moves to {item.outcome(self.shown_zone)}" + (f" · doctor's time {theirs}" if theirs else "")
                       + (f" as {item.new_uid}" if item.new_uid else ""))
            else:
                now = "cancelled"
            why = item.why or ("not rebooked" if item.action == "cancel" else "")
            text = f"{was}\n→ {now}" + (f" ({why})" if why else "")
        self.query_one("#away-detail", Static).update(shown(text))

    # -- carrying it out ------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "away-reason":
            self.action_carry_out()
        else:
            self.focus_next()

    def _current(self) -> bool:
        """The table shows the plan of the fields as they read, and no other is on its way."""
        return self._timer is None and self._asked == self._shown_for == self._request()

    def _carry_out_if_waiting(self) -> None:
        if self._carry_out_next and self._current():
            self._carry_out_next = False
            if self.app.screen is self:  # not over a section, a page or a dialog the agent went to meanwhile
                self.action_carry_out()

    def on_screen_suspend(self) -> None:
        self._carry_out_next = False  # the agent left before the plan came: nothing to confirm

    def action_carry_out(self) -> None:
        if self.busy:
            return
        if not self._current():
            # Enter right after typing: what is confirmed is the plan of the fields shown, so
            # plan them now (not after the pause) and confirm that plan when it is shown.
            self._carry_out_next = True
            if self._timer is not None or self._asked != self._request():
                self.reload()
            return
        self._carry_out_next = False
        plan = self.plan
        reason = self.query_one("#away-reason", Input).value.strip()
        if plan is None:
            self.app.notify(f"Nothing to carry out: {self.problem}", severity="warning", title="No plan")
            return
        if not reason:
            self.query_one("#away-reason", Input).focus()
            self.app.notify("A reason is required: it goes on every cancellation.", severity="warning",
                            title="No reason")
            return
        if not plan.items:
            self.app.notify(plan.summary(), title="Nothing to do")
            return
        verb = []
        if plan.moved:
            verb.append(f"move {plan.moved}")
        if plan.cancelled:
            verb.append(f"cancel {plan.cancelled}")
        message = (f"{' and '.join(verb).capitalize()} of {self.doctor_name}'s appointments?\n"
                   f"{_ranges(plan)}\nReason: {reason}")

        fields = self._request()

        def answered(yes: bool | None) -> None:
            if yes:
                self._run(plan, reason, fields)

        self.app.push_screen(ConfirmModal("Doctor away", message, confirm_label="Carry out"), answered)

    def _run(self, seen: AwayPlan, reason: str, fields: Fields) -> None:
        desk = self.desk
        self.busy = True
        self._ran_for = fields
        self.runs += 1
        self._stop_timer()  # the plan of the last keystroke: the run plans for itself
        doctor_id = self.doctor_id

        def run() -> AwayResult:
            result: AwayResult = desk.away.run(doctor_id, seen.starts_from, seen.starts_before, reason,
                                               rebook=seen.rebook, agent=desk.agent, expected=seen)
            return result

        call_service(self, run, done=self._done, failed=self._refused, group="away-run")

    def _refused(self, exc: RxdeskError) -> None:
        self.busy = False
        if isinstance(exc, PlanChanged):
            if self._request() == self._ran_for:
                self._asked = self._ran_for
                self._show(exc.plan, self._ran_for)  # the plan now: what a confirmation carries out next
            else:
                self.reload()  # the fields changed during the run: the plan of what they read now
            lines = "\n".join(exc.changes[:5]) + ("\n…" if len(exc.changes) > 5 else "")
            self.app.notify(f"Nothing was done: the plan changed since it was shown.\n{lines}\n"
                            "The table shows the plan now; carry it out again if it suits.",
                            severity="warning", title="Plan changed", timeout=20)
            return
        self.app.notify(str(exc), severity="error", title="Nothing changed")
        self.reload()

    def _done(self, result: AwayResult) -> None:
        self.busy = False
        front = self.app.screen is self
        # This table shows what was done, not a new plan; the screen in front, if the agent went
        # to another while it ran, is read again like after any write of theirs.
        self.desk_app.note_own_write(shown=front)
        self.stale = False
        plan = result.plan
        self.plan = None
        # What was done stays in the table (enter says so) until a field changes.
        self._asked = self._shown_for = self._ran_for
        self.problem = "carried out; change the range or the reason to plan again"
        self.outcome_shown = True
        self._fill(plan)
        self.query_one("#away-summary", Static).update(f"Done at {format_local(self._now(), plan.zone)}: "
                                                      f"{plan.summary()} · plan {plan.plan_id}\n{_ranges(plan)}")
        self.app.notify(f"{self.doctor_name}: {plan.summary()}", title="Doctor away")
        self.query_one(DeskTable).focus()
        if self._request() != self._ran_for:  # typed while it ran
            self._schedule()

    def data_changed(self) -> None:
        """Another process wrote: a plan is made again (what enter would carry out must be
        what the store holds now); what a run did stays, new uids and all, until a field changes."""
        if not self.outcome_shown:
            super().data_changed()

    def _now(self) -> datetime:
        now: datetime = self.desk.clock.now()
        return now


def _ranges(plan: AwayPlan) -> str:
    """The range as it was read (the organisation's zone, as everywhere), and in the doctor's
    own zone when that is another."""
    text = f"Range, read in the organisation's zone: {plan.range_text()}"
    theirs = plan.doctors_range_text()
    return f"{text}\n{plan.doctor.name}'s own time: {theirs}" if theirs else text
