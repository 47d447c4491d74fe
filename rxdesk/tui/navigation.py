"""Where the agent goes next, as messages: a table or screen posts one, the app handles it.

Screens and widgets never open each other. `self.post_message(OpenPatient(patient_id))` from
anywhere on a screen bubbles up to the app, which opens the patient (`RxdeskApp.on_open_patient`);
a screen that wants to go somewhere else for its own rows can handle the message first and
`stop()` it. Dialogs that change an appointment (`StartCancel`, `StartAttendance`) carry what
to do once it is saved, so the list that asked can show the change on its line at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from rxdesk.domain.models import Appointment


Saved = Callable[["Appointment"], Any]


@dataclass
class OpenAppointment(Message):
    """Open an appointment's page."""

    uid: str


@dataclass
class OpenPatient(Message):
    """Open a patient's page."""

    patient_id: str


@dataclass
class OpenDoctor(Message):
    """Open a doctor's page."""

    doctor_id: str


@dataclass
class OpenBooking(Message):
    """Book an appointment for a patient: the type, a free slot, yes."""

    patient_id: str
    patient_name: str = ""


@dataclass
class OpenRebook(Message):
    """Open the free slots an appointment can move to."""

    uid: str


@dataclass
class StartCancel(Message):
    """`c`: say why an appointment cannot be cancelled, or ask for the reason and cancel it."""

    uid: str
    on_saved: Saved | None = None


@dataclass
class StartAttendance(Message):
    """`n`: say why attendance cannot be marked yet, or ask no_show/completed and the reason."""

    uid: str
    on_saved: Saved | None = None


@dataclass
class StartCancelSelection(Message):
    """`c` with rows selected: list them, ask one reason, cancel them all in one write."""

    uids: list[str]
    on_saved: Callable[[list[Appointment]], Any] | None = None


@dataclass
class OpenAway(Message):
    """Open a doctor's away screen: the range, the reason, the plan."""

    doctor_id: str
    doctor_name: str = ""


@dataclass
class OpenSection(Message):
    """Go to a section's list (`secrets`, `types`, ...), as its number key does."""

    name: str


@dataclass
class OpenWebhooks(Message):
    """Open section 6 on one of its tabs (`tab-subscriptions`, `tab-deliveries`, `tab-outbox`)."""

    tab: str
