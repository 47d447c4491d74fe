"""Who and what a command means: the doctor or patient an argument names, by id or as the app's
filters take them (a name, an email, a phone number, or part of one; `services.matching`), and
the appointment type, by its key or its name.

Exactly one must match. None, or several, is refused in one line that names the candidates
(name, id, email; every type with its key), so a script fails instead of acting on the wrong
person and the agent can name one by its id.
"""

from __future__ import annotations

from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.models import AppointmentType
from rxdesk.services.base import Service
from rxdesk.services.matching import Matches, match_doctors, match_patients


def _one(found: Matches, what: str) -> str:
    if not found.text:
        raise ValidationFailed(f"name a {what}: an id, a name, an email or a phone number")
    if found.one is None:
        raise ValidationFailed(found.refusal() or f"no {what} matches {found.text[:40]!r}")
    return found.one.id


def _folded(text: str) -> str:
    return " ".join(text.casefold().split())


def _one_type(types: list[AppointmentType], typed: str) -> AppointmentType | None:
    """The type `typed` names: its key as written, else its key or its name with case and
    spacing aside; None when none or several do."""
    folded = _folded(typed)
    for names in ((lambda t: t.key == typed), (lambda t: _folded(t.key) == folded),
                  (lambda t: _folded(t.name) == folded)):
        found = [t for t in types if names(t)]
        if found:
            return found[0] if len(found) == 1 else None
    return None


class NamingService(Service):
    def doctor_id(self, text: str) -> str:
        """The id of the one doctor `text` names (an id, or a name, email or phone, or part of
        one); none or several is refused, naming the candidates."""
        with self.store.read() as view:
            return _one(match_doctors(view, str(text or "")), "doctor")

    def patient_id(self, text: str) -> str:
        """The id of the one patient `text` names (an id or external id, or a name, email or
        phone, or part of one); none or several is refused, naming the candidates."""
        with self.store.read() as view:
            return _one(match_patients(view, str(text or "")), "patient")

    def type_key(self, text: str) -> str:
        """The key of the appointment type `text` names: its key, or its name (case and spacing
        aside); none, or a name several types share, is refused listing every type."""
        typed = str(text or "").strip()
        with self.store.read() as view:
            types = view.types.all()
        found = _one_type(types, typed)
        if found is not None:
            return found.key
        known = ", ".join(f"{t.key} ({t.name})" for t in types) or "none yet (rxdesk provision FILE.toml)"
        what = f"no appointment type {typed[:40]!r}" if typed else "name an appointment type"
        raise ValidationFailed(f"{what}; the types (key and name): {known}")
