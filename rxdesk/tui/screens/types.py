"""Section 5: appointment types (read-only: the platform team provisions them) and their
reminder rules, which agents add, edit and remove here."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.limits import format_minutes
from rxdesk.domain.models import AppointmentType, ReminderRule
from rxdesk.resources import stylesheet
from rxdesk.services.reminders import RuleRow, WindowCount
from rxdesk.tui.modals.confirm import ConfirmModal
from rxdesk.tui.modals.rule import RuleModal
from rxdesk.tui.screens.base import DeskScreen
from rxdesk.tui.widgets.tables import DeskTable
from rxdesk.tui.work import call_service


class TypesScreen(DeskScreen):
    CSS_PATH = stylesheet("types")

    SECTION = "types"

    BINDINGS = [
        Binding("a", "add_rule", "Add rule", id="types.add_rule"),
        Binding("e", "edit_rule", "Edit rule", id="types.edit_rule"),
        Binding("x", "remove_rule", "Remove rule", id="types.remove_rule"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.types: dict[str, AppointmentType] = {}
        self.loads = 0

    def compose_body(self) -> ComposeResult:
        yield Static("Appointment types (set by provisioning; read-only here)", classes="section-title")
        yield DeskTable(id="types")
        yield Static("", id="rules-title", classes="section-title", markup=False)
        yield DeskTable(id="rules")
        yield Static("a add · e edit · x remove a rule of the selected type · tab: types ⇄ rules",
                     id="types-hint", classes="dialog-hint")

    @property
    def type_table(self) -> DeskTable:
        return self.query_one("#types", DeskTable)

    @property
    def rule_table(self) -> DeskTable:
        return self.query_one("#rules", DeskTable)

    def on_mount(self) -> None:
        # The key is in the rules title below: without its own column the table fits 100 columns.
        # (key, label, priority, narrowest): the notices are what agents look up here.
        for key, label, priority, least in (("name", "Type", 0, 12), ("duration", "Duration", 1, 6),
                                            ("hold", "Hold TTL", 5, 6), ("cancel", "Cancel notice", 2, 7),
                                            ("booking", "Booking notice", 3, 7), ("mode", "Rebooking", 4, 9),
                                            ("rules", "Rules", 6, None)):
            self.type_table.add_column(label, key=key, priority=priority, min_width=least)
        # A rule is told by its recipient and span (one of each per type): its id is for the command line.
        for key, label in (("recipient", "Recipient"), ("before", "Before the start"),
                           ("email", "Email"), ("sms", "SMS")):
            self.rule_table.add_column(label, key=key)
        self.type_table.focus()
        self.reload()

    def reload(self) -> None:
        call_service(self, self.desk.types.list_types, done=self._show, failed=self._refused, group="types")

    def _refused(self, exc: RxdeskError) -> None:
        self.app.notify(str(exc), severity="error", title="Refused")

    def _show(self, types: list[AppointmentType]) -> None:
        self.loads += 1
        self.types = {t.key: t for t in types}
        table = self.type_table
        keep = table.selected_key
        table.clear()
        for t in types:
            table.add_row(t.name, format_minutes(t.duration_minutes), format_minutes(t.hold_ttl_minutes),
                          format_minutes(t.cancellation_notice_minutes), format_minutes(t.booking_notice_minutes),
                          t.rebooking_mode.value.replace("_", " "), str(len(t.reminders)), key=t.key)
        table.select_key(keep)
        self._show_rules()

    def _show_rules(self) -> None:
        appt_type = self.types.get(self.type_table.selected_key or "")
        table = self.rule_table
        keep = table.selected_key
        table.clear()
        if appt_type is None:
            self.query_one("#rules-title", Static).update("Reminder rules")
            return
        self.query_one("#rules-title", Static).update(f"Reminder rules of {appt_type.name} ({appt_type.key})")
        for r in sorted(appt_type.reminders, key=lambda r: (r.recipient.value, -r.minutes_before, r.id)):
            table.add_row(r.recipient.value, format_minutes(r.minutes_before), "yes" if r.send_email else "no",
                          "yes" if r.send_sms else "no", key=r.id)
        table.select_key(keep)

    def on_data_table_row_highlighted(self, event: DeskTable.RowHighlighted) -> None:
        if event.data_table.id == "types":
            self._show_rules()

    def _selected_type(self) -> AppointmentType | None:
        return self.types.get(self.type_table.selected_key or "")

    def _saved(self, result: object) -> None:
        if result is None:
            return
        self.desk_app.note_own_write()
        if isinstance(result, RuleRow):
            # A saved rule says what it did about the appointments already inside its window,
            # in the dialog's words.
            note = result.window_note(remind_hint='"Also remind now" was not ticked')
            text = f"Reminder rule saved: {_rule_words(result.rule)}"
            self.app.notify(f"{text}. {note[:1].upper()}{note[1:]}" if note else text, title="Saved", markup=False)
        elif isinstance(result, ReminderRule):
            self.app.notify(f"Reminder rule removed: {_rule_words(result)}", title="Saved", markup=False)
        self.reload()

    def action_add_rule(self) -> None:
        appt_type = self._selected_type()
        if appt_type is None:
            return
        desk = self.desk

        def save(recipient: str, minutes: str, email: bool, sms: bool, also_now: bool) -> object:
            return desk.reminders.add_rule(appt_type.key, recipient, minutes, email=email, sms=sms, agent=desk.agent,
                                           also_now=also_now)

        def count(recipient: str, minutes: str) -> WindowCount | None:
            return desk.reminders.inside_window(appt_type.key, recipient, minutes)

        self.app.push_screen(RuleModal(f"New reminder rule for {appt_type.name}", save, count=count), self._saved)

    def action_edit_rule(self) -> None:
        appt_type = self._selected_type()
        rule_id = self.rule_table.selected_key
        rule = next((r for r in appt_type.reminders if r.id == rule_id), None) if appt_type else None
        if appt_type is None or rule is None:
            self.app.notify("Select a reminder rule first (tab to the rules table)", severity="warning")
            return
        desk = self.desk

        def save(recipient: str, minutes: str, email: bool, sms: bool, also_now: bool) -> object:
            return desk.reminders.edit_rule(appt_type.key, rule.id, recipient=recipient, minutes_before=minutes,
                                            email=email, sms=sms, agent=desk.agent, also_now=also_now)

        def count(recipient: str, minutes: str) -> WindowCount | None:
            return desk.reminders.inside_window(appt_type.key, recipient, minutes, rule.id)

        self.app.push_screen(RuleModal(f"Edit the rule {_rule_words(rule)} of {appt_type.name}", save, rule,
                                       count=count), self._saved)

    def action_remove_rule(self) -> None:
        appt_type = self._selected_type()
        rule_id = self.rule_table.selected_key
        rule = next((r for r in appt_type.reminders if r.id == rule_id), None) if appt_type else None
        if appt_type is None or rule is None or not rule_id:
            self.app.notify("Select a reminder rule first (tab to the rules table)", severity="warning")
            return
        desk = self.desk

        def answered(yes: bool | None) -> None:
            if yes:
                call_service(self, lambda: desk.reminders.remove_rule(appt_type.key, rule_id, agent=desk.agent),
                             done=self._saved, failed=self._refused, group="rule-remove")

        question = f"Remove the rule {_rule_words(rule)} from {appt_type.name}?"
        self.app.push_screen(ConfirmModal("Remove reminder rule", question,
                                          confirm_label="Remove"), answered)


def _rule_words(rule: ReminderRule) -> str:
    """A rule as the agent tells it apart: recipient, span and channels."""
    channels = " and ".join(c for c, on in (("email", rule.send_email), ("SMS", rule.send_sms)) if on) or "no message"
    return f"{rule.recipient.value}, {format_minutes(rule.minutes_before)} before, {channels}"
