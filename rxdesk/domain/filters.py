"""Parsing what agents type into filters: days (`2026-11-24`, `today`, `+7d`) and statuses."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from rxdesk.domain.enums import AppointmentStatus
from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.lifecycle import ACTIVE
from rxdesk.domain.times import (
    FIRST_DAY,
    LAST_DAY,
    local_day_bounds,
    out_of_range,
    parse_time,
    to_utc,
    within_range,
    zone,
)

_REL_RE = re.compile(r"([+-])(\d{1,4})([dw])")
_WORDS = {"today": 0, "tomorrow": 1, "yesterday": -1}
# Every form `parse_day` takes, as a refusal lists them.
DAY_FORMS = "use YYYY-MM-DD, today, tomorrow, yesterday, or days or weeks from today: +7d, -14d, +2w, -1w"


def parse_day(text: str, today: date, *, what: str = "date") -> date:
    """`YYYY-MM-DD`, `today`, `tomorrow`, `yesterday`, or `+7d` / `-2w` relative to today,
    between 1900-01-01 and 9998-12-31."""
    day = _parse_day(text, today, what=what)
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationFailed(f"{what} {text.strip()[:40]!r} is out of range ({FIRST_DAY} to {LAST_DAY})")
    return day


def _parse_day(text: str, today: date, *, what: str) -> date:
    raw = (text or "").strip().lower()
    if raw in _WORDS:
        return today + timedelta(days=_WORDS[raw])
    match = _REL_RE.fullmatch(raw)
    if match:
        sign, amount, unit = match.groups()
        days = int(amount) * (7 if unit == "w" else 1)
        try:
            return today + timedelta(days=days if sign == "+" else -days)
        except OverflowError:
            raise ValidationFailed(f"{what} {text.strip()!r} is out of range") from None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ValidationFailed(f"{what} {text.strip()!r} is not a real date") from None
    raise ValidationFailed(f"{what} {text.strip()[:40]!r} is not a date: {DAY_FORMS}")


def parse_statuses(values: list[str] | tuple[str, ...] | str) -> frozenset[str]:
    """Statuses from repeated values or a comma/space separated string."""
    items = [values] if isinstance(values, str) else list(values)
    found: set[str] = set()
    valid = {s.value for s in AppointmentStatus}
    for item in items:
        for part in re.split(r"[,\s]+", (item or "").strip().lower().replace("-", "_")):
            if not part:
                continue
            if part == "active":
                found.update(s.value for s in ACTIVE)
            elif part in valid:
                found.add(part)
            else:
                raise ValidationFailed(
                    f"status {part[:40]!r} is not one of {', '.join(sorted(valid))} (or active)"
                )
    return frozenset(found)


def parse_moment(text: str, *, today: date, now: datetime, zone_name: str, end: bool, what: str) -> datetime:
    """An instant as an agent types it: ISO-8601 (without a zone, in the organisation's, as
    everywhere); a local `YYYY-MM-DD HH:MM` or `HH:MM` (today) in the organisation's zone;
    `now`; or a day (`2026-11-24`, `today`, `tomorrow`, `+2d`): its start, or with `end` its
    end (the day is included)."""
    raw = (text or "").strip()
    if not raw:
        raise ValidationFailed(f"{what} is required")
    if raw.lower() == "now":
        return now
    tz = zone(zone_name)
    for pattern in ("%Y-%m-%d %H:%M", "%H:%M"):
        try:
            local = datetime.strptime(raw, pattern)
        except ValueError:
            continue
        if pattern == "%H:%M":
            local = datetime.combine(today, local.time())
        try:
            utc = to_utc(local.replace(tzinfo=tz))
        except OverflowError:  # a local time at the very ends of the calendar
            raise out_of_range(what, raw) from None
        return within_range(utc, what=what, text=raw)
    if "T" in raw or ":" in raw:
        return parse_time(raw, zone_name, what=what)
    day = parse_day(raw, today, what=what)
    bounds = local_day_bounds(day, zone_name)
    return bounds[1] if end else bounds[0]
