"""The segment store's repositories over its logs: events, audit, deliveries, messages, and
the named cursors into them. Every log is an `AppendOnlyLog` (`logs`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tinydb import Query

from rxdesk.domain.enums import DeliveryStatus, MessageStatus
from rxdesk.domain.queries import AuditQuery, DeliveryTrouble, Page
from rxdesk.domain.times import format_utc
from rxdesk.store.engine import Snapshot, writable
from rxdesk.store.layout import (
    ACTIVITY_PREFIX,
    APPT_PREFIX,
    QUEUES,
    activity_segment,
    appointment_segment,
    delivery_index_segment,
)
from rxdesk.store.logs import AUDIT_LOG, DELIVERY_LOG, EVENT_LOG, MESSAGE_LOG, AppendOnlyLog
from rxdesk.store.problems import PROBLEMS, note_problem, problems

if TYPE_CHECKING:  # the entities are made when a row is read (`tinystore.TinyView`)
    from rxdesk.domain.enums import EventType
    from rxdesk.domain.models import AuditEntry, Delivery, Event, OutboxMessage

# Dead deliveries are remembered in the queue segment (table DEAD) this long after they died,
# once there are more than DEAD_KEPT_ROWS of them: what needs attention now, not the history.
DEAD = "dead"
DEAD_KEPT = timedelta(days=7)
DEAD_KEPT_ROWS = 1000
BY_APPOINTMENT = "by_appointment"
# The audit entries the `activity-` days hold (layout): from this sequence number, and (in a
# data dir that had entries before) whole only for the days after this one (YYYYMMDD).
ACTIVITY_FROM = "activity.from"
ACTIVITY_AFTER = "activity.after"

Q = TypeVar("Q", "Delivery", "OutboxMessage")


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value: models hand out their nested data, never the cache's."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def _window(rows: Iterator[Any], offset: int, limit: int | None) -> list[Any]:
    return list(itertools.islice(rows, offset, None if limit is None else offset + limit))


class EventRepo:
    def __init__(self, snap: Snapshot) -> None:
        self._log = AppendOnlyLog(snap, EVENT_LOG)

    @staticmethod
    def _event(doc: Mapping[str, Any]) -> Event:
        from rxdesk.domain.models import Event

        return Event.from_stored({**doc, "data": copy_json(doc["data"])})

    def append(self, type: EventType, data: dict[str, Any], at: datetime) -> Event:
        from rxdesk.domain.models import Event

        _, key = self._log.new_key()
        event = Event.of_plain(id=key, type=type, created_at=at, data=data)
        self._log.put(key, event.to_json())
        return event

    def get(self, event_id: str) -> Event | None:
        doc = self._log.get(event_id)
        return self._event(doc) if doc is not None else None

    def newest(self, *, type: EventType | None = None, offset: int = 0, limit: int | None = None) -> Page[Event]:
        rows = self._log.newest()
        if type is not None:
            rows = (r for r in rows if r["type"] == type.value)
        return Page([self._event(r) for r in _window(rows, offset, limit)], None, offset, limit)

    def after(self, seq: int, limit: int | None = None) -> list[tuple[int, Event]]:
        return [(s, self._event(r)) for s, r in _window(self._log.after(seq), 0, limit)]

    def last_seq(self) -> int:
        return self._log.last_seq()

    def warm(self) -> None:
        self._log.warm()


class AuditRepo:
    """The audit log; entries about one appointment are kept in its week, beside it."""

    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap
        self._log = AppendOnlyLog(snap, AUDIT_LOG)

    @staticmethod
    def home_of(target: str) -> str | None:
        """The week segment that keeps entries about `target`, when it is an appointment."""
        if target.startswith("appointment:"):
            return appointment_segment(target.split(":", 1)[1])
        return None

    @staticmethod
    def _entry(doc: Mapping[str, Any]) -> AuditEntry:
        from rxdesk.domain.models import AuditEntry

        return AuditEntry.from_stored({**doc, "details": copy_json(doc.get("details", {}))})

    def append(self, entry: AuditEntry) -> None:
        seq, key = self._log.new_key()
        doc = entry.to_json()
        self._log.put(key, doc, segment=self.home_of(entry.target))
        self.copy_to_days([(seq, key, doc)])

    def copy_to_days(self, rows: Sequence[tuple[int, str, Mapping[str, Any]]]) -> None:
        """Copy new entries (sequence number, key, document; in sequence order) into the
        segments of the days they were made, in the same commit as the entries."""
        if not rows:
            return
        tx = writable(self._snap)
        if not tx.counter(ACTIVITY_FROM):
            seq, _, doc = rows[0]
            tx.set_counter(ACTIVITY_FROM, seq)
            if seq > 1:  # entries written before the days were kept: that day is not whole
                tx.set_counter(ACTIVITY_AFTER, _day_number(str(doc["at"])))
        days: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        for _seq, key, doc in rows:
            days.setdefault(activity_segment(str(doc["at"])), []).append((key, doc))
        for segment, docs in days.items():
            table = tx.change(segment, AUDIT_LOG.name)
            if len(docs) == 1:
                table.put(*docs[0])
            else:
                table.put_many(docs)

    def _days_hold(self, since: datetime) -> bool:
        """Whether the `activity-` days hold every entry made at or after `since`."""
        first = self._snap.counter(ACTIVITY_FROM)
        if first == 1:
            return True
        return first > 1 and _day_number(format_utc(since)) > self._snap.counter(ACTIVITY_AFTER)

    def for_target(self, target: str) -> list[AuditEntry]:
        home = self.home_of(target)
        if home is not None:
            found = self._snap.table(home, AUDIT_LOG.name).search(Query().target == target)
            found.sort(key=lambda doc: str(doc.doc_id))
            rows: list[Mapping[str, Any]] = list(found)
        else:
            rows = [r for r in self._log.newest() if r["target"] == target]
            rows.reverse()
        return [self._entry(r) for r in rows]

    def newest(self, *, offset: int = 0, limit: int | None = None) -> Page[AuditEntry]:
        """Audit entries not about one appointment (those live with the appointment)."""
        return Page([self._entry(r) for r in _window(self._log.newest(), offset, limit)], None, offset, limit)

    def search(self, query: AuditQuery) -> Page[AuditEntry]:
        """Entries across the desk, newest first: the log's and those kept in the weeks, merged
        by the sequence number they share (their key). Named targets read only where those
        live; entries since a day read the copies of the days from it on (an agent's actions
        today read today); otherwise every week is read (the cache keeps what it read)."""
        wanted = query.matcher()
        if query.targets is None and query.since is not None and self._days_hold(query.since):
            first = activity_segment(format_utc(query.since))
            segments = [name for name in self._snap.names(ACTIVITY_PREFIX) if name >= first]
        else:
            if query.targets is not None:
                homes = {self.home_of(target) for target in query.targets}
            else:
                homes = set(self._snap.names(APPT_PREFIX)) | {None}
            segments = [home for home in homes if home is not None]
            if None in homes:
                segments += self._snap.names(AUDIT_LOG.prefix)
        found = [(key, doc) for name in segments
                 for key, doc in self._snap.table(name, AUDIT_LOG.name).documents().items() if wanted(doc)]
        # By time (an entry may be written after a later one: a demo's history, a clock set back),
        # then by the sequence number within one second.
        found.sort(key=lambda item: (item[1]["at"], item[0]), reverse=True)
        rows = _window(iter(doc for _key, doc in found), query.offset, query.limit)
        return Page([self._entry(r) for r in rows], None, query.offset, query.limit)


def _day_number(at: str) -> int:
    """The UTC day of an instant in stored form as a number, `YYYYMMDD`."""
    return int(at[:10].replace("-", ""))


class _QueuedRepo(Generic[Q]):
    """Deliveries or messages: a queued log of rows that each wait for their next attempt."""

    def __init__(self, log: AppendOnlyLog, model: type[Q]) -> None:
        self._log = log
        self._model: type[Q] = model

    def new_id(self) -> str:
        return self._log.new_key()[1]

    def get(self, row_id: str) -> Q | None:
        doc = self._log.get(row_id) if isinstance(row_id, str) else None
        return self._model.from_stored(doc) if doc is not None else None

    def put(self, row: Q) -> None:
        """Store `row`; a pending row stays in the queue with its next attempt and lease."""
        self._log.put(row.id, row.to_json())
        if row.status == "pending":
            at, lease = row.next_attempt_at, row.lease_until
            self._log.enqueue(row.id, at=format_utc(at) if at else "", lease=format_utc(lease) if lease else "",
                              **self._kept(row))
        else:
            self._log.dequeue(row.id)

    def _kept(self, row: Q) -> dict[str, Any]:
        """What the queue keeps of a pending row beside its next attempt and lease."""
        return {}

    def due(self, now: datetime, limit: int | None = None) -> list[Q]:
        return [row for row in map(self.get, self._log.due(format_utc(now), limit)) if row is not None]

    def queued(self) -> int:
        return self._log.queued()

    def last_seq(self) -> int:
        """How many rows were ever made (their sequence numbers start at 1)."""
        return self._log.last_seq()

    def _newest(self, status: str | None, offset: int, limit: int | None) -> Page[Q]:
        rows = self._log.newest()
        if status is not None:
            rows = (r for r in rows if r["status"] == status)
        return Page([self._model.from_stored(r) for r in _window(rows, offset, limit)], None, offset, limit)


class DeliveryRepo(_QueuedRepo["Delivery"]):
    """Deliveries; the queue also keeps each pending one's subscription, attempts and creation,
    and a `dead` table beside it the deliveries that went dead lately (id -> {"sub", "at"}), so
    that `trouble` reads the `queues` segment alone."""

    def __init__(self, snap: Snapshot) -> None:
        from rxdesk.domain.models import Delivery

        super().__init__(AppendOnlyLog(snap, DELIVERY_LOG), Delivery)
        self._snap = snap

    def _kept(self, row: Delivery) -> dict[str, Any]:
        return {"sub": row.subscription_id, "tries": row.attempts, "created": format_utc(row.created_at)}

    def put(self, row: Delivery) -> None:
        super().put(row)
        if row.status is DeliveryStatus.dead:
            died = row.last_attempt_at or row.created_at
            dead = writable(self._snap).change(QUEUES, DEAD)
            if len(dead) >= DEAD_KEPT_ROWS:
                dead.remove(Query().at < format_utc(died - DEAD_KEPT))
            dead.put(row.id, {"sub": row.subscription_id, "at": format_utc(died)})
        elif self._snap.table(QUEUES, DEAD).has(row.id):
            writable(self._snap).change(QUEUES, DEAD).delete(row.id)

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

        for key, kept in self._log.queue().items():
            if "tries" not in kept:  # queued before the queue kept these: read the row
                row = self.get(key)
                if row is None:
                    continue
                kept = {**kept, **self._kept(row)}
            if kept["tries"] > 0 and kept["created"] <= failing_s:
                count(kept["sub"], 1, kept["created"], key)
        for dead in self._snap.table(QUEUES, DEAD).search(Query().at >= dead_s):
            count(dead["sub"], 0, dead["at"], str(dead.doc_id))
        return [DeliveryTrouble(sub, dead, failing, datetime.fromisoformat(since), latest)
                for sub, (dead, failing, since, latest) in sorted(found.items())]

    def newest(
        self, *, status: DeliveryStatus | None = None, offset: int = 0, limit: int | None = None
    ) -> Page[Delivery]:
        return self._newest(status.value if status is not None else None, offset, limit)

    def link_appointment(self, uid: str, delivery_ids: Sequence[str]) -> None:
        """Record that these deliveries carry events about appointment `uid`."""
        segment = delivery_index_segment(uid)
        if segment is None or not delivery_ids:
            return
        known: Mapping[str, Any] = self._snap.table(segment, BY_APPOINTMENT).document(uid) or {}
        writable(self._snap).change(segment, BY_APPOINTMENT).put(uid, {"ids": [*known.get("ids", []), *delivery_ids]})

    def for_appointment(self, uid: str) -> list[Delivery]:
        """Deliveries of the events about appointment `uid`, oldest first."""
        segment = delivery_index_segment(uid)
        if segment is None:
            return []
        known: Mapping[str, Any] = self._snap.table(segment, BY_APPOINTMENT).document(uid) or {}
        return [row for row in map(self.get, known.get("ids", [])) if row is not None]


class MessageRepo(_QueuedRepo["OutboxMessage"]):
    def __init__(self, snap: Snapshot) -> None:
        from rxdesk.domain.models import OutboxMessage

        super().__init__(AppendOnlyLog(snap, MESSAGE_LOG), OutboxMessage)
        self._snap = snap

    def put(self, row: OutboxMessage) -> None:
        """Store `row`; a failed message (or one whose sending is unknown) is also indexed
        under its appointment's start (the reminder problems an agent sees), and leaves that
        index when it is sent again."""
        super().put(row)
        failed = row.status in (MessageStatus.failed, MessageStatus.unknown)
        if not failed and not self._snap.table(PROBLEMS, "failed").has(row.id):
            return
        starts = None
        segment = appointment_segment(row.appointment_uid) if failed else None
        if segment is not None:
            appt = self._snap.table(segment, "appointments").document(row.appointment_uid)
            starts = appt["starts_at"] if appt is not None else None
        doc = row.to_json()
        note_problem(self._snap, "failed", row.id, starts, now=doc["created_at"], row=doc)

    def failed(self, starting_after: datetime) -> list[OutboxMessage]:
        """Messages that failed after their last retry or whose sending is unknown, for
        appointments starting after `starting_after`, by start (from the problems index)."""
        from rxdesk.domain.models import OutboxMessage

        return [OutboxMessage.from_stored(doc) for doc in problems(self._snap, "failed", format_utc(starting_after))]

    def newest(self, *, offset: int = 0, limit: int | None = None) -> Page[OutboxMessage]:
        return self._newest(None, offset, limit)


class CursorRepo:
    """Named positions in the logs, kept as manifest counters."""

    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def get(self, name: str) -> int:
        return self._snap.counter(name)

    def set(self, name: str, value: int) -> None:
        writable(self._snap).set_counter(name, value)
