"""Leases: how one runner claims a pending delivery or message so that no other sends it.

A claim stores the runner's lease id (unique per running worker) and an expiry on the row,
in the tick's first write. Only the holder records the attempt's result. Once the lease has
run out without a result, another runner claims a delivery again and sends it with the same
webhook-id; a message it marks `unknown` instead (an SMS or email is never sent twice).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from rxdesk.domain.models import Delivery, DeliveryStatus, MessageStatus, OutboxMessage
from rxdesk.services.webhooks import TIMEOUT_SECONDS

LEASE = timedelta(minutes=5)
# No attempt starts later than this after the claim, so the slowest one (a 15 s timeout) still
# ends inside the lease and no other runner can have taken it over meanwhile.
SEND_WINDOW = (LEASE - timedelta(seconds=TIMEOUT_SECONDS + 30)).total_seconds()

Leased = TypeVar("Leased", Delivery, OutboxMessage)


def claimed(row: Leased, lease_id: str, now: datetime) -> Leased:
    """`row` leased to `lease_id` until LEASE from `now`."""
    return row.model_copy(update={"lease_id": lease_id, "lease_until": now + LEASE})


def released(row: Leased) -> Leased:
    return row.model_copy(update={"lease_id": "", "lease_until": None})


def held_by(row: Leased | None, lease_id: str) -> Leased | None:
    """`row` as read back for recording, if it is still pending under this lease (else None:
    the lease ran out and another runner took the row over). A message another runner marked
    `unknown` after our lease ran out keeps our lease id: what we know of it replaces that."""
    if row is None or row.lease_id != lease_id:
        return None
    if isinstance(row, Delivery):
        return row if row.status is DeliveryStatus.pending else None
    return row if row.status in (MessageStatus.pending, MessageStatus.unknown) else None
