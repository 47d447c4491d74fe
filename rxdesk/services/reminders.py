"""Reminder rules on appointment types (list, add, edit, remove, audited), and firing them.

A rule fires for a confirmed appointment once `starts_at - minutes_before` has come and the
appointment has not started (`domain.reminders`); several rules per recipient group are
allowed. A rule added for an appointment already inside its window fires on the next tick.
Firing (the maintenance tick's first write) resolves the recipients, publishes one event per
recipient with its ReminderSent row, and queues the emails and SMS the rule asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from rxdesk.domain import reminders as due_rules
from rxdesk.domain.errors import NotFound, ValidationFailed
from rxdesk.domain.ids import random_token
from rxdesk.domain.limits import MINUTES_BEFORE, parse_minutes, within
from rxdesk.domain.models import (
    Appointment,
    AppointmentType,
    EventType,
    MessageChannel,
    RecipientGroup,
    ReminderRule,
    ReminderSent,
)
from rxdesk.domain.times import format_local, format_utc
from rxdesk.services import messages
from rxdesk.services.base import DEFAULT_ORG, Service, admin_actor, record
from rxdesk.services.events import publish
from rxdesk.services.notify import Notifier
from rxdesk.services.provisioning import describe_error
from rxdesk.store.protocols import StoreView, UnitOfWork


def type_target(key: str) -> str:
    return f"appointment_type:{key}"


@dataclass(frozen=True)
class RuleRow:
    type_key: str
    type_name: str
    rule: ReminderRule

    def to_json(self) -> dict[str, Any]:
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
    """Minutes as typed or as the tables show a span (`90`, `2h`, `1d 2h`), within bounds."""
    return within(parse_minutes(value, what="minutes before"), MINUTES_BEFORE, what="minutes before")


class ReminderRuleService(Service):
    def list_rules(self, type_key: str | None = None) -> list[RuleRow]:
        with self.store.read() as view:
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
            rule = _rule(id=rule_id, recipient=group, minutes_before=minutes, send_email=bool(email),
                         send_sms=bool(sms))
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

    def _save(self, view: UnitOfWork, appt_type: AppointmentType, rules: list[ReminderRule], action: str,
              agent: str, details: dict[str, Any]) -> None:
        view.types.put(appt_type.model_copy(update={"reminders": rules}))
        record(view, at=self.now(), actor=admin_actor(agent), action=action, target=type_target(appt_type.key),
               details=details)


# -- firing: the maintenance tick's part ------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Who a reminder goes to, as the event's `recipient` carries it."""

    group: RecipientGroup
    id: str
    name: str
    email: str
    phone: str

    def to_json(self) -> dict[str, str]:
        return {"group": self.group.value, "id": self.id, "name": self.name, "email": self.email, "phone": self.phone}


@dataclass(frozen=True)
class DueReminder:
    appointment: Appointment
    appointment_type: AppointmentType
    rule: ReminderRule
    due_at: datetime


def due_reminders(view: StoreView, now: datetime, *, first_only: bool = False) -> list[DueReminder]:
    """(appointment, rule) pairs whose moment has come (`domain.reminders.is_due`) and that
    have not fired for every recipient yet; with `first_only`, at most one (a cheap "any?")."""
    types = {t.key: t for t in view.types.all() if t.reminders}
    ahead = due_rules.look_ahead(types.values())
    if ahead is None:
        return []
    admins: list[str] | None = None
    found: list[DueReminder] = []
    for appt in view.appointments.confirmed_starting(now, now + ahead):
        appt_type = types.get(appt.type_key)
        if appt_type is None:
            continue
        for rule in appt_type.reminders:
            if not due_rules.is_due(appt, rule, now):
                continue
            if rule.recipient is RecipientGroup.admin:
                if admins is None:
                    admins = [a.id for a in view.admins.all()]
                ids = admins
            else:
                ids = [appt.patient_id if rule.recipient is RecipientGroup.patient else appt.doctor_id]
            if any(not view.reminders_sent.exists(appt.uid, rule.id, rule.recipient.value, i) for i in ids):
                found.append(DueReminder(appt, appt_type, rule, due_rules.due_at(appt, rule)))
                if first_only:
                    return found
    return found


def recipients(view: StoreView, appt: Appointment, group: RecipientGroup) -> list[Recipient]:
    """`patient`: the patient; `doctor`: the doctor (their mobile number); `admin`: every admin."""
    if group is RecipientGroup.patient:
        p = view.patients.get(appt.patient_id)
        return [Recipient(group, appt.patient_id, p.name if p else appt.patient_id,
                          p.email if p else "", p.phone if p else "")]
    if group is RecipientGroup.doctor:
        d = view.doctors.get(appt.doctor_id)
        return [Recipient(group, appt.doctor_id, d.name if d else appt.doctor_id,
                          d.email if d else "", d.mobile_phone if d else "")]
    return [Recipient(group, a.id, a.name, a.email, a.phone) for a in view.admins.all()]


def reminder_text(due: DueReminder, recipient: Recipient, doctor_name: str, zone: str, *,
                  short: bool) -> tuple[str, str]:
    """The subject and body of a reminder: an email, or (`short`) an SMS."""
    appt, type_name = due.appointment, due.appointment_type.name
    when = format_local(appt.starts_at, zone)
    subject = f"Reminder: {type_name} on {when} ({zone})"
    if short:
        return subject, f"Reminder: {type_name} with {doctor_name} on {when} ({zone}). {appt.room_url}".strip()
    body = (f"Hello {recipient.name},\n\nthis is a reminder of the {type_name} "
            f"with {doctor_name} on {when} ({zone}).\n\nJoin the video call: {appt.room_url or '(link to follow)'}\n"
            f"Appointment: {appt.uid}\n")
    return subject, body


@dataclass(frozen=True)
class Fired:
    reminders: int  # one per recipient
    to_outbox: int  # messages kept in the local outbox (no transport configured)


def fire(view: UnitOfWork, due: DueReminder, now: datetime, notifier: Notifier) -> Fired:
    """One APPOINTMENT_REMINDER_DUE event per recipient not reached yet, its emails and SMS
    queued, and its ReminderSent row (the idempotency key) in the same write."""
    appt, rule = due.appointment, due.rule
    late = due_rules.late_by_seconds(due.due_at, now)
    zone = (view.org.get() or DEFAULT_ORG).timezone
    doctor = view.doctors.get(appt.doctor_id)
    doctor_name = doctor.name if doctor else appt.doctor_id
    fired = to_outbox = 0
    for recipient in recipients(view, appt, rule.recipient):
        if view.reminders_sent.exists(appt.uid, rule.id, rule.recipient.value, recipient.id):
            continue
        event = publish(view, EventType.APPOINTMENT_REMINDER_DUE, {
            "appointment": appt.to_json(),
            "recipient": recipient.to_json(),
            "rule": rule.to_json(),
            "due_at": format_utc(due.due_at),
            "late_by_seconds": late,
        }, now)
        status = {MessageChannel.email: "", MessageChannel.sms: ""}
        for channel, wanted, address in ((MessageChannel.email, rule.send_email, recipient.email),
                                         (MessageChannel.sms, rule.send_sms, recipient.phone)):
            if not wanted:
                continue
            subject, body = reminder_text(due, recipient, doctor_name, zone, short=channel is MessageChannel.sms)
            status[channel] = messages.queue(view, channel, address, subject, body, appointment_uid=appt.uid,
                                             event_id=event.id, now=now, notifier=notifier)
            to_outbox += status[channel] == messages.IN_OUTBOX
        view.reminders_sent.add(ReminderSent(
            appointment_uid=appt.uid, rule_id=rule.id, recipient_group=rule.recipient,
            recipient_id=recipient.id, sent_at=now, due_at=due.due_at, late_by_seconds=late,
            event_id=event.id, email_status=status[MessageChannel.email], sms_status=status[MessageChannel.sms],
        ))
        fired += 1
    return Fired(fired, to_outbox)
