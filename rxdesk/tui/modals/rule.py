"""Adding or editing a reminder rule: recipient, minutes before, email and SMS toggles, and
whether to remind now the appointments already inside the rule's window (off by default: a
rule reminds the moments still to come). Before saving, the dialog says how many confirmed
appointments are inside that window and what the "Also remind now" box would do with them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.limits import MINUTES_BEFORE, format_minutes, parse_minutes, within
from rxdesk.domain.models import ReminderRule
from rxdesk.resources import stylesheet
from rxdesk.services.reminders import WindowCount
from rxdesk.tui.text import shown
from rxdesk.tui.widgets.checkbox import DeskCheckbox
from rxdesk.tui.widgets.footer import DeskFooter
from rxdesk.tui.work import call_service

RECIPIENTS = [("patient", "patient"), ("doctor", "doctor"), ("admin (every admin)", "admin")]


class RuleModal(ModalScreen[Any]):
    """`save(recipient, minutes, email, sms, also_now)` runs the service call; the dialog stays
    open with the reason when it is refused, until the field is put right. `enter` in the
    minutes field saves; on the recipient list it opens and chooses, never saves."""

    CSS_PATH = stylesheet("types")

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close, save nothing", id="rule.close"),
        Binding("ctrl+s", "save", "Save", id="rule.save"),
    ]

    def __init__(self, title: str, save: Callable[[str, str, bool, bool, bool], Any],
                 rule: ReminderRule | None = None,
                 count: Callable[[str, str], WindowCount | None] | None = None) -> None:
        """`count(recipient, minutes)`: the confirmed appointments already inside the window of
        the rule as it would be saved (None: saving would not start it afresh)."""
        super().__init__()
        self.title_text = title
        self.save = save
        self.rule = rule
        self.count = count
        self.inside: WindowCount | None = None  # the count for the minutes as typed, once `counted`
        self.counted = False
        self.asked: tuple[str, str] | None = None  # (minutes, recipient) of the last count asked for

    def compose(self) -> ComposeResult:
        rule = self.rule
        with Vertical(classes="dialog", id="rule-dialog"):
            yield Label(shown(self.title_text), classes="dialog-title", markup=False)
            yield Label("Recipient")
            yield Select(RECIPIENTS, value=rule.recipient.value if rule else "patient", allow_blank=False,
                         id="rule-recipient")
            yield Label("Before the start: minutes (90) or 2h, 1d, 1d 2h; up to 30 d")
            yield Input(format_minutes(rule.minutes_before) if rule else "", placeholder="e.g. 1d for a day before",
                        id="rule-minutes")
            with Horizontal(id="rule-flags"):
                yield DeskCheckbox("Email", rule.send_email if rule else False, id="rule-email")
                yield DeskCheckbox("SMS", rule.send_sms if rule else False, id="rule-sms")
                yield DeskCheckbox("Also remind now", False, id="rule-also-now")
            yield Static("", id="rule-window", markup=False)
            yield Static("", id="rule-error", classes="field-error", markup=False)
            yield Static("enter in the minutes or ctrl+s saves · escape cancels", classes="dialog-hint")
        yield DeskFooter()  # the keys of this dialog, not of the screen behind it

    def on_mount(self) -> None:
        self.query_one("#rule-minutes", Input).focus()
        self._ask_window()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_input_changed(self, event: Input.Changed) -> None:
        """A refusal stays only while the minutes are still wrong."""
        event.stop()
        self._ask_window_again()
        try:
            within(parse_minutes(event.value, what="minutes before"), MINUTES_BEFORE, what="minutes before")
        except RxdeskError:
            return
        self._clear_error()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._clear_error()  # another recipient: an "already has rule" refusal no longer holds
        self._ask_window_again()

    def on_checkbox_changed(self, event: DeskCheckbox.Changed) -> None:
        event.stop()
        if event.checkbox.id == "rule-also-now":
            self._show_window()

    def _window_asked(self) -> tuple[str, str]:
        return self.query_one("#rule-minutes", Input).value, str(self.query_one("#rule-recipient", Select).value)

    def _ask_window_again(self) -> None:
        # The fields' first values (a rule edited) arrive as changes too, after on_mount asked.
        if self._window_asked() != self.asked:
            self._ask_window()

    def _ask_window(self) -> None:
        """Count, for the minutes as typed, the appointments already inside the window."""
        self.asked = minutes, recipient = self._window_asked()
        line = self.query_one("#rule-window", Static)
        self.counted = False
        try:
            within(parse_minutes(minutes, what="minutes before"), MINUTES_BEFORE, what="minutes before")
        except RxdeskError:
            line.update("Type the minutes to see how many confirmed appointments are already inside the window")
            return
        line.update("")
        if self.count is None:
            return
        count = self.count

        def counted(found: WindowCount | None) -> None:
            if self.asked != (minutes, recipient):  # the minutes were changed (or made wrong) since
                return
            self.inside, self.counted = found, True
            self._show_window()

        call_service(self, lambda: count(recipient, minutes), done=counted, failed=lambda _exc: None,
                     group="rule-window")

    def _show_window(self) -> None:
        if not self.counted:
            return
        ticked = self.query_one("#rule-also-now", DeskCheckbox).value
        self.query_one("#rule-window", Static).update(window_text(self.inside, ticked))

    def _clear_error(self) -> None:
        self.query_one("#rule-error", Static).update("")
        self.query_one("#rule-minutes", Input).remove_class("-invalid")

    def action_save(self) -> None:
        recipient = str(self.query_one("#rule-recipient", Select).value)
        minutes = self.query_one("#rule-minutes", Input).value
        email = self.query_one("#rule-email", DeskCheckbox).value
        sms = self.query_one("#rule-sms", DeskCheckbox).value
        also_now = self.query_one("#rule-also-now", DeskCheckbox).value
        if not minutes.strip():
            self.query_one("#rule-error", Static).update(
                "Nothing saved: type how long before the start to remind, e.g. 90, 2h or 1d")
            self.query_one("#rule-minutes", Input).add_class("-invalid")
            return

        def refused(exc: RxdeskError) -> None:
            self.query_one("#rule-error", Static).update(shown(str(exc)))
            self.query_one("#rule-minutes", Input).add_class("-invalid")

        call_service(self, lambda: self.save(recipient, minutes, email, sms, also_now), done=self.dismiss,
                     failed=refused,
                     group="rule-save")


def window_text(found: WindowCount | None, ticked: bool) -> str:
    """What saving would do about the appointments already inside the window, and what the
    "Also remind now" box changes."""
    box = '"Also remind now"'
    if found is None:
        return f"This change keeps the rule's moments: {box} does nothing"
    if found.inside == 0:
        return f"No confirmed appointment is inside this window: {box} does nothing"
    n, remindable = found.inside, found.remindable
    some = f"{n} confirmed appointment{'s are' if n != 1 else ' is'} already inside this window"
    booked = n - remindable
    late = (f"; {booked} of them booked inside it, which no rule reminds" if booked and remindable
            else "")
    if not remindable:
        return f"{some}: booked inside it, which no rule reminds; {box} does nothing"
    them = f"{remindable} of them" if booked else ("them" if n != 1 else "it")
    if ticked:
        return f"{some}: saving reminds {them} now ({box} is ticked){late}"
    return f"{some}: not reminded unless you tick {box}{late}"
