"""Many rows at once: the bulk loader of a unit of work (the demo, the benchmark's data sets)
and the pieces `rxdesk store import` shares with it. Rows go in with COPY."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from psycopg import sql
from psycopg.types.json import Json

from rxdesk.domain.ids import random_token
from rxdesk.store.postgres import logs as log_rows
from rxdesk.store.postgres import patients as patient_rows
from rxdesk.store.postgres import rows as conv
from rxdesk.store.postgres.session import Session

if TYPE_CHECKING:
    from rxdesk.domain.models import Patient

# Tables a clinic's data lives in (all but the schema's own record).
DATA_TABLES = ("org", "admins", "appointment_types", "doctors", "patients", "appointments",
               "appointment_reminders_sent", "booking_secrets", "subscriptions", "events", "audit",
               "deliveries", "delivery_appointments", "messages", "counters")
# What makes a store "not empty": anything an agent, a provisioning file or a demo wrote.
CONTENT_TABLES = ("org", "admins", "appointment_types", "doctors", "patients", "appointments",
                  "booking_secrets", "subscriptions", "events", "audit")
SEQUENCES = ("events_seq", "deliveries_seq", "messages_seq")
AUDIT_COLUMNS = ["at", "actor", "action", "target", "details"]


def holds_nothing(session: Session) -> bool:
    """Whether no content table holds a row. The organisation first, alone: a desk has one,
    and a new server process pays for each table a statement names (ten, where one answers)."""
    if session.value("SELECT EXISTS (SELECT 1 FROM org)"):
        return False
    query = sql.SQL("SELECT NOT ({})").format(sql.SQL(" OR ").join(
        sql.SQL("EXISTS (SELECT 1 FROM {})").format(sql.Identifier(t)) for t in CONTENT_TABLES))
    return bool(session.value(query))


def copy_rows(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY rows (values in `columns` order) into `table`; returns how many."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    count = 0
    with session.outside_pipeline(), session.cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def audit_rows(entries: Iterable[Mapping[str, Any]]) -> Iterable[list[Any]]:
    return ([e["at"], e["actor"], e["action"], e["target"], Json(e.get("details", {}))] for e in entries)


class PgBulkLoad:
    """The bulk loader of one unit of work."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def is_empty(self) -> bool:
        return holds_nothing(self._s)

    def clear(self) -> None:
        """Every row gone and every sequence restarted, inside the unit of work."""
        self._s.require_writable()
        self._s.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(
            sql.SQL(", ").join(map(sql.Identifier, DATA_TABLES))))
        for sequence in SEQUENCES:
            self._s.execute("SELECT setval(%s, 1, false)", (sequence,))

    def add_patients(self, patients: Sequence[Patient]) -> None:
        self._s.require_writable()
        copy_rows(self._s, "patients", [*conv.PATIENT_COLUMNS, "name_key", "search_text"],
                  (patient_rows.patient_row(p) for p in patients))

    def add_appointments(self, appointments: Sequence[Mapping[str, Any]]) -> None:
        self._s.require_writable()
        copy_rows(self._s, "appointments", conv.APPOINTMENT_COLUMNS,
                  ([doc.get(c) for c in conv.APPOINTMENT_COLUMNS] for doc in appointments))

    def add_audit(self, entries: Sequence[Mapping[str, Any]]) -> None:
        self._s.require_writable()
        copy_rows(self._s, "audit", AUDIT_COLUMNS, audit_rows(entries))

    def add_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Events as `{"type", "created_at", "data"}`, oldest first; ids are assigned."""
        self._s.require_writable()
        if not events:
            return
        self._s.take_turn(log_rows.EVENTS_LOCK)
        numbers = [int(r[0]) for r in self._s.rows(
            "SELECT nextval('events_seq') FROM generate_series(1, %s)", (len(events),))]
        copy_rows(self._s, "events", ["seq", "id", "type", "created_at", "data"], (
            [seq, log_rows.event_id(seq, random_token(6)), e["type"], e["created_at"], Json(e["data"])]
            for seq, e in zip(numbers, events, strict=True)))
