"""What the dialogs that change one appointment with a typed reason share (cancel, attendance).

A subclass composes an `Input` with id `reason` and a `Static` with id `reason-error`, and
calls `save` with the service call when the agent presses enter. The call runs in a worker;
`on_saved` runs as soon as the change is on disk, before the dialog closes, so the row behind
it already shows the new status in the one repaint that closing causes. A refusal stays in the
dialog, under the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.screen import ModalScreen
from textual.widgets import Input, Static

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.models import Appointment
from rxdesk.tui.context import OnDesk
from rxdesk.tui.text import shown
from rxdesk.tui.work import call_service


class ReasonModal(OnDesk, ModalScreen[Appointment | None]):
    """Dismisses with the changed appointment, or None when the agent backs out."""

    def __init__(self, uid: str, summary: str, *, on_saved: Callable[[Appointment], Any] | None = None) -> None:
        super().__init__()
        self.uid = uid
        self.summary = summary
        self.on_saved = on_saved
        self.busy = False
        self.showing = False  # open over some screen, waiting for a reason (a kept dialog)

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def save(self, call: Callable[[], Appointment], *, group: str) -> None:
        if self.busy:
            return
        self.busy = True
        call_service(self, call, done=self._saved, failed=self._failed, group=group)

    def _saved(self, appointment: Appointment) -> None:
        if self.on_saved is not None:
            self.on_saved(appointment)
        self.showing = False
        self.dismiss(appointment)

    def _failed(self, exc: RxdeskError) -> None:
        self.busy = False
        self._refuse(str(exc))

    def _refuse(self, message: str) -> None:
        self.query_one("#reason-error", Static).update(shown(message))
        field = self.query_one("#reason", Input)
        field.add_class("-invalid")
        field.focus()

    def action_keep(self) -> None:
        self.showing = False
        self.dismiss(None)
