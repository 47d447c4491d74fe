"""What needs an agent now (DESIGN: "Beyond the admin page", Needs attention).

Each item says what is wrong, since when, and what fixes it: a key in the app and a command
on the command line. Items are ordered most urgent kind first, newest first within a kind:

1. `worker`: no maintenance tick for WORKER_SILENT (holds do not expire, reminders and
   webhooks wait);
2. `hold_lapsing`: a hold that lapses within HOLD_SOON (soonest first);
3. `deliveries`: a subscription whose deliveries went dead in the last DEAD_RECENT, or have
   been failing for more than FAILING_FOR;
4. `messages_failed`: emails or SMS of reminders that failed after their retries, for
   appointments that have not started;
5. `reminders_skipped`: reminders that had no address to go to (no mobile number, no email),
   for appointments that have not started, per recipient who still has none;
6. `no_mobile`: a doctor without a mobile number with appointments in the next
   UPCOMING_DAYS of a type whose reminders text the doctor;
7. `no_windows`: a doctor who offers a type but has no slot for it in the next NO_SLOTS_DAYS
   ("why no slots").

An item disappears when what it reports is fixed (or has passed). Everything is read from
indexes and the small core tables, never from the history, so the app can ask on every change.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from rxdesk.domain import lifecycle
from rxdesk.domain.models import (
    Admin,
    AppointmentType,
    Doctor,
    MessageChannel,
    MessageStatus,
    Patient,
    RecipientGroup,
    ReminderSent,
)
from rxdesk.domain.queries import AppointmentQuery
from rxdesk.domain.slots import minute_of_day
from rxdesk.domain.times import format_local, format_utc
from rxdesk.services.base import Service
from rxdesk.store.protocols import StoreView

WORKER_SILENT = timedelta(minutes=5)
HOLD_SOON = timedelta(minutes=5)
HOLDS_LISTED = 5  # holds listed one by one; the rest as one item
FAILING_FOR = timedelta(hours=1)
DEAD_RECENT = timedelta(days=1)
UPCOMING_DAYS = 7
NO_SLOTS_DAYS = 28
SKIPPED = "skipped:"


class AttentionKind(StrEnum):
    worker = "worker"
    hold_lapsing = "hold_lapsing"
    deliveries = "deliveries"
    messages_failed = "messages_failed"
    messages_unknown = "messages_unknown"  # sending began and was never recorded: not sent again
    reminders_skipped = "reminders_skipped"
    no_mobile = "no_mobile"
    no_windows = "no_windows"


URGENCY = {kind: rank for rank, kind in enumerate(AttentionKind)}


@dataclass(frozen=True)
class AttentionItem:
    kind: AttentionKind
    title: str  # one line: what is wrong
    detail: str  # counts, the last error, what it affects
    since: datetime | None  # when it began (or, for a hold, when it lapses)
    target: str  # what it is about: `doctor:ID`, `patient:ID`, `appointment:UID`, `subscription:ID`, ...
    count: int  # how many rows it stands for
    command: str  # the command line that fixes it or shows more
    action: str  # the key in the app and where it leads

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "title": self.title,
            "detail": self.detail,
            "since": format_utc(self.since) if self.since else None,
            "target": self.target,
            "count": self.count,
            "command": self.command,
            "action": self.action,
        }


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _ago(now: datetime, then: datetime) -> str:
    minutes = int((now - then).total_seconds() // 60)
    if minutes < 120:
        return _plural(minutes, "minute")
    if minutes < 48 * 60:
        return _plural(minutes // 60, "hour")
    return _plural(minutes // 1440, "day")


class AttentionService(Service):
    def items(self) -> list[AttentionItem]:
        """Everything that needs an agent now, most urgent first."""
        now = self.now()
        with self.store.read() as view:
            zone_name = self.org(view).timezone
            doctors = view.doctors.all()
            types = {t.key: t for t in view.types.all()}
            found = [
                *self._worker(now),
                *self._holds(view, now, zone_name),
                *self._deliveries(view, now),
                *self._messages(view, now),
                *self._skipped(view, now),
                *self._no_mobile(view, now, zone_name, doctors, types),
                *self._no_windows(doctors, types),
            ]
        found.sort(key=_order)
        return found

    def count(self) -> int:
        return len(self.items())

    # -- each kind ------------------------------------------------------------------------

    def _worker(self, now: datetime) -> list[AttentionItem]:
        tick = self.store.last_tick()
        if tick is not None and now - tick.at <= WORKER_SILENT:
            return []
        if tick is None:
            title = "The maintenance worker has never run on this data"
            detail = "holds do not expire, reminders are not sent, webhooks are not delivered"
        else:
            title = f"No maintenance tick for {_ago(now, tick.at)}"
            detail = (f"last tick {format_utc(tick.at)} by {tick.owner}; holds do not expire, reminders and "
                      "webhooks wait")
        return [AttentionItem(AttentionKind.worker, title, detail, tick.at if tick else None, "worker", 1,
                              "rxdesk worker", "is it running? start `rxdesk worker`, or open the app with its worker")]

    def _holds(self, view: StoreView, now: datetime, zone_name: str) -> list[AttentionItem]:
        holds = view.appointments.holds_lapsing(now, now + HOLD_SOON)
        if not holds:
            return []
        patients = view.patients.names_of({appt.patient_id for appt in holds[:HOLDS_LISTED]})
        doctors = view.doctors.names()
        items = []
        for appt in holds[:HOLDS_LISTED]:
            assert appt.hold_expires_at is not None
            left = max(0, int((appt.hold_expires_at - now).total_seconds() // 60))
            items.append(AttentionItem(
                AttentionKind.hold_lapsing,
                f"Hold of {patients.get(appt.patient_id, appt.patient_id)} lapses in "
                f"{_plural(left, 'minute') if left else 'under a minute'}",
                f"{doctors.get(appt.doctor_id, appt.doctor_id)}, {format_local(appt.starts_at, zone_name)}; "
                "the patient has not confirmed",
                appt.hold_expires_at, f"appointment:{appt.uid}", 1, f"rxdesk appointments show {appt.uid}",
                "enter: the appointment"))
        rest = holds[HOLDS_LISTED:]
        if rest:
            assert rest[-1].hold_expires_at is not None
            items.append(AttentionItem(
                AttentionKind.hold_lapsing, f"{_plural(len(rest), 'more hold')} lapse within "
                f"{int(HOLD_SOON.total_seconds() // 60)} minutes", "the overview lists every hold (status held)",
                rest[-1].hold_expires_at, "holds", len(rest), "rxdesk appointments list --status held",
                "enter: the overview"))
        return items

    def _deliveries(self, view: StoreView, now: datetime) -> list[AttentionItem]:
        items = []
        for trouble in view.deliveries.trouble(failing_before=now - FAILING_FOR, dead_since=now - DEAD_RECENT):
            sub = view.subscriptions.get(trouble.subscription_id)
            if sub is None:
                continue  # removed: nothing left to fix
            latest = view.deliveries.get(trouble.latest_id)
            said = []
            if trouble.dead:
                said.append(f"{trouble.dead} dead")
            if trouble.failing:
                said.append(f"{trouble.failing} failing for over an hour")
            error = ""
            if latest is not None:
                code = f"HTTP {latest.last_status_code}: " if latest.last_status_code else ""
                error = f"last answer: {code}{latest.last_error or 'none'}"
            state = "" if sub.active else " (subscription deactivated)"
            fix = (f"rxdesk subscriptions test {sub.id}; rxdesk deliveries replay {trouble.latest_id}"
                   if trouble.dead else f"rxdesk subscriptions test {sub.id}")
            items.append(AttentionItem(
                AttentionKind.deliveries,
                f"Webhooks to {urlsplit(sub.url).netloc or sub.url}{state}: {', '.join(said)}",
                error, trouble.since, f"subscription:{sub.id}", trouble.dead + trouble.failing, fix,
                "enter: the webhooks section (y replays a dead delivery)"))
        return items

    def _messages(self, view: StoreView, now: datetime) -> list[AttentionItem]:
        by_channel: dict[tuple[bool, MessageChannel], list[Any]] = defaultdict(list)
        for message in view.messages.failed(now):
            by_channel[(message.status is MessageStatus.unknown, message.channel)].append(message)
        items = []
        for (unknown, channel), messages in sorted(by_channel.items()):
            newest = max(messages, key=lambda m: m.id)
            what = "email" if channel is MessageChannel.email else "SMS"
            many = _plural(len(messages), what, what + "s" if what == "email" else what)
            if unknown:
                items.append(AttentionItem(
                    AttentionKind.messages_unknown,
                    f"{many} of reminders may or may not have gone out (sending unknown), for appointments "
                    "that have not started", "not sent again by rxdesk: ask the recipient if it matters",
                    newest.created_at, "outbox", len(messages), "rxdesk outbox list", "enter: the outbox (section 6)"))
                continue
            items.append(AttentionItem(
                AttentionKind.messages_failed,
                f"{many} of reminders could not be sent, for appointments that have not started",
                f"last error: {newest.last_error or 'none'}", newest.created_at, "outbox", len(messages),
                "rxdesk outbox list", "enter: the outbox (section 6)"))
        return items

    def _skipped(self, view: StoreView, now: datetime) -> list[AttentionItem]:
        # (group, recipient id, channel) -> the reminders skipped for want of that address
        groups: dict[tuple[RecipientGroup, str, MessageChannel], list[ReminderSent]] = defaultdict(list)
        for row in view.reminders_sent.skipped(now):
            if row.email_status.startswith(SKIPPED):
                groups[(row.recipient_group, row.recipient_id, MessageChannel.email)].append(row)
            if row.sms_status.startswith(SKIPPED):
                groups[(row.recipient_group, row.recipient_id, MessageChannel.sms)].append(row)
        items = []
        for (group, recipient_id, channel), rows in groups.items():
            who = _recipient(view, group, recipient_id)
            if who is None or _has_address(who, channel):
                continue  # fixed since (or gone): the next reminders go out
            kind = "SMS" if channel is MessageChannel.sms else "email"
            if channel is MessageChannel.sms and _phone_of(who):
                lacks = f"{who.name}'s phone number is not a mobile one"  # a landline takes no SMS
            else:
                lacks = f"{who.name} has no " + ("mobile number" if channel is MessageChannel.sms
                                                  else "email address reminders can go to")
            command, action = _recipient_fix(group, recipient_id)
            items.append(AttentionItem(
                AttentionKind.reminders_skipped,
                f"{lacks}: {_plural(len(rows), kind + ' reminder')} skipped",
                f"{group.value} {recipient_id}; for appointments that have not started",
                max(r.sent_at for r in rows), f"{group.value}:{recipient_id}", len(rows), command, action))
        return items

    def _no_mobile(self, view: StoreView, now: datetime, zone_name: str, doctors: list[Doctor],
                   types: dict[str, AppointmentType]) -> list[AttentionItem]:
        texting = {key: t for key, t in types.items() if any(
            r.recipient is RecipientGroup.doctor and r.send_sms for r in t.reminders)}
        if not texting:
            return []
        items = []
        for doctor in doctors:
            if doctor.mobile_phone or not texting.keys() & set(doctor.appointment_types):
                continue
            page = view.appointments.search(AppointmentQuery(
                doctor_id=doctor.id, statuses=lifecycle.ACTIVE, starts_from=now,
                starts_before=now + timedelta(days=UPCOMING_DAYS), as_of=now, count=False))
            upcoming = [a for a in page.items if a.type_key in texting]
            if not upcoming:
                continue
            names = sorted({texting[a.type_key].name for a in upcoming})
            items.append(AttentionItem(
                AttentionKind.no_mobile,
                f"{doctor.name} has no mobile number: {_plural(len(upcoming), 'appointment')} in "
                f"{UPCOMING_DAYS} days text the doctor",
                f"SMS reminders to the doctor ({', '.join(names)}) will be skipped; next "
                f"{format_local(upcoming[0].starts_at, zone_name)}", None, f"doctor:{doctor.id}", len(upcoming),
                f"rxdesk doctors set-phone {doctor.id} NUMBER", "enter: the doctor's page (m edits the mobile)"))
        return items

    @staticmethod
    def _no_windows(doctors: list[Doctor], types: dict[str, AppointmentType]) -> list[AttentionItem]:
        items = []
        for doctor in doctors:
            offered = [types[k] for k in doctor.appointment_types if k in types]
            without = [t for t in offered if not _has_window(doctor, t)]
            if not without:
                continue
            why = "has no availability windows" if not doctor.availability else "has no window long enough"
            items.append(AttentionItem(
                AttentionKind.no_windows,
                f"{doctor.name} offers {', '.join(t.name for t in without)} but {why}",
                f"patients see no slots for it in the next {NO_SLOTS_DAYS} days", None, f"doctor:{doctor.id}",
                len(without), f"rxdesk doctors slots {doctor.id} --type {without[0].key}",
                "enter: the doctor's page (why no slots)"))
        return items


def _order(item: AttentionItem) -> tuple[int, float, str]:
    """Most urgent kind first; within a kind the newest first, but the hold that lapses soonest
    first; items without a time by title."""
    when = item.since.timestamp() if item.since else 0.0
    return URGENCY[item.kind], when if item.kind is AttentionKind.hold_lapsing else -when, item.title


def _has_window(doctor: Doctor, appt_type: AppointmentType) -> bool:
    """Whether a weekly window can hold the type: then every four weeks have slots for it."""
    return any(minute_of_day(w.end) - minute_of_day(w.start) >= appt_type.duration_minutes for w in doctor.availability)


def _recipient(view: StoreView, group: RecipientGroup, recipient_id: str) -> Doctor | Patient | Admin | None:
    if group is RecipientGroup.doctor:
        return view.doctors.get(recipient_id)
    if group is RecipientGroup.patient:
        return view.patients.get(recipient_id)
    return view.admins.get(recipient_id)


def _phone_of(who: Doctor | Patient | Admin) -> str | None:
    """The number an SMS reminder to `who` goes to: a doctor's mobile, anyone else's phone."""
    return who.mobile_phone if isinstance(who, Doctor) else who.phone


def _has_address(who: Doctor | Patient | Admin, channel: MessageChannel) -> bool:
    """Whether the reminders' next email or SMS to `who` would find an address (as the worker
    checks it)."""
    if channel is MessageChannel.email:
        from rxdesk.domain.rules import email_refusal

        return bool(who.email) and not email_refusal(who.email)
    phone = _phone_of(who)
    if not phone:
        return False
    from rxdesk.domain.errors import RxdeskError
    from rxdesk.domain.phones import normalize_mobile  # phone metadata loads only when asked

    try:
        return bool(normalize_mobile(phone, allow_empty=True))
    except RxdeskError:
        return False


def _recipient_fix(group: RecipientGroup, recipient_id: str) -> tuple[str, str]:
    if group is RecipientGroup.doctor:
        return (f"rxdesk doctors set-phone {recipient_id} NUMBER", "enter: the doctor's page (m edits the mobile)")
    if group is RecipientGroup.patient:
        return (f"rxdesk patients show {recipient_id}", "enter: the patient's page")
    return ("rxdesk provision FILE.toml (the admin's phone and email)", "the provisioning file: admins")
