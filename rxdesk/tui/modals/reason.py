"""What the dialogs that change appointments with a typed reason share (cancel, attendance,
cancelling a selection).

A subclass composes an `Input` with id `reason` and a `Static` with id `reason-error`, and
calls `save` with the service call when the agent presses enter. The call runs in a worker;
`on_saved` runs as soon as the change is on disk, before the dialog closes, so the row behind
it already shows the new status in the one repaint that closing causes. A refusal stays in the
dialog, under the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.models import Appointment
from rxdesk.tui.context import OnDesk
from rxdesk.tui.text import shown
from rxdesk.tui.work import call_service

T = TypeVar("T")


class ReasonDialog(OnDesk, ModalScreen[T | None], Generic[T]):
    """Dismisses with what the service call returned, or None when the agent backs out. A
    refusal is shown under the reason after `REFUSED` (empty: the refusal alone)."""

    REFUSED = ""

    def __init__(self, *, on_saved: Callable[[T], Any] | None = None) -> None:
        super().__init__()
        self.on_saved = on_saved
        self.busy = False
        self.showing = False  # open over some screen, waiting for a reason (a kept dialog)

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def save(self, call: Callable[[], T], *, group: str) -> None:
        if self.busy:
            return
        self.busy = True
        call_service(self, call, done=self._saved, failed=self._failed, group=group)

    def _saved(self, result: T) -> None:
        if self.on_saved is not None:
            self.on_saved(result)
        self.showing = False
        self.dismiss(result)

    def _failed(self, exc: RxdeskError) -> None:
        self.busy = False
        self._refuse(f"{self.REFUSED}{exc}")

    def _refuse(self, message: str) -> None:
        self.query_one("#reason-error", Static).update(shown(message))
        field = self.query_one("#reason", Input)
        field.add_class("-invalid")
        field.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A common reason picked from the list goes into the reason field, ready for enter."""
        event.stop()
        field = self.query_one("#reason", Input)
        field.value = str(event.option.prompt)
        field.cursor_position = len(field.value)
        field.focus()

    def action_keep(self) -> None:
        self.showing = False
        self.dismiss(None)


class ReasonModal(ReasonDialog[Appointment]):
    """A reason for a change to one appointment (`uid`, shown as `summary`)."""

    def __init__(self, uid: str, summary: str, *, on_saved: Callable[[Appointment], Any] | None = None) -> None:
        super().__init__(on_saved=on_saved)
        self.uid = uid
        self.summary = summary
