"""A doctor away (DESIGN: "Beyond the admin page"): every held or confirmed appointment of the
doctor that starts in a range is moved or cancelled, in one write.

Without rebooking, each is cancelled with the reason. With rebooking, each moves where its
type's rebooking mode allows, by the rebook rules (a slot the generator offers now, booking
notice included, as `rebooking.check_move` checks; then `write_move`: a linked new appointment,
the original cancelled naming it):

- `any_doctor`: another doctor offering the type at the same start (the patient keeps their
  time; the doctor with the fewest moves of this plan so far, then by name), else the free slot
  nearest to the original start of any doctor offering the type (the away doctor too, outside
  the range);
- `same_doctor`: the doctor's first free slot after the range; a range of whole days (ending
  at a midnight of the organisation's zone) ends, for the doctor, at the end of their own
  local day in which it ends (`back_from`): a doctor abroad is not booked on the rest of a
  day off.

What cannot move within HORIZON_DAYS is cancelled with the reason. Appointments are placed in
order of start, and two moves of one plan never take the same time (`slots.Taken`).

A plan is computed by one function from one state of the store: the dry run computes it from
a read, the run again inside its write, after reading again (on PostgreSQL: locking) every
appointment it takes, and again when one of them changed meanwhile; a write refused because
another writer got to a slot first is tried again. A plan's id depends only on what it does
(which appointments, moved where or cancelled), so a run given the id (or the plan) the agent
saw carries out that plan or nothing: when the plan now differs, it refuses with the plan now
and how it differs (`PlanChanged`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from rxdesk.domain import lifecycle
from rxdesk.domain.errors import Conflict, Refused, ValidationFailed
from rxdesk.domain.filters import parse_moment
from rxdesk.domain.models import (
    Appointment,
    AppointmentType,
    Doctor,
    RebookingMode,
)
from rxdesk.domain.queries import AppointmentQuery
from rxdesk.domain.slots import Slot, Taken, overlaps
from rxdesk.domain.times import (
    format_local,
    format_utc,
    local_day_bounds,
    to_utc,
    zone,
)
from rxdesk.services.appointments import cancel
from rxdesk.services.availability import open_slots
from rxdesk.services.base import Service, admin_actor, record
from rxdesk.services.rebooking import write_move
from rxdesk.store.protocols import StoreView, UnitOfWork

# How far past the range a move may go: further than this, the patient is better asked.
HORIZON_DAYS = 28
# The longest range one plan covers.
MAX_RANGE_DAYS = 92
# Writes tried before a run gives up on writers that keep taking its slots first.
RUN_ATTEMPTS = 3
# Plans made in one write before giving up on appointments that keep changing under it.
LOCK_ROUNDS = 5
# Appointments of the range tried when working out which change made a plan id go stale.
SEEN_TRIES = 200

Action = Literal["move", "cancel"]


@dataclass(frozen=True)
class AwayItem:
    """What the plan does with one appointment: move it (to a doctor and a start) or cancel it,
    and why."""

    appointment: Appointment  # as of the plan's now
    patient_name: str
    type_name: str
    action: Action
    why: str
    doctor_id: str | None = None  # where it moves
    doctor_name: str = ""
    starts_at: datetime | None = None
    new_uid: str | None = None  # once the run has made it
    doctor_zone: str = ""  # where it moves: that doctor's own zone

    @property
    def uid(self) -> str:
        return self.appointment.uid

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What the plan decides for this appointment (what a changed plan compares)."""
        when = format_utc(self.starts_at) if self.starts_at else ""
        return (self.uid, self.action, self.doctor_id or "", when)

    def outcome(self, zone_name: str) -> str:
        """`Dr Emi Sato, Mon 2026-11-23 10:00` or `cancelled`."""
        if self.action == "cancel":
            return "cancelled"
        return f"{self.doctor_name}, {format_local(self.starts_at, zone_name)}"

    def doctors_time(self, zone_name: str, *, with_zone: bool = True) -> str:
        """Where it moves, in that doctor's own zone when it is not `zone_name` (else "")."""
        if self.action == "cancel" or not self.doctor_zone or self.doctor_zone == zone_name:
            return ""
        local = format_local(self.starts_at, self.doctor_zone)
        return f"{local} {self.doctor_zone}" if with_zone else local

    def to_json(self) -> dict[str, Any]:
        appt = self.appointment
        return {
            "uid": appt.uid,
            "patient_id": appt.patient_id,
            "type_key": appt.type_key,
            "status": appt.status.value,
            "starts_at": format_utc(appt.starts_at),
            "action": self.action,
            "to_doctor_id": self.doctor_id,
            "to_starts_at": format_utc(self.starts_at) if self.starts_at else None,
            "new_uid": self.new_uid,
            "why": self.why,
        }


@dataclass(frozen=True)
class AwayPlan:
    doctor: Doctor
    starts_from: datetime
    starts_before: datetime
    reason: str
    rebook: bool
    items: list[AwayItem]
    zone: str  # the organisation's, for showing times
    done: bool = False  # True once a run has written it

    @property
    def plan_id(self) -> str:
        """A short fingerprint of what the plan does (the doctor, each appointment, moved to
        whom and when, or cancelled): equal plans have equal ids, whenever they were asked for
        and however the range was typed (`--from now`)."""
        digest = hashlib.sha256(self.doctor.id.encode() + b"\0")
        for item in self.items:
            digest.update("|".join(item.key).encode() + b"\n")
        return digest.hexdigest()[:10]

    @property
    def moved(self) -> int:
        return sum(1 for item in self.items if item.action == "move")

    @property
    def cancelled(self) -> int:
        return sum(1 for item in self.items if item.action == "cancel")

    def range_text(self) -> str:
        start, end = format_local(self.starts_from, self.zone), format_local(self.starts_before, self.zone)
        return f"{start} – {end} ({self.zone})"

    def doctors_range_text(self) -> str:
        """The range in the doctor's own zone when it is not the organisation's (else "")."""
        theirs = self.doctor.timezone
        if theirs == self.zone:
            return ""
        start, end = format_local(self.starts_from, theirs), format_local(self.starts_before, theirs)
        return f"{start} – {end} ({theirs})"

    def summary(self) -> str:
        """One line: `3 moved, 1 cancelled` (or what a dry run would do)."""
        if not self.items:
            return "no held or confirmed appointments start in that range"
        verb = ("moved", "cancelled") if self.done else ("to move", "to cancel")
        return f"{self.moved} {verb[0]}, {self.cancelled} {verb[1]}"

    def differences(self, other: AwayPlan) -> list[str]:
        """How this plan differs from `other`, one line per appointment."""
        mine = {item.uid: item for item in self.items}
        theirs = {item.uid: item for item in other.items}
        lines = []
        for uid in dict.fromkeys([*theirs, *mine]):
            before, after = theirs.get(uid), mine.get(uid)
            if before is not None and after is not None and before.key == after.key:
                continue
            was = before.outcome(self.zone) if before else "not in the plan"
            now = after.outcome(self.zone) if after else "no longer held or confirmed: left as it is"
            lines.append(f"{uid}: {was} → {now}")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "doctor_id": self.doctor.id,
            "from": format_utc(self.starts_from),
            "to": format_utc(self.starts_before),
            "reason": self.reason,
            "rebook": self.rebook,
            "plan_id": self.plan_id,
            "dry_run": not self.done,
            "moved": self.moved,
            "cancelled": self.cancelled,
            "items": [item.to_json() for item in self.items],
        }


@dataclass(frozen=True)
class AwayResult:
    """What a run did: the plan, carried out."""

    plan: AwayPlan

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "changed": None}


class PlanChanged(Refused):
    """The plan now is not the one the agent saw: nothing was done. `plan` is the plan now (not
    carried out), `changes` how it differs, one line per appointment (known when the plan seen
    was given, or when one change to the range explains its id: `plan_seen`)."""

    def __init__(self, expected: str, plan: AwayPlan, changes: list[str]) -> None:
        self.expected = expected
        self.plan = plan
        self.changes = changes
        if changes:
            more = f"; and {len(changes) - 3} more" if len(changes) > 3 else ""
            what = "; ".join(changes[:3]) + more
        else:
            what = "another change came in between"
        super().__init__(f"the plan changed since plan {expected} was shown ({what}); nothing was changed: "
                         f"the plan now is {plan.plan_id}")

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "changed": {"expected": self.expected, "differences": self.changes}}


class _Slots:
    """Free slots per doctor, type and (UTC) day from now to the horizon, each computed once
    per plan and only when asked for: most appointments find their place within a day of
    their start."""

    def __init__(self, view: StoreView, now: datetime, until: datetime) -> None:
        self.view = view
        self.now = now
        self.until = until
        self.first_day = now.date()
        self.last_day = until.date()
        self._days: dict[tuple[str, str, date], list[Slot]] = {}
        self._starts: dict[tuple[str, str, date], dict[datetime, Slot]] = {}

    def day(self, doctor: Doctor, appt_type: AppointmentType, day: date) -> list[Slot]:
        key = (doctor.id, appt_type.key, day)
        if key not in self._days:
            found: list[Slot] = []
            if self.first_day <= day <= self.last_day:
                start = datetime.combine(day, time(), tzinfo=UTC)
                end = min(start + timedelta(days=1), self.until)
                found = open_slots(self.view, doctor, appt_type, now=self.now, start=max(start, self.now), end=end)
            self._days[key] = found
        return self._days[key]

    def at(self, doctor: Doctor, appt_type: AppointmentType, start: datetime) -> Slot | None:
        key = (doctor.id, appt_type.key, start.date())
        if key not in self._starts:
            self._starts[key] = {s.starts_at: s for s in self.day(doctor, appt_type, start.date())}
        return self._starts[key].get(start)

    def first_after(self, doctor: Doctor, appt_type: AppointmentType, after: datetime,
                    usable: Callable[[Slot], bool]) -> Slot | None:
        """The doctor's first usable slot starting at or after `after`."""
        day = after.date()
        while day <= self.last_day:
            for slot in self.day(doctor, appt_type, day):
                if slot.starts_at >= after and usable(slot):
                    return slot
            day += timedelta(days=1)
        return None

    def nearest(self, appt_type: AppointmentType, doctors: list[Doctor], target: datetime,
                usable: Callable[[Slot], bool]) -> Slot | None:
        """The usable slot of `doctors` whose start is nearest to `target`: of two as near, the
        later; of slots with one start, the first doctor's. Looks a day further each way until
        nothing further can be nearer."""
        best: Slot | None = None
        best_gap = timedelta.max
        middle = target.date()
        reach = 0
        while True:
            days = [middle] if reach == 0 else [middle - timedelta(days=reach), middle + timedelta(days=reach)]
            for day in days:
                for doctor in doctors:
                    for slot in self.day(doctor, appt_type, day):
                        gap = abs(slot.starts_at - target)
                        later = best is not None and slot.starts_at > best.starts_at
                        nearer = gap < best_gap or (gap == best_gap and later)
                        if nearer and usable(slot):
                            best, best_gap = slot, gap
            # A slot `reach + 1` days away starts at least `reach` days from the target.
            if best is not None and best_gap <= timedelta(days=reach):
                return best
            if middle - timedelta(days=reach) <= self.first_day and middle + timedelta(days=reach) >= self.last_day:
                return best
            reach += 1


def compute_plan(view: StoreView, doctor: Doctor, starts_from: datetime, starts_before: datetime, reason: str, *,
                 rebook: bool, now: datetime, zone_name: str, appointments: list[Appointment] | None = None,
                 slots: _Slots | None = None) -> AwayPlan:
    """The plan for the doctor's held and confirmed appointments starting in the range, from
    this state of the store (see the module's docstring for the rules); `appointments`, when
    given, stands for them (what the plan would be had they been these)."""
    if appointments is None:
        page = view.appointments.search(AppointmentQuery(
            doctor_id=doctor.id, statuses=lifecycle.ACTIVE, starts_from=starts_from,
            starts_before=starts_before, as_of=now, count=False))
        appointments = [lifecycle.as_of(record.appointment, now) for record in page.items]
    types = {t.key: t for t in view.types.all()}
    patients = view.patients.names_of({appt.patient_id for appt in appointments})
    doctors = sorted(view.doctors.all(), key=lambda d: (d.name.casefold(), d.id))
    slots = slots or _Slots(view, now, starts_before + timedelta(days=HORIZON_DAYS))
    taken = Taken()
    items = []
    for appt in appointments:
        appt_type = types.get(appt.type_key)
        base = AwayItem(appt, patients.get(appt.patient_id, appt.patient_id),
                        appt_type.name if appt_type else appt.type_key, "cancel", "")
        if not rebook:
            items.append(base)
            continue
        if appt_type is None:
            items.append(replace(base, why=f"its type {appt.type_key} no longer exists"))
            continue
        found, why = _place(appt, appt_type, doctor, doctors, slots, taken, starts_from, starts_before,
                            back_from(doctor, starts_before, zone_name))
        if found is None:
            items.append(replace(base, why=why))
            continue
        target = next(d for d in doctors if d.id == found.doctor_id)
        taken.take(target.id, found.starts_at, found.ends_at)
        items.append(replace(base, action="move", why=why, doctor_id=target.id, doctor_name=target.name,
                             starts_at=found.starts_at, doctor_zone=target.timezone))
    return AwayPlan(doctor, starts_from, starts_before, reason, rebook, items, zone_name)


def back_from(doctor: Doctor, starts_before: datetime, zone_name: str) -> datetime:
    """When the doctor is back after a range ending at `starts_before`: a range of whole days
    in the organisation's zone (it ends at a midnight there) ends at the next midnight in the
    doctor's own zone, so a day off abroad is off all day; any other end is taken as typed."""
    org_local = starts_before.astimezone(zone(zone_name))
    if (org_local.hour, org_local.minute, org_local.second, org_local.microsecond) != (0, 0, 0, 0):
        return starts_before
    last_day = (starts_before - timedelta(microseconds=1)).astimezone(zone(doctor.timezone)).date()
    return local_day_bounds(last_day, doctor.timezone)[1]


def _place(appt: Appointment, appt_type: AppointmentType, away: Doctor, doctors: list[Doctor], slots: _Slots,
           taken: Taken, starts_from: datetime, starts_before: datetime,
           back: datetime) -> tuple[Slot | None, str]:
    """Where one appointment moves, and why there (or why nowhere); `back`: when the away
    doctor is back (`back_from`)."""

    def free(slot: Slot) -> bool:
        return not taken.overlaps(slot.doctor_id, slot.starts_at, slot.ends_at)

    if appt_type.rebooking_mode is RebookingMode.same_doctor:
        found = slots.first_after(away, appt_type, back, free)
        if found is None:
            return None, f"{away.name} has no free slot within {HORIZON_DAYS} days after the range"
        return found, "first free slot after the range"
    others = [d for d in doctors if d.id != away.id and appt_type.key in d.appointment_types]
    # The patient keeps their time with whoever has taken the fewest moves so far.
    for other in sorted(others, key=lambda d: taken.count(d.id)):
        same = slots.at(other, appt_type, appt.starts_at)
        if same is not None and free(same):
            return same, "same time"

    def usable(slot: Slot) -> bool:
        # The away doctor only outside the range.
        outside = slot.doctor_id != away.id or not overlaps(slot.starts_at, slot.ends_at, starts_from, starts_before)
        return outside and free(slot)

    found = slots.nearest(appt_type, [away, *others], appt.starts_at, usable)
    if found is None:
        if not others:
            return None, (f"no other doctor offers {appt_type.name} and {away.name} has no free slot "
                          f"within {HORIZON_DAYS} days")
        return None, f"no doctor offering {appt_type.name} has a free slot within {HORIZON_DAYS} days"
    return found, "nearest free slot" if found.doctor_id != away.id else "nearest free slot, same doctor"


def plan_seen(view: StoreView, plan: AwayPlan, expected_id: str, *, now: datetime) -> AwayPlan | None:
    """The plan with id `expected_id`, when it is `plan` but for one appointment of the range
    that has since left it (cancelled, lapsed, moved by someone else) or joined it (booked
    since): each such change is tried, up to SEEN_TRIES. None when no single one gives it."""
    page = view.appointments.search(AppointmentQuery(
        doctor_id=plan.doctor.id, starts_from=plan.starts_from, starts_before=plan.starts_before, as_of=now,
        count=False, limit=SEEN_TRIES))
    current = [item.appointment for item in plan.items]
    planned = {a.uid for a in current}
    slots = _Slots(view, now, plan.starts_before + timedelta(days=HORIZON_DAYS))
    for row in page.items:
        appt = lifecycle.as_of(row.appointment, now)
        if appt.uid in planned:
            then = [a for a in current if a.uid != appt.uid]
        else:
            then = sorted([*current, appt], key=lambda a: (a.starts_at, a.uid))
        seen = compute_plan(view, plan.doctor, plan.starts_from, plan.starts_before, plan.reason, rebook=plan.rebook,
                            now=now, zone_name=plan.zone, appointments=then, slots=slots)
        if seen.plan_id == expected_id:
            return seen
    return None


def _steady_plan(view: UnitOfWork, doctor: Doctor, starts_from: datetime, starts_before: datetime, reason: str, *,
                 rebook: bool, now: datetime, zone_name: str) -> AwayPlan:
    """The plan, made from appointments that can no longer change before the write commits:
    each one the plan takes is read again inside the write (which locks it on PostgreSQL); when
    one changed between the plan's read and its lock (cancelled, confirmed, moved by someone
    else), the plan is made again from what is there now."""
    for _ in range(LOCK_ROUNDS):
        plan = compute_plan(view, doctor, starts_from, starts_before, reason, rebook=rebook, now=now,
                            zone_name=zone_name)
        if all(lifecycle.as_of(view.appointments.require(item.uid), now) == item.appointment for item in plan.items):
            return plan
    raise Conflict(f"{doctor.name}'s appointments kept changing while the plan was made; nothing was changed: "
                   "try again")


class AwayService(Service):
    def range(self, from_text: str, to_text: str) -> tuple[datetime, datetime]:
        """The range as an agent types it (`filters.parse_moment`), in the organisation's zone; `to`
        after `from`, at most MAX_RANGE_DAYS."""
        now = self.now()
        with self.store.read() as view:
            zone_name = self.org(view).timezone
        today = now.astimezone(zone(zone_name)).date()
        start = parse_moment(from_text, today=today, now=now, zone_name=zone_name, end=False, what="from")
        end = parse_moment(to_text, today=today, now=now, zone_name=zone_name, end=True, what="to")
        return self.check_range(start, end)

    @staticmethod
    def check_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
        start, end = to_utc(start), to_utc(end)
        if end <= start:
            raise ValidationFailed("the range ends before it starts: 'to' must be after 'from'")
        if end - start > timedelta(days=MAX_RANGE_DAYS):
            raise ValidationFailed(f"the range is longer than {MAX_RANGE_DAYS} days; split it")
        return start, end

    def plan(self, doctor_id: str, starts_from: datetime, starts_before: datetime, reason: str, *,
             rebook: bool) -> AwayPlan:
        """What a run would do now (the dry run): nothing is written."""
        text = lifecycle.normalize_reason(reason)
        start, end = self.check_range(starts_from, starts_before)
        with self.store.read() as view:
            doctor = view.doctors.require(str(doctor_id).strip())
            return compute_plan(view, doctor, start, end, text, rebook=rebook, now=self.now(),
                                zone_name=self.org(view).timezone)

    def run(self, doctor_id: str, starts_from: datetime, starts_before: datetime, reason: str, *, rebook: bool,
            agent: str, expected: AwayPlan | str | None = None) -> AwayResult:
        """Plan again inside one write, from appointments that cannot change under it (each
        one the plan takes is read again, locked on PostgreSQL, and the plan made again when one
        changed meanwhile), and carry it out: every move a rebook, every other appointment
        cancelled with the reason, an audit entry for the whole. All or nothing; a write that
        another writer beat to a slot is tried again (RUN_ATTEMPTS). With `expected` (the plan,
        or the plan id, the agent saw), only that plan is carried out: when the plan now differs,
        nothing is done and `PlanChanged` carries the plan now."""
        text = lifecycle.normalize_reason(reason)
        start, end = self.check_range(starts_from, starts_before)
        actor = admin_actor(agent)
        expected_id = expected.plan_id if isinstance(expected, AwayPlan) else expected
        for attempt in range(1, RUN_ATTEMPTS + 1):
            try:
                with self.store.write() as view:
                    now = self.now()
                    doctor = view.doctors.require(str(doctor_id).strip())
                    zone_name = self.org(view).timezone
                    plan = _steady_plan(view, doctor, start, end, text, rebook=rebook, now=now, zone_name=zone_name)
                    if expected_id is not None and expected_id != plan.plan_id:
                        seen = expected if isinstance(expected, AwayPlan) else plan_seen(view, plan, expected_id,
                                                                                         now=now)
                        raise PlanChanged(expected_id, plan, plan.differences(seen) if seen else [])
                    return AwayResult(self._carry_out(view, plan, actor, now))
            except Conflict:
                if attempt == RUN_ATTEMPTS:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _carry_out(view: UnitOfWork, plan: AwayPlan, actor: str, now: datetime) -> AwayPlan:
        if not plan.items:
            return replace(plan, done=True)
        types = {t.key: t for t in view.types.all()}
        doctors = {d.id: d for d in view.doctors.all()}
        why = f"{plan.doctor.name} is away: {plan.reason}"
        # Every read first, then every write. The plan was computed in this write by the slot
        # generator a rebook checks against, and its moves never overlap one another, so each
        # move is a slot the generator offers now; what is left to read is the lapsed holds
        # lying under the moves (one question for all of them), which the moves expire.
        moves = [item for item in plan.items if item.action == "move"]
        lapsed_all = view.appointments.lapsed_holds(now) if moves else []
        checked = []
        for item in plan.items:
            appt = view.appointments.require(item.uid)
            lapsed: list[Appointment] = []
            if item.action == "move":
                assert item.doctor_id is not None and item.starts_at is not None
                end = item.starts_at + timedelta(minutes=types[appt.type_key].duration_minutes)
                lapsed = [hold for hold in lapsed_all if hold.doctor_id == item.doctor_id
                          and overlaps(hold.starts_at, hold.ends_at, item.starts_at, end)]
            checked.append((item, appt, lapsed))
        expired: set[str] = set()  # a lapsed hold under two moves is expired once
        items = []
        for item, appt, lapsed in checked:
            if item.action == "cancel":
                cancel(view, appt, plan.reason, actor, now)
                items.append(item)
                continue
            assert item.doctor_id is not None and item.starts_at is not None
            lapsed = [hold for hold in lapsed if hold.uid not in expired]
            expired.update(hold.uid for hold in lapsed)
            new = write_move(view, appt, types[appt.type_key], doctors[item.doctor_id], item.starts_at, now, actor,
                             lapsed=lapsed, why=why)
            items.append(replace(item, new_uid=new.uid))
        done = replace(plan, items=items, done=True)
        record(view, at=now, actor=actor, action="doctor.away", target=f"doctor:{plan.doctor.id}", details={
            "from": format_utc(plan.starts_from), "to": format_utc(plan.starts_before), "reason": plan.reason,
            "rebook": plan.rebook, "plan_id": plan.plan_id, "moved": done.moved, "cancelled": done.cancelled,
        })
        return done
