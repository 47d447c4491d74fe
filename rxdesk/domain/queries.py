"""Query objects: what a caller asks of the appointment store, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class AppointmentQuery:
    """Appointments matching every given criterion, ordered by start (then uid).

    `starts_from` is inclusive, `starts_before` exclusive. With `count=False` the store may
    stop as soon as the page is full, and `Page.total` is None.

    `statuses` matches the status each appointment has at `as_of` (`lifecycle.status_at`):
    a stored `held` whose `hold_expires_at <= as_of` matches `expired` (not `held`), a stored
    `confirmed` whose `ends_at <= as_of` matches `completed` (not `confirmed`), every other
    status matches as stored. In SQL:

        CASE WHEN status = 'held' AND hold_expires_at <= :as_of THEN 'expired'
             WHEN status = 'confirmed' AND ends_at <= :as_of THEN 'completed'
             ELSE status END IN (:statuses)

    With `as_of` None, `statuses` matches the stored status (what the maintenance tick and
    bulk tools need). The documents returned are always as stored.
    """

    statuses: frozenset[str] | None = None
    doctor_id: str | None = None
    patient_id: str | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    offset: int = 0
    limit: int | None = None
    descending: bool = False
    count: bool = True
    as_of: datetime | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int | None
    offset: int = 0
    limit: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def has_more(self) -> bool:
        if self.total is None:
            return self.limit is not None and len(self.items) >= self.limit
        return self.offset + len(self.items) < self.total


@dataclass(frozen=True)
class DeliveryTrouble:
    """The deliveries of one subscription that need an agent (`DeliveryReader.trouble`)."""

    subscription_id: str
    dead: int  # went dead at or after the `dead_since` asked for
    failing: int  # pending after a failed attempt, created at or before `failing_before`
    since: datetime  # the earliest of them: the oldest failing one's creation, else the first death
    latest_id: str  # the newest of them (the highest id): its last error is what an agent reads first


@dataclass(frozen=True)
class WorkerTick:
    """The newest maintenance tick any worker recorded (`Store.last_tick`)."""

    owner: str
    at: datetime
