"""Who a command means: the doctor or patient an argument names, by id or as the app's filters
take them (a name, an email, a phone number, or part of one; `services.matching`).

Exactly one must match. None, or several, is refused in one line that names the candidates
(name, id, email), so a script fails instead of acting on the wrong person and the agent can
name one by its id.
"""

from __future__ import annotations

from rxdesk.domain.errors import ValidationFailed
from rxdesk.services.base import Service
from rxdesk.services.matching import Matches, match_doctors, match_patients


def _one(found: Matches, what: str) -> str:
    if not found.text:
        raise ValidationFailed(f"name a {what}: an id, a name, an email or a phone number")
    if found.one is None:
        raise ValidationFailed(found.refusal() or f"no {what} matches {found.text[:40]!r}")
    return found.one.id


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
