"""Reminder rules on appointment types: list, add, edit, remove (audited).

A rule fires for a confirmed appointment once `starts_at - minutes_before` has come and the
appointment has not started; several rules per recipient group are allowed. A rule added for
an appointment already inside its window fires on the next tick.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from rxdesk.domain.errors import NotFound, ValidationFailed
from rxdesk.domain.filters import parse_whole
from rxdesk.domain.ids import random_token
from rxdesk.domain.models import AppointmentType, RecipientGroup, ReminderRule
from rxdesk.services.base import Service, admin_actor, record
from rxdesk.services.provisioning import describe_error


def type_target(key: str) -> str:
    return f"appointment_type:{key}"


@dataclass(frozen=True)
class RuleRow:
    type_key: str
    type_name: str
    rule: ReminderRule

    def to_json(self) -> dict:
        return {"type_key": self.type_key, **self.rule.to_json()}


def _rule(**fields: object) -> ReminderRule:
    try:
        return ReminderRule.model_validate(fields)
    except ValidationError as exc:
        raise ValidationFailed(describe_error(exc, "")) from None


def _recipient(value: object) -> str:
    text = str(value or "").strip().lower()
    if text not in {g.value for g in RecipientGroup}:
        raise ValidationFailed(f"recipient {str(value)[:40]!r} is not one of patient, doctor, admin")
    return text


def _minutes(value: object) -> int:
    minutes = parse_whole(value, what="minutes before")
    if not 1 <= minutes <= 43200:
        raise ValidationFailed("minutes before must be between 1 and 43200 (30 days)")
    return minutes


class ReminderRuleService(Service):
    def list_rules(self, type_key: str | None = None) -> list[RuleRow]:
        view = self.store.read()
        types = [view.types.require(type_key.strip())] if type_key else view.types.all()
        return [RuleRow(t.key, t.name, r) for t in types
                for r in sorted(t.reminders, key=lambda r: (r.recipient.value, -r.minutes_before, r.id))]

    def add_rule(self, type_key: str, recipient: str, minutes_before: object, *, email: bool = False,
                 sms: bool = False, agent: str) -> RuleRow:
        """Add a rule with a new id to the type."""
        group, minutes = _recipient(recipient), _minutes(minutes_before)
        with self.store.write() as view:
            appt_type = view.types.require(str(type_key).strip())
            taken = {r.id for r in appt_type.reminders}
            rule_id = f"{group}-{minutes}m"
            while rule_id in taken:
                rule_id = f"{group}-{minutes}m-{random_token(4)}"
            rule = _rule(id=rule_id, recipient=group, minutes_before=minutes, send_email=bool(email), send_sms=bool(sms))
            self._save(view, appt_type, [*appt_type.reminders, rule], "reminder.add", agent, rule.to_json())
        return RuleRow(appt_type.key, appt_type.name, rule)

    def edit_rule(self, type_key: str, rule_id: str, *, recipient: str | None = None, minutes_before: object = None,
                  email: bool | None = None, sms: bool | None = None, agent: str) -> RuleRow:
        with self.store.write() as view:
            appt_type = view.types.require(str(type_key).strip())
            old = self._find(appt_type, rule_id)
            rule = _rule(
                id=old.id,
                recipient=_recipient(recipient) if recipient is not None else old.recipient.value,
                minutes_before=_minutes(minutes_before) if minutes_before is not None else old.minutes_before,
                send_email=old.send_email if email is None else bool(email),
                send_sms=old.send_sms if sms is None else bool(sms),
            )
            rules = [rule if r.id == old.id else r for r in appt_type.reminders]
            self._save(view, appt_type, rules, "reminder.edit", agent,
                       {"before": old.to_json(), "after": rule.to_json()})
        return RuleRow(appt_type.key, appt_type.name, rule)

    def remove_rule(self, type_key: str, rule_id: str, *, agent: str) -> ReminderRule:
        with self.store.write() as view:
            appt_type = view.types.require(str(type_key).strip())
            old = self._find(appt_type, rule_id)
            self._save(view, appt_type, [r for r in appt_type.reminders if r.id != old.id], "reminder.remove",
                       agent, old.to_json())
        return old

    @staticmethod
    def _find(appt_type: AppointmentType, rule_id: str) -> ReminderRule:
        wanted = str(rule_id).strip()
        for rule in appt_type.reminders:
            if rule.id == wanted:
                return rule
        raise NotFound(f"appointment type {appt_type.key} has no reminder rule {wanted[:40]!r}")

    def _save(self, view, appt_type: AppointmentType, rules: list[ReminderRule], action: str, agent: str,  # type: ignore[no-untyped-def]
              details: dict) -> None:
        view.types.put(appt_type.model_copy(update={"reminders": rules}))
        record(view, at=self.now(), actor=admin_actor(agent), action=action, target=type_target(appt_type.key),
               details=details)
