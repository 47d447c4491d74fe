"""The slot generator: a doctor's weekly windows -> concrete UTC slots for an appointment type.

Windows are wall-clock times in the doctor's own zone. Slots step through a window in wall-clock
time by the type's duration; each slot's local start is turned into UTC on its own, so a
daylight-saving change is handled per slot: a local time that does not exist that day is
skipped, an ambiguous one takes its first occurrence (fold=0).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from rxdesk.domain.ids import FIRST_START, STARTS_BEFORE
from rxdesk.domain.times import to_utc, zone

if TYPE_CHECKING:
    from rxdesk.domain.models import AvailabilityWindow, Doctor


@dataclass(frozen=True, order=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    doctor_id: str

    def to_json(self) -> dict[str, str]:
        from rxdesk.domain.times import format_utc

        return {
            "doctor_id": self.doctor_id,
            "starts_at": format_utc(self.starts_at),
            "ends_at": format_utc(self.ends_at),
        }


Interval = tuple[datetime, datetime]


def minute_of_day(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def local_to_utc(day: date, minute_of_day: int, tz_name: str) -> datetime | None:
    """The UTC instant of a wall-clock time, or None when that local time does not exist."""
    tz = zone(tz_name)
    naive = datetime.combine(day, time()) + timedelta(minutes=minute_of_day)
    aware = naive.replace(tzinfo=tz, fold=0)
    utc = aware.astimezone(UTC)
    # A time in a spring-forward gap does not survive the round trip.
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return utc


def window_starts(
    window: AvailabilityWindow, day: date, duration_minutes: int, tz_name: str,
    after: datetime | None = None, before: datetime | None = None,
) -> Iterator[datetime]:
    """UTC starts of the slots one window offers on one local day; with `after`/`before`, at
    least those starting in [after, before) (a caller still filters: a window that a clock
    change crosses is walked whole)."""
    start, end = minute_of_day(window.start), minute_of_day(window.end)
    minute = start
    first = local_to_utc(day, start, tz_name)
    last = local_to_utc(day, end, tz_name)
    if first is not None and last is not None and last - first == timedelta(minutes=end - start):
        # No clock change inside the window: each start is the window's start plus its minutes,
        # and the slots outside [after, before) need not be made at all.
        if after is not None and after > first:
            minute += -(-(after - first) // timedelta(minutes=duration_minutes)) * duration_minutes
        while minute + duration_minutes <= end:
            utc = first + timedelta(minutes=minute - start)
            if before is not None and utc >= before:
                return
            yield utc
            minute += duration_minutes
        return
    while minute + duration_minutes <= end:
        converted = local_to_utc(day, minute, tz_name)
        if converted is not None:
            yield converted
        minute += duration_minutes


def candidate_slots(
    doctor: Doctor, duration_minutes: int, start: datetime, end: datetime
) -> Iterator[Slot]:
    """Every slot of the doctor's windows that starts in [start, end), ignoring bookings;
    never one outside the starts an appointment can have (`ids.FIRST_START`..)."""
    start, end = max(to_utc(start), FIRST_START), min(to_utc(end), STARTS_BEFORE)
    if end <= start or not doctor.availability:
        return
    tz = zone(doctor.timezone)
    by_weekday: dict[int, list[AvailabilityWindow]] = {}
    for window in sorted(doctor.availability, key=lambda w: (w.weekday, w.start)):
        by_weekday.setdefault(window.weekday, []).append(window)
    duration = timedelta(minutes=duration_minutes)
    # Local days that can hold a slot starting in range (a day either side for the offset).
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    while day <= last:
        for window in by_weekday.get(day.weekday(), ()):
            for utc in window_starts(window, day, duration_minutes, doctor.timezone, start, end):
                if start <= utc < end:
                    yield Slot(utc, utc + duration, doctor.id)
        day += timedelta(days=1)


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end


class BusyIndex:
    """Busy intervals sorted by start with a running maximum of their ends, so asking whether
    a slot overlaps any of them is a binary search, not a scan of every appointment."""

    def __init__(self, busy: Iterable[Interval]) -> None:
        intervals = sorted(busy)
        self._starts = [b0 for b0, _ in intervals]
        self._max_end: list[datetime] = []
        for _, b1 in intervals:
            self._max_end.append(b1 if not self._max_end or b1 > self._max_end[-1] else self._max_end[-1])

    def overlaps(self, start: datetime, end: datetime) -> bool:
        # Intervals starting before `end` are a prefix; one of them overlaps iff the latest end
        # among them is after `start`.
        count = bisect_left(self._starts, end)
        return count > 0 and self._max_end[count - 1] > start


def free_slots(
    doctor: Doctor,
    duration_minutes: int,
    busy: Iterable[Interval],
    *,
    now: datetime,
    booking_notice_minutes: int,
    start: datetime,
    end: datetime,
) -> list[Slot]:
    """Slots in [start, end) inside the windows, not overlapping `busy`, and at least the
    booking notice after `now`. `busy` are the doctor's active appointments."""
    earliest = max(to_utc(start), to_utc(now) + timedelta(minutes=booking_notice_minutes))
    index = BusyIndex(busy)
    return [slot for slot in candidate_slots(doctor, duration_minutes, earliest, end)
            if not index.overlaps(slot.starts_at, slot.ends_at)]


@dataclass(frozen=True)
class SlotDiagnosis:
    """Why a doctor shows (no) slots for a type over a period, with the counts."""

    offers_type: bool
    windows: int
    in_windows: int
    inside_notice: int
    booked: int
    free: int

    @property
    def reason(self) -> str:
        if not self.offers_type:
            return "the doctor does not offer this appointment type"
        if self.windows == 0:
            return "the doctor has no availability windows"
        if self.in_windows == 0:
            return "the windows are too short for this type's duration"
        if self.free > 0:
            return f"{self.free} free slots"
        if self.inside_notice and not (self.in_windows - self.inside_notice - self.booked):
            if self.booked:
                return "every slot is booked or inside the booking notice"
            return "every slot is inside the booking notice"
        return "every slot is booked"


def diagnose(
    doctor: Doctor,
    type_key: str,
    duration_minutes: int,
    busy: Iterable[Interval],
    *,
    now: datetime,
    booking_notice_minutes: int,
    start: datetime,
    end: datetime,
) -> SlotDiagnosis:
    offers = type_key in doctor.appointment_types
    if not offers:  # no slot of a type the doctor does not offer exists, booked or free
        return SlotDiagnosis(offers_type=False, windows=len(doctor.availability), in_windows=0, inside_notice=0,
                             booked=0, free=0)
    notice_end = to_utc(now) + timedelta(minutes=booking_notice_minutes)
    index = BusyIndex(busy)
    total = inside = booked = free = 0
    for slot in candidate_slots(doctor, duration_minutes, max(to_utc(start), to_utc(now)), end):
        total += 1
        if slot.starts_at < notice_end:
            inside += 1
        elif index.overlaps(slot.starts_at, slot.ends_at):
            booked += 1
        else:
            free += 1
    return SlotDiagnosis(
        offers_type=offers,
        windows=len(doctor.availability),
        in_windows=total,
        inside_notice=inside,
        booked=booked,
        free=free,
    )


class Taken:
    """The time a plan has already given out, per doctor: two moves of one plan never take
    the same (or an overlapping) slot."""

    def __init__(self) -> None:
        self._by_doctor: dict[str, list[Interval]] = {}

    def overlaps(self, doctor_id: str, start: datetime, end: datetime) -> bool:
        return any(overlaps(start, end, a, b) for a, b in self._by_doctor.get(doctor_id, ()))

    def take(self, doctor_id: str, start: datetime, end: datetime) -> None:
        self._by_doctor.setdefault(doctor_id, []).append((start, end))

    def count(self, doctor_id: str) -> int:
        return len(self._by_doctor.get(doctor_id, ()))
