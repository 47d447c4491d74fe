"""Time sources. Nothing in rxdesk reads the wall clock except `SystemClock`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from rxdesk.domain.times import to_utc


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC, whole seconds."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)


class FixedClock:
    """A clock that only moves when told to: tests, demos and `RXDESK_NOW`."""

    def __init__(self, now: datetime) -> None:
        self._now = to_utc(now)

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = to_utc(now)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now = self._now + (delta if delta is not None else timedelta(**kwargs))
        return self._now
