"""The repositories of `store/protocols.py` on PostgreSQL.

Every value travels as a query parameter; identifiers come from this module's own constants,
composed with `psycopg.sql`. Inside a unit of work, a row read by its key is locked until
commit, the way the TinyDB store repeats such reads under its write lock: an appointment (or a
delivery, a message) `FOR UPDATE`, so two agents changing one appointment take turns and the
second sees the first's change; reference data (doctors, types, patients...) `FOR SHARE`, so
readers do not wait for each other and two writers of one row are refused one of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from psycopg import sql
from psycopg.types.json import Json, Jsonb

from rxdesk.domain.errors import found
from rxdesk.domain.ids import normalize_uid, random_token
from rxdesk.domain.models import (
    Admin,
    Appointment,
    AppointmentType,
    AuditEntry,
    BookingSecret,
    Delivery,
    DeliveryStatus,
    Doctor,
    Entity,
    Event,
    EventType,
    Org,
    OutboxMessage,
    Patient,
    ReminderSent,
    Subscription,
)
from rxdesk.domain.queries import AppointmentQuery, AppointmentRecord, DeliveryTrouble, Page
from rxdesk.store.postgres import rows as conv
from rxdesk.store.postgres.session import Session

M = TypeVar("M", bound=Entity)
ACTIVE = ("held", "confirmed")
CHUNK = 500  # rows fetched at a time when a listing is walked lazily
ID_BLOCK = 64  # sequence numbers taken at a time by a write that makes many rows


def upsert(table: str, columns: list[str], key: str) -> sql.Composed:
    """INSERT of one row of `columns`, replacing the row with the same `key`."""
    return sql.SQL("INSERT INTO {t} ({cols}) VALUES ({vals}) ON CONFLICT ({k}) DO UPDATE SET {sets}").format(
        t=sql.Identifier(table),
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        vals=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        k=sql.Identifier(key),
        sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in columns if c != key),
    )


def _share(session: Session) -> sql.Composable:
    """Inside a write, a reference row read by its key is locked against change until commit,
    but not against other readers (every booking reads its doctor and type): two writers that
    both change it are refused one of them, never merged into a lost update."""
    return sql.SQL(" FOR SHARE") if session.writable else sql.SQL("")


def _lock(session: Session) -> sql.Composable:
    return sql.SQL(" FOR UPDATE") if session.writable else sql.SQL("")


# Writers that touch values encrypted under the master key (booking secrets, webhook signing
# secrets) take turns: a master-key rotation reads every value and writes each back under the
# new key, and no value may be added under the old key meanwhile.
SECRETS_LOCK = 0x72787365  # "rxse"


class Documents(Generic[M]):
    """Reference data: one JSON document a row, keyed by its natural id."""

    def __init__(self, session: Session, table: str, key: str, model: type[M], what: str,
                 turn: int | None = None) -> None:
        self._s = session
        self._table_name = table
        self._table = sql.Identifier(table)
        self._key = sql.Identifier(key)
        self._key_field = key
        self._model = model
        self._what = what
        self._turn = turn

    def _take_turn(self) -> None:
        if self._turn is not None:
            self._s.take_turn(self._turn)

    def get(self, key: str) -> M | None:
        if not isinstance(key, str):
            return None
        self._take_turn()
        return self._s.locked_row(self._table_name, key, self._fetch)

    def _fetch(self, key: str) -> M | None:
        query = sql.SQL("SELECT doc FROM {} WHERE {} = %s{}").format(self._table, self._key, _share(self._s))
        doc = self._s.value(query, (key,))
        return self._model.model_validate(doc) if doc is not None else None

    def require(self, key: str) -> M:
        return found(self.get(key), self._what, key)

    def all(self) -> list[M]:
        self._take_turn()
        query = sql.SQL("SELECT doc FROM {} ORDER BY {} COLLATE \"C\"").format(self._table, self._key)
        return [self._model.model_validate(doc) for (doc,) in self._s.rows(query)]

    def count(self) -> int:
        return int(self._s.value(sql.SQL("SELECT count(*) FROM {}").format(self._table)))

    def names(self) -> Mapping[str, str]:
        """key -> name of every row (read-only: the caller's to read, not to change)."""
        query = sql.SQL("SELECT {}, coalesce(doc->>'name', {}) FROM {}").format(self._key, self._key, self._table)
        return MappingProxyType(dict(self._s.rows(query)))

    def put(self, item: M) -> None:
        self._s.require_writable()
        self._take_turn()
        query = sql.SQL(
            "INSERT INTO {t} ({k}, doc) VALUES (%s, %s) ON CONFLICT ({k}) DO UPDATE SET doc = EXCLUDED.doc"
        ).format(t=self._table, k=self._key)
        key = getattr(item, self._key_field)
        self._s.execute(query, (key, Jsonb(item.to_json())))
        self._s.remember(self._table_name, key, item)

    def delete(self, key: str) -> None:
        self._s.require_writable()
        self._take_turn()
        self._s.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(self._table, self._key), (key,))
        self._s.remember(self._table_name, key, None)


class OrgRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self) -> Org | None:
        return self._s.locked_row("org", "org", self._fetch)

    def _fetch(self, _key: str) -> Org | None:
        doc = self._s.value("SELECT doc FROM org")  # not locked: every write reads it
        return Org.model_validate(doc) if doc is not None else None

    def put(self, org: Org) -> None:
        self._s.require_writable()
        self._s.remember("org", "org", org)
        self._s.execute(
            "INSERT INTO org (singleton, doc) VALUES (true, %s) "
            "ON CONFLICT (singleton) DO UPDATE SET doc = EXCLUDED.doc",
            (Jsonb(org.to_json()),),
        )


PATIENT_COLUMNS = conv.fields(Patient)
_SEP = "\x1f"


def patient_search_text(p: Patient) -> str:
    """What `search` looks in: the casefolded name, email, external id and id, and the phone."""
    return _SEP.join([p.name.casefold(), p.email.casefold(), p.external_id.casefold(), p.id.casefold(), p.phone])


def patient_row(p: Patient) -> list[Any]:
    return [*conv.params(p, PATIENT_COLUMNS), p.name.casefold(), patient_search_text(p),]


class PatientRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    _select = sql.SQL("SELECT {} FROM patients").format(sql.SQL(", ").join(map(sql.Identifier, PATIENT_COLUMNS)))

    def _patient(self, row: dict[str, Any]) -> Patient:
        return Patient.model_validate(conv.pick(Patient, row))

    def get(self, key: str) -> Patient | None:
        if not isinstance(key, str):
            return None
        return self._s.locked_row("patients", key, self._fetch)

    def _fetch(self, key: str) -> Patient | None:
        found = self._s.dicts(self._select + sql.SQL(" WHERE id = %s") + _share(self._s), (key,))
        return self._patient(found[0]) if found else None

    def require(self, key: str) -> Patient:
        return found(self.get(key), "patient", key)

    def all(self) -> list[Patient]:
        return [self._patient(r) for r in self._s.dicts(self._select + sql.SQL(' ORDER BY id COLLATE "C"'))]

    def count(self) -> int:
        return int(self._s.value("SELECT count(*) FROM patients"))

    def put(self, item: Patient) -> None:
        self.put_many([item])

    def put_many(self, items: list[Patient]) -> None:
        self._s.require_writable()
        query = upsert("patients", [*PATIENT_COLUMNS, "name_key", "search_text"], "id")
        self._s.many(query, [patient_row(p) for p in items])
        for patient in items:
            self._s.remember("patients", patient.id, patient)

    def delete(self, key: str) -> None:
        self._s.require_writable()
        self._s.execute("DELETE FROM patients WHERE id = %s", (key,))
        self._s.remember("patients", key, None)

    def names(self) -> Mapping[str, str]:
        return MappingProxyType(dict(self._s.rows("SELECT id, name FROM patients")))

    def search(self, text: str, *, offset: int = 0, limit: int | None = None) -> Page[Patient]:
        """Patients whose name, email, phone, external id or id contains `text` (any case;
        phone matched on its digits too), ordered by name."""
        needle = (text or "").strip().casefold()
        digits = "".join(ch for ch in needle if ch.isdigit())
        where: sql.Composable = sql.SQL("")
        args: list[Any] = []
        if needle:
            if _SEP in needle:
                return Page([], 0, offset, limit)
            where = sql.SQL(" WHERE strpos(search_text, %s) > 0")
            args.append(needle)
            if len(digits) >= 3:
                where += sql.SQL(" OR strpos(regexp_replace(phone, '[^0-9]', '', 'g'), %s) > 0")
                args.append(digits)
        total = int(self._s.value(sql.SQL("SELECT count(*) FROM patients") + where, args))
        query = self._select + where + sql.SQL(' ORDER BY name_key COLLATE "C", id COLLATE "C" OFFSET %s')
        page_args = [*args, max(0, offset)]
        if limit is not None:
            query += sql.SQL(" LIMIT %s")
            page_args.append(max(0, limit))
        items = [self._patient(r) for r in self._s.dicts(query, page_args)]
        return Page(items, total, offset, limit)

    def external_ids(self) -> Mapping[str, str]:
        """id -> external_id of every patient ("" for none)."""
        return MappingProxyType(dict(self._s.rows("SELECT id, external_id FROM patients")))

    def by_external_id(self, external_id: str) -> Patient | None:
        if not external_id:
            return None
        found = self._s.dicts(self._select + sql.SQL(" WHERE external_id = %s"), (external_id,))
        return self._patient(found[0]) if found else None


APPOINTMENT_COLUMNS = conv.fields(Appointment)


# The status at an instant (`lifecycle.status_at`), for the four that time changes: a condition
# on the stored columns (each takes the instant once), and the stored statuses it may come from.
_STATUS_AT = {
    "held": ("(status = 'held' AND (hold_expires_at IS NULL OR hold_expires_at > %s))", {"held"}),
    "expired": ("(status = 'expired' OR (status = 'held' AND hold_expires_at <= %s))", {"expired", "held"}),
    "confirmed": ("(status = 'confirmed' AND ends_at > %s)", {"confirmed"}),
    "completed": ("(status = 'completed' OR (status = 'confirmed' AND ends_at <= %s))", {"completed", "confirmed"}),
}


def status_filter(statuses: frozenset[str], as_of: datetime | None) -> tuple[sql.Composable, list[Any]]:
    """A WHERE part matching appointments whose status at `as_of` is one of `statuses` (a held
    one past its hold expiry is expired, a confirmed one past its end is completed), or whose
    stored status is, when `as_of` is None. One condition per status on the stored columns,
    behind the stored statuses they can come from: the indexes on status still serve it."""
    if as_of is None:
        return sql.SQL("status = ANY(%s)"), [sorted(statuses)]
    plain = sorted(statuses - _STATUS_AT.keys())
    parts: list[sql.Composable] = [sql.SQL("status = ANY(%s)")] if plain else []
    args: list[Any] = [plain] if plain else []
    stored = set(plain)
    for status in sorted(statuses & _STATUS_AT.keys()):
        condition, sources = _STATUS_AT[status]
        parts.append(sql.SQL(condition))  # a constant of this module
        args.append(as_of)
        stored |= sources
    if not parts:
        return sql.SQL("false"), []
    where = sql.SQL("status = ANY(%s) AND (") + sql.SQL(" OR ").join(parts) + sql.SQL(")")
    return where, [sorted(stored), *args]


_APPT_SELECT = sql.SQL("SELECT {} FROM appointments").format(
    sql.SQL(", ").join(map(sql.Identifier, APPOINTMENT_COLUMNS))
)


class AppointmentRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _raw(self, uid: str) -> dict[str, Any] | None:
        if not isinstance(uid, str):
            return None
        found = self._s.dicts(_APPT_SELECT + sql.SQL(" WHERE uid = %s") + _lock(self._s), (normalize_uid(uid),))
        return found[0] if found else None

    def get(self, uid: str) -> Appointment | None:
        row = self._raw(uid)
        return conv.appointment(row) if row is not None else None

    def require(self, uid: str) -> Appointment:
        return found(self.get(uid), "appointment", str(uid).strip())

    def put(self, appt: Appointment) -> None:
        self.put_many([appt])

    def put_many(self, appts: list[Appointment]) -> None:
        """Insert or replace. Two held or confirmed appointments of one doctor that overlap
        are refused by the database (`Conflict`), whatever wrote them; a lapsed hold still
        stored as held counts until it is written down as expired (the booking services
        expire the ones in the way in the same write)."""
        self._s.require_writable()
        query = upsert("appointments", APPOINTMENT_COLUMNS, "uid")
        self._s.many(query, [conv.params(a, APPOINTMENT_COLUMNS) for a in appts])

    # -- queries ---------------------------------------------------------------------

    def _where(self, query: AppointmentQuery) -> tuple[sql.Composable, list[Any]]:
        parts: list[sql.Composable] = []
        args: list[Any] = []
        if query.statuses is not None:
            part, part_args = status_filter(query.statuses, query.as_of)
            parts.append(part)
            args.extend(part_args)
        if query.doctor_id is not None:
            parts.append(sql.SQL("doctor_id = %s"))
            args.append(query.doctor_id)
        if query.patient_id is not None:
            parts.append(sql.SQL("patient_id = %s"))
            args.append(query.patient_id)
        if query.starts_from is not None:
            parts.append(sql.SQL("starts_at >= %s"))
            args.append(query.starts_from)
        if query.starts_before is not None:
            parts.append(sql.SQL("starts_at < %s"))
            args.append(query.starts_before)
        if not parts:
            return sql.SQL(""), args
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), args

    def _select(self, query: AppointmentQuery) -> list[dict[str, Any]]:
        where, args = self._where(query)
        order = sql.SQL(' ORDER BY starts_at DESC, uid COLLATE "C" DESC' if query.descending
                        else ' ORDER BY starts_at, uid COLLATE "C"')
        statement = _APPT_SELECT + where + order + sql.SQL(" OFFSET %s")
        args.append(max(0, query.offset))
        if query.limit is not None:
            statement += sql.SQL(" LIMIT %s")
            args.append(max(0, query.limit))
        return self._s.dicts(statement, args)

    def count(self, query: AppointmentQuery) -> int:
        where, args = self._where(query)
        return int(self._s.value(sql.SQL("SELECT count(*) FROM appointments") + where, args))

    def search(self, query: AppointmentQuery) -> Page[AppointmentRecord]:
        """The window of matching appointments by start then uid (newest first when
        `descending`), with the total when `count`; each as a record over its JSON form."""
        found = [AppointmentRecord(conv.appointment_doc(r)) for r in self._select(query)]
        total = self.count(query) if query.count else None
        return Page(found, total, max(0, query.offset), query.limit)

    def active_for_doctor(
        self, doctor_id: str, start: datetime, end: datetime, as_of: datetime | None = None
    ) -> list[Appointment]:
        """The doctor's appointments that overlap [start, end) and are held or confirmed at
        `as_of` (a lapsed hold is not), or as stored when `as_of` is None. The overlap is the
        no-double-booking constraint's own index."""
        status, status_args = status_filter(frozenset(ACTIVE), as_of)
        found = self._s.dicts(
            _APPT_SELECT + sql.SQL(
                " WHERE doctor_id = %s AND status IN ('held', 'confirmed') AND {} "
                "AND tstzrange(starts_at, ends_at) && tstzrange(%s, %s) ORDER BY starts_at, uid COLLATE \"C\""
            ).format(status),
            (doctor_id, *status_args, start, end),
        )
        return [conv.appointment(r) for r in found]

    def lapsed_holds(self, now: datetime) -> list[Appointment]:
        """Held appointments whose hold has expired by `now`. In a write view each is locked,
        and one another transaction holds is skipped: two workers expire each hold once."""
        lock = sql.SQL(" FOR UPDATE SKIP LOCKED") if self._s.writable else sql.SQL("")
        found = self._s.dicts(
            _APPT_SELECT
            + sql.SQL(" WHERE status = 'held' AND hold_expires_at <= %s ORDER BY uid COLLATE \"C\"")
            + lock,
            (now,),
        )
        return [conv.appointment(r) for r in found]

    def holds_lapsing(self, after: datetime, until: datetime) -> list[Appointment]:
        """Held appointments whose hold expires in (after, until], soonest first (the holds'
        index by expiry)."""
        found = self._s.dicts(
            _APPT_SELECT + sql.SQL(
                " WHERE status = 'held' AND hold_expires_at > %s AND hold_expires_at <= %s"
                " ORDER BY hold_expires_at, uid COLLATE \"C\""),
            (after, until),
        )
        return [conv.appointment(r) for r in found]

    def confirmed_starting(self, after: datetime, until: datetime) -> list[Appointment]:
        """Confirmed appointments with after < starts_at <= until. In a write view each is
        locked and those another transaction holds are skipped, so two workers never decide
        the same appointment's reminders at once."""
        lock = sql.SQL(" FOR UPDATE SKIP LOCKED") if self._s.writable else sql.SQL("")
        found = self._s.dicts(
            _APPT_SELECT + sql.SQL(
                " WHERE status = 'confirmed' AND starts_at > %s AND starts_at <= %s"
                " ORDER BY starts_at, uid COLLATE \"C\""
            ) + lock,
            (after, until),
        )
        return [conv.appointment(r) for r in found]

    def confirmed_ended(
        self, after: datetime | None, until: datetime, *, max_weeks: int = 8
    ) -> tuple[list[Appointment], datetime]:
        """Stored-confirmed appointments with after < ends_at <= until (from the first when
        `after` is None), by end, through at most `max_weeks` weeks of time: a worker that was
        down catches up in bounded steps. Returns them and the instant up to which the answer
        is complete. In a write view they are locked (skipping rows another writer holds)."""
        if after is None:
            first = self._s.value("SELECT min(ends_at) FROM appointments WHERE status = 'confirmed'")
            if first is None:
                return [], until
            after = first - timedelta(seconds=1)
        reached = min(until, after + timedelta(weeks=max(1, max_weeks)))
        lock = sql.SQL(" FOR UPDATE SKIP LOCKED") if self._s.writable else sql.SQL("")
        found = self._s.dicts(
            _APPT_SELECT
            + sql.SQL(" WHERE status = 'confirmed' AND ends_at > %s AND ends_at <= %s")
            + sql.SQL(' ORDER BY ends_at, uid COLLATE "C"')
            + lock,
            (after, reached),
        )
        return [conv.appointment(r) for r in found], reached

    def successor_of(self, uid: str) -> str | None:
        if not isinstance(uid, str):
            return None
        found = self._s.value("SELECT successor_uid FROM appointments WHERE uid = %s", (normalize_uid(uid),))
        return str(found) if found is not None else None

    def link_successor(self, uid: str, new_uid: str) -> None:
        self._s.require_writable()
        self._s.execute("UPDATE appointments SET successor_uid = %s WHERE uid = %s", (new_uid, uid))


REMINDER_COLUMNS = conv.fields(ReminderSent)
SKIPPED_LIKE = "skipped:%"  # how an email or SMS status starts when there was no address to send to


class ReminderSentRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def exists(self, uid: str, rule_id: str, group: str, recipient_id: str) -> bool:
        return bool(self._s.value(
            "SELECT EXISTS (SELECT 1 FROM appointment_reminders_sent WHERE appointment_uid = %s AND rule_id = %s "
            "AND recipient_group = %s AND recipient_id = %s)",
            (uid, rule_id, group, recipient_id),
        ))

    def add(self, row: ReminderSent) -> None:
        """Record a fired reminder; its identity is the primary key, so a second recording of
        the same reminder (another worker's) fails the whole transaction that tried it."""
        self._s.require_writable()
        query = sql.SQL("INSERT INTO appointment_reminders_sent ({}) VALUES ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, REMINDER_COLUMNS)),
            sql.SQL(", ").join(sql.Placeholder() * len(REMINDER_COLUMNS)),
        )
        self._s.execute(query, conv.params(row, REMINDER_COLUMNS))

    def update(self, row: ReminderSent) -> None:
        self._s.require_writable()
        keys = ("appointment_uid", "rule_id", "recipient_group", "recipient_id")
        rest = [c for c in REMINDER_COLUMNS if c not in keys]
        query = sql.SQL("UPDATE appointment_reminders_sent SET {} WHERE {}").format(
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in rest),
            sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in keys),
        )
        self._s.execute(query, [*conv.params(row, rest), *conv.params(row, list(keys))])

    def for_appointment(self, uid: str) -> list[ReminderSent]:
        found = self._s.dicts(
            sql.SQL("SELECT {} FROM appointment_reminders_sent WHERE appointment_uid = %s").format(
                sql.SQL(", ").join(map(sql.Identifier, REMINDER_COLUMNS))),
            (uid,),
        )
        rows = [ReminderSent.model_validate(conv.pick(ReminderSent, r)) for r in found]
        rows.sort(key=lambda r: (r.sent_at, r.rule_id, r.recipient_group, r.recipient_id))
        return rows


    def skipped(self, starting_after: datetime) -> list[ReminderSent]:
        """Fired reminders whose email or SMS was skipped (no address to send to), of
        appointments that start after `starting_after`, by the appointment's start."""
        found = self._s.dicts(
            sql.SQL("SELECT {} FROM appointment_reminders_sent r JOIN appointments a ON a.uid = r.appointment_uid "
                    "WHERE a.starts_at > %s AND (r.email_status LIKE %s OR r.sms_status LIKE %s) "
                    "ORDER BY a.starts_at, r.appointment_uid COLLATE \"C\", r.rule_id COLLATE \"C\", "
                    "r.recipient_group COLLATE \"C\", r.recipient_id COLLATE \"C\"").format(
                sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in REMINDER_COLUMNS)),
            (starting_after, SKIPPED_LIKE, SKIPPED_LIKE),
        )
        return [ReminderSent.model_validate(conv.pick(ReminderSent, r)) for r in found]


def event_id(seq: int, tail: str) -> str:
    # The sequence number, then a random tail: ids from two desks never collide at a receiver.
    return f"evt_{seq:012d}{tail}"


# Transactions that write events take turns, from their first event to their commit, so that
# events commit in the order of their sequence numbers: a reader that has seen event N has seen
# every event before it, and the worker's fan-out cursor never steps over one committed late.
EVENTS_LOCK = 0x72786576  # "rxev"


class EventRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def append(self, type: EventType, data: dict[str, Any], at: datetime) -> Event:
        self._s.require_writable()
        self._s.take_turn(EVENTS_LOCK)  # before a number is taken: numbers follow commits
        spare = self._s.spare_ids.setdefault("events_seq", [])
        if not spare:
            spare.extend(int(r[0]) for r in self._s.rows(
                "SELECT nextval('events_seq') FROM generate_series(1, %s)", (ID_BLOCK,)))
        seq = spare.pop(0)
        event = Event(id=event_id(seq, random_token(6)), type=type, created_at=at, data=data)
        self._s.execute("INSERT INTO events (seq, id, type, created_at, data) VALUES (%s, %s, %s, %s, %s)",
                        (seq, event.id, event.type.value, event.created_at, Json(event.to_json()["data"])))
        return event

    @staticmethod
    def _event(row: tuple[Any, ...]) -> Event:
        return Event.model_validate({"id": row[0], "type": row[1], "created_at": row[2], "data": row[3]})

    def get(self, event_id: str) -> Event | None:
        if not isinstance(event_id, str):
            return None
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


class AuditRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def append(self, entry: AuditEntry) -> None:
        self._s.require_writable()
        self._s.execute("INSERT INTO audit (at, actor, action, target, details) VALUES (%s, %s, %s, %s, %s)",
                        (entry.at, entry.actor, entry.action, entry.target, Json(entry.to_json()["details"])))

    @staticmethod
    def _entry(row: tuple[Any, ...]) -> AuditEntry:
        return AuditEntry.model_validate(dict(zip(AUDIT_COLUMNS, row, strict=True)))

    def for_target(self, target: str) -> list[AuditEntry]:
        found = self._s.rows(
            "SELECT at, actor, action, target, details FROM audit WHERE target = %s ORDER BY seq", (target,))
        return [self._entry(r) for r in found]

    def newest(self, *, offset: int = 0, limit: int | None = None) -> Page[AuditEntry]:
        """Audit entries not about one appointment (those are shown with the appointment)."""
        statement = ("SELECT at, actor, action, target, details FROM audit WHERE target NOT LIKE 'appointment:%%' "
                     "ORDER BY seq DESC OFFSET %s")
        args: list[Any] = [max(0, offset)]
        if limit is not None:
            statement += " LIMIT %s"
            args.append(max(0, limit))
        return Page([self._entry(r) for r in self._s.rows(statement, args)], None, offset, limit)


R = TypeVar("R", bound=Entity)


class QueuedRows(Generic[R]):
    """Webhook deliveries or outgoing messages: rows with an id from a sequence, a status, and,
    while pending, the time of the next attempt and the lease of the runner sending it."""

    def __init__(self, session: Session, table: str, model: type[R], id_prefix: str) -> None:
        self._s = session
        self.table = table
        self._t = sql.Identifier(table)
        self._seq = f"{table}_seq"
        self.model = model
        self.id_prefix = id_prefix
        self.columns = conv.fields(model)
        self._select = sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(map(sql.Identifier, self.columns)), self._t)

    def _row(self, row: dict[str, Any]) -> R:
        return self.model.model_validate(conv.pick(self.model, row))

    def new_id(self) -> str:
        """The next id; numbers are taken from the sequence a block at a time (a tick makes
        hundreds), and a number taken but not used is only a gap."""
        self._s.require_writable()
        spare = self._s.spare_ids.setdefault(self._seq, [])
        if not spare:
            spare.extend(int(r[0]) for r in self._s.rows(
                "SELECT nextval(%s) FROM generate_series(1, %s)", (self._seq, ID_BLOCK)))
        return f"{self.id_prefix}{spare.pop(0):012d}"

    def get(self, row_id: str) -> R | None:
        if not isinstance(row_id, str):
            return None
        found = self._s.dicts(self._select + sql.SQL(" WHERE id = %s") + _lock(self._s), (row_id,))
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


class DeliveryRepo(QueuedRows[Delivery]):
    def __init__(self, session: Session) -> None:
        super().__init__(session, "deliveries", Delivery, "dlv_")

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


class MessageRepo(QueuedRows[OutboxMessage]):
    def __init__(self, session: Session) -> None:
        super().__init__(session, "messages", OutboxMessage, "msg_")

    def newest(self, *, offset: int = 0, limit: int | None = None) -> Page[OutboxMessage]:
        return self._newest(None, offset, limit)

    def failed(self, starting_after: datetime) -> list[OutboxMessage]:
        """Messages that failed after their last retry, of appointments that start after
        `starting_after`, by the appointment's start."""
        found = self._s.dicts(
            sql.SQL("SELECT {} FROM messages m JOIN appointments a ON a.uid = m.appointment_uid "
                    "WHERE m.status = 'failed' AND a.starts_at > %s ORDER BY a.starts_at, m.id COLLATE \"C\"").format(
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
        value = self._s.value(sql.SQL("SELECT value FROM counters WHERE name = %s") + _lock(self._s), (name,))
        return int(value) if value is not None else 0

    def set(self, name: str, value: int) -> None:
        self._s.require_writable()
        self._s.execute(
            "INSERT INTO counters (name, value) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            (name, value),
        )


def documents(session: Session) -> dict[str, Documents[Any]]:
    return {
        "admins": Documents(session, "admins", "id", Admin, "admin"),
        "types": Documents(session, "appointment_types", "key", AppointmentType, "appointment type"),
        "doctors": Documents(session, "doctors", "id", Doctor, "doctor"),
        "secrets": Documents(session, "booking_secrets", "key_id", BookingSecret, "booking secret", SECRETS_LOCK),
        "subscriptions": Documents(session, "subscriptions", "id", Subscription, "subscription", SECRETS_LOCK),
    }
