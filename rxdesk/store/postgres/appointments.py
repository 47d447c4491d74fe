"""Appointments and the reminders fired for them, on PostgreSQL: statuses at an instant as
conditions on the stored columns, row locks inside a unit of work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from psycopg import sql

from rxdesk.domain.errors import found
from rxdesk.domain.ids import normalize_uid
from rxdesk.domain.lifecycle import ACTIVE, LONGEST_APPOINTMENT, TIME_MOVES
from rxdesk.domain.queries import APPOINTMENT_INSTANTS, BRIEF_FIELDS, AppointmentQuery, AppointmentRecord, Page
from rxdesk.store.postgres import rows as conv
from rxdesk.store.postgres.repos import for_update, text, upsert
from rxdesk.store.postgres.rows import APPOINTMENT_COLUMNS, REMINDER_COLUMNS
from rxdesk.store.postgres.session import BATCH_ROWS, RowStatement, Session

if TYPE_CHECKING:  # the models are imported where a row is made one: a listing reads stored forms
    from rxdesk.domain.models import Appointment, ReminderSent

# "Active" as stored, built from the domain's one set: the no-double-booking constraint's own
# condition (schema.py), so the planner can use its index.
STORED_ACTIVE = sql.SQL("status IN ({})").format(sql.SQL(", ").join(sql.Literal(s.value) for s in sorted(ACTIVE)))


def _status_at() -> dict[str, tuple[sql.Composable, set[str]]]:
    """The status at an instant (`lifecycle.status_at`) for the statuses time changes, built from
    `lifecycle.TIME_MOVES`: a condition on the stored columns (each takes the instant once), and
    the stored statuses it may come from. `held`: stored held whose expiry has not come;
    `expired`: stored expired, or held whose expiry has come; likewise confirmed and completed."""
    found: dict[str, tuple[sql.Composable, set[str]]] = {}
    for source, (field, target) in TIME_MOVES.items():
        at, was, becomes = sql.Identifier(field), sql.Literal(source.value), sql.Literal(target.value)
        found[source.value] = (sql.SQL("(status = {} AND ({} IS NULL OR {} > %s))").format(was, at, at),
                               {source.value})
        found[target.value] = (sql.SQL("(status = {} OR (status = {} AND {} <= %s))").format(becomes, was, at),
                               {target.value, source.value})
    return found


_STATUS_AT = _status_at()


def status_filter(statuses: frozenset[str], as_of: datetime | None) -> tuple[sql.Composable, list[Any]]:
    """A WHERE part matching appointments whose status at `as_of` is one of `statuses` (a held
    one past its hold expiry is expired, a confirmed one past its end is completed), or whose
    stored status is, when `as_of` is None. One condition per status on the stored columns,
    behind the stored statuses they can come from: the indexes on status still serve it."""
    wanted = {str(s) for s in statuses}  # a set of AppointmentStatus, or of their values
    if as_of is None:
        return sql.SQL("status = ANY(%s)"), [sorted(wanted)]
    plain = sorted(wanted - _STATUS_AT.keys())
    parts: list[sql.Composable] = [sql.SQL("status = ANY(%s)")] if plain else []
    args: list[Any] = [plain] if plain else []
    stored = set(plain)
    for status in sorted(wanted & _STATUS_AT.keys()):
        condition, sources = _STATUS_AT[status]
        parts.append(condition)
        args.append(as_of)
        stored |= sources
    if not parts:
        return sql.SQL("false"), []
    where = sql.SQL("status = ANY(%s) AND (") + sql.SQL(" OR ").join(parts) + sql.SQL(")")
    return where, [sorted(stored), *args]


_APPT_SELECT = text(sql.SQL("SELECT {} FROM appointments").format(
    sql.SQL(", ").join(map(sql.Identifier, APPOINTMENT_COLUMNS))))


def _doc_select(columns: Sequence[str]) -> str:
    """A listing's rows as the JSON form (`Appointment.to_json()`) of `columns`, instants
    formatted by the server (whole seconds, UTC, `times.STORED_FORMAT`): a listing of thousands
    of rows builds no datetime."""
    return text(sql.SQL("SELECT {} FROM appointments").format(sql.SQL(", ").join(
        sql.SQL("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS {c}").format(
            c=sql.Identifier(c)) if c in APPOINTMENT_INSTANTS else sql.Identifier(c) for c in columns)))


_APPT_DOC_SELECT = _doc_select(APPOINTMENT_COLUMNS)
# A brief listing's (`AppointmentQuery.brief`): formatting the instants it leaves out was most
# of the server's time per row.
_APPT_BRIEF_SELECT = _doc_select(BRIEF_FIELDS)
_APPT_BY_UID = _APPT_SELECT + " WHERE uid = %s"
_APPT_LOCK_MANY = _APPT_SELECT + ' WHERE uid = ANY(%s) ORDER BY uid COLLATE "C" FOR UPDATE'
# A write that reads by key one appointment its last search returned locks all of that
# search's, in one statement (a doctor's away plan locks each appointment it takes); a search
# longer than this is locked row by row, as each is read.
LOCK_AHEAD = 1000
# A rebooked appointment names its successor: after the rows written with it (the successor).
_LINK = RowStatement("UPDATE appointments SET successor_uid = linked.successor FROM (", 2,
                     ") AS linked (uid, successor) WHERE appointments.uid = linked.uid", last=True)


# A window of at most this many rows is read by key after its uids are found (`_select`); a
# longer one (a listing printed whole) is read in one pass, where looking each row up again
# would cost more than it saves.
KEYED_WINDOW = 1000
# Every doctor's active appointments read for one span are read this far past it too: a search
# for free slots walks on a day at a time, and each day's spans are then answered from memory.
BUSY_AHEAD = timedelta(days=2)


class _Span:
    """Every doctor's active appointments over a span, as read: a doctor's are made models
    when first asked for (a clinic of 200 doctors has most of them never asked about)."""

    __slots__ = ("made", "rows")

    def __init__(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        self.rows = rows
        self.made: dict[str, list[Appointment]] = {}

    def of(self, doctor_id: str) -> list[Appointment]:
        made = self.made.get(doctor_id)
        if made is None:
            made = self.made[doctor_id] = [conv.appointment(row) for row in self.rows.get(doctor_id, ())]
        return made


class AppointmentRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _raw(self, uid: str) -> dict[str, Any] | None:
        if not isinstance(uid, str):
            return None
        found = self._s.dicts(_APPT_BY_UID + for_update(self._s), (normalize_uid(uid),))
        return found[0] if found else None

    def get(self, uid: str) -> Appointment | None:
        if not isinstance(uid, str):
            return None
        key = normalize_uid(uid)
        if key in self._s.lock_ahead and not self._s.holds("appointments", key):
            self._lock_searched()
        # Inside a write the row is locked once read: read again, it is what this unit of work left.
        return self._s.locked_row("appointments", key, self._fetch)

    def _lock_searched(self) -> None:
        """Lock and read, in one statement, the last search's appointments not locked yet (in
        the order of their uids, as every writer that locks several takes them)."""
        s = self._s
        wanted = sorted(uid for uid in s.lock_ahead if not s.holds("appointments", uid))
        s.lock_ahead = frozenset()
        locked = {row["uid"]: conv.appointment(row) for row in s.dicts(_APPT_LOCK_MANY, (wanted,))}
        for uid in wanted:
            s.remember("appointments", uid, locked.get(uid))  # None: gone since the search

    def _fetch(self, uid: str) -> Appointment | None:
        row = self._raw(uid)
        return conv.appointment(row) if row is not None else None

    def require(self, uid: str) -> Appointment:
        return found(self.get(uid), "appointment", str(uid).strip())

    def put(self, appt: Appointment) -> None:
        self.put_each([appt])

    def put_each(self, appts: Sequence[Appointment]) -> None:
        """Insert or replace, in order, in one statement (one per `BATCH_ROWS`). Two held or
        confirmed appointments of one doctor that overlap are refused by the database
        (`Conflict`), whatever wrote them, row after row: a later row may take the time an
        earlier one frees. A lapsed hold still stored as held counts until it is written down
        as expired (the booking services expire the ones in the way in the same write)."""
        self._s.require_writable()
        # Sent at once, not kept with the rows written in bulk (`Session.add_row`): the rows and
        # their slots are held from this statement on, so a writer that reaches them later waits.
        # Those kept rows may go after it: none is an appointment (a successor's link follows).
        rows = [conv.params(a, APPOINTMENT_COLUMNS) for a in appts]
        if len({a.uid for a in appts}) < len(appts):  # one statement cannot change a row twice
            self._s.many(upsert("appointments", APPOINTMENT_COLUMNS, "uid"), rows, keep_waiting=True)
        else:
            # A successor named before its original is written (a rebook) is written with it:
            # an UPDATE of the row afterwards would write it again, every index with it.
            links = [self._s.take_row(_LINK, a.uid) for a in appts]
            linked = any(link is not None for link in links)
            if linked:
                rows = [[*row, link[1] if link is not None else None] for row, link in zip(rows, links, strict=True)]
            # A row without a successor (None) keeps the one it has.
            columns, kept = (((*APPOINTMENT_COLUMNS, "successor_uid"), ("successor_uid",)) if linked
                             else (APPOINTMENT_COLUMNS, ()))
            for start in range(0, len(rows), BATCH_ROWS):
                chunk = rows[start:start + BATCH_ROWS]
                self._s.execute(upsert("appointments", columns, "uid", len(chunk), numbered=True, kept_if_null=kept),
                                [value for row in chunk for value in row], keep_waiting=True, numbered=True)
        self._s.busy.clear()
        for appt in appts:
            self._s.remember("appointments", appt.uid, appt)

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
        if query.patient_ids is not None:
            parts.append(sql.SQL("patient_id = ANY(%s)"))
            args.append(sorted(query.patient_ids))
        if query.starts_from is not None:
            parts.append(sql.SQL("starts_at >= %s"))
            args.append(query.starts_from)
        if query.starts_before is not None:
            parts.append(sql.SQL("starts_at < %s"))
            args.append(query.starts_before)
        if query.ends_after is not None:
            # Not ended by then, so started at most the longest appointment before: the index by start serves it.
            parts.append(sql.SQL("ends_at > %s AND starts_at >= %s"))
            args.extend([query.ends_after, query.ends_after - LONGEST_APPOINTMENT])
        if not parts:
            return sql.SQL(""), args
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), args

    def _select(self, query: AppointmentQuery) -> list[dict[str, Any]]:
        where, args = self._where(query)
        # The table's columns, not the listing's text forms of the same names: the instant
        # sorts by the index on start, where its text would be sorted whole.
        order = sql.SQL(' ORDER BY appointments.starts_at DESC, appointments.uid COLLATE "C" DESC' if query.descending
                        else ' ORDER BY appointments.starts_at, appointments.uid COLLATE "C"')
        window: sql.Composable = sql.SQL(" OFFSET %s")
        args.append(max(0, query.offset))
        if query.limit is not None:
            window += sql.SQL(" LIMIT %s")
            args.append(max(0, query.limit))
        select = sql.SQL(_APPT_BRIEF_SELECT if query.brief else _APPT_DOC_SELECT)
        if query.limit is not None and query.limit <= KEYED_WINDOW:
            # The window's uids first (from the index alone, for the default view), then only
            # its rows read and formatted: rows skipped by the offset are never formatted.
            keys = sql.SQL("SELECT uid FROM appointments") + where + order + window
            return self._s.dicts(select + sql.SQL(" WHERE uid IN (") + keys + sql.SQL(")") + order, args)
        return self._s.dicts(select + where + order + window, args)

    def count(self, query: AppointmentQuery) -> int:
        where, args = self._where(query)
        return int(self._s.value(sql.SQL("SELECT count(*) FROM appointments") + where, args))

    def search(self, query: AppointmentQuery) -> Page[AppointmentRecord]:
        """The window of matching appointments by start then uid (newest first when
        `descending`), with the total when `count`; each as a record over its JSON form."""
        rows = self._select(query)
        self._s.listed_patients = {r["patient_id"] for r in rows}  # whose names a listing shows next
        found = [AppointmentRecord(r) for r in rows]
        if self._s.writable:
            self._s.lock_ahead = frozenset(r["uid"] for r in rows) if len(rows) <= LOCK_AHEAD else frozenset()
        total = self.count(query) if query.count else None
        return Page(found, total, max(0, query.offset), query.limit)

    def active_for_doctor(
        self, doctor_id: str, start: datetime, end: datetime, as_of: datetime | None = None
    ) -> list[Appointment]:
        """The doctor's appointments that overlap [start, end) and are held or confirmed at
        `as_of` (a lapsed hold is not), or as stored when `as_of` is None. The overlap is the
        no-double-booking constraint's own index. Asked of a second doctor for the same span
        (a search for free slots among every doctor, a day at a time), every doctor's are read
        at once over the span and the `BUSY_AHEAD` after it, and kept until this view writes an
        appointment: the spans asked next are answered from them."""
        s = self._s
        span = next((span for (lo, hi, at), span in s.busy.items() if at == as_of and lo <= start and end <= hi),
                    None)
        window = (start, end, as_of)
        asked = s.busy_asked.setdefault(window, set())
        if span is None and asked and doctor_id not in asked:
            ahead = end + BUSY_AHEAD
            span = s.busy[(start, ahead, as_of)] = _Span(self._active(None, start, ahead, as_of))
        if span is not None:
            return [a for a in span.of(doctor_id) if a.starts_at < end and a.ends_at > start]
        asked.add(doctor_id)
        return [conv.appointment(row) for row in self._active(doctor_id, start, end, as_of).get(doctor_id, ())]

    def _active(self, doctor_id: str | None, start: datetime, end: datetime,
                as_of: datetime | None) -> dict[str, list[dict[str, Any]]]:
        status, status_args = status_filter(ACTIVE, as_of)
        if doctor_id is not None:
            where, args = sql.SQL("doctor_id = %s AND tstzrange(starts_at, ends_at) && tstzrange(%s, %s)"), [
                doctor_id, start, end]
        else:  # started at most the longest appointment before the span: the index by start serves it
            where, args = sql.SQL("starts_at < %s AND starts_at >= %s AND ends_at > %s"), [
                end, start - LONGEST_APPOINTMENT, start]
        found = self._s.dicts(
            sql.SQL(_APPT_SELECT) + sql.SQL(" WHERE {} AND {} AND ").format(STORED_ACTIVE, status) + where
            + sql.SQL(' ORDER BY starts_at, uid COLLATE "C"'),
            (*status_args, *args),
        )
        by_doctor: dict[str, list[dict[str, Any]]] = {}
        for row in found:
            by_doctor.setdefault(row["doctor_id"], []).append(row)
        return by_doctor

    def lapsed_holds(self, now: datetime) -> list[Appointment]:
        """Held appointments whose hold has expired by `now`. In a write view each is locked,
        and one another transaction holds is skipped: two workers expire each hold once."""
        lock = sql.SQL(" FOR UPDATE SKIP LOCKED") if self._s.writable else sql.SQL("")
        found = self._s.dicts(
            sql.SQL(_APPT_SELECT)
            + sql.SQL(" WHERE status = 'held' AND hold_expires_at <= %s ORDER BY uid COLLATE \"C\"")
            + lock,
            (now,),
        )
        return [conv.appointment(r) for r in found]

    def holds_lapsing(self, after: datetime, until: datetime) -> list[Appointment]:
        """Held appointments whose hold expires in (after, until], soonest first (the holds'
        index by expiry)."""
        found = self._s.dicts(
            sql.SQL(_APPT_SELECT) + sql.SQL(
                " WHERE status = 'held' AND hold_expires_at > %s AND hold_expires_at <= %s"
                " ORDER BY hold_expires_at, uid COLLATE \"C\""),
            (after, until),
        )
        return [conv.appointment(r) for r in found]

    def confirmed_starting(self, after: datetime, until: datetime, *,
                           reach: Mapping[str, datetime] | None = None) -> list[Appointment]:
        """Confirmed appointments with after < starts_at <= until (with `reach`, of its types,
        each up to its instant). In a write view each is locked and those another transaction
        holds are skipped, so two workers never decide the same appointment's reminders at once."""
        lock = sql.SQL(" FOR UPDATE SKIP LOCKED") if self._s.writable else sql.SQL("")
        of_types = sql.SQL(" AND type_key = ANY(%s)") if reach is not None else sql.SQL("")
        found = self._s.dicts(
            sql.SQL(_APPT_SELECT) + sql.SQL(
                " WHERE status = 'confirmed' AND starts_at > %s AND starts_at <= %s"
            ) + of_types + sql.SQL(" ORDER BY starts_at, uid COLLATE \"C\"") + lock,
            (after, until, list(reach)) if reach is not None else (after, until),
        )
        if reach is not None:
            found = [r for r in found if r["starts_at"] <= reach[r["type_key"]]]
        appointments = [conv.appointment(r) for r in found]
        self._s.scope = {a.uid: a for a in appointments}  # their reminders are asked about next
        if self._s.writable:
            for appt in appointments:  # locked: read again, each is what this unit of work holds
                self._s.remember("appointments", appt.uid, appt)
        return appointments

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
            sql.SQL(_APPT_SELECT)
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
        self._s.add_row(_LINK, (uid, new_uid), key=uid)


_INSERT_REMINDER = RowStatement(text(sql.SQL("INSERT INTO appointment_reminders_sent ({})").format(
    sql.SQL(", ").join(map(sql.Identifier, REMINDER_COLUMNS)))), len(REMINDER_COLUMNS))
SKIPPED_LIKE = "skipped:%"  # how an email or SMS status starts when there was no address to send to


class ReminderSentRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def exists(self, uid: str, rule_id: str, group: str, recipient_id: str) -> bool:
        """Whether this reminder was recorded. Asked of an appointment the last question
        returned (`confirmed_starting`), the reminders of all of them are read at once."""
        s = self._s
        if uid not in s.sent_read and uid in s.scope:
            unread = [u for u in s.scope if u not in s.sent_read]
            s.sent.update((str(a), str(r), str(g), str(i)) for a, r, g, i in s.rows(
                "SELECT appointment_uid, rule_id, recipient_group, recipient_id FROM appointment_reminders_sent "
                "WHERE appointment_uid = ANY(%s)", (unread,)))
            s.sent_read.update(unread)
        if uid in s.sent_read:
            found = (uid, rule_id, group, recipient_id) in s.sent
        else:
            found = bool(s.value(
                "SELECT EXISTS (SELECT 1 FROM appointment_reminders_sent WHERE appointment_uid = %s AND rule_id = %s "
                "AND recipient_group = %s AND recipient_id = %s)",
                (uid, rule_id, group, recipient_id),
            ))
        if not found and uid in s.scope:
            s.likely_patients.add(s.scope[uid].patient_id)  # about to be reminded: the patient is read next
        return found

    def add(self, row: ReminderSent) -> None:
        """Record a fired reminder; its identity is the primary key, so a second recording of
        the same reminder (another worker's) fails the whole transaction that tried it."""
        self._s.require_writable()
        self._s.add_row(_INSERT_REMINDER, conv.params(row, REMINDER_COLUMNS))
        self._s.sent.add((row.appointment_uid, row.rule_id, row.recipient_group.value, row.recipient_id))

    def update(self, row: ReminderSent) -> None:
        self._s.require_writable()  # (`execute` sends a reminder added just before first)
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
        rows = [_reminder_sent(conv.pick(REMINDER_COLUMNS, r)) for r in found]
        rows.sort(key=lambda r: (r.sent_at, r.rule_id, r.recipient_group, r.recipient_id))
        return rows


    def skipped(self, starting_after: datetime) -> list[ReminderSent]:
        """Fired reminders whose email or SMS was skipped (no address to send to), of
        appointments still confirmed that start after `starting_after`, by the appointment's
        start (a cancelled appointment's skipped reminders are nobody's concern)."""
        found = self._s.dicts(
            sql.SQL("SELECT {} FROM appointment_reminders_sent r JOIN appointments a ON a.uid = r.appointment_uid "
                    "WHERE a.starts_at > %s AND a.status = 'confirmed' "
                    "AND (r.email_status LIKE %s OR r.sms_status LIKE %s) "
                    "ORDER BY a.starts_at, r.appointment_uid COLLATE \"C\", r.rule_id COLLATE \"C\", "
                    "r.recipient_group COLLATE \"C\", r.recipient_id COLLATE \"C\"").format(
                sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in REMINDER_COLUMNS)),
            (starting_after, SKIPPED_LIKE, SKIPPED_LIKE),
        )
        return [_reminder_sent(conv.pick(REMINDER_COLUMNS, r)) for r in found]


def _reminder_sent(row: dict[str, Any]) -> ReminderSent:
    from rxdesk.domain.models import ReminderSent

    return ReminderSent.from_stored(row)
