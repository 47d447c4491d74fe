"""Moving a desk from a data dir to PostgreSQL (`rxdesk store import`), and proving that the
two hold the same (`rxdesk store check`).

The import runs in one transaction on an empty database: it commits whole, or leaves the
database as it was. Rows keep their identities: appointment uids, event ids (so a receiver that
saw an event sees the same `webhook-id` on its retry), delivery and message ids, the sequence
numbers behind them, and the worker's fan-out position.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Json

from rxdesk.domain.errors import Refused, StoreError, StoreUnavailable, UnreadableRecord
from rxdesk.domain.models import Appointment
from rxdesk.domain.queries import AppointmentQuery, appointment_from_json
from rxdesk.store.layout import CORE, PATIENTS
from rxdesk.store.postgres import patients as patient_rows
from rxdesk.store.postgres import rows as conv
from rxdesk.store.postgres.bulk import AUDIT_COLUMNS, audit_rows
from rxdesk.store.postgres.rows import appointment as appointment_from_row
from rxdesk.store.postgres.session import Session, translate
from rxdesk.store.postgres.store import PgStore

# Manifest counters that are sequences here: the next row continues after the last imported.
SEQUENCES = {"events": "events_seq", "deliveries": "deliveries_seq", "messages": "messages_seq"}
KINDS = ("org", "admins", "appointment types", "doctors", "patients", "appointments", "reminders sent",
         "booking secrets", "subscriptions", "events", "audit entries", "deliveries", "messages")


@dataclass
class Counts:
    by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def add(self, kind: str, n: int) -> None:
        self.by_kind[kind] = self.by_kind.get(kind, 0) + n


def appointments_checksum(appointments: Iterable[Appointment]) -> tuple[int, str]:
    """How many appointments, and a checksum of all of them that does not depend on their
    order: the sum, modulo 2**256, of the SHA-256 of each one's JSON (keys sorted). Any
    appointment missing, added or differing in one field changes it; both sides stream."""
    total = 0
    count = 0
    for appt in appointments:
        digest = hashlib.sha256(orjson.dumps(appt.to_json(), option=orjson.OPT_SORT_KEYS)).digest()
        total = (total + int.from_bytes(digest, "big")) % (1 << 256)
        count += 1
    return count, f"{total:064x}"


# -- reading a data dir ---------------------------------------------------------------------


class DataDirReader:
    """Everything in a TinyDB data dir, kind by kind, from one snapshot."""

    def __init__(self, tiny: Any) -> None:
        from rxdesk.store.layout import APPT_PREFIX, AUDIT, DELIVERY_INDEX_PREFIX
        from rxdesk.store.tinystore import TinyView, successor_in

        self.root = Path(tiny.data_dir)
        self.view = TinyView(tiny.engine.snapshot())
        self.snap = self.view.snap
        self._appt_prefix = APPT_PREFIX
        self._audit_prefix = f"{AUDIT}-"
        self._index_prefix = DELIVERY_INDEX_PREFIX
        self._successor_in = successor_in

    def counters(self) -> dict[str, int]:
        return dict(self.snap.manifest.counters)

    def appointment_docs(self) -> Iterator[dict[str, Any]]:
        yield from self.view.appointments.iter_raw(AppointmentQuery())

    def appointments(self) -> Iterator[Appointment]:
        for doc in self.appointment_docs():
            yield appointment_from_json(doc)

    def _week_tables(self, table: str) -> Iterator[dict[str, Any]]:
        for name in self.snap.names(self._appt_prefix):
            rows = self.snap.table(name, table).documents()
            if rows:
                yield dict(rows)

    def links(self) -> Iterator[tuple[str, str]]:
        for table in self._week_tables("links"):
            yield from ((uid, self._successor_in(link)) for uid, link in table.items())

    def reminders_sent(self) -> Iterator[dict[str, Any]]:
        for table in self._week_tables("reminders_sent"):
            yield from table.values()

    def audit(self) -> list[tuple[int, dict[str, Any]]]:
        """Every audit entry with its sequence number, oldest first."""
        found: list[tuple[int, dict[str, Any]]] = []
        for table in self._week_tables("audit"):
            found.extend((int(k), v) for k, v in table.items())
        for name in self.snap.names(self._audit_prefix):
            found.extend((int(k), v) for k, v in self.snap.table(name, "audit").documents().items())
        found.sort(key=lambda item: item[0])
        return found

    def delivery_links(self) -> Iterator[tuple[str, str]]:
        for name in self.snap.names(self._index_prefix):
            for uid, entry in self.snap.table(name, "by_appointment").documents().items():
                for delivery_id in entry.get("ids", []):
                    yield uid, delivery_id

    @contextmanager
    def reading(self, segment: str | None) -> Iterator[None]:
        """A record read in the block that is of another shape is named with its file (the
        segment's, where the kind lives in one), as every other refusal of the import is."""
        try:
            yield
        except UnreadableRecord as exc:
            where = str(self.root)
            found = self.snap.segment(segment) if segment else None
            if found is not None and found.file:
                where = str(self.root / "segments" / found.file)
            raise StoreError(f"cannot import {where}: stored {exc.record} cannot be read ({exc.problem}); "
                             "nothing was imported") from None

    def damaged(self, kind: str, key: object, why: str) -> StoreError:
        """The import's one line for a record it cannot copy: the data dir, the file that holds
        the record (where one is known), the record and why."""
        from rxdesk.store.layout import appointment_segment

        where = str(self.root)
        segment = self.snap.segment(appointment_segment(str(key)) or "") if kind == "appointment" else None
        if segment is not None and segment.file:
            where = str(self.root / "segments" / segment.file)
        return StoreError(f"cannot import {where}: {kind} {str(key)[:80]!r}: {why}; nothing was imported")


# -- the import ---------------------------------------------------------------------------


Keyed = Callable[[], Iterable[tuple[str, Sequence[Any]]]]


PATIENT_COLUMNS = [*conv.PATIENT_COLUMNS, "name_key", "search_text"]
_TIME_COLUMNS = tuple(c for c in conv.APPOINTMENT_COLUMNS if c.endswith("_at"))


def _checked_appointment(reader: DataDirReader, doc: dict[str, Any]) -> tuple[str, list[Any]]:
    """An appointment's row, once its times read as rxdesk reads them (the database would take
    some it cannot read, such as `yesterday`; it refuses the other damage itself)."""
    try:
        for column in _TIME_COLUMNS:
            if doc.get(column) is not None:
                datetime.fromisoformat(doc[column])
    except (TypeError, ValueError) as exc:
        raise reader.damaged("appointment", doc.get("uid"), f"cannot be read ({_unreadable(doc, exc)})") from None
    return str(doc.get("uid")), [doc.get(c) for c in conv.APPOINTMENT_COLUMNS]


def _unreadable(doc: dict[str, Any], exc: Exception) -> str:
    try:
        Appointment.from_stored(doc)
    except UnreadableRecord as invalid:
        return invalid.problem
    except Exception:  # noqa: BLE001 - the first error is the one to show
        pass
    return f"{type(exc).__name__}: {exc}"


class _Rows:
    """The rows of one kind with the key of each; remembers the last handed out."""

    def __init__(self, keyed: Keyed) -> None:
        self.keyed = keyed
        self.last: str | None = None
        self.last_row: Sequence[Any] = ()

    def rows(self) -> Iterator[Sequence[Any]]:
        for key, row in self.keyed():
            self.last, self.last_row = key, row
            yield row

    def key_at(self, line: int) -> str | None:
        """The key of the `line`-th row (from 1), read again."""
        return next(islice((key for key, _ in self.keyed()), line - 1, None), None)


_COPY_LINE = re.compile(r"COPY \w+, line (\d+)(?:, column (\w+))?")


def _copy(session: Session, reader: DataDirReader, kind: str, table: str, columns: Sequence[str],
          keyed: Keyed) -> int:
    """COPY the rows of one kind; a row the database refuses is named (its key, its column)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    source = _Rows(keyed)
    count = 0
    try:
        with session.conn.cursor() as cur, cur.copy(statement) as copy:
            for row in source.rows():
                copy.write_row(row)
                count += 1
    except psycopg.Error as exc:
        said = translate(session.store.target, exc)
        if isinstance(said, StoreUnavailable):
            raise said from None
        found = _COPY_LINE.search(str(getattr(exc.diag, "context", None) or ""))
        if found is None:  # refused on this side, as the row was written: the last one
            named = [c for c, v in zip(columns, source.last_row, strict=False) if isinstance(v, str) and "\x00" in v]
            column = f"{named[0]} " if named else ""
            raise reader.damaged(kind, source.last, f"{column}{_refusal(exc)}") from None
        column = f"column {found.group(2)}: " if found.group(2) else ""
        raise reader.damaged(kind, source.key_at(int(found.group(1))),
                             f"refused by the database ({column}{_refusal(exc)})") from None
    return count


def _refusal(exc: psycopg.Error) -> str:
    said = exc.diag.message_primary or str(exc)
    if "NUL" in said:
        return "holds a NUL character, which PostgreSQL text cannot hold"
    return " ".join(said.split())


def _put(reader: DataDirReader, kind: str, key: str, put: Callable[[], None]) -> None:
    try:
        put()
    except psycopg.Error as exc:
        raise reader.damaged(kind, key, f"refused by the database ({_refusal(exc)})") from None


def import_data_dir(pg: PgStore, tiny: Any) -> Counts:
    """Copy the data dir behind `tiny` into the (empty) database of `pg`, in one transaction.
    A record the database refuses, or rxdesk cannot read, is named in one line (the data dir,
    its file where known, its key) and nothing is imported."""
    reader = DataDirReader(tiny)
    view = reader.view
    counts = Counts()
    with pg.write(pipelined=False) as target:  # a refused record is named by the statement that wrote it
        if not target.bulk.is_empty():
            raise Refused(f"the {pg.where} already holds rxdesk data; import only into an empty database "
                          "(a new one: createdb, then rxdesk store init)")
        session = target.session
        session.require_writable()
        with reader.reading(CORE):
            _reference_data(reader, target, counts)
        with reader.reading(PATIENTS):
            counts.add("patients", _copy(session, reader, "patient", "patients", PATIENT_COLUMNS, lambda: (
                (p.id, patient_rows.patient_row(p)) for p in view.patients.all())))
        with reader.reading(None):
            _the_rest(reader, target, session, counts)
    return counts


def _reference_data(reader: DataDirReader, target: Any, counts: Counts) -> None:
    view = reader.view
    org = view.org.get()
    if org is not None:
        _put(reader, "org", "org", lambda: target.org.put(org))
        counts.add("org", 1)
    for kind, source, dest, what in (("admins", view.admins, target.admins, "admin"),
                                     ("appointment types", view.types, target.types, "appointment type"),
                                     ("doctors", view.doctors, target.doctors, "doctor"),
                                     ("booking secrets", view.secrets, target.secrets, "booking secret"),
                                     ("subscriptions", view.subscriptions, target.subscriptions, "subscription")):
        items = source.all()
        for item in items:
            key = str(getattr(item, "key_id", None) or getattr(item, "id", None) or getattr(item, "key", ""))
            _put(reader, what, key, partial(dest.put, item))
        counts.add(kind, len(items))


def _the_rest(reader: DataDirReader, target: Any, session: Session, counts: Counts) -> None:
    view = reader.view
    counts.add("appointments", _copy(
        session, reader, "appointment", "appointments", conv.APPOINTMENT_COLUMNS,
        lambda: (_checked_appointment(reader, doc) for doc in reader.appointment_docs())))
    reminder_columns = conv.REMINDER_COLUMNS
    # A row fired before rows named their messages has no message ids: '' as the column's default.
    counts.add("reminders sent", _copy(session, reader, "reminder sent", "appointment_reminders_sent",
                                       reminder_columns, lambda: (
        (str(doc.get("appointment_uid")),
         [doc.get(c, "" if c.endswith("_message_id") else None) for c in reminder_columns])
        for doc in reader.reminders_sent())))
    counts.add("events", _copy(session, reader, "event", "events", ["seq", "id", "type", "created_at", "data"],
                               lambda: ((e.id, [seq, e.id, e.type.value, e.created_at, Json(e.to_json()["data"])])
                                        for seq, e in view.events.after(0))))
    counts.add("audit entries", _copy(session, reader, "audit entry", "audit", AUDIT_COLUMNS, lambda: (
        (f"{seq} (about {entry.get('target')})", row)
        for seq, entry in reader.audit() for row in audit_rows([entry]))))
    delivery_columns = target.deliveries.columns
    counts.add("deliveries", _copy(session, reader, "delivery", "deliveries", delivery_columns, lambda: (
        (d["id"], [d.get(c) for c in delivery_columns]) for d in (x.to_json() for x in view.deliveries.newest()))))
    _copy(session, reader, "delivery link", "delivery_appointments", ["appointment_uid", "delivery_id"],
          lambda: ((uid, [uid, delivery]) for uid, delivery in reader.delivery_links()))
    message_columns = target.messages.columns
    counts.add("messages", _copy(session, reader, "message", "messages", message_columns, lambda: (
        (m["id"], [m.get(c) for c in message_columns]) for m in (x.to_json() for x in view.messages.newest()))))
    session.many("UPDATE appointments SET successor_uid = %s WHERE uid = %s",
                 [(new, old) for old, new in reader.links()])
    for name, value in reader.counters().items():
        if name in SEQUENCES:
            if value > 0:
                session.execute("SELECT setval(%s, %s)", (SEQUENCES[name], value))
        elif name != "audit":
            target.cursors.set(name, value)


# -- the check ----------------------------------------------------------------------------


@dataclass
class Comparison:
    rows: list[tuple[str, int, int]]
    data_dir_checksum: str
    database_checksum: str

    @property
    def same(self) -> bool:
        return self.data_dir_checksum == self.database_checksum and all(a == b for _, a, b in self.rows)


def count_data_dir(reader: DataDirReader) -> dict[str, int]:
    view = reader.view
    return {
        "org": 1 if view.org.get() is not None else 0,
        "admins": view.admins.count(),
        "appointment types": view.types.count(),
        "doctors": view.doctors.count(),
        "patients": view.patients.count(),
        "appointments": view.appointments.count_raw(AppointmentQuery()),
        "reminders sent": sum(1 for _ in reader.reminders_sent()),
        "booking secrets": view.secrets.count(),
        "subscriptions": view.subscriptions.count(),
        "events": sum(1 for _ in view.events.after(0)),
        "audit entries": len(reader.audit()),
        "deliveries": sum(1 for _ in view.deliveries.newest()),
        "messages": sum(1 for _ in view.messages.newest()),
    }


def count_database(pg: PgStore) -> dict[str, int]:
    tables = {
        "org": "org", "admins": "admins", "appointment types": "appointment_types", "doctors": "doctors",
        "patients": "patients", "appointments": "appointments", "reminders sent": "appointment_reminders_sent",
        "booking secrets": "booking_secrets", "subscriptions": "subscriptions", "events": "events",
        "audit entries": "audit", "deliveries": "deliveries", "messages": "messages",
    }
    query = sql.SQL("SELECT {}").format(sql.SQL(", ").join(
        sql.SQL("(SELECT count(*) FROM {})").format(sql.Identifier(t)) for t in tables.values()))
    with pg.read() as view:
        row = view.session.one(query)
    assert row is not None
    return {kind: int(n) for kind, n in zip(tables, row, strict=True)}


def database_appointments(pg: PgStore) -> Iterator[Appointment]:
    with pg.read() as view:
        after = ""
        while True:
            rows = view.session.dicts(
                sql.SQL("SELECT {} FROM appointments WHERE uid > %s ORDER BY uid COLLATE \"C\" LIMIT 5000").format(
                    sql.SQL(", ").join(map(sql.Identifier, conv.APPOINTMENT_COLUMNS))), (after,))
            for row in rows:
                yield appointment_from_row(row)
            if len(rows) < 5000:
                return
            after = rows[-1]["uid"]


def compare(pg: PgStore, tiny: Any) -> Comparison:
    reader = DataDirReader(tiny)
    ours, theirs = count_data_dir(reader), count_database(pg)
    rows = [(kind, ours[kind], theirs[kind]) for kind in KINDS]
    _, dir_sum = appointments_checksum(reader.appointments())
    _, db_sum = appointments_checksum(database_appointments(pg))
    return Comparison(rows, dir_sum, db_sum)
