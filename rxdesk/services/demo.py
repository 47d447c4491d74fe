"""A realistic, self-consistent demo clinic (DESIGN: "Demo data shape").

By default N appointments, D = max(12, N / 5,000) doctors and U = N / 20 upcoming appointments
over the next 8 weeks; the rest is history, going back as far as the doctors' weekly windows
need and at least MIN_HISTORY_WEEKS. Every appointment lies inside its doctor's windows, no two
active appointments of a doctor overlap, statuses follow the lifecycle's rules at "now" (nothing
confirmed has ended, every open hold lapses after now, a clinic with 100 upcoming appointments
or more has a few open holds, no-shows carry an agent's note), and some appointments form rebook
chains. The same seed (and the same "now") gives the same data.

Rows are built as plain documents in the stored form (no per-row model validation), so a
million appointments take seconds; tests validate samples against the models.
"""

from __future__ import annotations

import calendar
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.ids import ALPHABET, week_index, week_prefix
from rxdesk.domain.limits import DEMO_APPOINTMENTS, DEMO_DOCTORS, within
from rxdesk.domain.models import (
    Admin,
    AppointmentType,
    AvailabilityWindow,
    Doctor,
    Org,
    Patient,
    RebookingMode,
    RecipientGroup,
    ReminderRule,
)
from rxdesk.domain.slots import local_to_utc
from rxdesk.domain.times import format_utc, zone
from rxdesk.services.base import Service, admin_actor, record
from rxdesk.services.lifecycle import set_completion_horizon
from rxdesk.services.provisioning import slugify

UPCOMING_WEEKS = 8
HISTORY_FILL = 0.8  # of a doctor's slots booked, at most
MIN_HISTORY_WEEKS = 26  # a small clinic's history still spans the months agents filter over
HOLD_DAYS = 3  # open holds are for slots in the next few days

FIRST_NAMES = (
    "Amira Ben Chloe Daniel Elif Farah George Hana Ivan Jonas Keira Liam Maya Nikolai Olivia "
    "Priya Quentin Rosa Samuel Tariq Uma Victor Wen Ximena Yusuf Zoe Aisha Bruno Carmen Dmitri "
    "Emma Felix Grace Hugo Isla Jamal Kofi Lena Mateo Nora Oscar Paula Rafael Sofia Theo "
    "Valentina William Yara Leila Marek Ines Aiden Chiara Sven Malika Tom Greta Omar Julia"
).split()
LAST_NAMES = (
    "Okafor Schmidt Novak Rossi Dubois Kowalski Nguyen Haddad Larsen Silva Murphy Costa "
    "Fischer Patel Yilmaz Andersson Moreau Ivanova Garcia Brennan Sato Meyer Kaya Hughes "
    "Lindqvist Romano Byrne Wagner Mensah Horvat Kim Ferreira Walsh Bauer Eriksen Marino "
    "Chen Osei Petrov Lopez Weber Nilsen Kelly Rahman Schulz Jansen Bianchi Popescu"
).split()
DOCTOR_ZONES = (
    ("Europe/London", "+44 20 7946 {:04d}", "+44 7700 {:06d}"),
    ("Europe/Berlin", "+49 30 1234 {:04d}", "+49 151 2{:07d}"),
    ("America/New_York", "+1 212 555 {:04d}", "+1 917 555 {:04d}"),
    ("America/Chicago", "+1 312 555 {:04d}", "+1 773 555 {:04d}"),
    ("Australia/Sydney", "+61 2 9876 {:04d}", "+61 412 {:06d}"),
)
CANCEL_REASONS = (
    "Patient asked to cancel by phone",
    "Doctor unavailable (sick leave)",
    "Duplicate booking",
    "Patient no longer needs the appointment",
    "Payment was not completed",
    "Patient is travelling",
)
NO_SHOW_NOTES = (
    "Patient did not join the video call",
    "No answer on the phone after 10 minutes",
    "Patient joined too late to be seen",
    "Patient said afterwards they forgot",
    "Connection never established; patient unreachable",
)


def demo_types() -> list[AppointmentType]:
    R = RecipientGroup
    return [
        AppointmentType(
            key="gp-consult", name="GP video consultation", duration_minutes=20,
            hold_ttl_minutes=15, cancellation_notice_minutes=120, booking_notice_minutes=60,
            rebooking_mode=RebookingMode.any_doctor,
            reminders=[
                ReminderRule(id="r-day", recipient=R.patient, minutes_before=1440, send_email=True),
                ReminderRule(id="r-hour", recipient=R.patient, minutes_before=60, send_sms=True),
                ReminderRule(id="r-doc", recipient=R.doctor, minutes_before=15, send_email=True),
            ],
        ),
        AppointmentType(
            key="follow-up", name="Follow-up call", duration_minutes=15,
            hold_ttl_minutes=10, cancellation_notice_minutes=60, booking_notice_minutes=30,
            rebooking_mode=RebookingMode.same_doctor,
            reminders=[
                ReminderRule(id="r-2h", recipient=R.patient, minutes_before=120, send_email=True, send_sms=True),
            ],
        ),
        AppointmentType(
            key="mental-health", name="Mental health session", duration_minutes=50,
            hold_ttl_minutes=30, cancellation_notice_minutes=1440, booking_notice_minutes=240,
            rebooking_mode=RebookingMode.same_doctor,
            reminders=[
                ReminderRule(id="r-2d", recipient=R.patient, minutes_before=2880, send_email=True),
                ReminderRule(id="r-2h", recipient=R.patient, minutes_before=120, send_sms=True),
                ReminderRule(id="r-admin", recipient=R.admin, minutes_before=60, send_email=True),
                ReminderRule(id="r-doc", recipient=R.doctor, minutes_before=30, send_sms=True),
            ],
        ),
        AppointmentType(
            key="prescription", name="Prescription review", duration_minutes=10,
            hold_ttl_minutes=10, cancellation_notice_minutes=30, booking_notice_minutes=30,
            rebooking_mode=RebookingMode.any_doctor,
            reminders=[
                ReminderRule(id="r-30m", recipient=R.patient, minutes_before=30, send_sms=True),
            ],
        ),
    ]


@dataclass
class DemoData:
    org: Org
    admins: list[Admin]
    types: list[AppointmentType]
    doctors: list[Doctor]
    patients: list[Patient]
    appointments: list[dict[str, Any]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Slot:
    doctor: int
    start: int  # epoch seconds, UTC
    end: int
    type_key: str


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class _Uids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seen: set[str] = set()

    def new(self, start_epoch: int) -> str:
        prefix = week_prefix(week_index(datetime.fromtimestamp(start_epoch, UTC).date()))
        while True:
            uid = prefix + "".join(self.rng.choices(ALPHABET, k=11))
            if uid not in self.seen:
                self.seen.add(uid)
                return uid


def _doctor_windows(rng: random.Random, index: int) -> list[AvailabilityWindow]:
    pattern = index % 4
    days = range(5) if pattern != 3 else (0, 1, 2, 3, 5)
    windows = []
    for day in days:
        if pattern == 1:
            windows.append(AvailabilityWindow(weekday=day, start="07:30", end="13:30"))
        elif pattern == 2:
            windows.append(AvailabilityWindow(weekday=day, start="12:00", end="20:00"))
        else:
            windows.append(AvailabilityWindow(weekday=day, start="08:30", end="12:30"))
            windows.append(AvailabilityWindow(weekday=day, start="13:30", end="17:30"))
    if pattern == 0 and rng.random() < 0.5:
        windows.append(AvailabilityWindow(weekday=5, start="09:00", end="12:00"))
    return windows


def build_people(rng: random.Random, n_doctors: int, n_patients: int) -> tuple[
    Org, list[Admin], list[AppointmentType], list[Doctor], list[Patient]
]:
    org = Org(name="Northbridge Telehealth", timezone="Europe/London", jitsi_base_url="https://meet.jit.si")
    admins = [
        Admin(id="adm-ops", name="Operations Desk", email="ops@northbridge.example", phone="+44 20 7946 0100"),
        Admin(id="adm-lead", name="Hana Okafor", email="hana.okafor@northbridge.example", phone="+44 7700 900100"),
        Admin(id="adm-night", name="Night Duty", email="night@northbridge.example", phone="+44 20 7946 0199"),
    ]
    types = demo_types()
    type_sets = (
        ["gp-consult", "follow-up", "prescription"],
        ["gp-consult", "follow-up"],
        ["mental-health", "follow-up"],
        ["gp-consult", "prescription", "follow-up"],
    )
    doctors = []
    for i in range(n_doctors):
        tz, landline, mobile = DOCTOR_ZONES[i % len(DOCTOR_ZONES)]
        name = f"Dr {FIRST_NAMES[(i * 7 + 3) % len(FIRST_NAMES)]} {LAST_NAMES[(i * 11 + 5) % len(LAST_NAMES)]}"
        digits = 1000 + i
        doctors.append(
            Doctor(
                id=f"doc-{i + 1:03d}",
                name=name,
                email=f"{slugify(name[3:]).replace('-', '.')}@northbridge.example",
                timezone=tz,
                # About one doctor in seven has no mobile number on file.
                mobile_phone="" if i % 7 == 6 else _e164(mobile.format(digits * 7)),
                prescription_phone=landline.format(digits),
                appointment_types=type_sets[i % len(type_sets)],
                room_url=f"{org.jitsi_base_url}/{slugify(name)}-{''.join(rng.choices(ALPHABET, k=10))}",
                availability=_doctor_windows(rng, i),
            )
        )
    patients = []
    for i in range(n_patients):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        pid = f"pat-{i + 1:06d}"
        patients.append(
            Patient(
                id=pid,
                name=f"{first} {last}",
                email=f"{first.lower()}.{last.lower()}{i + 1}@mail.example",
                phone=f"+44 7{rng.randrange(100, 999)} {rng.randrange(100000, 999999)}",
                external_id=f"shop-{100000 + i}" if rng.random() < 0.7 else "",
            )
        )
    return org, admins, types, doctors, patients


def _e164(text: str) -> str:
    return "+" + "".join(ch for ch in text if ch.isdigit())


class _SlotMaker:
    """Concrete appointment slots of each doctor, week by week, inside the windows."""

    def __init__(self, doctors: list[Doctor], types: dict[str, AppointmentType], rng: random.Random) -> None:
        self.doctors = doctors
        self.durations = {k: t.duration_minutes for k, t in types.items()}
        self.rng = rng

    def day_slots(self, d_index: int, day: date) -> Iterator[_Slot]:
        doctor = self.doctors[d_index]
        windows = [w for w in doctor.availability if w.weekday == day.weekday()]
        if not windows:
            return
        tz = zone(doctor.timezone)
        keys = doctor.appointment_types
        rng = self.rng
        midnight = calendar.timegm(day.timetuple())
        for w in windows:
            start_m = int(w.start[:2]) * 60 + int(w.start[3:])
            end_m = int(w.end[:2]) * 60 + int(w.end[3:])
            first = local_to_utc(day, start_m, doctor.timezone)
            last = local_to_utc(day, end_m, doctor.timezone) if end_m < 1440 else None
            steady = first is not None and last is not None and (last - first) == timedelta(minutes=end_m - start_m)
            noon = datetime(day.year, day.month, day.day, 12, tzinfo=tz)
            offset = int((noon.utcoffset() or timedelta()).total_seconds())
            m = start_m
            while True:
                key = keys[rng.randrange(len(keys))]
                dur = self.durations[key]
                if m + dur > end_m:
                    break
                if steady:
                    start = midnight + m * 60 - offset
                else:
                    utc = local_to_utc(day, m, doctor.timezone)
                    if utc is None:
                        m += dur
                        continue
                    start = calendar.timegm(utc.timetuple())
                yield _Slot(d_index, start, start + dur * 60, key)
                m += dur

    def days(self, first: date, last: date) -> Iterator[date]:
        day = first
        while day <= last:
            yield day
            day += timedelta(days=1)


def generate(
    n: int,
    *,
    now: datetime,
    seed: int = 7,
    doctors: int | None = None,
    upcoming: int | None = None,
) -> DemoData:
    within(n, DEMO_APPOINTMENTS, what="--appointments")
    n_doctors = doctors if doctors is not None else max(12, n // 5000)
    n_upcoming = upcoming if upcoming is not None else n // 20
    within(n_doctors, DEMO_DOCTORS, what="--doctors")
    if not 0 <= n_upcoming <= n:
        raise ValidationFailed("--upcoming must be between 0 and --appointments")
    rng = random.Random(seed)
    n_patients = max(50, min(max(n // 4, 50), 600 * n_doctors))
    org, admins, types, doctor_list, patients = build_people(rng, n_doctors, n_patients)
    data = DemoData(org, admins, types, doctor_list, patients)
    by_key = {t.key: t for t in types}
    maker = _SlotMaker(doctor_list, by_key, rng)
    uids = _Uids(rng)
    now_e = calendar.timegm(now.astimezone(UTC).timetuple())
    patient_ids = [p.id for p in patients]
    ops = [a.id for a in admins]
    today = now.astimezone(UTC).date()

    def base(slot: _Slot, uid: str, status: str, created: int) -> dict[str, Any]:
        doctor = doctor_list[slot.doctor]
        return {
            "uid": uid,
            "patient_id": patient_ids[rng.randrange(len(patient_ids))],
            "doctor_id": doctor.id,
            "type_key": slot.type_key,
            "status": status,
            "starts_at": _iso(slot.start),
            "ends_at": _iso(slot.end),
            "created_at": _iso(created),
            "hold_expires_at": None,
            "confirmed_at": None,
            "cancelled_at": None,
            "cancel_reason": None,
            "cancelled_by": None,
            "previous_meeting_uid": None,
            "room_url": doctor.room_url,
            "attendance_note": None,
            "attendance_by": None,
            "attendance_at": None,
        }

    def cancel(doc: dict[str, Any], at: int, reason: str, by: str) -> None:
        doc["status"] = "cancelled"
        doc["cancelled_at"] = _iso(at)
        doc["cancel_reason"] = reason
        doc["cancelled_by"] = by
        data.audit.append(
            {
                "at": doc["cancelled_at"],
                "actor": by,
                "action": "appointment.cancel",
                "target": f"appointment:{doc['uid']}",
                "details": {"from_status": "confirmed", "reason": reason},
            }
        )

    def no_show(doc: dict[str, Any], slot: _Slot) -> None:
        """The patient did not attend: an agent marked it after the end, with a note."""
        at = slot.end + rng.randrange(300, 2 * 86400)
        if at > now_e - 60:  # marked some time since it ended, not all in the last minute
            at = rng.randrange(slot.end + 1, max(slot.end + 2, now_e - 59))
        note, by = rng.choice(NO_SHOW_NOTES), admin_actor(rng.choice(ops))
        doc.update(status="no_show", attendance_note=note, attendance_by=by, attendance_at=_iso(at))
        data.audit.append(
            {
                "at": doc["attendance_at"],
                "actor": by,
                "action": "appointment.mark",
                "target": f"appointment:{doc['uid']}",
                "details": {"from_status": "completed", "to_status": "no_show", "reason": note},
            }
        )

    def add(slot: _Slot, future: bool, held: bool = False) -> None:
        lead = rng.randrange(3600, 21 * 86400)
        created = slot.start - lead
        if future and created > now_e - 3600:  # booked before now: over the last weeks, not all a minute ago
            created = now_e - rng.randrange(3600, 21 * 86400)
        uid = uids.new(slot.start)
        roll = rng.random()
        if future:
            if held:
                # An open hold: taken within its TTL before now, so it lapses after now.
                ttl = by_key[slot.type_key].hold_ttl_minutes * 60
                created = now_e - rng.randrange(0, ttl)
                doc = base(slot, uid, "held", created)
                doc["hold_expires_at"] = _iso(created + ttl)
            else:
                doc = base(slot, uid, "confirmed", created)
                # Confirmed before now (a confirmation "in the future" would hold back reminders);
                # cancelled after its confirmation, before now.
                confirmed = min(created + rng.randrange(30, 600), now_e - 1)
                doc["confirmed_at"] = _iso(confirmed)
                if roll > 0.91:
                    at = confirmed + rng.randrange(60, max(61, min(5 * 86400, now_e - 60 - confirmed)))
                    cancel(doc, at, rng.choice(CANCEL_REASONS), admin_actor(rng.choice(ops)))
        else:
            if roll < 0.02:
                ttl = by_key[slot.type_key].hold_ttl_minutes * 60
                doc = base(slot, uid, "expired", created)
                doc["hold_expires_at"] = _iso(created + ttl)
            else:
                doc = base(slot, uid, "confirmed", created)
                doc["confirmed_at"] = _iso(created + rng.randrange(30, 600))
                if roll < 0.14:
                    at = created + rng.randrange(600, max(601, slot.start - created - 60))
                    cancel(doc, at, rng.choice(CANCEL_REASONS), admin_actor(rng.choice(ops)))
                elif roll < 0.19:
                    no_show(doc, slot)
                else:
                    doc["status"] = "completed"  # history has ended: nothing stays confirmed
        data.appointments.append(doc)
        # About one in thirty appointments was rebooked from an earlier one (sometimes twice).
        if doc["status"] in ("confirmed", "completed", "no_show") and rng.random() < 0.033:
            rebooked_from(doc, slot, depth=1 if rng.random() < 0.8 else 2)

    def rebooked_from(doc: dict[str, Any], slot: _Slot, depth: int) -> None:
        """Give `doc` a chain of `depth` cancelled originals, each a week earlier at the same
        local time, every rebook done before the original's start and before now."""
        doctor = doctor_list[slot.doctor]
        tz = zone(doctor.timezone)
        starts: list[int] = []
        start = slot.start
        for _ in range(depth):
            local = datetime.fromtimestamp(start, UTC).astimezone(tz)
            earlier = local_to_utc(local.date() - timedelta(days=7), local.hour * 60 + local.minute, doctor.timezone)
            if earlier is None:
                break
            start = calendar.timegm(earlier.timetuple())
            starts.append(start)
        if not starts or len(data.appointments) + len(starts) > n:
            return
        starts.reverse()  # oldest first
        latest = min(starts[0], now_e) - 60
        first_created = latest - rng.randrange(2 * 86400, 12 * 86400)
        moments = sorted(rng.sample(range(first_created + 60, latest), len(starts)))
        duration = slot.end - slot.start
        originals: list[dict[str, Any]] = []
        for k, prev_start in enumerate(starts):
            prev_slot = _Slot(slot.doctor, prev_start, prev_start + duration, slot.type_key)
            created = first_created if k == 0 else moments[k - 1]
            prev = base(prev_slot, uids.new(prev_start), "confirmed", created)
            prev["patient_id"] = doc["patient_id"]
            prev["confirmed_at"] = _iso(created + 60)
            if k:
                prev["previous_meeting_uid"] = originals[-1]["uid"]
            originals.append(prev)
        chain = [*originals, doc]
        for k, prev in enumerate(originals):
            successor = chain[k + 1]
            cancel(prev, moments[k], f"Rebooked to {successor['uid']}", admin_actor(rng.choice(ops)))
            data.links.append((prev["uid"], successor["uid"]))
        doc["previous_meeting_uid"] = originals[-1]["uid"]
        doc["created_at"] = _iso(moments[-1])
        if doc["confirmed_at"] is not None:
            doc["confirmed_at"] = _iso(moments[-1] + 60)
        data.appointments.extend(originals)

    # Upcoming: a random choice among every free slot of the next weeks.
    if n_upcoming:
        candidates: list[_Slot] = []
        for day in maker.days(today, today + timedelta(weeks=UPCOMING_WEEKS)):
            for d in range(n_doctors):
                candidates.extend(s for s in maker.day_slots(d, day) if s.start > now_e + 600)
        if n_upcoming > len(candidates):
            raise ValidationFailed(
                f"{n_upcoming:,} upcoming appointments do not fit {n_doctors} doctors' windows "
                f"over {UPCOMING_WEEKS} weeks ({len(candidates):,} slots); add --doctors"
            )
        picked = rng.sample(range(len(candidates)), n_upcoming)
        picked.sort()
        soon = [i for i in picked if candidates[i].start - now_e < HOLD_DAYS * 86400]
        holds = set(rng.sample(soon, min(len(soon), max(3, n_upcoming // 300) if n_upcoming >= 100
                                         else round(len(soon) * 0.06))))
        for index in picked:
            if len(data.appointments) >= n_upcoming:
                break
            add(candidates[index], future=True, held=index in holds)

    # History: walk back day by day, booking most slots (fewer in a small clinic, so that its
    # history still spans MIN_HISTORY_WEEKS), until N appointments exist.
    last_week = list(maker.days(today - timedelta(days=7), today - timedelta(days=1)))
    week_slots = sum(1 for d in range(n_doctors) for day in last_week for _ in maker.day_slots(d, day))
    fill = min(HISTORY_FILL, (n - len(data.appointments)) / max(1, week_slots * MIN_HISTORY_WEEKS))
    day = today
    oldest = today - timedelta(days=366 * 40)
    while len(data.appointments) < n:
        if day < oldest:
            raise ValidationFailed("the history does not fit 40 years of windows; add --doctors")
        for d in range(n_doctors):
            for slot in maker.day_slots(d, day):
                if slot.end > now_e - 60 or rng.random() > fill:
                    continue
                add(slot, future=False)
                if len(data.appointments) >= n:
                    break
            if len(data.appointments) >= n:
                break
        day -= timedelta(days=1)
    return data


class DemoService(Service):
    def build(
        self,
        n: int,
        *,
        agent: str,
        seed: int = 7,
        doctors: int | None = None,
        upcoming: int | None = None,
        replace: bool = False,
    ) -> DemoData:
        """Fill an empty data dir with a demo clinic; with `replace`, drop what is there."""
        now = self.now()
        data = generate(n, now=now, seed=seed, doctors=doctors, upcoming=upcoming)
        with self.store.write() as view:
            replaced = not view.bulk.is_empty()
            if replaced and not replace:
                raise ValidationFailed(
                    f"{self.store.location} already holds data; use --replace to swap it for the demo, "
                    "or choose another --data-dir (or database)"
                )
            if replaced:
                view.bulk.clear()
            view.org.put(data.org)
            for admin in data.admins:
                view.admins.put(admin)
            for appt_type in data.types:
                view.types.put(appt_type)
            for doctor in data.doctors:
                view.doctors.put(doctor)
            view.bulk.add_patients(data.patients)
            view.bulk.add_appointments(data.appointments)
            set_completion_horizon(view, now)  # nothing confirmed has ended
            for old, new in data.links:
                view.appointments.link_successor(old, new)
            view.bulk.add_audit(data.audit)
            record(
                view,
                at=now,
                actor=admin_actor(agent),
                action="demo.build",
                target="org",
                details={"appointments": len(data.appointments), "doctors": len(data.doctors),
                         "patients": len(data.patients), "seed": seed, "replaced": replaced},
            )
        return data


__all__ = ["DemoData", "DemoService", "build_people", "format_utc", "generate"]
