"""The store contract: everything services and the worker may ask of storage.

Services and the maintenance worker are typed against these Protocols and import nothing
else from `rxdesk.store` (import-linter checks it in CI); the factory in `rxdesk.store` picks
the implementation once, at the composition root (`Desk.open`). Two implementations stand
behind the same Protocols, with no service aware of which: the TinyDB segment store in the
data dir (`tinystore`, the default) and PostgreSQL (`postgres`, for desks on several hosts).

The rules every implementation keeps:

- **One use case, one unit.** `Store.read()` opens one consistent state (a snapshot, or a
  read-only transaction) for as long as its `with` block lasts; everything read through that
  view sees the same committed writes. `Store.write()` is the unit of work: inside its block
  reads see the newest committed state plus the changes made so far, and leaving the block
  commits every change at once (an exception discards them all). A read that leads to a
  write, repeated inside `write()`, cannot be overtaken: the data dir serialises its writers
  under one lock; PostgreSQL locks what a unit of work reads to change (the row, or the turn
  of the writers of events or of encrypted values) until it commits, and lets its constraints
  refuse what a concurrent writer got in first (a double booking, a reminder recorded twice).
- **Typed rows only.** Repositories hand up domain models (`rxdesk.domain.models`) or the
  typed records of `rxdesk.domain.queries`, never a stored document, and never an object a
  caller could change to corrupt what another reader sees.
- **Nothing about files.** No method names a segment, a file, a cache or a lock: each is a
  question or a change a relational database answers in a statement or two.
- **Ordered windows.** Listings take an offset and a limit over a stable order (appointments
  by start then uid, logs newest first), so a screen can ask for just the rows it shows.

Reader Protocols are what a `StoreView` offers; each Repository adds the changes a
`UnitOfWork` may make. A function that only reads takes the reader, and accepts either.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from rxdesk.domain.queries import (
    AppointmentQuery,
    AppointmentRecord,
    AuditQuery,
    DeliveryTrouble,
    OrgBasics,
    Page,
    WorkerTick,
)

if TYPE_CHECKING:  # the contract names the entities; a read of stored rows needs no pydantic
    from rxdesk.domain.enums import DeliveryStatus, EventType
    from rxdesk.domain.models import (
        Admin,
        Appointment,
        AppointmentType,
        AuditEntry,
        BookingSecret,
        Delivery,
        Doctor,
        Event,
        Org,
        OutboxMessage,
        Patient,
        ReminderSent,
        Subscription,
    )

M = TypeVar("M")

# -- entities keyed by a natural id ----------------------------------------------------------


class KeyedReader(Protocol[M]):
    def get(self, key: str) -> M | None: ...

    def require(self, key: str) -> M:
        """The row, or NotFound naming what is missing."""
        ...

    def all(self) -> list[M]:
        """Every row, ordered by key."""
        ...

    def count(self) -> int: ...


class KeyedRepository(KeyedReader[M], Protocol[M]):
    def put(self, item: M) -> None:
        """Insert or replace the row with this item's key."""
        ...

    def delete(self, key: str) -> None: ...


class NamedReader(KeyedReader[M], Protocol[M]):
    def names(self) -> Mapping[str, str]:
        """key -> name of every row (read-only; cheap to ask per call)."""
        ...


class NamedRepository(NamedReader[M], KeyedRepository[M], Protocol[M]): ...


class OrgReader(Protocol):
    def get(self) -> Org | None: ...

    def basics(self) -> OrgBasics | None:
        """The organisation's name and zone (`queries.org_basics`), None before provisioning."""
        ...


class OrgRepository(OrgReader, Protocol):
    def put(self, org: Org) -> None: ...


class PatientReader(NamedReader["Patient"], Protocol):
    def search(self, text: str, *, offset: int = 0, limit: int | None = None) -> Page[Patient]:
        """Patients whose name, email, phone, external id or id contains `text` (any case;
        a phone also by its digits), ordered by name then id, with the total."""
        ...

    def by_external_id(self, external_id: str) -> Patient | None: ...

    def names_of(self, ids: Collection[str]) -> Mapping[str, str]:
        """id -> name of these patients (an id of no patient is left out), in a mapping that may
        hold other patients' too: a listing's names without reading every patient's."""
        ...

    def external_ids(self) -> Mapping[str, str]:
        """id -> external_id of every patient ("" for none): provisioning keeps them unique."""
        ...


class PatientRepository(PatientReader, NamedRepository["Patient"], Protocol): ...


# -- appointments ----------------------------------------------------------------------------


class AppointmentReader(Protocol):
    def get(self, uid: str) -> Appointment | None: ...

    def require(self, uid: str) -> Appointment: ...

    def search(self, query: AppointmentQuery) -> Page[AppointmentRecord]:
        """The window `query.offset`..`+query.limit` of the matching appointments, ordered by
        start then uid (newest first when `query.descending`); with `query.count`, the total
        number matching as `Page.total`."""
        ...

    def count(self, query: AppointmentQuery) -> int:
        """How many appointments match (offset and limit ignored)."""
        ...

    def active_for_doctor(
        self, doctor_id: str, start: datetime, end: datetime, as_of: datetime | None = None
    ) -> list[Appointment]:
        """The doctor's appointments that overlap [start, end) and are held or confirmed at
        `as_of` (a lapsed hold is not), or as stored when `as_of` is None."""
        ...

    def lapsed_holds(self, now: datetime) -> list[Appointment]:
        """Held appointments whose hold expired at or before `now`, by uid."""
        ...

    def confirmed_starting(self, after: datetime, until: datetime, *,
                           reach: Mapping[str, datetime] | None = None) -> list[Appointment]:
        """Confirmed appointments with after < starts_at <= until; with `reach`, only those of
        the types it names, each starting no later than its instant there (what a type's
        reminder rules can reach).

        In SQL: status = 'confirmed' AND starts_at > :after AND starts_at <= :until
        AND type_key = ANY(:types), each row then held to its type's instant."""
        ...

    def confirmed_ended(
        self, after: datetime | None, until: datetime, *, max_weeks: int = 8
    ) -> tuple[list[Appointment], datetime]:
        """Stored-confirmed appointments with after < ends_at <= until (from the first when
        `after` is None), looking through a bounded stretch of time: returns them and the
        instant up to which the answer is complete (`until`, or earlier when it stopped)."""
        ...

    def successor_of(self, uid: str) -> str | None:
        """The uid of the appointment this one was rebooked to, if any."""
        ...

    def holds_lapsing(self, after: datetime, until: datetime) -> list[Appointment]:
        """Appointments stored as held whose hold expires in (after, until], the soonest
        first (what needs attention before it lapses).

        In SQL: status = 'held' AND hold_expires_at > :after AND hold_expires_at <= :until
        ORDER BY hold_expires_at, uid."""
        ...


class AppointmentRepository(AppointmentReader, Protocol):
    def put(self, appt: Appointment) -> None: ...

    def put_each(self, appts: Sequence[Appointment]) -> None:
        """`put` each, in order: a later one may take the time an earlier one frees.

        In SQL: one INSERT ... ON CONFLICT (uid) DO UPDATE of every row, which the server
        writes, and checks against the no-double-booking constraint, row after row."""
        ...

    def link_successor(self, uid: str, new_uid: str) -> None:
        """Record that `uid` was rebooked to `new_uid` (read back by `successor_of`)."""
        ...


class ReminderSentReader(Protocol):
    def exists(self, uid: str, rule_id: str, group: str, recipient_id: str) -> bool: ...

    def for_appointment(self, uid: str) -> list[ReminderSent]:
        """The reminders fired for one appointment, in the order they fired."""
        ...

    def skipped(self, starting_after: datetime) -> list[ReminderSent]:
        """Fired reminders whose email or SMS was skipped for want of an address (a status
        starting `skipped:`), of appointments still confirmed that start after
        `starting_after`, by the appointment's start.

        In SQL: reminders_sent JOIN appointments USING (uid) WHERE appointments.starts_at >
        :starting_after AND appointments.status = 'confirmed'
        AND (email_status LIKE 'skipped:%' OR sms_status LIKE 'skipped:%')."""
        ...


class ReminderSentRepository(ReminderSentReader, Protocol):
    def add(self, row: ReminderSent) -> None:
        """Record a fired reminder; its key (uid, rule, group, recipient) is unique."""
        ...

    def update(self, row: ReminderSent) -> None:
        """Replace the row with this key (what became of its email or SMS)."""
        ...


# -- append-only logs ------------------------------------------------------------------------


class EventReader(Protocol):
    def get(self, event_id: str) -> Event | None: ...

    def newest(self, *, type: EventType | None = None, offset: int = 0, limit: int | None = None) -> Page[Event]:
        """Events newest first, optionally of one type (no total)."""
        ...

    def after(self, seq: int, limit: int | None = None) -> list[tuple[int, Event]]:
        """(sequence number, event) for the events after `seq`, oldest first."""
        ...

    def last_seq(self) -> int:
        """The sequence number of the newest event (0 when there is none)."""
        ...


class EventLog(EventReader, Protocol):
    def append(self, type: EventType, data: dict[str, Any], at: datetime) -> Event: ...


class AuditReader(Protocol):
    def for_target(self, target: str) -> list[AuditEntry]:
        """Every entry about `target` (e.g. `appointment:<uid>`), oldest first."""
        ...

    def newest(self, *, offset: int = 0, limit: int | None = None) -> Page[AuditEntry]:
        """Entries about anything but one appointment, newest first (no total)."""
        ...

    def search(self, query: AuditQuery) -> Page[AuditEntry]:
        """Entries across the desk matching `query` (appointments' included), newest first by
        `at`, ties by sequence (no total)."""
        ...


class AuditLog(AuditReader, Protocol):
    def append(self, entry: AuditEntry) -> None: ...


class DeliveryReader(Protocol):
    def get(self, delivery_id: str) -> Delivery | None: ...

    def newest(
        self, *, status: DeliveryStatus | None = None, offset: int = 0, limit: int | None = None
    ) -> Page[Delivery]:
        """Deliveries newest first, optionally in one status (no total)."""
        ...

    def due(self, now: datetime, limit: int | None = None) -> list[Delivery]:
        """Pending deliveries whose next attempt has come and that no runner holds a lease
        on, the longest waiting first."""
        ...

    def queued(self) -> int:
        """How many are pending (waiting for an attempt)."""
        ...

    def for_appointment(self, uid: str) -> list[Delivery]:
        """Deliveries of the events about one appointment, oldest first."""
        ...

    def trouble(self, *, failing_before: datetime, dead_since: datetime) -> list[DeliveryTrouble]:
        """Per subscription, ordered by its id: how many pending deliveries have failed at
        least one attempt and were created at or before `failing_before`, and how many went
        dead at or after `dead_since` (a dead delivery died at its last attempt, or at its
        creation when it never had one). `dead_since` need not reach back more than a week.

        In SQL: GROUP BY subscription_id over WHERE (status = 'pending' AND attempts > 0 AND
        created_at <= :failing_before) OR (status = 'dead' AND coalesce(last_attempt_at,
        created_at) >= :dead_since), with min(created_at or death) as `since` and max(id) as
        `latest_id`."""
        ...


class DeliveryRepository(DeliveryReader, Protocol):
    def new_id(self) -> str: ...

    def put(self, delivery: Delivery) -> None:
        """Insert or replace; a pending delivery is found again by `due` at its next attempt."""
        ...

    def link_appointment(self, uid: str, delivery_ids: Sequence[str]) -> None:
        """Record that these deliveries carry events about appointment `uid`."""
        ...


class MessageReader(Protocol):
    def get(self, message_id: str) -> OutboxMessage | None: ...

    def newest(self, *, offset: int = 0, limit: int | None = None) -> Page[OutboxMessage]: ...

    def due(self, now: datetime, limit: int | None = None) -> list[OutboxMessage]:
        """Pending messages whose next attempt has come and that no runner holds a lease on
        (a lease that ran out included: `messages.claim` decides what becomes of those)."""
        ...

    def queued(self) -> int:
        """How many are pending (waiting for an attempt)."""
        ...

    def failed(self, starting_after: datetime) -> list[OutboxMessage]:
        """Messages that failed after their last retry or whose sending is unknown, of
        appointments that start after `starting_after`, by the appointment's start.

        In SQL: messages JOIN appointments ON uid = appointment_uid WHERE messages.status IN
        ('failed', 'unknown') AND appointments.starts_at > :starting_after."""
        ...


class MessageRepository(MessageReader, Protocol):
    def new_id(self) -> str: ...

    def put(self, message: OutboxMessage) -> None: ...


class CursorReader(Protocol):
    def get(self, name: str) -> int:
        """A named position in a log (0 until set), e.g. how far the webhook fan-out got."""
        ...


class CursorRepository(CursorReader, Protocol):
    def set(self, name: str, value: int) -> None: ...


# -- loading a whole clinic at once ----------------------------------------------------------


class BulkLoader(Protocol):
    """Writes a generated clinic (the demo, the benchmark's data sets) in one unit of work.

    Appointments, audit entries and events come in their JSON form (`Model.to_json()`), valid
    as they are: building a million models only to store them again would take minutes.
    """

    def is_empty(self) -> bool:
        """True when the store holds nothing at all."""
        ...

    def clear(self) -> None:
        """Remove everything (the demo's --replace)."""
        ...

    def add_patients(self, patients: Sequence[Patient]) -> None: ...

    def add_appointments(self, appointments: Sequence[Mapping[str, Any]]) -> None: ...

    def add_audit(self, entries: Sequence[Mapping[str, Any]]) -> None: ...

    def add_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Events as `{"type", "created_at", "data"}`, oldest first; ids are assigned."""
        ...


# -- views and the store ---------------------------------------------------------------------


class StoreView(Protocol):
    """Every repository over one consistent state, read-only."""

    @property
    def org(self) -> OrgReader: ...
    @property
    def admins(self) -> NamedReader[Admin]: ...
    @property
    def types(self) -> NamedReader[AppointmentType]: ...
    @property
    def doctors(self) -> NamedReader[Doctor]: ...
    @property
    def patients(self) -> PatientReader: ...
    @property
    def secrets(self) -> KeyedReader[BookingSecret]: ...
    @property
    def subscriptions(self) -> KeyedReader[Subscription]: ...
    @property
    def appointments(self) -> AppointmentReader: ...
    @property
    def reminders_sent(self) -> ReminderSentReader: ...
    @property
    def events(self) -> EventReader: ...
    @property
    def audit(self) -> AuditReader: ...
    @property
    def deliveries(self) -> DeliveryReader: ...
    @property
    def messages(self) -> MessageReader: ...
    @property
    def cursors(self) -> CursorReader: ...


class UnitOfWork(StoreView, Protocol):
    """The view inside `Store.write()`: every repository, with its changes."""

    @property
    def org(self) -> OrgRepository: ...
    @property
    def admins(self) -> NamedRepository[Admin]: ...
    @property
    def types(self) -> NamedRepository[AppointmentType]: ...
    @property
    def doctors(self) -> NamedRepository[Doctor]: ...
    @property
    def patients(self) -> PatientRepository: ...
    @property
    def secrets(self) -> KeyedRepository[BookingSecret]: ...
    @property
    def subscriptions(self) -> KeyedRepository[Subscription]: ...
    @property
    def appointments(self) -> AppointmentRepository: ...
    @property
    def reminders_sent(self) -> ReminderSentRepository: ...
    @property
    def events(self) -> EventLog: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def deliveries(self) -> DeliveryRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def cursors(self) -> CursorRepository: ...
    @property
    def bulk(self) -> BulkLoader: ...


class Store(Protocol):
    def read(self) -> AbstractContextManager[StoreView]:
        """One consistent state for the length of the `with` block."""
        ...

    def write(self) -> AbstractContextManager[UnitOfWork]:
        """The unit of work: all its changes are committed together when the block ends, or
        none when it raises."""
        ...

    def generation(self) -> int:
        """A number that changes with every committed write from any process: cheap to poll."""
        ...

    def settled_generation(self) -> int | None:
        """The generation once every write committed before the call counts in it (a store
        that hears changes may not have heard the newest yet), or None when the store cannot
        tell: what a reader remembers beside what it read, to know later that nothing was
        written since. Cheap: a running worker asks every tick.

        In SQL: a notification of one's own, heard after every commit announced before it."""
        ...

    def record_tick(self, owner: str, at: datetime) -> None:
        """Note that a maintenance tick by `owner` ran at `at`. Outside any unit of work and
        cheap: every tick calls it, the idle ones too, and it does not change `generation`
        (an open app has nothing to reload for it). Losing the last note in a crash is fine.

        In SQL: an upsert into a one-row (or one-row-per-owner) table."""
        ...

    def last_tick(self) -> WorkerTick | None:
        """The newest tick recorded by any worker (None before the first)."""
        ...

    def is_empty(self) -> bool:
        """True before anything was ever written."""
        ...

    def warm_up(self) -> None:
        """Do ahead what the first write of a session would pay for (caches, connections)."""
        ...

    def read_ahead(self, since: datetime) -> None:
        """Read ahead, within the memory the store allows itself, what listings of appointments
        from `since` on will need."""
        ...

    @property
    def location(self) -> str:
        """Where the data lives, as an operator reads it (a directory, a database; never a
        password)."""
        ...

    @property
    def announces_changes(self) -> bool:
        """True when the store hears every committed write as it happens (a server database's
        notifications): `wait_for_change` then costs nothing while nothing happens, and a
        caller waits on it instead of polling `generation`."""
        ...

    def wait_for_change(self, known: int, timeout: float) -> int:
        """The generation, once it differs from `known` or `timeout` seconds have passed (a
        store that is woken by writes may leave its own to the timeout: their caller knows)."""
        ...

    def close(self) -> None:
        """Let go of what the store holds between calls (connections); it may be used again."""
        ...
