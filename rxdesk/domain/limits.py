"""The numbers agents type: how a whole number is read, and the bounds each one must keep.

One place for both, read by the models, the services that check what they are given, and
the command line's option types (which refuse a bad value before anything runs). This module
imports nothing but the errors, so the command line can parse without loading the models.
"""

from __future__ import annotations

import re

from rxdesk.domain.errors import ValidationFailed

# (lowest, highest), both allowed.
MINUTES_BEFORE = (1, 43_200)  # a reminder rule: up to 30 days ahead
SLOT_DAYS = (1, 90)  # how far ahead open slots are looked for
LISTING_LIMIT = (1, 100_000)  # rows a listing prints at most when asked for fewer
DEMO_APPOINTMENTS = (1, 5_000_000)
DEMO_DOCTORS = (1, 2_000)
DEMO_UPCOMING = (0, 5_000_000)  # and never more than the appointments
SEED = (0, 999_999_999)
TICK_INTERVAL_SECONDS = (0.05, 86_400.0)


def parse_whole(value: object, *, what: str) -> int:
    """A whole number as typed: ASCII digits only (`int()` would also take '٣٠' or '³'),
    at most nine of them."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise ValidationFailed(f"{what} {str(value)[:40]!r} is not a whole number (digits 0-9)")
    return int(text)


_SPAN = re.compile(r"(?:(\d{1,6})\s*d)?\s*(?:(\d{1,6})\s*h)?\s*(?:(\d{1,6})\s*(?:min|m)?)?")


def parse_minutes(value: object, *, what: str = "minutes") -> int:
    """A span as agents write it and the tables show it: `90`, `90 min`, `2h`, `2 h`, `1d`,
    `1d 2h`, `1 h 30 min` (bare digits are minutes). ASCII digits only."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    match = _SPAN.fullmatch(text) if text.isascii() else None
    if not text or match is None or not any(match.groups()):
        raise ValidationFailed(f"{what} {str(value)[:40]!r} is not a span: use minutes (90) or 2h, 1d, 1d 2h")
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return days * 1440 + hours * 60 + minutes


def format_minutes(value: int) -> str:
    """The other way round, as the tables show a span: `2 d`, `1 d 2 h`, `90 min` → `1 h 30 min`."""
    if value <= 0:
        return f"{value} min"
    parts = []
    for unit, size in (("d", 1440), ("h", 60), ("min", 1)):
        if value >= size:
            parts.append(f"{value // size} {unit}")
            value %= size
    return " ".join(parts)


def shown(number: float) -> str:
    """A bound as a message says it: `43200`, `100,000`, `0.05`."""
    if number != int(number):
        return f"{number:g}"
    return f"{int(number):,}" if number >= 100_000 else str(int(number))


def within(value: int, bounds: tuple[int, int], *, what: str) -> int:
    """`value` when it keeps `bounds`, else a refusal that names them."""
    low, high = bounds
    if not low <= value <= high:
        raise ValidationFailed(f"{what} must be between {shown(low)} and {shown(high)}")
    return value


def whole_within(value: object, bounds: tuple[int, int], *, what: str) -> int:
    """A whole number as typed (`parse_whole`) that keeps `bounds`."""
    return within(parse_whole(value, what=what), bounds, what=what)
