"""The logs on PostgreSQL: events, audit, and the queued rows (deliveries, messages) with their
`SKIP LOCKED` claims; cursors into them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from psycopg import sql
from psycopg.types.json import Json

from rxdesk.domain.enums import DeliveryStatus, EventType
from rxdesk.domain.ids import random_token
from rxdesk.domain.queries import AuditQuery, DeliveryTrouble, Page, entity
from rxdesk.store.postgres import rows as conv
from rxdesk.store.postgres.repos import can_name_a_row, for_update, text, upsert
from rxdesk.store.postgres.session import RowStatement, Session

if TYPE_CHECKING:  # the models are imported where a row is made one (`queries.entity`)
    from rxdesk.domain.models import AuditEntry, Delivery, Entity, Event, OutboxMessage


def event_id(seq: int, tail: str) -> str:
    # The sequence number, then a random tail: ids from two desks never collide at a receiver.
    return f"evt_{seq:012d}{tail}"


# Transactions that write events take turns, from their first event to their commit, so that
# events commit in the order of their sequence numbers: a reader that has seen event N has seen
# every event before it, and the worker's fan-out cursor never steps over one committed late.
EVENTS_LOCK = 0x72786576  # "rxev"
_INSERT_EVENT = RowStatement("INSERT INTO events (seq, id, type, created_at, data)", 5)


class EventRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def append(self, type: EventType, data: dict[str, Any], at: datetime) -> Event:
        self._s.require_writable()
        self._s.take_turn(EVENTS_LOCK)  # before a number is taken: numbers follow commits
        seq = self._s.next_number("events_seq")
        # As the data dir makes it: validated only when a value is not already in its validated form.
        from rxdesk.domain.models import Event

        event = Event.of_plain(id=event_id(seq, random_token(6)), type=type, created_at=at, data=data)
        self._s.add_row(_INSERT_EVENT, (seq, event.id, event.type.value, event.created_at,
                                        Json(event.to_json()["data"])))
        self._s.remember("events", event.id, event)  # an event never changes: read back from here
        return event

    @staticmethod
    def _event(row: tuple[Any, ...]) -> Event:
        from rxdesk.domain.models import Event

        return Event.from_stored({"id": row[0], "type": row[1], "created_at": row[2], "data": row[3]})

    def get(self, event_id: str) -> Event | None:
        if not can_name_a_row(event_id):
            return None
        return self._s.locked_row("events", event_id, self._fetch)

    def _fetch(self, event_id: str) -> Event | None:
        row = self._s.one("SELECT id, type, created_at, data FROM events WHERE id = %s", (event_id,))
        return self._event(row) if row else None

    def newest(self, *, type: EventType | None = None, offset: int = 0, limit: int | None = None) -> Page[Event]:
        where = sql.SQL(" WHERE type = %s") if type is not None else sql.SQL("")
        args: list[Any] = [EventType(type).value] if type is not None else []
        statement = sql.SQL("SELECT id, type, created_at, data FROM events") + where + sql.SQL(
            " ORDER BY seq DESC OFFSET %s")
        args.append(max(0, offset))
        if limit is not None:
            statement += sql.SQL(" LIMIT %s")
            args.append(max(0, limit))
        return Page([self._event(r) for r in self._s.rows(statement, args)], None, offset, limit)

    def after(self, seq: int, limit: int | None = None) -> list[tuple[int, Event]]:
        """(sequence number, event) after `seq`, oldest first."""
        statement = "SELECT seq, id, type, created_at, data FROM events WHERE seq > %s ORDER BY seq"
        args: list[Any] = [seq]
        if limit is not None:
            statement += " LIMIT %s"
            args.append(max(0, limit))
        return [(int(row[0]), self._event(row[1:])) for row in self._s.rows(statement, args)]

    def last_seq(self) -> int:
        return int(self._s.value("SELECT coalesce(max(seq), 0) FROM events"))


AUDIT_COLUMNS = ("at", "actor", "action", "target", "details")
_INSERT_AUDIT = RowStatement("INSERT INTO audit (at, actor, action, target, details)", 5)


class AuditRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def append(self, entry: AuditEntry) -> None:
        self._s.require_writable()
        self._s.add_row(_INSERT_AUDIT, (entry.at, entry.actor, entry.action, entry.target,
                                        Json(entry.to_json()["details"])))

    @staticmethod
    def _entry(row: tuple[Any, ...]) -> AuditEntry:
        from rxdesk.domain.models import AuditEntry

        return AuditEntry.from_stored(dict(zip(AUDIT_COLUMNS, row, strict=True)))

    def for_target(self, target: str) -> list[AuditEntry]:
        found = self._s.rows(
            "SELECT at, actor, action, target, details FROM audit WHERE target = %s ORDER BY seq", (target,))
        return [self._entry(r) for r in found]

    def search(self, query: AuditQuery) -> Page[AuditEntry]:
        """Entries across the desk matching `query`, newest first (the indexes by actor and by
        time serve the usual questions: one agent's, the last day's)."""
        parts: list[str] = []
        args: list[Any] = []
        if query.actor is not None:
            parts.append("actor = %s")
            args.append(query.actor)
        if query.since is not None:
            parts.append("at >= %s")
            args.append(query.since)
        if query.targets is not None:
            parts.append("target = ANY(%s)")
            args.append(list(query.targets))
        where = f" WHERE {' AND '.join(parts)}" if parts else ""
        statement = (f"SELECT at, actor, action, target, details FROM audit{where} "
                     "ORDER BY at DESC, seq DESC OFFSET %s")
        args.append(max(0, query.offset))
        if query.limit is not None:
            statement += " LIMIT %s"
            args.append(max(0, query.limit))
        return Page([self._entry(r) for r in self._s.rows(statement, args)], None, query.offset, query.limit)

    def newest(self, *, offset: int = 0, limit: int | None = None) -> Page[AuditEntry]:
        """Audit entries not about one appointment (those are shown with the appointment)."""
        statement = ("SELECT at, actor, action, target, details FROM audit WHERE target NOT LIKE 'appointment:%%' "
                     "ORDER BY seq DESC OFFSET %s")
        args: list[Any] = [max(0, offset)]
        if limit is not None:
            statement += " LIMIT %s"
            args.append(max(0, limit))
        return Page([self._entry(r) for r in self._s.rows(statement, args)], None, offset, limit)


R = TypeVar("R", bound="Entity")


@lru_cache(maxsize=8)
def _queued_select(table: str, columns: tuple[str, ...]) -> str:
    return text(sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(map(sql.Identifier, columns)),
                                                    sql.Identifier(table)))


class QueuedRows(Generic[R]):
    """Webhook deliveries or outgoing messages: rows with an id from a sequence, a status, and,
    while pending, the time of the next attempt and the lease of the runner sending it."""

    def __init__(self, session: Session, table: str, model: str, columns: tuple[str, ...], id_prefix: str) -> None:
        self._s = session
        self.table = table
        self._t = sql.Identifier(table)
        self._seq = f"{table}_seq"
        self._model_of = entity(model)
        self._model: type[R] | None = None
        self.id_prefix = id_prefix
        self.columns = columns
        self._select = sql.SQL(_queued_select(table, tuple(self.columns)))

    @property
    def model(self) -> type[R]:
        if self._model is None:
            self._model = cast("type[R]", self._model_of())
        return self._model

    def _row(self, row: dict[str, Any]) -> R:
        return self.model.from_stored(conv.pick(self.columns, row))

    def new_id(self) -> str:
        """The next id, its number from the sequence (`Session.next_number`)."""
        self._s.require_writable()
        return f"{self.id_prefix}{self._s.next_number(self._seq):012d}"

    def get(self, row_id: str) -> R | None:
        if not can_name_a_row(row_id):
            return None
        found = self._s.dicts(_queued_select(self.table, tuple(self.columns)) + " WHERE id = %s" + for_update(self._s),
                              (row_id,))
        return self._row(found[0]) if found else None

    def put(self, row: R) -> None:
        self.put_many([row])

    def put_many(self, rows: list[R]) -> None:
        self._s.require_writable()
        query = upsert(self.table, self.columns, "id")
        self._s.many(query, [conv.params(r, self.columns) for r in rows])

    def queued(self) -> int:
        return int(self._s.value(sql.SQL("SELECT count(*) FROM {} WHERE status = 'pending'").format(self._t)))

    def due(self, now: datetime, limit: int | None = None) -> list[R]:
        """Pending rows whose next attempt has come and that no runner holds a lease on,
        soonest first. In a write view they are locked, skipping rows another transaction
        holds, so two runners claiming at once take different rows."""
        lock = sql.SQL(" FOR UPDATE SKIP LOCKED") if self._s.writable else sql.SQL("")
        statement = self._select + sql.SQL(
            " WHERE status = 'pending' AND next_attempt_at <= %s "
            "AND (lease_until IS NULL OR lease_until <= %s) ORDER BY next_attempt_at, id COLLATE \"C\""
        )
        args: list[Any] = [now, now]
        if limit is not None:
            statement += sql.SQL(" LIMIT %s")
            args.append(max(0, limit))
        return [self._row(r) for r in self._s.dicts(statement + lock, args)]

    def last_seq(self) -> int:
        """The number in the newest row's id (0 when there is none)."""
        newest = self._s.value(sql.SQL('SELECT max(id COLLATE "C") FROM {}').format(self._t))
        return int(newest[len(self.id_prefix):]) if newest else 0

    def _newest(self, status: str | None, offset: int, limit: int | None) -> Page[R]:
        where = sql.SQL(" WHERE status = %s") if status is not None else sql.SQL("")
        args: list[Any] = [status] if status is not None else []
        statement = self._select + where + sql.SQL(' ORDER BY id COLLATE "C" DESC OFFSET %s')
        args.append(max(0, offset))
        if limit is not None:
            statement += sql.SQL(" LIMIT %s")
            args.append(max(0, limit))
        return Page([self._row(r) for r in self._s.dicts(statement, args)], None, offset, limit)


class DeliveryRepo(QueuedRows["Delivery"]):
    def __init__(self, session: Session) -> None:
        super().__init__(session, "deliveries", "Delivery", conv.DELIVERY_COLUMNS, "dlv_")

    def newest(self, *, status: DeliveryStatus | None = None, offset: int = 0,
               limit: int | None = None) -> Page[Delivery]:
        """Deliveries newest first, optionally in one status (no total)."""
        return self._newest(DeliveryStatus(status).value if status is not None else None, offset, limit)

    def trouble(self, *, failing_before: datetime, dead_since: datetime) -> list[DeliveryTrouble]:
        """Per subscription (by id): the pending deliveries with a failed attempt created at
        or before `failing_before`, and the deliveries that went dead (at their last attempt,
        or their creation when never attempted) at or after `dead_since` (the index by
        status)."""
        found = self._s.rows(
            "SELECT subscription_id, count(*) FILTER (WHERE status = 'dead'), "
            "count(*) FILTER (WHERE status = 'pending'), "
            "min(CASE WHEN status = 'dead' THEN coalesce(last_attempt_at, created_at) ELSE created_at END), "
            'max(id COLLATE "C") FROM deliveries '
            "WHERE (status = 'pending' AND attempts > 0 AND created_at <= %s) "
            "OR (status = 'dead' AND coalesce(last_attempt_at, created_at) >= %s) "
            'GROUP BY subscription_id ORDER BY subscription_id COLLATE "C"',
            (failing_before, dead_since),
        )
        return [DeliveryTrouble(str(sub), int(dead), int(failing), since, str(latest))
                for sub, dead, failing, since, latest in found]

    def link_appointment(self, uid: str, delivery_ids: Sequence[str]) -> None:
        """Record that these deliveries carry events about appointment `uid`."""
        self._s.require_writable()
        self._s.many(
            "INSERT INTO delivery_appointments (appointment_uid, delivery_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [(uid, d) for d in delivery_ids],
        )

    def for_appointment(self, uid: str) -> list[Delivery]:
        """Deliveries of the events about appointment `uid`, oldest first."""
        found = self._s.dicts(
            sql.SQL("SELECT {} FROM deliveries d JOIN delivery_appointments l ON l.delivery_id = d.id "
                    "WHERE l.appointment_uid = %s ORDER BY d.id COLLATE \"C\"").format(
                sql.SQL(", ").join(sql.SQL("d.{}").format(sql.Identifier(c)) for c in self.columns)),
            (uid,),
        )
        return [self._row(r) for r in found]


class MessageRepo(QueuedRows["OutboxMessage"]):
    def __init__(self, session: Session) -> None:
        super().__init__(session, "messages", "OutboxMessage", conv.MESSAGE_COLUMNS, "msg_")

    def newest(self, *, offset: int = 0, limit: int | None = None) -> Page[OutboxMessage]:
        return self._newest(None, offset, limit)

    def failed(self, starting_after: datetime) -> list[OutboxMessage]:
        """Messages that failed after their last retry or whose sending is unknown, of
        appointments that start after `starting_after`, by the appointment's start."""
        found = self._s.dicts(
            sql.SQL("SELECT {} FROM messages m JOIN appointments a ON a.uid = m.appointment_uid "
                    "WHERE m.status IN ('failed', 'unknown') AND a.starts_at > %s "
                    "ORDER BY a.starts_at, m.id COLLATE \"C\"").format(
                sql.SQL(", ").join(sql.SQL("m.{}").format(sql.Identifier(c)) for c in self.columns)),
            (starting_after,),
        )
        return [self._row(r) for r in found]


class CursorRepo:
    """Named positions: how far the webhook fan-out got, up to when completions are written."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, name: str) -> int:
        """The counter's value (0 when never set). Inside a write view it is locked until
        commit (made first if it was never set, so there is always a row to lock): two
        workers moving one cursor take turns, the second reading where the first left it."""
        if self._s.writable:
            self._s.execute("INSERT INTO counters (name, value) VALUES (%s, 0) ON CONFLICT (name) DO NOTHING", (name,))
        value = self._s.value("SELECT value FROM counters WHERE name = %s" + for_update(self._s), (name,))
        return int(value) if value is not None else 0

    def set(self, name: str, value: int) -> None:
        self._s.require_writable()
        self._s.execute(
            "INSERT INTO counters (name, value) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            (name, value),
        )
