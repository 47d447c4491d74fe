"""Reminder rules on appointment types (list, add, edit, remove, audited), and firing them.

A rule fires for a confirmed appointment once `starts_at - minutes_before` has come, the
appointment has not started, and that moment came after the rule's creation and the
appointment's confirmation (`domain.reminders`). So a rule added for appointments already
inside its window does not remind them, unless the agent asks (`also_now`): then they are
reminded in the same write. One type never has two rules for the same recipient group and
minutes. Firing (the maintenance tick's first write) resolves the recipients, publishes one
event per recipient with its ReminderSent row, and queues the emails and SMS the rule asks
for, each written for its recipient (`domain.reminder_text`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from rxdesk.domain import reminder_text
from rxdesk.domain import reminders as due_rules
from rxdesk.domain.errors import Conflict, NotFound, ValidationFailed
from rxdesk.domain.ids import random_token
from rxdesk.domain.limits import MINUTES_BEFORE, format_minutes, parse_minutes, within
from rxdesk.domain.models import (
    Appointment,
    AppointmentType,
    EventType,
    MessageChannel,
    RecipientGroup,
    ReminderRule,
    ReminderSent,
)
from rxdesk.domain.times import format_utc
from rxdesk.services import messages
from rxdesk.services.base import Service, admin_actor, default_org, record
from rxdesk.services.events import publish
from rxdesk.services.notify import Notifier
from rxdesk.services.provisioning import describe_error
from rxdesk.store.protocols import Store, StoreView, UnitOfWork


def type_target(key: str) -> str:
    return f"appointment_type:{key}"


@dataclass(frozen=True)
class RuleRow:
    type_key: str
    type_name: str
    rule: ReminderRule
    # Saving a rule: confirmed appointments already inside its window that it has not reminded
    # (None when listing), how many of them were reminded now, and how many it never reminds
    # because they were confirmed after its moment (booked inside the window).
    inside_window: int | None = None
    reminded_now: int = 0
    booked_inside: int = 0

    def to_json(self) -> dict[str, Any]:
        saved = {} if self.inside_window is None else {"inside_window": self.inside_window,
                                                        "reminded_now": self.reminded_now,
                                                        "booked_inside": self.booked_inside}
        return {"type_key": self.type_key, **self.rule.to_json(), **saved}

    def window_note(self, remind_hint: str = "--also-now reminds {n} of them now") -> str:
        """What saving did about the appointments already inside the window ("" if none),
        and why it reminded fewer than are there; `remind_hint` says how the caller's agent
        would have reminded them now (`{n}`: how many it would remind)."""
        n = self.inside_window or 0
        if not n:
            return ""
        some = f"{n} confirmed appointment{'s' if n != 1 else ''} already inside its window"
        remindable = n - self.booked_inside
        late = ""
        if self.booked_inside:
            late = (f"{self.booked_inside} of them {'was' if self.booked_inside == 1 else 'were'} confirmed after the "
                    "moment the rule reminds at, and a booking made inside a rule's window is not reminded by it")
        if self.reminded_now == n:
            return f"{some}: reminded now"
        if self.reminded_now:
            return f"{some}: {self.reminded_now} reminded now; not {late}"
        if not remindable:
            return f"{some}: none reminded: {late}"
        rest = f"; {late}" if late else ""
        return f"{some}: not reminded ({remind_hint.format(n=remindable)}){rest}"


@dataclass(frozen=True)
class WindowCount:
    """Before a rule is saved: the confirmed appointments already inside its window, and how
    many of them "also now" would remind (the others were booked inside it)."""

    inside: int
    remindable: int


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


def _refuse_same(appt_type: AppointmentType, rule: ReminderRule) -> None:
    same = due_rules.same_rule(appt_type.reminders, rule.recipient, rule.minutes_before, other_than=rule.id)
    if same is not None:
        raise Conflict(f"appointment type {appt_type.key} already has rule {same.id}: {same.recipient.value}, "
                       f"{format_minutes(same.minutes_before)} before (edit that one instead)")


class ReminderRuleService(Service):
    def list_rules(self, type_key: str | None = None) -> list[RuleRow]:
        with self.store.read() as view:
            types = [view.types.require(type_key.strip())] if type_key else view.types.all()
            return [RuleRow(t.key, t.name, r) for t in types
                    for r in sorted(t.reminders, key=lambda r: (r.recipient.value, -r.minutes_before, r.id))]

    def add_rule(self, type_key: str, recipient: str, minutes_before: object, *, email: bool = False,
                 sms: bool = False, agent: str, also_now: bool = False) -> RuleRow:
        """Add a rule with a new id to the type; refused when the type already reminds that
        recipient group as many minutes before. It reminds from now on: appointments already
        inside its window are counted, and reminded in this write only with `also_now`."""
        group, minutes = _recipient(recipient), _minutes(minutes_before)
        now = self.now()
        with self.store.write() as view:
            appt_type = view.types.require(str(type_key).strip())
            taken = {r.id for r in appt_type.reminders}
            rule_id = f"{group}-{minutes}m"
            while rule_id in taken:
                rule_id = f"{group}-{minutes}m-{random_token(4)}"
            rule = _rule(id=rule_id, recipient=group, minutes_before=minutes, send_email=bool(email),
                         send_sms=bool(sms), created_at=now)
            _refuse_same(appt_type, rule)
            self._save(view, appt_type, [*appt_type.reminders, rule], "reminder.add", agent,
                       {**rule.to_json(), "also_now": also_now})
            inside = self._inside_window(view, appt_type, rule, now, also_now=also_now)
        return RuleRow(appt_type.key, appt_type.name, rule, *inside)

    def edit_rule(self, type_key: str, rule_id: str, *, recipient: str | None = None, minutes_before: object = None,
                  email: bool | None = None, sms: bool | None = None, agent: str, also_now: bool = False) -> RuleRow:
        """Change a rule, keeping its id (an appointment it reminded is not reminded again).
        A rule that now reaches further ahead, or another recipient group, reminds from the
        edit on, like a new rule: appointments whose new moment has passed are counted, and
        reminded now only with `also_now`."""
        now = self.now()
        with self.store.write() as view:
            appt_type = view.types.require(str(type_key).strip())
            old = self._find(appt_type, rule_id)
            group = RecipientGroup(_recipient(recipient)) if recipient is not None else old.recipient
            minutes = _minutes(minutes_before) if minutes_before is not None else old.minutes_before
            renewed = minutes > old.minutes_before or group is not old.recipient
            rule = _rule(
                id=old.id, recipient=group.value, minutes_before=minutes,
                send_email=old.send_email if email is None else bool(email),
                send_sms=old.send_sms if sms is None else bool(sms),
                created_at=now if renewed else old.created_at,
            )
            _refuse_same(appt_type, rule)
            rules = [rule if r.id == old.id else r for r in appt_type.reminders]
            self._save(view, appt_type, rules, "reminder.edit", agent,
                       {"before": old.to_json(), "after": rule.to_json(), "also_now": also_now})
            inside = (self._inside_window(view, appt_type, rule, now, also_now=also_now)
                      if renewed else (None, 0, 0))
        return RuleRow(appt_type.key, appt_type.name, rule, *inside)

    def inside_window(self, type_key: str, recipient: str, minutes_before: object,
                      rule_id: str | None = None) -> WindowCount | None:
        """Before saving: the confirmed appointments of the type already inside the window of
        the rule as it would be saved (added, or `rule_id` edited), as saving counts them, and
        how many of them `also_now` would remind now. None when saving that edit would not
        start the rule afresh (a shorter span, same recipient group): nothing is counted then."""
        group, minutes = RecipientGroup(_recipient(recipient)), _minutes(minutes_before)
        now = self.now()
        with self.store.read() as view:
            appt_type = view.types.require(str(type_key).strip())
            if rule_id is not None:
                old = self._find(appt_type, rule_id)
                if minutes <= old.minutes_before and group is old.recipient:
                    return None
                wanted_id = old.id
            else:
                wanted_id = f"{group.value}-{minutes}m"  # as add_rule names it; a taken id gets a fresh one
                if any(r.id == wanted_id for r in appt_type.reminders):
                    wanted_id = ""
            rule = ReminderRule(id=wanted_id or "preview", recipient=group, minutes_before=minutes)
            inside, remindable = _inside(view, appt_type, rule, now, check_sent=bool(wanted_id))
            return WindowCount(len(inside), len(remindable))

    def remove_rule(self, type_key: str, rule_id: str, *, agent: str) -> ReminderRule:
        with self.store.write() as view:
            appt_type = view.types.require(str(type_key).strip())
            old = self._find(appt_type, rule_id)
            self._save(view, appt_type, [r for r in appt_type.reminders if r.id != old.id], "reminder.remove",
                       agent, old.to_json())
        return old

    def _inside_window(self, view: UnitOfWork, appt_type: AppointmentType, rule: ReminderRule, now: datetime,
                       *, also_now: bool) -> tuple[int, int, int]:
        """(inside, reminded now, booked inside): the confirmed appointments of the type inside
        the rule's window that it has not reminded yet; with `also_now`, those confirmed before
        their moment are reminded now. Those confirmed after it never are (the rule of
        `domain.reminders`: the patient booked knowing the time), and are counted apart, so
        the agent is told why fewer were reminded than are inside."""
        inside, remindable = _inside(view, appt_type, rule, now)
        booked_inside = len(inside) - len(remindable)
        if not also_now:
            return len(inside), 0, booked_inside
        notifier = Notifier(self.settings)
        for appt in remindable:
            fire(view, DueReminder(appt, appt_type, rule, due_rules.due_at(appt, rule)), now, notifier)
        return len(inside), len(remindable), booked_inside

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


def _waiting(view: StoreView, appt: Appointment, rule: ReminderRule, admins: list[str] | None) -> bool:
    """Some recipient of the rule has not had this reminder yet (`admins`: the admins' ids,
    when the caller has read them)."""
    if rule.recipient is RecipientGroup.admin:
        ids = admins if admins is not None else [a.id for a in view.admins.all()]
    else:
        ids = [appt.patient_id if rule.recipient is RecipientGroup.patient else appt.doctor_id]
    return any(not view.reminders_sent.exists(appt.uid, rule.id, rule.recipient.value, i) for i in ids)


def _inside(view: StoreView, appt_type: AppointmentType, rule: ReminderRule, now: datetime,
            *, check_sent: bool = True) -> tuple[list[Appointment], list[Appointment]]:
    """(inside, remindable): the confirmed appointments of the type inside the rule's window
    (with `check_sent`, those it has not reminded yet), and of them those confirmed before
    their moment, which `also_now` reminds."""
    older = rule.model_copy(update={"created_at": None})  # as if the rule had always been there
    inside = [a for a in view.appointments.confirmed_starting(now, now + timedelta(minutes=rule.minutes_before))
              if a.type_key == appt_type.key and due_rules.in_window(a, older, now)
              and (not check_sent or _waiting(view, a, older, None))]
    return inside, [a for a in inside if due_rules.moment_counts(a, older)]


def due_reminders(view: StoreView, now: datetime, *, first_only: bool = False,
                  since: datetime | None = None) -> list[DueReminder]:
    """(appointment, rule) pairs that are due (`domain.reminders.is_due`) and have not
    fired for every recipient yet; with `first_only`, at most one (a cheap "any?"). With
    `since`, only those whose moment came after it: what time alone made due since a look at
    the same stored state (`DueWatch`)."""
    types = {t.key: t for t in view.types.all() if t.reminders}
    ahead = due_rules.look_ahead(types.values())
    if ahead is None:
        return []
    if since is None:  # each type as far ahead as its own rules reach
        reach = {key: now + timedelta(minutes=max(r.minutes_before for r in t.reminders)) for key, t in types.items()}
        candidates = view.appointments.confirmed_starting(now, now + ahead, reach=reach)
    elif since >= now:
        return []
    else:  # a moment in (since, now] is a start in (since + minutes, now + minutes] of some rule
        spans = sorted({r.minutes_before for t in types.values() for r in t.reminders})
        candidates = list({a.uid: a for minutes in spans for a in view.appointments.confirmed_starting(
            max(now, since + timedelta(minutes=minutes)), now + timedelta(minutes=minutes),
            reach={key: now + timedelta(minutes=minutes) for key, t in types.items()
                   if any(r.minutes_before == minutes for r in t.reminders)})}.values())
    admins: list[str] | None = None
    found: list[DueReminder] = []
    for appt in candidates:
        appt_type = types.get(appt.type_key)
        if appt_type is None:
            continue
        for rule in appt_type.reminders:
            if not due_rules.is_due(appt, rule, now) or (since is not None and due_rules.due_at(appt, rule) <= since):
                continue
            if rule.recipient is RecipientGroup.admin and admins is None:
                admins = [a.id for a in view.admins.all()]
            if _waiting(view, appt, rule, admins):
                found.append(DueReminder(appt, appt_type, rule, due_rules.due_at(appt, rule)))
                if first_only:
                    return found
    return found


class DueWatch:
    """A running worker's memory of its last look for due reminders: the store's settled
    generation it read (`Store.settled_generation`) and the instant it looked at. While the
    generation is the same, nothing was written since (no booking, rule, admin or reminder
    sent), so all that can have become due is what time made due: the next look covers
    only the moments in between, whatever the clinic's size. Any write, a clock that went
    back, or a store that cannot tell, and it looks at everything again."""

    def __init__(self, *, remembers: bool = True) -> None:
        self.remembers = remembers  # False for a runner that ticks once: nothing to ask the store for
        self._state: int | None = None
        self._through: datetime | None = None

    def settled(self, store: Store) -> int | None:
        """The state to look at, read before the view is opened (a write that lands between
        the two is then seen twice, never missed)."""
        return store.settled_generation() if self.remembers else None

    def any_due(self, view: StoreView, now: datetime, state: int | None) -> bool:
        """Whether any reminder is due at `now` in `view`, read at `state` or later."""
        since = self._through if state is not None and state == self._state else None
        if since is not None and now < since:
            since = None  # the clock went back: what was due then may not be due now, and the reverse
        found = bool(due_reminders(view, now, first_only=True, since=since))
        # A find is fired by a write, which moves the generation: only nothing found is remembered.
        self._state, self._through = (None, None) if found or state is None else (state, now)
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


def facts_of(view: StoreView, due: DueReminder) -> reminder_text.ReminderFacts:
    """What the reminders of one appointment may say: names, the type, the zones."""
    appt = due.appointment
    doctor, patient = view.doctors.get(appt.doctor_id), view.patients.get(appt.patient_id)
    org_zone = (view.org.get() or default_org()).timezone
    return reminder_text.ReminderFacts(
        uid=appt.uid, type_name=due.appointment_type.name, starts_at=appt.starts_at, room_url=appt.room_url,
        patient_name=patient.name if patient else appt.patient_id,
        doctor_name=doctor.name if doctor else appt.doctor_id,
        org_zone=org_zone, doctor_zone=doctor.timezone if doctor else org_zone)


@dataclass(frozen=True)
class Fired:
    reminders: int  # one per recipient
    to_outbox: int  # messages kept in the local outbox (no transport configured)


def fire(view: UnitOfWork, due: DueReminder, now: datetime, notifier: Notifier) -> Fired:
    """One APPOINTMENT_REMINDER_DUE event per recipient not reached yet, its emails and SMS
    queued (each written for its recipient), and its ReminderSent row (the idempotency key,
    naming the messages) in the same write."""
    appt, rule = due.appointment, due.rule
    late = due_rules.late_by_seconds(due.due_at, now)
    facts = facts_of(view, due)
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
        queued = {MessageChannel.email: messages.Queued(), MessageChannel.sms: messages.Queued()}
        for channel, wanted, address in ((MessageChannel.email, rule.send_email, recipient.email),
                                         (MessageChannel.sms, rule.send_sms, recipient.phone)):
            if not wanted:
                continue
            text = (reminder_text.sms(rule.recipient, facts) if channel is MessageChannel.sms
                    else reminder_text.email(rule.recipient, recipient.name, facts))
            queued[channel] = messages.queue(view, channel, address, text, appointment_uid=appt.uid,
                                             event_id=event.id, now=now, notifier=notifier)
            to_outbox += queued[channel].to_outbox
        email, sms = queued[MessageChannel.email], queued[MessageChannel.sms]
        view.reminders_sent.add(ReminderSent(
            appointment_uid=appt.uid, rule_id=rule.id, recipient_group=rule.recipient,
            recipient_id=recipient.id, sent_at=now, due_at=due.due_at, late_by_seconds=late,
            event_id=event.id, email_status=email.skipped, sms_status=sms.skipped,
            email_message_id=email.message_id, sms_message_id=sms.message_id,
        ))
        fired += 1
    return Fired(fired, to_outbox)
