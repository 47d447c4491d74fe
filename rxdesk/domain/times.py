"""Instants, zones and the one text form every stored time takes.

Stored times are UTC with whole seconds, written `YYYY-MM-DDTHH:MM:SSZ`. The form has a
fixed width, so stored times compare and sort correctly as plain strings; the store relies on it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, PlainSerializer

from rxdesk.domain.errors import ValidationFailed

STORED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_ISO_HINT = "an ISO-8601 date-time with a zone, e.g. 2026-11-24T09:30:00Z"


def to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValidationFailed(f"time {value.isoformat()} has no time zone")
    return value.astimezone(UTC).replace(microsecond=0)


def format_utc(value: datetime) -> str:
    """The stored form (STORED_FORMAT), built by hand: a tick formats tens of thousands."""
    v = to_utc(value)
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}Z"


def parse_instant(text: str, *, what: str = "time") -> datetime:
    """Parse an ISO-8601 instant that names its zone (`Z` or an offset); refuse anything else."""
    if not isinstance(text, str):
        raise ValidationFailed(f"{what} must be {_ISO_HINT}")
    raw = text.strip()
    if not raw or len(raw) > 64:
        raise ValidationFailed(f"{what} must be {_ISO_HINT}")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{what} {raw!r} is not {_ISO_HINT}") from None
    if value.tzinfo is None:
        raise ValidationFailed(f"{what} {raw!r} has no zone; add Z or an offset such as +01:00")
    try:
        return to_utc(value)
    except (OverflowError, ValueError):
        raise ValidationFailed(f"{what} {raw!r} is out of range") from None


def parse_date(text: str, *, what: str = "date") -> date:
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise ValidationFailed(f"{what} must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(f"{what} {text.strip()!r} is not a real date") from None


def _coerce_utc(value: object) -> datetime:
    if isinstance(value, str) and len(value) == 20 and value[-1] == "Z":
        # The stored form: the fast path for rows read back from the store.
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    try:
        if isinstance(value, datetime):
            return to_utc(value)
        if isinstance(value, str):
            return parse_instant(value)
    except ValidationFailed as exc:  # pydantic reports ValueErrors with the field's path
        raise ValueError(str(exc)) from None
    raise ValueError(f"expected {_ISO_HINT}")


UtcDateTime = Annotated[
    datetime,
    BeforeValidator(_coerce_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]


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
