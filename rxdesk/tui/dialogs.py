"""The dialogs that change an appointment, opened by the app for any list or page: the reason
for a cancel (one appointment, or a selection in one write) and attendance. Each first asks the
service whether the change can be made at all and says why not in one line; once a dialog has
saved, the app says what changed and the screens follow (`RxdeskApp.note_own_write`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.screen import Screen

from rxdesk.domain.models import Appointment
from rxdesk.services.appointments import AppointmentSummary
from rxdesk.tui.modals.attendance import AttendanceModal
from rxdesk.tui.modals.cancel import CancelModal
from rxdesk.tui.navigation import Saved
from rxdesk.tui.work import call_service

if TYPE_CHECKING:
    from rxdesk.tui.app import RxdeskApp


def start_cancel(app: RxdeskApp, uid: str, *, on_done: Saved | None = None) -> None:
    """`c`: explain why not, or ask for the reason and cancel."""

    def opened(summary: AppointmentSummary) -> None:
        if summary.cancel_refusal:
            app.notify(f"{uid} cannot be cancelled: {summary.cancel_refusal}", severity="warning",
                       title="Not cancelled")
            return
        text = summary.text()
        push_dialog(app, cancel_dialog(app).prepare(uid, text, note=summary.notice_note, on_saved=on_done),
                    "Appointment cancelled",
                    lambda done: f"Cancelled {text.splitlines()[0]} · reason: {done.cancel_reason}")

    call_service(app, lambda: app.desk.appointments.summary(uid), done=opened, group="cancel-open")


def start_cancel_selection(app: RxdeskApp, uids: list[str], *,
                           on_done: Callable[[list[Appointment]], Any] | None = None) -> None:
    """`c` with rows selected: list them, ask one reason, cancel them all in one write; or
    say which of them cannot be cancelled (nothing is, then)."""

    def opened(summaries: list[AppointmentSummary]) -> None:
        refused = [s for s in summaries if s.cancel_refusal]
        if refused:
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            app.notify(f"{refused[0].cancel_refusal}{more}: unselect it with space, then c again",
                       severity="warning", title=f"None of the {len(summaries)} was cancelled")
            return

        def finished(done: list[Appointment] | None) -> None:
            if done:
                app.note_own_write()
                app.notify(f"Cancelled {len(done)} appointment{'' if len(done) == 1 else 's'} · reason: "
                           f"{done[0].cancel_reason}", title="Appointments cancelled")

        from rxdesk.tui.modals.cancel_selection import CancelSelectionModal

        app.push_screen(CancelSelectionModal(summaries, on_saved=on_done), finished)

    call_service(app, lambda: app.desk.appointments.summaries(uids), done=opened, group="cancel-open")


def start_attendance(app: RxdeskApp, uid: str, *, on_done: Saved | None = None) -> None:
    """`n`: explain why not, or ask no_show/completed and the reason, and mark it."""

    def opened(summary: AppointmentSummary) -> None:
        if not summary.markable:
            why = next((why for _status, why in summary.attendance if why), "")
            app.notify(why, severity="warning", title="Attendance not marked")
            return
        text = summary.text()
        push_dialog(app, AttendanceModal(uid, text, summary.attendance, on_saved=on_done), "Attendance",
                    lambda done: f"Marked {done.status.value}: {text.splitlines()[0]} · "
                                 f"reason: {done.attendance_note}")

    call_service(app, lambda: app.desk.appointments.summary(uid), done=opened, group="attendance-open")


def push_dialog(app: RxdeskApp, dialog: Screen[Appointment | None], title: str,
                said: Callable[[Appointment], str]) -> None:
    """Open a dialog that changes an appointment; once it saved, say what changed."""

    def finished(appointment: Appointment | None) -> None:
        if appointment is None:
            return
        app.note_own_write()
        app.notify(said(appointment), title=title)

    app.push_screen(dialog, finished)


def cancel_dialog(app: RxdeskApp) -> CancelModal:
    """The one cancel dialog, reused: opening it again costs no new screen. (A second one
    only while the first is still open somewhere, e.g. in another section.)"""
    dialog = app.cancel_modal
    if dialog is None or dialog.showing:
        dialog = app.cancel_modal = CancelModal()
        app.install_screen(dialog, f"cancel-{id(dialog)}")  # kept, not removed, when it closes
    return dialog
