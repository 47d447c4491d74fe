"""The maintenance manager: one tick expires lapsed holds, fires due reminders, fans events
out to webhooks, and sends.

A tick costs a constant number of store writes however much it does:

1. (one write, only when there is work) write down lapsed holds as expired and ended
   appointments as completed (`lifecycle.catch_up`); fire every due reminder
   (`reminders.fire`: one event per recipient with its ReminderSent row, its emails and SMS
   queued); fan new events out into deliveries (`deliveries.fan_out`); claim the due
   deliveries and messages with a lease (this runner's lease id and an expiry).
2. (no lock) send them: webhooks concurrently over one HTTP client, emails and SMS beside.
3. (one write) record every result by the retry policy (`retries`, through
   `deliveries.outcome` and `messages.outcome`); 410 Gone deactivates the subscription.

A tick with nothing to do takes no lock and writes only its note (`Store.record_tick`); a
running worker's look for due reminders covers only the moments since its last look while
nothing was written meanwhile (`reminders.DueWatch`).

Two runners on one store never fire a reminder twice (the ReminderSent key is checked inside
the write) nor send one attempt twice (the lease). Each runner holds leases under its own id,
even when two share a name, and starts no attempt it could not finish before its lease runs
out; what it had no time for goes back to the queue unsent.

Before step 3 the results are written to the results journal (`journal`: a small file per
runner in the data dir). When step 3 cannot be written (a full disk, a lost database, a lock
timeout), or the process ends before it (`worker --once`, a kill), the results survive there,
and the first tick of any runner on the data dir writes them, in one write more, before it
claims anything. Only when the journal cannot be written either are results lost, and the
tick says so plainly: such a delivery is sent again with the same webhook-id once its lease
runs out, but an email or SMS is never sent twice: the next claim marks it `unknown`
(`messages.claim`).

Words: the *maintenance* is what is done, a *tick* is one pass of it, and a *worker*
(`rxdesk.worker`) is the process that runs ticks, headless or as the app's child process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx

from rxdesk.domain.errors import RxdeskError, StoreError, StoreUnavailable, UnreadableRecord
from rxdesk.domain.ids import random_token
from rxdesk.domain.models import OutboxMessage
from rxdesk.domain.sending import skip_reason
from rxdesk.services import deliveries, lifecycle, messages, reminders
from rxdesk.services.base import record
from rxdesk.services.journal import Journal, Results
from rxdesk.services.leases import SEND_WINDOW
from rxdesk.services.notify import Notifier
from rxdesk.services.webhooks import TIMEOUT_SECONDS, AttemptResult, http_client, subscription_target
from rxdesk.store.protocols import StoreView, UnitOfWork

if TYPE_CHECKING:
    from rxdesk.services import Desk

CLAIM_BATCH = 2000  # deliveries (and messages) sent per tick at most; the rest wait a minute


@dataclass
class TickReport:
    at: datetime
    expired: int = 0
    completed: int = 0
    reminders: int = 0
    deliveries_created: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    messages_sent: int = 0
    messages_outbox: int = 0
    messages_failed: int = 0
    messages_skipped: int = 0  # queued, then not sent: the appointment was cancelled or had started
    messages_unknown: int = 0  # claimed by a runner that never recorded the send: not sent again
    deferred: int = 0  # claimed but not attempted within the send window: back in the queue
    writes: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            (self.expired, "hold expired", "holds expired"),
            (self.completed, "appointment completed", "appointments completed"),
            (self.reminders, "reminder", "reminders"),
            (self.delivered, "webhook delivered", "webhooks delivered"),
            (self.retrying, "webhook to retry", "webhooks to retry"),
            (self.dead, "webhook dead", "webhooks dead"),
            (self.messages_sent, "message sent", "messages sent"),
            (self.messages_outbox, "message to the outbox", "messages to the outbox"),
            (self.messages_failed, "message failed", "messages failed"),
            (self.messages_skipped, "message skipped", "messages skipped"),
            (self.messages_unknown, "message whose sending is unknown", "messages whose sending is unknown"),
            (self.deferred, "send left for the next tick", "sends left for the next tick"),
        ]
        said = [f"{n} {one if n == 1 else many}" for n, one, many in parts if n]
        return f"{self.at:%H:%M} · " + (" · ".join(said) if said else "nothing due")

    def to_json(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


@dataclass
class _Claimed:
    deliveries: list[deliveries.Claimed]
    messages: list[OutboxMessage]


class TickFailed(StoreError):
    """The tick did its work but could not write down all of it: `report` says what it did."""

    def __init__(self, message: str, report: TickReport) -> None:
        super().__init__(message)
        self.report = report


class TickUnavailable(TickFailed, StoreUnavailable):
    """TickFailed because the database could not be reached: trying again later may work."""


def _failed(exc: RxdeskError, report: TickReport) -> TickFailed:
    kind = TickUnavailable if isinstance(exc, StoreUnavailable) else TickFailed
    return kind(str(exc), report)


class MaintenanceService:
    """The maintenance manager for one desk. `owner` names this runner in logs and audit; its
    leases carry `lease_id`, which is unique to this instance (two app sessions of one agent, or
    two workers on one host, share an owner name but never a lease). `once`: this runner ticks
    once (`worker --once`), so it remembers nothing for a next tick."""

    def __init__(
        self,
        desk: Desk,
        owner: str = "worker",
        *,
        client: Callable[[bool], httpx.Client] = http_client,
        senders: int = 16,
        send_window: float = SEND_WINDOW,
        timer: Callable[[], float] = time.monotonic,
        attempt_seconds: float = TIMEOUT_SECONDS,
        once: bool = False,
    ) -> None:
        self.desk = desk
        self.store = desk.store
        self.owner = owner
        self.actor = owner if ":" in owner else f"worker:{owner}"
        self.lease_id = f"{owner}#{os.getpid()}-{random_token(6)}"
        self.client = client
        self.senders = senders
        self.send_window = send_window
        self.timer = timer
        self.attempt_seconds = attempt_seconds  # each send's deadline: connect, send, whole answer
        self.journal = Journal(desk.settings.data_dir)
        self._unrecorded: Results | None = None  # this runner's, until the store has them
        self.due_watch = reminders.DueWatch(remembers=not once)  # a runner ticking once has no next look

    def tick(self, now: datetime | None = None) -> TickReport:
        """One tick at `now` (the desk's clock by default), noted in the store when it is done
        (`Store.record_tick`: what tells an agent that a worker runs). TickFailed, carrying the
        report, when the tick did its work but could not write all of it down."""
        now = now or self.desk.clock.now()
        report = self._tick(now)
        try:
            self.store.record_tick(self.owner, now)
        except RxdeskError as exc:
            if report.messages_sent or report.delivered or report.problems:
                raise _failed(exc, report) from None
            raise
        return report

    def _tick(self, now: datetime) -> TickReport:
        report = TickReport(now)
        self._write_unrecorded(report)  # first, so that no claim takes them for lost
        state = self.due_watch.settled(self.store)
        with self.store.read() as view:
            if not self.has_work(view, now, state):
                return report
        notifier = Notifier(self.desk.settings, attempt_seconds=self.attempt_seconds, clock=self.desk.clock)
        with self.store.write() as view:
            claimed = self._decide(view, now, notifier, report)
        report.writes += 1
        if not claimed.deliveries and not claimed.messages:
            return report
        deadline = self.timer() + self.send_window

        def in_time() -> bool:
            return self.timer() <= deadline

        with ThreadPoolExecutor(max_workers=1) as side:  # emails and SMS go out beside the webhooks
            mailed = side.submit(messages.send, claimed.messages, notifier, senders=self.senders,
                                 started_in_time=in_time, recheck=self._still_to_send)
            posted = self._send_webhooks(claimed.deliveries, in_time)
            sent = mailed.result()
        done = max(now, self.desk.clock.now())
        # Kept until written: sends that happened are never forgotten for a failed write.
        results = Results(done, self.lease_id, [(item.delivery.id, result) for item, result in posted],
                          [(message.id, error) for message, error in sent])
        self._unrecorded = results
        kept = self.journal.keep(results)
        try:
            left = self._record_all(results, report)
        except StoreUnavailable as exc:
            report.problems.append(_unrecorded_note(results, str(exc), kept, self.journal))
            raise _failed(exc, report) from None
        self._settle(results, left, report, kept)
        return report

    def _write_unrecorded(self, report: TickReport) -> None:
        """Results sent earlier and not in the store yet: this runner's own, then those other
        runs left in the journal (a `worker --once` whose write failed, a killed worker), each
        recorded under the lease it was sent under."""
        if self._unrecorded is not None:
            mine = self._unrecorded
            self._settle(mine, self._record_all(mine, report), report, "")
        for results in self.journal.waiting():
            if results.lease_id == self.lease_id:
                continue
            left = self._record_all(results, report)
            if left is None:
                self.journal.drop(results.lease_id)
            else:
                kept = self.journal.keep(left)
                report.problems.append(_unrecorded_note(left, "the store refused them again", kept, self.journal))

    def _settle(self, results: Results, left: Results | None, report: TickReport, kept: str) -> None:
        """After a results write: the journal's file goes when the store has them all; else it
        keeps only what is left, and the report says where it is, or that it is lost."""
        if left is None:
            self._unrecorded = None
            self.journal.drop(results.lease_id)
            return
        self._unrecorded = left
        kept = kept or self.journal.keep(left)
        report.problems.append(_unrecorded_note(left, "the store refused them", kept, self.journal))

    def has_work(self, view: StoreView, now: datetime, state: int | None = None) -> bool:
        """Cheap reads that decide whether the tick needs the write lock at all; `state`: the
        store's settled generation read before `view` (`reminders.DueWatch`)."""
        return bool(
            view.deliveries.due(now, 1)
            or view.messages.due(now, 1)
            or deliveries.has_fan_out(view)
            or lifecycle.has_catching_up(view, now)
            or self.due_watch.any_due(view, now, state)
        )

    # -- phase one: everything decided under the lock, in one write ------------------

    def _decide(self, view: UnitOfWork, now: datetime, notifier: Notifier, report: TickReport) -> _Claimed:
        caught = lifecycle.catch_up(view, now, self.actor)
        report.expired += len(caught.expired)
        report.completed += len(caught.completed)
        for due in reminders.due_reminders(view, now):
            try:
                fired = reminders.fire(view, due, now, notifier)
            except UnreadableRecord as exc:  # raised by its reads, before it writes anything
                report.problems.append(f"reminder {due.rule.id} of {due.appointment.uid} not sent: {exc}")
                continue
            report.reminders += fired.reminders
            report.messages_outbox += fired.to_outbox
        report.deliveries_created += deliveries.fan_out(view, now)
        claims = deliveries.claim(view, now, lease_id=self.lease_id, limit=CLAIM_BATCH,
                                  secret_of=self.desk.webhooks.secret_of, headers_of=self.desk.webhooks.headers_of)
        report.dead += claims.dead
        report.deferred += claims.deferred
        report.problems.extend(claims.problems)
        leased = messages.claim(view, now, lease_id=self.lease_id, limit=CLAIM_BATCH)
        report.messages_unknown += leased.unknown
        if leased.unknown:
            report.problems.append(f"{leased.unknown} message(s) claimed earlier were never recorded as sent: "
                                   "marked unknown, not sent again")
        return _Claimed(claims.claimed, leased.messages)

    # -- phase two: sending, outside the lock ---------------------------------------------

    def _send_webhooks(self, claimed: list[deliveries.Claimed],
                       in_time: Callable[[], bool]) -> list[tuple[deliveries.Claimed, AttemptResult | None]]:
        return deliveries.send(claimed, client=self.client, senders=self.senders, started_in_time=in_time,
                               attempt_seconds=self.attempt_seconds)

    def _still_to_send(self, message: OutboxMessage) -> str | None:
        """Read again right before sending: a message that waited for a retry must not reach
        anyone once its appointment is cancelled or has started."""
        if not message.appointment_uid:
            return None
        with self.store.read() as view:
            appointment = view.appointments.get(message.appointment_uid)
        return skip_reason(appointment, self.desk.clock.now())

    # -- phase three: the results, in one write ------------------------------------------

    def _record_all(self, results: Results, report: TickReport) -> Results | None:
        """Every result in one write, under the lease it was sent under. When the store
        refuses that write for a reason of its rows (not a lost server), each result is
        recorded again in a write of its own: one row it cannot take holds back only itself,
        never the others, which would otherwise be sent again once their leases ran out.
        Returns what could not be written (None when all was); a lost server raises."""
        part = TickReport(report.at)
        now, lease_id = results.at, results.lease_id
        try:
            with self.store.write() as view:
                for delivery_id, result in results.deliveries:
                    self._record_delivery(view, now, delivery_id, result, lease_id, part)
                for message_id, error in results.messages:
                    self._record_message(view, now, message_id, error, lease_id, part)
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever a row did, the others are recorded
            report.writes += 1
            report.problems.append(f"the tick's results could not be written together ({_why(exc)}); "
                                   "writing them one by one")
            return self._record_each(results, report)
        report.writes += 1
        _add(report, part)
        return None

    def _record_each(self, results: Results, report: TickReport) -> Results | None:
        left = Results(results.at, results.lease_id)
        now, lease_id = results.at, results.lease_id
        for delivery_id, result in results.deliveries:
            tries = [result] if result is None else [result, _without_answer(result)]
            if not self._record_one(report, f"delivery {delivery_id}",
                                    [partial(self._record_delivery, now=now, delivery_id=delivery_id, result=tried,
                                             lease_id=lease_id) for tried in tries]):
                left.deliveries.append((delivery_id, result))
        for message_id, error in results.messages:
            if not self._record_one(report, f"message {message_id}",
                                    [partial(self._record_message, now=now, message_id=message_id, error=error,
                                             lease_id=lease_id)]):
                left.messages.append((message_id, error))
        return left if left else None

    def _record_one(self, report: TickReport, what: str, tries: list[Callable[..., None]]) -> bool:
        """The first of `tries` the store takes, each in a write of its own; False when none
        is taken (the caller keeps the result for the runner's next tick)."""
        failure: Exception | None = None
        for record_it in tries:
            part = TickReport(report.at)
            try:
                with self.store.write() as view:
                    record_it(view, report=part)
            except StoreUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - this row only; the next is tried
                failure = exc
                report.writes += 1
                continue
            report.writes += 1
            _add(report, part)
            return True
        if failure is not None:
            report.problems.append(f"{what}: its result could not be written ({_why(failure)})")
        return False

    def _record_delivery(self, view: UnitOfWork, now: datetime, delivery_id: str, result: AttemptResult | None,
                         lease_id: str, report: TickReport) -> None:
        delivery, happened = deliveries.outcome(view.deliveries.get(delivery_id), result, now, lease_id)
        if delivery is None:
            return  # our lease ran out and another runner took it over
        view.deliveries.put(delivery)
        if happened is deliveries.Outcome.gone:
            self._deactivate(view, delivery.subscription_id, now)
        report.delivered += happened is deliveries.Outcome.delivered
        report.retrying += happened is deliveries.Outcome.retrying
        report.dead += happened in (deliveries.Outcome.dead, deliveries.Outcome.gone)
        report.deferred += happened is deliveries.Outcome.not_sent

    def _record_message(self, view: UnitOfWork, now: datetime, message_id: str, error: str | None,
                        lease_id: str, report: TickReport) -> None:
        message, outcome = messages.outcome(view.messages.get(message_id), error, now, lease_id)
        if message is None:
            return
        view.messages.put(message)
        report.messages_skipped += outcome is messages.Outcome.skipped
        report.messages_sent += outcome is messages.Outcome.sent
        report.deferred += outcome is messages.Outcome.not_sent
        if outcome is messages.Outcome.unknown:
            report.messages_unknown += 1
            report.problems.append(f"{message.channel.value} to {message.to}: {message.last_error}")
        if outcome is messages.Outcome.failed:
            report.messages_failed += 1
            report.problems.append(f"{message.channel.value} to {message.to}: {error}")

    def _deactivate(self, view: UnitOfWork, sub_id: str, now: datetime) -> None:
        sub = view.subscriptions.get(sub_id)
        if sub is None or not sub.active:
            return
        view.subscriptions.put(sub.model_copy(update={"active": False}))
        record(view, at=now, actor=self.actor, action="subscription.deactivate", target=subscription_target(sub_id),
               details={"reason": "the receiver answered 410 Gone"})


def _unrecorded_note(results: Results, why: str, kept: str, journal: Journal) -> str:
    """One line on results that went out and are not in the store: where they wait, or that
    they are lost and what that means."""
    sent, posted = results.went_out()
    what = f"{sent} email(s)/SMS and {posted} webhook delivery(ies) that were sent"
    if not kept:
        return (f"the results of {what} could not be written ({why}); they are kept in "
                f"{journal.where(results.lease_id)} and written by the next tick of any worker on this data dir")
    return (f"the results of {what} could not be written ({why}) nor kept ({kept}): those emails and SMS will "
            "show as unknown and are never sent again; those deliveries will be sent again, with the same "
            "webhook-id, once their lease runs out")


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, RxdeskError) else type(exc).__name__


def _without_answer(result: AttemptResult) -> AttemptResult:
    """The attempt's result with nothing the receiver said: what is recorded when the store
    refuses the answer itself."""
    return replace(result, excerpt="", error=f"{result.error or 'delivered'}; the answer could not be stored")


def _add(report: TickReport, part: TickReport) -> None:
    """Count `part` (the results of one write that committed) into the tick's report."""
    for name, value in vars(part).items():
        if isinstance(value, int) and name != "writes":
            setattr(report, name, getattr(report, name) + value)
    report.problems.extend(part.problems)
