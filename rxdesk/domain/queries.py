"""What a caller asks of the appointment store and what it gets back, as plain data."""

from __future__ import annotations

import functools
import importlib
import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from rxdesk.domain.enums import AppointmentStatus
from rxdesk.domain.lifecycle import ACTIVE, in_progress_at, next_change_at, status_at, status_value_at
from rxdesk.domain.times import format_utc

if TYPE_CHECKING:
    from rxdesk.domain.models import Appointment, Org

T = TypeVar("T")


@dataclass(frozen=True)
class AppointmentQuery:
    """Appointments matching every given criterion, ordered by start (then uid).

    `starts_from` is inclusive, `starts_before` exclusive. `ends_after` keeps the appointments
    that have not ended by then (`ends_at > ends_after`): one of those started at most
    `lifecycle.LONGEST_APPOINTMENT` before it, so a store reads no further back. With
    `count=False` the store may stop as soon as the page is full, and `Page.total` is None.

    `statuses` matches the status each appointment has at `as_of` (`lifecycle.status_at`):
    a stored `held` whose `hold_expires_at <= as_of` matches `expired` (not `held`), a stored
    `confirmed` whose `ends_at <= as_of` matches `completed` (not `confirmed`), every other
    status matches as stored. In SQL:

        CASE WHEN status = 'held' AND hold_expires_at <= :as_of THEN 'expired'
             WHEN status = 'confirmed' AND ends_at <= :as_of THEN 'completed'
             ELSE status END IN (:statuses)

    With `as_of` None, `statuses` matches the stored status (what the maintenance tick and
    bulk tools need). The documents returned are always as stored.

    `brief`: the caller reads of each record only what a listing prints and its status at an
    instant needs (`BRIEF_FIELDS`), never its `appointment` or `to_json`: a store may leave the
    other fields out (each is one more instant a server formats as text).
    """

    statuses: frozenset[str] | None = None
    doctor_id: str | None = None
    patient_id: str | None = None
    patient_ids: frozenset[str] | None = None  # any one of these patients ("every Lena")
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    ends_after: datetime | None = None
    offset: int = 0
    limit: int | None = None
    descending: bool = False
    count: bool = True
    as_of: datetime | None = None
    brief: bool = False


# What a brief record (`AppointmentQuery.brief`) holds: the printed fields and those its status
# and its being in progress at an instant are read from.
BRIEF_FIELDS = ("uid", "patient_id", "doctor_id", "type_key", "status", "starts_at", "ends_at", "hold_expires_at")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int | None
    offset: int = 0
    limit: int | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    @property
    def has_more(self) -> bool:
        if self.total is None:
            return self.limit is not None and len(self.items) >= self.limit
        return self.offset + len(self.items) < self.total


# An appointment's fields in the order of its JSON form (`models.Appointment`; a test holds the
# two equal): spelled out so that reading the store loads neither pydantic nor the models.
APPOINTMENT_FIELDS = ("uid", "patient_id", "doctor_id", "type_key", "status", "starts_at", "ends_at", "created_at",
                      "hold_expires_at", "confirmed_at", "cancelled_at", "cancel_reason", "cancelled_by",
                      "previous_meeting_uid", "room_url", "attendance_note", "attendance_by", "attendance_at",
                      "created_by")
# The fields that may be null: a data dir's document leaves them out when they are (`weeks`), and
# one stored before the later ones existed lacks those. A stored form without them reads them as
# null; a listed row carries every field.
NULLABLE_FIELDS = ("hold_expires_at", "confirmed_at", "cancelled_at", "cancel_reason", "cancelled_by",
                   "previous_meeting_uid", "attendance_note", "attendance_by", "attendance_at", "created_by")
# Its instants (stored as `times.STORED_FORMAT` text; in PostgreSQL, the columns of type timestamptz).
APPOINTMENT_INSTANTS = ("starts_at", "ends_at", "created_at", "hold_expires_at", "confirmed_at", "cancelled_at",
                        "attendance_at")
_STATUS = {s.value: s for s in AppointmentStatus}
_LISTED = operator.itemgetter("starts_at", "status", "uid")
_KEYS = operator.itemgetter("doctor_id", "patient_id", "type_key")
_NULLABLE = frozenset(NULLABLE_FIELDS)


def _complete(doc: Mapping[str, Any]) -> bool:
    """Whether `doc` has every field of an appointment (a null one as null)."""
    return len(doc) >= len(APPOINTMENT_FIELDS) and all(name in doc for name in NULLABLE_FIELDS)


def _whole(doc: Mapping[str, Any], status: str | None = None) -> dict[str, Any]:
    """`doc` with every field, the null ones it leaves out as null: the keys of a new
    appointment's JSON form in their order, whichever version or store stored it (a key the
    form does not know, last)."""
    whole = {name: doc.get(name) for name in APPOINTMENT_FIELDS if name in doc or name in _NULLABLE}
    if len(whole) < len(doc):
        whole.update((key, value) for key, value in doc.items() if key not in whole)
    if status is not None:
        whole["status"] = status
    return whole


@functools.lru_cache(maxsize=8192)
def _instant(stored: str) -> datetime:
    return datetime.fromisoformat(stored)


class AppointmentRecord:
    """One appointment as a listing reads it: typed fields over the appointment's JSON form
    (`Appointment.to_json()`), the full model built only when asked for.

    A listing of tens of thousands of rows pays a dictionary lookup per field it shows, not a
    model per row. Read-only: the JSON form is private and `to_json` hands out a copy.
    """

    __slots__ = ("_data", "_model", "_whole")

    def __init__(self, data: Mapping[str, Any], whole: bool = False) -> None:
        self._data = data
        self._model: Appointment | None = None
        # Read as of an instant (`as_of`): its JSON form carries every field, the later ones
        # an older record lacks as null, added when asked for, not copied into every row.
        self._whole = whole

    @classmethod
    def of(cls, appt: Appointment) -> AppointmentRecord:
        record = cls(appt.to_json())
        record._model = appt
        return record

    @property
    def uid(self) -> str:
        return str(self._data["uid"])

    @property
    def patient_id(self) -> str:
        return str(self._data["patient_id"])

    @property
    def doctor_id(self) -> str:
        return str(self._data["doctor_id"])

    @property
    def type_key(self) -> str:
        return str(self._data["type_key"])

    @property
    def status(self) -> AppointmentStatus:
        return _STATUS[self._data["status"]]

    @property
    def listed(self) -> tuple[str, str, str]:
        """(`starts_at` as stored, `status` as its value, `uid`): what a listing prints of the
        appointment itself, in one call (the stored start keys and sorts like the instant)."""
        return _LISTED(self._data)  # type: ignore[no-any-return]

    @property
    def keys(self) -> tuple[str, str, str]:
        """(`doctor_id`, `patient_id`, `type_key`): whose names a listing shows beside it."""
        return _KEYS(self._data)  # type: ignore[no-any-return]

    @property
    def starts_at(self) -> datetime:
        return _instant(self._data["starts_at"])


    @property
    def ends_at(self) -> datetime:
        return _instant(self._data["ends_at"])

    def next_change(self, at: datetime) -> datetime | None:
        """The first instant after `at` at which time alone changes how this record (as of
        `at`) reads (`lifecycle.next_change_at`)."""
        hold_text = self._data.get("hold_expires_at")
        hold = _instant(hold_text) if hold_text else None
        ends = self.ends_at
        status = status_at(self._data["status"], hold, ends, at)  # a record read at `at` already is
        change: datetime | None = next_change_at(status, self.starts_at, ends, hold, at)
        return change

    @property
    def appointment(self) -> Appointment:
        if self._model is None:
            self._model = appointment_from_json(self._json())
        return self._model

    def _json(self) -> Mapping[str, Any]:
        doc = self._data
        if "created_at" not in doc:  # a brief record: what it lacks would be read as null
            raise LookupError("a brief record holds only what a listing prints: search without `brief`")
        if self._whole and not _complete(doc):
            return _whole(doc)
        return doc

    def as_of(self, at: str) -> AppointmentRecord:
        """The appointment as readers see it at `at` (stored form): its effective status
        (`lifecycle.status_at`) and every field of the model. Unchanged, it is this record."""
        doc = self._data
        status = doc["status"]
        if status in ACTIVE:
            status = status_value_at(status, doc.get("hold_expires_at"), doc["ends_at"], at)
        if status == doc["status"]:
            # A brief record (no `created_at`) has nothing to fill in: it is never read whole.
            if self._whole or "created_at" not in doc or _complete(doc):
                return self
            return AppointmentRecord(doc, whole=True)
        return AppointmentRecord(_whole(doc, status), whole=True)

    def in_progress(self, at: str) -> bool:
        """Active and running at `at` (stored form), by its status as read: call it on the
        record `as_of` gave for the same instant (`lifecycle.in_progress_at`)."""
        doc = self._data
        return in_progress_at(doc["status"], doc["starts_at"], doc["ends_at"], at)

    def to_json(self) -> dict[str, Any]:
        return dict(self._json())


# A patient search also finds a phone by its digits (`0151 1122` in `+4915111223344`) once the
# text holds this many of them.
PHONE_DIGITS_MIN = 3
_ASCII_DIGITS = frozenset("0123456789")


def digits_of(text: str) -> str:
    """The ASCII digits of `text` (what a phone number is matched on; `isdigit` would also take
    '٣' and '²', which no SQL range of digits does)."""
    return "".join(ch for ch in text if ch in _ASCII_DIGITS)


def search_terms(text: str) -> tuple[str, str]:
    """What a search for a patient or a doctor looks for: the typed text casefolded, its runs of
    whitespace as one space, trimmed; and its digits."""
    needle = " ".join((text or "").split()).casefold()
    return needle, digits_of(needle)


def person_matches(needle: str, digits: str, name: str, email: str, external_id: str, id: str,
                   phone: str) -> bool:
    """The one matching rule of a search for a patient or a doctor (`search_terms` gives
    `needle` and `digits`): the needle inside the casefolded name, email, external id or id, or
    inside the phone; or, with at least PHONE_DIGITS_MIN digits, those digits inside the phone's
    digits. An empty needle matches everyone. The PostgreSQL store states it in SQL for patients;
    a contract test holds both stores to it."""
    if not needle:
        return True
    if (needle in name.casefold() or needle in email.casefold() or needle in external_id.casefold()
            or needle in id.casefold() or needle in phone):
        return True
    return len(digits) >= PHONE_DIGITS_MIN and digits in digits_of(phone)


def entity(name: str) -> Callable[[], Any]:
    """The entity class `name` of `domain.models`, imported when a record of it is first made
    one: a store reads stored forms (the overview's rows and names) without loading pydantic."""
    return functools.cache(lambda: getattr(importlib.import_module("rxdesk.domain.models"), name))


def appointment_from_json(doc: Mapping[str, Any]) -> Appointment:
    """An Appointment from the JSON form of a valid one, without validating it again.

    Only for what the store hands back: it was validated when written (and the segment store
    checksums it on disk), and validating thousands of listed rows again is 4x slower.
    """
    from rxdesk.domain.models import Appointment  # a listing reads records; the model when asked

    data = dict(doc)
    for key in APPOINTMENT_INSTANTS:
        value = data.get(key)  # documents stored before a field existed lack it
        if value is not None:
            data[key] = _instant(value)
    data["status"] = _STATUS[data["status"]]
    return Appointment.model_construct(**data)


def org_from_json(doc: Mapping[str, Any]) -> Org:
    """The organisation from the segment store's JSON form, like `appointment_from_json`: it was
    validated when written and is checksummed on disk. A document of another shape (a key it
    does not know, a value that is not text) is validated, and refused as it always was."""
    from rxdesk.domain.models import Org

    if _plain_org(doc):
        return Org.model_construct(**doc)
    return Org.from_stored(doc)


# The organisation's fields (`models.Org`; a test holds the two equal), every one of them text.
ORG_FIELDS = frozenset({"name", "timezone", "jitsi_base_url"})
ORG_REQUIRED = frozenset({"name"})
DEFAULT_ZONE = "UTC"


def _plain_org(doc: Mapping[str, Any]) -> bool:
    """A stored organisation of the shape validation leaves: known keys, the required ones,
    text values."""
    return (all(type(value) is str for value in doc.values()) and set(doc) <= ORG_FIELDS
            and set(doc) >= ORG_REQUIRED)


@dataclass(frozen=True)
class OrgBasics:
    """What every screen shows of the organisation: its name (the header) and its zone (times)."""

    name: str
    timezone: str = DEFAULT_ZONE


def org_basics(doc: Mapping[str, Any]) -> OrgBasics:
    """The name and zone of a stored organisation, read as `org_from_json` reads it (a document
    of another shape is validated, and refused as it always was), without making the model."""
    if _plain_org(doc):
        return OrgBasics(doc["name"], doc.get("timezone", DEFAULT_ZONE))
    org = org_from_json(doc)
    return OrgBasics(org.name, org.timezone)


@dataclass(frozen=True)
class AuditQuery:
    """Audit entries matching every given criterion, newest first: by `at`, then by the log's
    sequence (an entry written after a later one, as a demo's history is, still sorts by its time).

    `actor` is exact (`admin:anna`); `since` keeps entries at or after it; `targets` keeps
    entries about any one of them (`appointment:<uid>`, `doctor:<id>`, ...). With `limit` a
    store may stop once the page is full; `Page.total` is None.
    """

    actor: str | None = None
    since: datetime | None = None
    targets: tuple[str, ...] | None = None
    offset: int = 0
    limit: int | None = None

    def matcher(self) -> Callable[[Mapping[str, Any]], bool]:
        """Whether an entry in its stored form (`at` as `YYYY-MM-DDTHH:MM:SSZ`) is one the query
        asks for."""
        actor, targets = self.actor, frozenset(self.targets) if self.targets is not None else None
        since = format_utc(self.since) if self.since is not None else None

        def wanted(doc: Mapping[str, Any]) -> bool:
            return ((actor is None or doc["actor"] == actor) and (since is None or doc["at"] >= since)
                    and (targets is None or doc["target"] in targets))

        return wanted


@dataclass(frozen=True)
class DeliveryTrouble:
    """The deliveries of one subscription that need an agent (`DeliveryReader.trouble`)."""

    subscription_id: str
    dead: int  # went dead at or after the `dead_since` asked for
    failing: int  # pending after a failed attempt, created at or before `failing_before`
    since: datetime  # the earliest of them: the oldest failing one's creation, else the first death
    latest_id: str  # the newest of them (the highest id): its last error is what an agent reads first


@dataclass(frozen=True)
class WorkerTick:
    """The newest maintenance tick any worker recorded (`Store.last_tick`)."""

    owner: str
    at: datetime
