"""The slot generator: windows in the doctor's zone to UTC slots, across DST in two zones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxdesk.domain.models import AvailabilityWindow, Doctor
from rxdesk.domain.slots import candidate_slots, diagnose, free_slots, window_starts


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def doctor(tz: str, *windows: tuple[int, str, str], types: list[str] | None = None) -> Doctor:
    return Doctor(
        id="d1",
        name="Dr One",
        timezone=tz,
        appointment_types=types if types is not None else ["t"],
        availability=[AvailabilityWindow(weekday=w, start=s, end=e) for w, s, e in windows],
    )


def starts(doc: Doctor, minutes: int, start: datetime, end: datetime) -> list[datetime]:
    return [s.starts_at for s in candidate_slots(doc, minutes, start, end)]


@pytest.mark.parametrize(
    ("tz", "before", "after", "offset_before", "offset_after"),
    [
        # Europe/Berlin springs forward on Sun 2026-03-29; New York on Sun 2026-03-08.
        ("Europe/Berlin", utc(2026, 3, 23), utc(2026, 3, 30), 1, 2),
        ("America/New_York", utc(2026, 3, 2), utc(2026, 3, 9), -5, -4),
        # ... and fall back on Sun 2026-10-25 / Sun 2026-11-01.
        ("Europe/Berlin", utc(2026, 10, 19), utc(2026, 10, 26), 2, 1),
        ("America/New_York", utc(2026, 10, 26), utc(2026, 11, 2), -4, -5),
    ],
)
def test_same_local_window_moves_in_utc_across_dst(
    tz: str, before: datetime, after: datetime, offset_before: int, offset_after: int
) -> None:
    doc = doctor(tz, (0, "09:00", "10:00"))  # Mondays 09:00-10:00 local
    week_before = starts(doc, 30, before, before + timedelta(days=1, hours=12))
    week_after = starts(doc, 30, after, after + timedelta(days=1, hours=12))
    assert week_before == [
        before + timedelta(hours=9 - offset_before),
        before + timedelta(hours=9 - offset_before, minutes=30),
    ]
    assert week_after == [
        after + timedelta(hours=9 - offset_after),
        after + timedelta(hours=9 - offset_after, minutes=30),
    ]


def test_berlin_spring_gap_is_skipped() -> None:
    doc = doctor("Europe/Berlin", (6, "01:00", "04:00"))  # Sunday night
    got = starts(doc, 30, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12))
    # 01:00, 01:30 CET, then 02:00 and 02:30 do not exist, then 03:00, 03:30 CEST.
    assert got == [utc(2026, 3, 29, 0), utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1), utc(2026, 3, 29, 1, 30)]


def test_berlin_autumn_ambiguous_hour_takes_first_occurrence() -> None:
    doc = doctor("Europe/Berlin", (6, "01:00", "04:00"))
    got = starts(doc, 30, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12))
    assert got == [
        utc(2026, 10, 24, 23, 0),   # 01:00 CEST
        utc(2026, 10, 24, 23, 30),  # 01:30 CEST
        utc(2026, 10, 25, 0, 0),    # 02:00 first occurrence (CEST)
        utc(2026, 10, 25, 0, 30),   # 02:30 first occurrence (CEST)
        utc(2026, 10, 25, 2, 0),    # 03:00 CET
        utc(2026, 10, 25, 2, 30),   # 03:30 CET
    ]


def test_new_york_spring_gap_and_autumn_repeat() -> None:
    doc = doctor("America/New_York", (6, "01:00", "03:30"))
    spring = starts(doc, 30, utc(2026, 3, 8, 0), utc(2026, 3, 9, 0))
    # 01:00, 01:30 EST (UTC-5); 02:00/02:30 missing; 03:00 EDT (UTC-4).
    assert spring == [utc(2026, 3, 8, 6), utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7)]
    autumn = starts(doc, 30, utc(2026, 11, 1, 0), utc(2026, 11, 2, 0))
    # 01:00 and 01:30 are ambiguous: first occurrence (EDT, UTC-4); then EST.
    assert autumn == [utc(2026, 11, 1, 5), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 7), utc(2026, 11, 1, 7, 30), utc(2026, 11, 1, 8)]


def test_slots_fit_inside_the_window() -> None:
    doc = doctor("UTC", (0, "09:00", "10:10"))
    assert starts(doc, 30, utc(2026, 11, 23), utc(2026, 11, 24)) == [utc(2026, 11, 23, 9), utc(2026, 11, 23, 9, 30)]


def test_free_slots_skip_busy_and_booking_notice() -> None:
    doc = doctor("UTC", (0, "09:00", "12:00"))
    now = utc(2026, 11, 23, 8, 0)
    busy = [(utc(2026, 11, 23, 10, 15), utc(2026, 11, 23, 10, 45))]
    slots = free_slots(doc, 30, busy, now=now, booking_notice_minutes=90, start=now, end=now + timedelta(days=1))
    assert [s.starts_at for s in slots] == [
        utc(2026, 11, 23, 9, 30),  # 09:00 is inside the 90-minute notice
        utc(2026, 11, 23, 11, 0),  # 10:00 and 10:30 overlap the busy 10:15-10:45
        utc(2026, 11, 23, 11, 30),
    ]
    assert all(s.doctor_id == "d1" and s.ends_at - s.starts_at == timedelta(minutes=30) for s in slots)


def test_no_windows_no_slots() -> None:
    assert starts(doctor("UTC"), 30, utc(2026, 11, 23), utc(2026, 12, 23)) == []


def test_diagnose_names_the_reason() -> None:
    now = utc(2026, 11, 23, 8, 0)
    end = now + timedelta(days=1)
    kwargs = dict(now=now, start=now, end=end)
    assert diagnose(doctor("UTC", types=[]), "t", 30, [], booking_notice_minutes=0, **kwargs).reason.startswith(
        "the doctor does not offer"
    )
    assert diagnose(doctor("UTC"), "t", 30, [], booking_notice_minutes=0, **kwargs).reason == (
        "the doctor has no availability windows"
    )
    doc = doctor("UTC", (0, "09:00", "10:00"))
    full = [(utc(2026, 11, 23, 9), utc(2026, 11, 23, 10))]
    booked = diagnose(doc, "t", 30, full, booking_notice_minutes=0, **kwargs)
    assert (booked.in_windows, booked.booked, booked.free, booked.reason) == (2, 2, 0, "every slot is booked")
    inside = diagnose(doc, "t", 30, [], booking_notice_minutes=24 * 60, **kwargs)
    assert (inside.inside_notice, inside.reason) == (2, "every slot is inside the booking notice")
    ok = diagnose(doc, "t", 30, [], booking_notice_minutes=0, **kwargs)
    assert ok.free == 2


def _every_start(window: AvailabilityWindow, day: date, duration: int, tz_name: str) -> Iterator[datetime]:
    """The generator's rule spelled out slot by slot: each local start converted on its own."""
    from rxdesk.domain.slots import local_to_utc, minute_of_day

    minute, end = minute_of_day(window.start), minute_of_day(window.end)
    while minute + duration <= end:
        utc = local_to_utc(day, minute, tz_name)
        if utc is not None:
            yield utc
        minute += duration


@settings(max_examples=300, deadline=None)
@given(
    tz_name=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC",
                             "Australia/Lord_Howe", "America/St_Johns"]),
    day=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)) | st.sampled_from(
        [date(2026, 3, 29), date(2026, 10, 25), date(2026, 3, 8), date(2026, 11, 1), date(2026, 4, 5),
         date(2026, 10, 4)]),
    start=st.integers(0, 23 * 60), length=st.integers(5, 24 * 60), duration=st.sampled_from([5, 10, 15, 20, 30, 50, 90]),
    after=st.integers(-600, 1500), span=st.integers(1, 2000),
)
def test_a_narrow_range_gives_exactly_the_slots_of_the_whole_window_in_it(tz_name: str, day: date, start: int, length: int,
                                                                         duration: int, after: int, span: int) -> None:
    end = min(start + length, 24 * 60)
    window = AvailabilityWindow(weekday=day.weekday(), start=f"{start // 60:02d}:{start % 60:02d}",
                                end="24:00" if end == 1440 else f"{end // 60:02d}:{end % 60:02d}")
    origin = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    lo, hi = origin + timedelta(minutes=after), origin + timedelta(minutes=after + span)
    expected = [utc for utc in _every_start(window, day, duration, tz_name) if lo <= utc < hi]
    narrowed = [utc for utc in window_starts(window, day, duration, tz_name, lo, hi) if lo <= utc < hi]
    assert narrowed == expected
    assert list(window_starts(window, day, duration, tz_name)) == list(_every_start(window, day, duration, tz_name))
