"""Webhook deliveries and outgoing messages: append-only logs with a small queue beside them.

Both grow without end, so each lives in numbered log segments (`deliveries-N`, `messages-N`)
and the worker never scans them: a `queues` segment holds only the rows still waiting to be
sent (key -> next attempt time). Finishing a row rewrites its log segment and the queue; an
idle tick reads the queue alone. Deliveries of an appointment's events are also listed in a
small index segment per week of appointments (`delivery-index-<monday>`), so an appointment's
detail finds them however old they are without reading the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from rxdesk.domain.ids import uid_partition
from rxdesk.domain.models import Delivery, DeliveryStatus, Entity, MessageStatus, OutboxMessage
from rxdesk.domain.queries import DeliveryTrouble, Page
from rxdesk.domain.times import format_utc
from rxdesk.store.engine import Snapshot, Transaction
from rxdesk.store.problems import PROBLEMS, note_problem, problems

QUEUES = "queues"
INDEX_PREFIX = "delivery-index-"
ROWS_PER_SEGMENT = 2000
# Dead deliveries are remembered in the queue segment this long after they died (when there
# are more than DEAD_KEPT_ROWS of them): what needs attention now, not the history.
DEAD_KEPT = timedelta(days=7)
DEAD_KEPT_ROWS = 1000

R = TypeVar("R", bound=Entity)


class QueuedLog(Generic[R]):
    def __init__(self, snap: Snapshot, name: str, model: type[R], id_prefix: str) -> None:
        self._snap = snap
        self.name = name  # the log's table, its counter and its queue table
        self.prefix = f"{name}-"
        self.model = model
        self.id_prefix = id_prefix

    # Ids carry the sequence number, which names the segment: `dlv_000000001234`.
    def _seq(self, row_id: str) -> int | None:
        if not isinstance(row_id, str) or not row_id.startswith(self.id_prefix):
            return None
        digits = row_id[len(self.id_prefix):]
        return int(digits) if digits.isdigit() and len(digits) == 12 else None

    def _segment(self, seq: int) -> str:
        return f"{self.prefix}{seq // ROWS_PER_SEGMENT:06d}"

    def _tx(self) -> Transaction:
        if not isinstance(self._snap, Transaction):
            raise RuntimeError("this view is read-only; change data inside Store.write()")
        return self._snap

    def new_id(self) -> str:
        return f"{self.id_prefix}{self._tx().next_seq(self.name):012d}"

    def get(self, row_id: str) -> R | None:
        seq = self._seq(row_id)
        if seq is None:
            return None
        doc = self._snap.table(self._segment(seq), self.name).get(row_id)
        return self.model.model_validate(doc) if doc is not None else None

    def put(self, row: R) -> None:
        """Store `row`; a pending row stays in the queue with its next attempt and lease."""
        row_id = row.id  # type: ignore[attr-defined]
        seq = self._seq(row_id)
        if seq is None:
            raise ValueError(f"not a {self.name} id: {row_id!r}")
        tx = self._tx()
        tx.put(self._segment(seq), self.name, row_id, row.to_json())
        if row.status == "pending":  # type: ignore[attr-defined]
            at = row.next_attempt_at  # type: ignore[attr-defined]
            lease = row.lease_until  # type: ignore[attr-defined]
            tx.put(QUEUES, self.name, row_id, {
                "at": format_utc(at) if at else "",
                "lease": format_utc(lease) if lease else "",
                **self._queued(row),
            })
        elif row_id in self._snap.table(QUEUES, self.name):
            tx.delete(QUEUES, self.name, row_id)

    def _queued(self, row: R) -> dict[str, Any]:
        """What the queue keeps of a pending row beside its next attempt and lease."""
        return {}

    def queued(self) -> int:
        return len(self._snap.table(QUEUES, self.name))

    def due(self, now: datetime, limit: int | None = None) -> list[str]:
        """Pending rows whose next attempt has come and that no runner holds a lease on."""
        stamp = format_utc(now)
        ready = sorted(
            (q["at"], key) for key, q in self._snap.table(QUEUES, self.name).items()
            if q["at"] <= stamp and (not q["lease"] or q["lease"] <= stamp)
        )
        return [key for _, key in ready[:limit]]

    def last_seq(self) -> int:
        return self._snap.counter(self.name)

    def newest(self) -> Iterator[R]:
        for name in reversed(self._snap.names(self.prefix)):
            table = self._snap.table(name, self.name)
            for key in sorted(table, reverse=True):
                yield self.model.model_validate(table[key])

    def page(self, *, where: Any = None, offset: int = 0, limit: int | None = None) -> Page[R]:
        rows = (r for r in self.newest() if where is None or where(r))
        items: list[R] = []
        for index, row in enumerate(rows):
            if index < offset:
                continue
            if limit is not None and len(items) >= limit:
                break
            items.append(row)
        return Page(items, None, offset, limit)


class DeliveryRepo(QueuedLog[Delivery]):
    """Deliveries; the queue also keeps each pending one's subscription, attempts and creation,
    and a `dead` table beside it the deliveries that went dead lately (id -> {"sub", "at"}), so
    that `trouble` reads the `queues` segment alone."""

    def __init__(self, snap: Snapshot) -> None:
        super().__init__(snap, "deliveries", Delivery, "dlv_")

    def _queued(self, row: Delivery) -> dict[str, Any]:
        return {"sub": row.subscription_id, "tries": row.attempts, "created": format_utc(row.created_at)}

    def put(self, row: Delivery) -> None:
        super().put(row)
        dead = self._snap.table(QUEUES, "dead")
        if row.status is DeliveryStatus.dead:
            at = format_utc(row.last_attempt_at or row.created_at)
            table = self._tx().writable_table(QUEUES, "dead")
            if len(table) >= DEAD_KEPT_ROWS:
                cutoff = format_utc((row.last_attempt_at or row.created_at) - DEAD_KEPT)
                for key in [k for k, d in table.items() if d["at"] < cutoff]:
                    del table[key]
            table[row.id] = {"sub": row.subscription_id, "at": at}
        elif row.id in dead:
            self._tx().delete(QUEUES, "dead", row.id)

    def trouble(self, *, failing_before: datetime, dead_since: datetime) -> list[DeliveryTrouble]:
        """Per subscription (by id): the pending deliveries with a failed attempt that were
        created at or before `failing_before`, and the deliveries that went dead (their last
        attempt, or their creation when never attempted) at or after `dead_since`. Deaths are
        kept for DEAD_KEPT at least."""
        failing_s, dead_s = format_utc(failing_before), format_utc(dead_since)
        found: dict[str, list[Any]] = {}  # sub -> [dead, failing, since, latest id]

        def count(sub: str, index: int, since: str, key: str) -> None:
            entry = found.setdefault(sub, [0, 0, since, key])
            entry[index] += 1
            entry[2] = min(entry[2], since)
            entry[3] = max(entry[3], key)

        for key, q in self._snap.table(QUEUES, self.name).items():
            if "tries" not in q:  # queued before the queue kept these: read the row
                row = self.get(key)
                if row is None:
                    continue
                q = {**q, **self._queued(row)}
            if q["tries"] > 0 and q["created"] <= failing_s:
                count(q["sub"], 1, q["created"], key)
        for key, d in self._snap.table(QUEUES, "dead").items():
            if d["at"] >= dead_s:
                count(d["sub"], 0, d["at"], key)
        return [DeliveryTrouble(sub, dead, failing, datetime.fromisoformat(since), latest)
                for sub, (dead, failing, since, latest) in sorted(found.items())]

    def link_appointment(self, uid: str, delivery_ids: list[str]) -> None:
        """Record that these deliveries carry events about appointment `uid`."""
        week = uid_partition(uid)
        if week is None or not delivery_ids:
            return
        segment = f"{INDEX_PREFIX}{week}"
        known = self._snap.table(segment, "by_appointment").get(uid) or {}
        ids = [*known.get("ids", []), *delivery_ids]
        self._tx().put(segment, "by_appointment", uid, {"ids": ids})

    def for_appointment(self, uid: str) -> list[Delivery]:
        """Deliveries of the events about appointment `uid`, oldest first."""
        week = uid_partition(uid)
        if week is None:
            return []
        known = self._snap.table(f"{INDEX_PREFIX}{week}", "by_appointment").get(uid) or {}
        found = (self.get(row_id) for row_id in known.get("ids", []))
        return [row for row in found if row is not None]


class MessageRepo(QueuedLog[OutboxMessage]):
    def __init__(self, snap: Snapshot) -> None:
        super().__init__(snap, "messages", OutboxMessage, "msg_")

    def put(self, row: OutboxMessage) -> None:
        """Store `row`; a failed message is also indexed under its appointment's start (the
        reminder problems an agent sees), and leaves that index when it is sent again."""
        super().put(row)
        failed = row.status is MessageStatus.failed
        if not failed and row.id not in self._snap.table(PROBLEMS, "failed"):
            return
        starts = None
        week = uid_partition(row.appointment_uid) if failed else None
        if week is not None:
            appt = self._snap.table(f"appt-{week}", "appointments").get(row.appointment_uid)
            starts = appt["starts_at"] if appt is not None else None
        doc = row.to_json()
        note_problem(self._snap, "failed", row.id, starts, now=doc["created_at"], row=doc)

    def failed(self, starting_after: datetime) -> list[OutboxMessage]:
        """Messages that failed after their last retry, for appointments starting after
        `starting_after`, by start (from the problems index)."""
        return [OutboxMessage.model_validate(doc) for doc in problems(self._snap, "failed", format_utc(starting_after))]
