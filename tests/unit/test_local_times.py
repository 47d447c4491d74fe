"""A listing's times: `LocalTimes` shows every stored instant exactly as `format_local` does,
across changes of offset and in zones whose offset is not whole hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rxdesk.domain.times import LocalTimes, format_local, format_utc

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns",
         "Australia/Lord_Howe", "Pacific/Chatham", "Pacific/Apia", "UTC"]


@pytest.mark.parametrize("tz", ZONES)
def test_every_instant_of_a_year_reads_as_format_local_shows_it(tz: str) -> None:
    local = LocalTimes(tz)
    at, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    wrong = []
    while at < end:
        if local(format_utc(at)) != format_local(at, tz):
            wrong.append(format_utc(at))
        at += timedelta(minutes=13)
    assert wrong == []


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
def test_the_minutes_around_a_change_of_offset_read_right(tz: str) -> None:
    local = LocalTimes(tz)
    # Every minute of the days the clocks change in 2026 (both hemispheres' dates).
    days = [datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 4, 5, tzinfo=UTC),
            datetime(2026, 10, 4, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)]
    for day in days:
        for minute in range(0, 24 * 60 + 60, 1):
            at = day - timedelta(minutes=30) + timedelta(minutes=minute)
            assert local(format_utc(at)) == format_local(at, tz), format_utc(at)


def test_a_start_in_another_shape_is_still_shown() -> None:
    local = LocalTimes("Europe/Berlin")
    assert local("2026-11-24T08:30:00+00:00") == "Tue 2026-11-24 09:30"
    assert local("2026-11-24T08:30:45Z") == "Tue 2026-11-24 09:30"
