"""Reusable dialogs: yes/no, and "type this to go on" prompts."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from rxdesk.tui.text import shown
from rxdesk.tui.widgets.footer import DeskFooter


class ConfirmModal(ModalScreen[bool]):
    """Ask before doing something; `y`/`enter` confirm, `n`/`escape` decline."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, message: str, *, confirm_label: str = "Yes") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(shown(self.title_text), classes="dialog-title", markup=False)
            yield Static(shown(self.message), classes="dialog-body", markup=False)
            yield Button(f"{self.confirm_label} (y)", id="yes", variant="primary")
            yield Button("No (n)", id="no")
        yield DeskFooter()  # the keys of this dialog, not of the screen behind it

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class TextPromptModal(ModalScreen[str | None]):
    """Ask for a line of text. `check` returns an error message to keep the dialog open.

    Used where a slip would hurt, e.g. typing a key_id before revoking it.
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Back out, change nothing", id="confirm.close")]

    def __init__(
        self,
        title: str,
        message: str,
        *,
        placeholder: str = "",
        check: Callable[[str], str | None] | None = None,
        password: bool = False,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.placeholder = placeholder
        self.check = check
        self.password = password

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(shown(self.title_text), classes="dialog-title", markup=False)
            yield Static(shown(self.message), classes="dialog-body", markup=False)
            yield Input(placeholder=self.placeholder, password=self.password, id="answer")
            yield Static("", id="prompt-error", classes="field-error", markup=False)
            yield Static("enter confirm · escape cancel", classes="dialog-hint")
        yield DeskFooter()  # the keys of this dialog, not of the screen behind it

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value
        problem = self.check(value) if self.check else None
        if problem:
            self.query_one("#prompt-error", Static).update(shown(problem))
            event.input.add_class("-invalid")
            return
        self.dismiss(value)
