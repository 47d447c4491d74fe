"""How webhook deliveries are made, claimed, sent and retried (the maintenance tick's part).

- Fan-out: every event after the cursor becomes one delivery per active subscription that
  wants its type and existed when the event was created.
- Claims: a due delivery is leased to one runner (its lease id and an expiry) in the tick's
  first write, so no other runner sends it meanwhile.
- Sending: concurrently over one HTTP client, outside the lock, each attempt signed afresh
  (`webhooks.post_signed`); an attempt that could not start inside the send window is not made.
- Retry policy (`retries`, shared with messages): any 2xx is delivered; otherwise the next
  attempt waits RETRY_SCHEDULE[n-1] (or the receiver's Retry-After), after the last the
  delivery is dead, and 410 Gone deactivates the subscription.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.models import Delivery, DeliveryStatus, Subscription
from rxdesk.services import leases, retries
from rxdesk.services.webhooks import FANOUT_CURSOR, AttemptResult, payload, post_signed
from rxdesk.store.protocols import StoreView, UnitOfWork

# After attempt n fails, the next waits RETRY_SCHEDULE[n-1]; when they run out, it is dead.
RETRY_SCHEDULE = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                  timedelta(hours=5), timedelta(hours=10), timedelta(hours=10))
SIGNING_PROBLEM_WAIT = timedelta(minutes=5)
FANOUT_BATCH = 20000  # events fanned out per tick at most


@dataclass(frozen=True)
class Claimed:
    """A delivery leased to this runner, with what its attempt needs (read under the lock)."""

    delivery: Delivery
    url: str
    headers: dict[str, str]
    secret: str = field(repr=False)
    body: bytes
    allow_private: bool = False  # the subscription's --allow-private-network


@dataclass
class Claims:
    claimed: list[Claimed]
    dead: int = 0  # its subscription or event is gone: nothing to send
    deferred: int = 0  # its subscription's secret cannot be read: waits, not sent
    problems: list[str] = field(default_factory=list)


class Outcome(StrEnum):
    delivered = "delivered"
    retrying = "retrying"
    dead = "dead"
    gone = "gone"  # dead, and the receiver asked to stop: its subscription is deactivated
    not_sent = "not_sent"  # the send window closed before the attempt started: back in the queue
    taken_over = "taken_over"  # our lease ran out and another runner has it: not ours to record


def fan_out(view: UnitOfWork, now: datetime) -> int:
    """Make the deliveries of every event after the cursor; returns how many."""
    cursor = view.cursors.get(FANOUT_CURSOR)
    if view.events.last_seq() <= cursor:
        return 0
    subs = [s for s in view.subscriptions.all() if s.active]
    if not subs:
        return 0
    made = 0
    by_appointment: dict[str, list[str]] = {}
    for seq, event in view.events.after(cursor, limit=FANOUT_BATCH):
        # A rebooking is about both appointments: each detail lists its delivery.
        uids = {(event.data.get(k) or {}).get("uid") for k in ("appointment", "previous")} - {None}
        for sub in subs:
            if event.type in sub.events and (sub.created_at is None or event.created_at >= sub.created_at):
                delivery = Delivery(
                    id=view.deliveries.new_id(), event_id=event.id, event_type=event.type,
                    subscription_id=sub.id, url=sub.url, created_at=now, next_attempt_at=now,
                )
                view.deliveries.put(delivery)
                for uid in uids:
                    by_appointment.setdefault(str(uid), []).append(delivery.id)
                made += 1
        cursor = seq
    for uid, delivery_ids in by_appointment.items():
        view.deliveries.link_appointment(uid, delivery_ids)
    view.cursors.set(FANOUT_CURSOR, cursor)
    return made


def has_fan_out(view: StoreView) -> bool:
    """Events wait to be fanned out to an active subscription."""
    return view.events.last_seq() > view.cursors.get(FANOUT_CURSOR) and any(
        s.active for s in view.subscriptions.all()
    )


def claim(
    view: UnitOfWork,
    now: datetime,
    *,
    lease_id: str,
    limit: int,
    secret_of: Callable[[StoreView, Subscription], str],
    headers_of: Callable[[StoreView, Subscription], dict[str, str]] = lambda view, sub: dict(sub.headers),
) -> Claims:
    """Lease the due deliveries to `lease_id`; end the ones with nothing left to send."""
    claims = Claims([])
    secrets: dict[str, str] = {}
    headers: dict[str, dict[str, str]] = {}
    for delivery in view.deliveries.due(now, limit):
        sub = view.subscriptions.get(delivery.subscription_id)
        event = view.events.get(delivery.event_id)
        if sub is None or not sub.active or event is None:
            why = "the subscription was removed" if sub is None else (
                "the subscription is inactive" if not sub.active else "the event is gone")
            view.deliveries.put(delivery.model_copy(update={
                "status": DeliveryStatus.dead, "last_error": why, "next_attempt_at": None,
                "lease_id": "", "lease_until": None}))
            claims.dead += 1
            continue
        if sub.id not in secrets:
            try:
                secrets[sub.id] = secret_of(view, sub)
                headers[sub.id] = headers_of(view, sub)
            except RxdeskError as exc:
                # One subscription that cannot be signed for must not stop holds and reminders.
                secrets[sub.id] = ""
                claims.problems.append(f"subscription {sub.id}: cannot sign deliveries: {exc}")
        if not secrets[sub.id]:
            view.deliveries.put(delivery.model_copy(update={
                "next_attempt_at": now + SIGNING_PROBLEM_WAIT,
                "last_error": "not sent: the signing secret or a header does not decrypt with this master key"}))
            claims.deferred += 1
            continue
        view.deliveries.put(leases.claimed(delivery, lease_id, now))
        claims.claimed.append(Claimed(delivery, sub.url, headers[sub.id], secrets[sub.id], payload(event),
                                      sub.allow_private_network))
    return claims


def send(
    claimed: list[Claimed],
    *,
    client: Callable[[bool], httpx.Client],
    senders: int,
    started_in_time: Callable[[], bool],
    attempt_seconds: float,
) -> list[tuple[Claimed, AttemptResult | None]]:
    """One attempt per claimed delivery, concurrently, each ending within `attempt_seconds`;
    None for an attempt that did not start because `started_in_time()` said the send window
    had closed. `client(allow_private)` makes the HTTP client of a destination policy."""
    if not claimed:
        return []
    # One client per destination policy: a connection to a private address is never reused
    # for a subscription that may not reach it.
    with client(False) as public, client(True) as private:
        def attempt(item: Claimed) -> tuple[Claimed, AttemptResult | None]:
            if not started_in_time():
                return item, None
            http = private if item.allow_private else public
            try:
                return item, post_signed(http, item.url, item.headers, item.secret, item.delivery.event_id, item.body,
                                         seconds=attempt_seconds)
            except Exception as exc:  # noqa: BLE001 - one bad delivery must not stop the others
                return item, AttemptResult(False, None, f"could not send ({type(exc).__name__})")

        with ThreadPoolExecutor(max_workers=min(senders, len(claimed))) as pool:
            return list(pool.map(attempt, claimed))


def outcome(current: Delivery | None, result: AttemptResult | None, now: datetime,
            lease_id: str) -> tuple[Delivery | None, Outcome]:
    """The delivery after one attempt, by the retry policy (`retries.settle`), and what
    happened to it."""
    tried = None if result is None else retries.Tried(result.ok, final=result.gone, wait=result.retry_after)
    settled, step = retries.settle(current, tried, now, lease_id, RETRY_SCHEDULE)
    if settled is None or result is None:
        return settled, Outcome.taken_over if settled is None else Outcome.not_sent
    update: dict[str, Any] = {"last_attempt_at": now, "last_status_code": result.status_code,
                              "last_error": result.error, "response_excerpt": result.excerpt}
    if step is retries.Step.succeeded:
        update.update(status=DeliveryStatus.delivered, delivered_at=now)
        happened = Outcome.delivered
    elif step is retries.Step.gave_up and result.gone:
        update.update(status=DeliveryStatus.dead,
                      last_error=f"{result.error}: the receiver asked to stop; subscription deactivated")
        happened = Outcome.gone
    elif step is retries.Step.gave_up:
        update.update(status=DeliveryStatus.dead)
        happened = Outcome.dead
    else:
        happened = Outcome.retrying
    return settled.model_copy(update=update), happened
