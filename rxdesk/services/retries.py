"""One retry state machine for webhook deliveries and reminder messages.

After an attempt, the row held under this runner's lease is released and, by what the
attempt did: succeeded; retried after the schedule's next wait (or the receiver's
Retry-After); given up when the schedule has run out or the attempt said never again. An
attempt that never started (the send window closed) puts the row back unchanged; a row whose
lease another runner holds now is not ours to record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from rxdesk.services import leases
from rxdesk.services.leases import Leased


class Step(StrEnum):
    succeeded = "succeeded"
    retrying = "retrying"
    gave_up = "gave_up"
    not_sent = "not_sent"  # the send window closed before the attempt started: back in the queue
    taken_over = "taken_over"  # our lease ran out and another runner has it: not ours to record


@dataclass(frozen=True)
class Tried:
    """What one attempt did."""

    ok: bool
    final: bool = False  # never retry (410 Gone, a message that must not go out any more)
    wait: timedelta | None = None  # the receiver's Retry-After, instead of the schedule's wait
    counts: bool = True  # an attempt made (a message skipped before sending is none)


def settle(current: Leased | None, tried: Tried | None, now: datetime, lease_id: str,
           schedule: Sequence[timedelta]) -> tuple[Leased | None, Step]:
    """The row after one attempt (lease released, attempts and next attempt set) and the
    step it took; the caller sets its status for the step."""
    current = leases.held_by(current, lease_id)
    if current is None:
        return None, Step.taken_over
    released = leases.released(current)
    if tried is None:
        return released, Step.not_sent
    attempts = current.attempts + (1 if tried.counts else 0)
    if tried.ok:
        step, next_at = Step.succeeded, None
    elif tried.final or attempts > len(schedule):
        step, next_at = Step.gave_up, None
    else:
        step = Step.retrying
        next_at = now + (tried.wait if tried.wait is not None else schedule[attempts - 1])
    return released.model_copy(update={"attempts": attempts, "next_attempt_at": next_at}), step
