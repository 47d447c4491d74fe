"""The TinyDB implementation of the store contract (`protocols`), over the segment engine.

Where each kind of row lives, and why, is in `layout`; each segment is a TinyDB database
(`segment_db`), read by id (`get(doc_id=...)`) and by query (`search(Query()...)`) and changed
through TinyDB's writes; the engine (`engine`) commits changed segments together through one
manifest; every log is an `AppendOnlyLog` (`logs`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tinydb import Query

from rxdesk.domain.enums import AppointmentStatus, reminder_key
from rxdesk.domain.errors import NotFound, StoreError, found
from rxdesk.domain.ids import uid_partition
from rxdesk.domain.queries import OrgBasics, WorkerTick, appointment_from_json, entity, org_basics, org_from_json
from rxdesk.domain.times import format_utc, week_key
from rxdesk.fileio import ensure_private_dir, read_bytes, write_atomic
from rxdesk.store.engine import Engine, Snapshot, writable
from rxdesk.store.layout import (
    APPT_PREFIX,
    CORE,
    HOLDS,
    LAST_TICK,
    WEEK_COUNTS_PREFIX,
    appointment_segment,
    appt_segment,
    refuse_if_moved,
)
from rxdesk.store.log_repositories import AuditRepo, CursorRepo, DeliveryRepo, EventRepo, MessageRepo
from rxdesk.store.logs import AUDIT_LOG, EVENT_LOG, AppendOnlyLog
from rxdesk.store.patients import PatientRepo
from rxdesk.store.planner import AppointmentPlanner
from rxdesk.store.problems import SKIPPED, note_problem, problems
from rxdesk.store.segment_db import SegmentTable, decode, encode, json_text
from rxdesk.store.weeks import APPOINTMENTS, put_appointments

if TYPE_CHECKING:  # the entities are made when first read: the overview's rows need none
    from rxdesk.domain.models import (
        Admin,
        Appointment,
        AppointmentType,
        BookingSecret,
        Doctor,
        Entity,
        Org,
        Patient,
        ReminderSent,
        Subscription,
    )

LINKS = "links"
REMINDERS_SENT = "reminders_sent"

M = TypeVar("M", bound="Entity")


class Keyed(Generic[M]):
    """A table of entities keyed by a natural id, in one segment."""

    def __init__(
        self, snap: Snapshot, segment: str, table: str, model: Callable[[], type[M]], key: str, what: str
    ) -> None:
        self._snap = snap
        self._segment = segment
        self._table = table
        self._model_of = model
        self._model: type[M] | None = None
        self._key = key
        self._what = what

    def _entity(self) -> type[M]:
        if self._model is None:
            self._model = self._model_of()
        return self._model

    def _docs(self) -> SegmentTable:
        return self._snap.table(self._segment, self._table)

    def get(self, key: str) -> M | None:
        if not isinstance(key, str):
            return None
        doc = self._docs().document(key)
        return self._entity().from_stored(doc) if doc is not None else None

    def require(self, key: str) -> M:
        return found(self.get(key), self._what, key)

    def all(self) -> list[M]:
        docs = sorted(self._docs().all(), key=lambda doc: str(doc.doc_id))
        return [self._entity().from_stored(doc) for doc in docs]

    def count(self) -> int:
        return len(self._docs())

    def names(self) -> Mapping[str, str]:
        """id -> name for every row (memoised on the segment: cheap to ask per call)."""
        seg = self._snap.segment(self._segment)
        if seg is None:
            return MappingProxyType({})
        table = seg.table(self._table)
        return seg.memo(
            ("names", self._table),
            lambda: MappingProxyType({k: json_text(v.get("name", k)) for k, v in table.documents().items()}),
        )

    def put(self, item: M) -> None:
        key = getattr(item, self._key)
        writable(self._snap).change(self._segment, self._table).put(key, item.to_json())

    def delete(self, key: str) -> None:
        writable(self._snap).change(self._segment, self._table).delete(key)


class OrgRepo:
    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def get(self) -> Org | None:
        doc = self._snap.table(CORE, "org").document("org")
        return org_from_json(doc) if doc is not None else None

    def basics(self) -> OrgBasics | None:
        doc = self._snap.table(CORE, "org").document("org")
        return org_basics(doc) if doc is not None else None

    def put(self, org: Org) -> None:
        writable(self._snap).change(CORE, "org").put("org", org.to_json())


class AppointmentRepo(AppointmentPlanner):
    """Appointments: reads and writes by uid here, the queries in `planner`."""

    def _raw(self, uid: str) -> dict[str, Any] | None:
        week = uid_partition(uid)
        if week is None:
            return None
        return self._snap.table(appt_segment(week), APPOINTMENTS).document(uid.strip().lower())

    def get(self, uid: str) -> Appointment | None:
        doc = self._raw(uid)
        return appointment_from_json(doc) if doc is not None else None

    def require(self, uid: str) -> Appointment:
        return found(self.get(uid), "appointment", str(uid).strip())

    def put(self, appt: Appointment) -> None:
        week = uid_partition(appt.uid)
        if week != week_key(appt.starts_at):
            raise ValueError(f"uid {appt.uid} does not match the week of its start {week_key(appt.starts_at)}")
        doc = appt.to_json()
        put_appointments(writable(self._snap), appt_segment(week), [doc])
        self._index_holds([doc])

    def put_each(self, appts: Sequence[Appointment]) -> None:
        for appt in appts:
            self.put(appt)

    def put_many(self, docs: Sequence[Mapping[str, Any]]) -> None:
        """Insert appointments given in their JSON form, valid as they are (the bulk loader)."""
        tx = writable(self._snap)
        by_week: dict[str, list[Mapping[str, Any]]] = {}
        for doc in docs:
            by_week.setdefault(week_key(doc["starts_at"]), []).append(doc)
        for week, rows in by_week.items():
            put_appointments(tx, appt_segment(week), rows)
        self._index_holds(docs)

    def _index_holds(self, docs: Sequence[Mapping[str, Any]]) -> None:
        """Keep the holds index in step: held ones in, everything else out."""
        tx = writable(self._snap)
        known = tx.table(HOLDS, "held").documents()
        held: list[tuple[str, dict[str, Any]]] = []
        gone: list[str] = []
        for doc in docs:
            uid = doc["uid"]
            if doc["status"] == "held" and doc.get("hold_expires_at"):
                if known.get(uid, {}).get("expires") != doc["hold_expires_at"]:
                    held.append((uid, {"expires": doc["hold_expires_at"]}))
            elif uid in known:
                gone.append(uid)
        if held or gone:
            index = tx.change(HOLDS, "held")
            for uid in gone:
                index.delete(uid)
            index.put_many(held)

    def lapsed_holds(self, now: datetime) -> list[Appointment]:
        """Held appointments whose hold expired at or before `now` (from the holds index)."""
        due = self._snap.table(HOLDS, "held").search(Query().expires <= format_utc(now))
        found = map(self.get, sorted(str(doc.doc_id) for doc in due))
        return [a for a in found if a is not None and a.status is AppointmentStatus.held]

    def holds_lapsing(self, after: datetime, until: datetime) -> list[Appointment]:
        """Held appointments whose hold expires in (after, until], soonest first (from the
        holds index)."""
        expires = Query().expires
        due = self._snap.table(HOLDS, "held").search((expires > format_utc(after)) & (expires <= format_utc(until)))
        found = (self.get(uid) for _expires, uid in sorted((doc["expires"], str(doc.doc_id)) for doc in due))
        return [a for a in found if a is not None and a.status is AppointmentStatus.held]

    def successor_of(self, uid: str) -> str | None:
        week = uid_partition(uid)
        if week is None:
            return None
        link = self._snap.table(appt_segment(week), LINKS).documents().get(uid)
        return successor_in(link) if link is not None else None

    def link_successor(self, uid: str, new_uid: str) -> None:
        week = uid_partition(uid)
        assert week is not None
        writable(self._snap).change(appt_segment(week), LINKS).put(uid, {"successor": new_uid})


def successor_in(link: Any) -> str:
    """The uid a rebook link points to: a document {"successor": uid}, or the bare uid an
    older data dir holds."""
    return link if isinstance(link, str) else str(link["successor"])


class ReminderSentRepo:
    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    @staticmethod
    def _segment(uid: str) -> str:
        segment = appointment_segment(uid)
        if segment is None:
            raise NotFound(f"no appointment {uid!r}")
        return segment

    def exists(self, uid: str, rule_id: str, group: str, recipient_id: str) -> bool:
        key = reminder_key(uid, rule_id, group, recipient_id)
        return self._snap.table(self._segment(uid), REMINDERS_SENT).has(key)

    def add(self, row: ReminderSent) -> None:
        segment = self._segment(row.appointment_uid)
        doc = row.to_json()
        writable(self._snap).change(segment, REMINDERS_SENT).put(row.key, doc)
        if row.email_status.startswith(SKIPPED) or row.sms_status.startswith(SKIPPED):
            appt = self._snap.table(segment, APPOINTMENTS).document(row.appointment_uid)
            if appt is not None:
                note_problem(self._snap, "skipped", row.key, appt["starts_at"], now=doc["sent_at"], row=doc)

    def skipped(self, starting_after: datetime) -> list[ReminderSent]:
        """Fired reminders whose email or SMS was skipped (no address to send to), of
        appointments still confirmed starting after `starting_after`, by start (from the
        problems index; a cancelled appointment's skipped reminders are nobody's concern)."""
        from rxdesk.domain.models import ReminderSent

        def confirmed(uid: str) -> bool:
            found = self._snap.table(self._segment(uid), APPOINTMENTS).documents().get(uid)
            return found is not None and found.get("status") == "confirmed"

        return [ReminderSent.from_stored(doc) for doc in problems(self._snap, "skipped", format_utc(starting_after))
                if confirmed(str(doc.get("appointment_uid")))]

    update = add

    def for_appointment(self, uid: str) -> list[ReminderSent]:
        segment = appointment_segment(uid)
        if segment is None:
            return []
        from rxdesk.domain.models import ReminderSent

        found = self._snap.table(segment, REMINDERS_SENT).search(Query().appointment_uid == uid)
        rows = [ReminderSent.from_stored(doc) for doc in found]
        rows.sort(key=lambda r: (r.sent_at, r.rule_id, r.recipient_group, r.recipient_id))
        return rows


class BulkLoad:
    """The bulk loader: whole tables written at once, in their JSON form."""

    def __init__(self, view: TinyView) -> None:
        self._view = view
        self._snap = view.snap

    def is_empty(self) -> bool:
        return not self._snap.names("")

    def clear(self) -> None:
        tx = writable(self._snap)
        for name in tx.names(""):
            tx.drop(name)

    def add_patients(self, patients: Sequence[Patient]) -> None:
        self._view.patients.put_many(patients)

    def add_appointments(self, appointments: Sequence[Mapping[str, Any]]) -> None:
        self._view.appointments.put_many(appointments)

    def add_audit(self, entries: Sequence[Mapping[str, Any]]) -> None:
        log = AppendOnlyLog(self._snap, AUDIT_LOG)
        rows, copies = [], []
        for entry in entries:
            seq, key = log.new_key()
            rows.append((key, dict(entry), AuditRepo.home_of(str(entry["target"]))))
            copies.append((seq, key, entry))
        log.put_many(rows)
        self._view.audit.copy_to_days(copies)

    def add_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        log = AppendOnlyLog(self._snap, EVENT_LOG)
        rows = []
        for event in events:
            _, key = log.new_key()
            rows.append((key, {"id": key, **event}, None))
        log.put_many(rows)


class TinyView:
    """Every repository over one snapshot (`read()`) or transaction (`write()`).

    A context manager to fit `Store.read()`; a snapshot holds nothing open, so leaving the
    block releases nothing, and a view may also be used without one.
    """

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.org = OrgRepo(snap)
        self.admins: Keyed[Admin] = Keyed(snap, CORE, "admins", entity("Admin"), "id", "admin")
        self.types: Keyed[AppointmentType] = Keyed(
            snap, CORE, "appointment_types", entity("AppointmentType"), "key", "appointment type"
        )
        self.doctors: Keyed[Doctor] = Keyed(snap, CORE, "doctors", entity("Doctor"), "id", "doctor")
        self.secrets: Keyed[BookingSecret] = Keyed(
            snap, CORE, "booking_secrets", entity("BookingSecret"), "key_id", "booking secret"
        )
        self.subscriptions: Keyed[Subscription] = Keyed(
            snap, CORE, "subscriptions", entity("Subscription"), "id", "subscription"
        )
        self.patients = PatientRepo(snap)
        self.appointments = AppointmentRepo(snap)
        self.reminders_sent = ReminderSentRepo(snap)
        self.events = EventRepo(snap)
        self.audit = AuditRepo(snap)
        self.cursors = CursorRepo(snap)
        self.bulk = BulkLoad(self)

    @cached_property
    def deliveries(self) -> DeliveryRepo:
        return DeliveryRepo(self.snap)

    @cached_property
    def messages(self) -> MessageRepo:
        return MessageRepo(self.snap)

    def __enter__(self) -> TinyView:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    @property
    def generation(self) -> int:
        return self.snap.generation


class TinyStore:
    """The data dir as a store: `read()` for a consistent view, `write()` to change it."""

    def __init__(self, data_dir: str | Path, **engine_options: Any) -> None:
        self.engine = Engine(data_dir, **engine_options)

    @property
    def data_dir(self) -> Path:
        return self.engine.data_dir

    @property
    def location(self) -> str:
        return str(self.engine.data_dir)

    def read(self) -> TinyView:
        return TinyView(self.engine.snapshot())

    @contextmanager
    def write(self) -> Iterator[TinyView]:
        """A unit of work; refused once the data dir was moved into a database (checked under
        the write lock, so a process that opened it before the import never writes after)."""
        with self.engine.transaction() as tx:
            refuse_if_moved(self.data_dir)
            yield TinyView(tx)

    def generation(self) -> int:
        return self.engine.manifest().generation

    def settled_generation(self) -> int:
        """The manifest's generation: every commit is in the manifest before it returns."""
        return self.generation()

    def record_tick(self, owner: str, at: datetime) -> None:
        """Note that a maintenance tick ran at `at`. Kept in a small file beside the manifest,
        outside every commit: an idle tick writes nothing else, and the manifest's generation
        (which every open app polls) does not move for it."""
        refuse_if_moved(self.data_dir)  # a worker left running after the import stops ticking here
        ensure_private_dir(self.data_dir)
        # Not flushed to the disk: a note lost in a crash is only rewritten by the next tick.
        write_atomic(self.data_dir / LAST_TICK, encode({"owner": owner, "at": format_utc(at)}), fsync=False)

    def last_tick(self) -> WorkerTick | None:
        """The newest tick recorded (None before the first, or when the note is unreadable)."""
        try:
            data = decode(read_bytes(self.data_dir / LAST_TICK), self.data_dir / LAST_TICK)
            return WorkerTick(str(data["owner"]), datetime.fromisoformat(data["at"]))
        except (OSError, StoreError, KeyError, TypeError, ValueError):
            return None

    def is_empty(self) -> bool:
        return not self.engine.manifest().segments

    def warm_up(self) -> None:
        """Parse the segment the next event goes to (the first change of a session appends one)
        and make the patients' names quick for a listing to find (`PatientRepo.warm`)."""
        view = self.read()
        view.events.warm()
        view.patients.warm()

    def read_ahead(self, since: datetime) -> None:
        """Parse the weeks from `since` on, nearest first, while the cache has room for each
        without letting anything go: a doctor's filter walks several of them."""
        snap = self.engine.snapshot()
        first = APPT_PREFIX + week_key(since)
        weeks = [name[len(APPT_PREFIX):] for name in snap.names(APPT_PREFIX) if name >= first]
        self.engine.read_ahead(snap, [prefix + week for week in weeks for prefix in (WEEK_COUNTS_PREFIX, APPT_PREFIX)])

    # Another process's write shows only in the manifest: a data dir is polled.
    announces_changes = False
    POLL_SECONDS = 0.5

    def wait_for_change(self, known: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while (generation := self.generation()) == known and time.monotonic() < deadline:
            time.sleep(min(self.POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        return generation

    def close(self) -> None:
        """Nothing is held between calls."""
