"""Instants, zones and the one text form every stored time takes.

Stored times are UTC with whole seconds, written `YYYY-MM-DDTHH:MM:SSZ`. The form has a
fixed width, so stored times compare and sort correctly as plain strings; the store relies on it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rxdesk.domain.errors import ValidationFailed

STORED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
ISO_HINT = "an ISO-8601 date-time with a zone, e.g. 2026-11-24T09:30:00Z"

# The days and instants rxdesk takes as input (filters' days too, `domain/filters.py`): far
# enough from the ends of what `datetime` holds that a day's bounds in any zone, slots a year
# ahead or a week of history before never overflow.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)
EARLIEST = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)
LATEST = datetime(LAST_DAY.year, LAST_DAY.month, LAST_DAY.day, 23, 59, 59, tzinfo=UTC)


def to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValidationFailed(f"time {value.isoformat()} has no time zone")
    return value.astimezone(UTC).replace(microsecond=0)


def format_utc(value: datetime) -> str:
    """The stored form (STORED_FORMAT), built by hand: a tick formats tens of thousands."""
    v = to_utc(value)
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}Z"


def out_of_range(what: str, text: str) -> ValidationFailed:
    return ValidationFailed(f"{what} {text[:40]!r} is out of range ({FIRST_DAY} to {LAST_DAY})")


def within_range(value: datetime, *, what: str, text: str) -> datetime:
    """`value` (UTC) when it lies between EARLIEST and LATEST; else a one-line refusal naming
    `text`, as typed."""
    if not EARLIEST <= value <= LATEST:
        raise out_of_range(what, text)
    return value


def parse_instant(text: str, *, what: str = "time") -> datetime:
    """Parse an ISO-8601 instant that names its zone (`Z` or an offset), between EARLIEST and
    LATEST; refuse anything else. The one parser of instants typed or set (RXDESK_NOW)."""
    if not isinstance(text, str):
        raise ValidationFailed(f"{what} must be {ISO_HINT}")
    raw = text.strip()
    if not raw or len(raw) > 64:
        raise ValidationFailed(f"{what} must be {ISO_HINT}")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{what} {raw!r} is not {ISO_HINT}") from None
    if value.tzinfo is None:
        raise ValidationFailed(f"{what} {raw!r} has no zone; add Z or an offset such as +01:00")
    try:
        utc = to_utc(value)
    except (OverflowError, ValueError):
        raise out_of_range(what, raw) from None
    return within_range(utc, what=what, text=raw)


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a clear error."""
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith(("/", ".")):
        raise ValidationFailed(f"time zone {name!r} is not an IANA zone name such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationFailed(
            f"time zone {name!r} is not an IANA zone name such as Europe/Berlin"
        ) from None


# Files in the zone folder that are not IANA zones: this machine's own setting, build helpers.
_NOT_IANA = frozenset({"localtime", "posixrules", "Factory"})


@lru_cache(maxsize=1)
def _iana_names() -> frozenset[str]:
    from zoneinfo import available_timezones

    return frozenset(available_timezones()) - _NOT_IANA


def check_iana_zone(name: object) -> str:
    """`name` if it is an IANA zone name (`Europe/Berlin`, `UTC`); refuses what only happens to
    open on this machine (`localtime`, a path)."""
    if not isinstance(name, str) or name not in _iana_names():
        raise ValidationFailed(f"time zone {str(name)[:64]!r} is not an IANA zone name such as Europe/Berlin")
    return name


def week_key(value: datetime | str) -> str:
    """The Monday (`YYYY-MM-DD`, UTC) of the week holding an instant or its stored form."""
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else to_utc(value).date()
    return (day - timedelta(days=day.weekday())).isoformat()


def weeks_between(start: datetime, end: datetime) -> list[str]:
    """Every week key from the week of `start` to the week of `end`, inclusive."""
    first, last = date.fromisoformat(week_key(start)), date.fromisoformat(week_key(end))
    keys = []
    while first <= last:
        keys.append(first.isoformat())
        first += timedelta(weeks=1)
    return keys


def local_day_bounds(day: date, tz_name: str) -> tuple[datetime, datetime]:
    """The UTC instants where `day` begins and the next day begins, in zone `tz_name`."""
    tz = zone(tz_name)
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
    return to_utc(start), to_utc(end)


def parse_time(text: str, zone_name: str, *, what: str = "time") -> datetime:
    """An instant as an agent types it on the command line: ISO-8601 with a zone (`Z`, an
    offset) as it says; without one (`2026-12-08T10:10`, `2026-12-08 10:10`) a wall-clock time
    in the zone `zone_name` (the organisation's, as listings print times). A wall-clock time the
    zone skips (the clocks go forward) is refused; one it has twice is the first."""
    if not isinstance(text, str) or not text.strip() or len(text.strip()) > 64:
        raise ValidationFailed(f"{what} must be {ISO_HINT}, or a local YYYY-MM-DDTHH:MM in {zone_name}")
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{what} {raw!r} is not {ISO_HINT}, nor a local YYYY-MM-DDTHH:MM") from None
    if value.tzinfo is not None:
        return parse_instant(raw, what=what)
    tz = zone(zone_name)
    try:
        instant = value.replace(tzinfo=tz).astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationFailed(f"{what} {raw!r} is out of range") from None
    if instant.astimezone(tz).replace(tzinfo=None) != value:
        raise ValidationFailed(f"{what} {raw!r} does not exist in {zone_name} (the clocks go forward then)")
    return instant.replace(microsecond=0)


_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def format_local(value: datetime | None, tz_name: str, *, weekday: bool = True) -> str:
    """An instant as an agent reads it in zone `tz_name`: `Tue 2026-11-24 09:30`."""
    if value is None:
        return ""
    local = value.astimezone(zone(tz_name))
    # By hand rather than strftime: listings format thousands of these, and strftime costs
    # ~10x more per call. English day names whatever the locale, as everywhere in rxdesk.
    text = f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"
    return f"{_DAY_NAMES[local.weekday()]} {text}" if weekday else text


class LocalTimes:
    """`format_local` of many stored instants (`2026-11-24T08:30:00Z`) in one zone, for a
    listing of tens of thousands of rows: the zone is asked once per distinct UTC day, each
    distinct hour is formatted once, and an instant in an hour already seen costs a slice and
    a join.

    A day that a change of offset falls into, or in a zone whose offset is not a whole number
    of hours, is converted instant by instant, exactly as `format_local` does.
    """

    __slots__ = ("_days", "_hours", "_name", "_zone")

    def __init__(self, tz_name: str) -> None:
        self._name = tz_name
        self._zone = zone(tz_name)
        self._days: dict[str, timedelta | None] = {}
        self._hours: dict[str, str | None] = {}

    def __call__(self, stored: str) -> str:
        hour = stored[:13]
        if hour in self._hours:
            prefix = self._hours[hour]
        else:
            prefix = self._hours[hour] = self._hour(stored)
        if prefix is not None:
            return prefix + stored[13:16]
        return format_local(datetime.fromisoformat(stored), self._name)

    def _hour(self, stored: str) -> str | None:
        """`Tue 2026-11-24 09` for the hour `stored` falls in, when every minute of it is
        that hour's minute in the zone; None otherwise (or for a text not in stored form)."""
        if len(stored) != 20 or stored[10] != "T" or stored[13] != ":" or stored[-1] != "Z":
            return None
        day = stored[:10]
        if day in self._days:
            offset = self._days[day]
        else:
            offset = self._days[day] = self._offset(day)
        if offset is None:
            return None
        try:
            local = datetime.fromisoformat(stored[:13]) + offset
        except ValueError:
            return None
        return f"{_DAY_NAMES[local.weekday()]} {local.isoformat(' ', 'hours')}"

    def _offset(self, day: str) -> timedelta | None:
        """The zone's offset through the whole UTC `day`, if it is one whole number of hours."""
        try:
            start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        except ValueError:
            return None
        first = start.astimezone(self._zone).utcoffset()
        last = (start + timedelta(days=1, microseconds=-1)).astimezone(self._zone).utcoffset()
        if first is None or first != last or first % timedelta(hours=1):
            return None
        return first
