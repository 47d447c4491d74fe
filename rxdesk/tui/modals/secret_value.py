"""The one place a booking secret's value appears in the app: shown, copied, then forgotten."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from rxdesk.resources import stylesheet
from rxdesk.tui.textual_gaps import forget_clipboard
from rxdesk.tui.widgets.footer import DeskFooter

STORE_IT_NOW = (
    "Store it now, in the partner's token minter: it is not shown again unless revealed, "
    "and every reveal is audited. Tokens use it as the HS256 key, exactly as shown."
)
REVEALED = "This reveal is in the audit log under your name. Close this window when you are done."


class SecretValueModal(ModalScreen[None]):
    """A secret's value with copy to the clipboard. The value lives only as long as this
    dialog: closing it drops the text and the app's own copy of the clipboard."""

    CSS_PATH = stylesheet("secrets")

    BINDINGS = [
        Binding("c", "copy", "Copy", id="secret_value.copy"),
        Binding("escape,enter", "close", "Close", id="secret_value.close"),
    ]

    def __init__(self, key_id: str, label: str, value: str, note: str) -> None:
        super().__init__()
        self.key_id = key_id
        self.label = label
        self.value = value
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="secret-value-dialog"):
            title = f"Booking secret {self.key_id}" + (f" · {self.label}" if self.label else "")
            yield Label(title, classes="dialog-title", markup=False)
            yield Static(self.value, id="booking-secret-value", markup=False)
            yield Static(self.note, id="secret-value-note", classes="dialog-body")
            yield Static("c copy to the clipboard · enter or escape close", classes="dialog-hint")
        yield DeskFooter()  # the keys of this dialog, not of the screen behind it

    def action_copy(self) -> None:
        if not self.value:
            return
        self.app.copy_to_clipboard(self.value)
        if not self.app.is_headless and _has_system_clipboard():
            # Some terminals ignore the OSC 52 copy above; the system clipboard is the fallback.
            value = self.value
            self.run_worker(lambda: _system_copy(value), thread=True, group="secret-copy", exit_on_error=False)
        self.app.notify(f"The secret value of {self.key_id} is in the clipboard", title="Secret value copied")

    def action_close(self) -> None:
        self.dismiss(None)

    def on_unmount(self) -> None:
        forget_clipboard(self.app, self.value)
        self.value = ""


def _has_system_clipboard() -> bool:
    """A clipboard pyperclip can reach with a plain command (never Qt, which wants the main
    thread): macOS and Windows always, Linux with a display and wl-copy, xclip or xsel."""
    if sys.platform in ("darwin", "win32"):
        return True
    if os.environ.get("WAYLAND_DISPLAY") and shutil.which("wl-copy"):
        return True
    return bool(os.environ.get("DISPLAY")) and any(shutil.which(c) for c in ("xclip", "xsel"))


def _system_copy(value: str) -> None:
    # A clipboard that refuses is no error: the OSC 52 copy was made already.
    with contextlib.suppress(Exception):
        import pyperclip

        pyperclip.copy(value)
