"""The entities of DESIGN.md. Field names are part of the contract: JSON output uses them.

Input rules (characters, lengths, formats, ranges: `domain.rules`) hold when an entity is made
from input; the store reads with `Entity.from_stored`, which checks the shape only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rxdesk.domain import plain
from rxdesk.domain.enums import (
    AppointmentStatus,
    DeliveryStatus,
    EventType,
    MessageChannel,
    MessageStatus,
    RebookingMode,
    RecipientGroup,
    appointment_target,
    reminder_key,
)
from rxdesk.domain.errors import UnreadableRecord, ValidationFailed
from rxdesk.domain.limits import MINUTES_BEFORE
from rxdesk.domain.rules import (
    E164,
    STORED,
    Email,
    ExternalId,
    HttpUrl,
    Ident,
    OptText,
    RoomUrl,
    Text,
    ZoneName,
    between,
    input_rule,
    is_stored,
)
from rxdesk.domain.times import ISO_HINT, format_utc, parse_instant, to_utc

_HHMM_RE = re.compile(r"([01]\d|2[0-3]):[0-5]\d|24:00")


def _coerce_utc(value: object) -> datetime:
    if isinstance(value, str) and len(value) == 20 and value[-1] == "Z":
        # The stored form: the fast path for rows read back from the store.
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    try:
        if isinstance(value, datetime):
            return to_utc(value)
        if isinstance(value, str):
            return parse_instant(value)
    except ValidationFailed as exc:  # pydantic reports ValueErrors with the field's path
        raise ValueError(str(exc)) from None
    raise ValueError(f"expected {ISO_HINT}")


plain.INSTANT_COERCIONS.add(_coerce_utc)


# An instant: stored and shown in JSON as `YYYY-MM-DDTHH:MM:SSZ` (domain/times.py).
UtcDateTime = Annotated[
    datetime,
    BeforeValidator(_coerce_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]


def _minutes(low: int, high: int) -> Any:
    return input_rule(between(low, high))


class Entity(BaseModel):
    """Strict, immutable models: unknown fields are refused, changes make a copy."""

    # defer_build: a model's validator is built on first use, so a command that only lists
    # stored rows never pays for the ones it does not touch. The app builds them all ahead
    # (`build_validators`), so no agent action pays for it.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True)

    def to_json(self, **kwargs: Any) -> dict[str, Any]:
        """The JSON form (stored, printed with --json): `model_dump(mode="json")`, made by hand
        for a flat entity so a short command never builds the serializer (`domain.plain`)."""
        if not kwargs:
            form = plain.stored_form(self)
            if form is not None:
                return form
        return self.model_dump(mode="json", **kwargs)

    @classmethod
    def from_stored(cls, doc: Mapping[str, Any]) -> Self:
        """The entity as the store holds it: its shape checked (types, enums, instants,
        fields), the input rules not (`domain.rules`). A record of another shape is an
        UnreadableRecord naming it."""
        try:
            return cls.model_validate(doc, context=STORED)
        except ValidationError as exc:
            raise UnreadableRecord(_record_name(cls, doc), _first_problem(exc)) from None


class PlainEntity(Entity):
    """An entity with no validator methods: only its fields' types and their validators
    judge it. Services build such entities from values they checked (events, audit entries):
    `of_plain` skips pydantic when every value is already as validation would leave it."""

    @classmethod
    def of_plain(cls, **values: Any) -> Self:
        """`cls(**values)`: validated, unless every value is already in its validated form
        (`domain.plain`)."""
        made = plain.construct_plain(cls, values)
        return made if made is not None else cls(**values)


def _record_name(model: type[Entity], doc: Mapping[str, Any]) -> str:
    kind = re.sub(r"(?<!^)(?=[A-Z])", " ", model.__name__).lower()
    key = next((doc[k] for k in ("id", "key", "uid", "key_id") if isinstance(doc, Mapping) and k in doc), None)
    return f"{kind} {str(key)[:64]!r}" if key is not None else kind


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in err.get("loc", ()))
    return f"{where}: {err.get('msg', 'is invalid')}" if where else str(err.get("msg", "is invalid"))


def build_validators() -> None:
    """Build every entity's validator now rather than on its first use."""
    pending = list(Entity.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        model.model_rebuild()  # builds what `defer_build` left unbuilt; a built model is left as it is


class Org(Entity):
    name: Text
    timezone: ZoneName = "UTC"
    jitsi_base_url: RoomUrl = "https://meet.jit.si"


class Admin(Entity):
    id: Ident
    name: Text
    email: Email = ""
    phone: OptText = ""


class ReminderRule(Entity):
    id: Ident
    recipient: RecipientGroup
    minutes_before: Annotated[int, _minutes(*MINUTES_BEFORE)]
    send_email: bool = False
    send_sms: bool = False
    # From when the rule reminds (DESIGN: Reminders); None for rules stored before it existed.
    created_at: UtcDateTime | None = None


class AppointmentType(Entity):
    key: Ident
    name: Text
    duration_minutes: Annotated[int, _minutes(5, 720)]
    hold_ttl_minutes: Annotated[int, _minutes(1, 10080)] = 15
    cancellation_notice_minutes: Annotated[int, _minutes(0, 525600)] = 0
    booking_notice_minutes: Annotated[int, _minutes(0, 525600)] = 0
    rebooking_mode: RebookingMode = RebookingMode.same_doctor
    reminders: list[ReminderRule] = Field(default_factory=list)

    @field_validator("reminders")
    @classmethod
    def _unique_rule_ids(cls, rules: list[ReminderRule], info: ValidationInfo) -> list[ReminderRule]:
        if is_stored(info):
            return rules
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"reminder rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return rules


class AvailabilityWindow(Entity):
    # The weekday's range and the HH:MM form are the window's shape, checked on every read:
    # the slot arithmetic reads them. Their order is an input rule.
    weekday: int = Field(ge=0, le=6, description="0 = Monday .. 6 = Sunday")
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not a time as HH:MM")
        return value

    @model_validator(mode="after")
    def _ordered(self, info: ValidationInfo) -> AvailabilityWindow:
        if is_stored(info):
            return self
        if self.end <= self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        if self.start == "24:00":
            raise ValueError("a window cannot start at 24:00")
        return self


class Doctor(Entity):
    id: Ident
    name: Text
    email: Email = ""
    timezone: ZoneName = "UTC"
    mobile_phone: E164 = ""
    prescription_phone: OptText = ""
    appointment_types: list[Ident] = Field(default_factory=list)
    room_url: RoomUrl = ""
    availability: list[AvailabilityWindow] = Field(default_factory=list)


class Patient(Entity):
    id: Ident
    name: Text
    email: Email = ""
    phone: OptText = ""
    external_id: ExternalId = ""


class Appointment(Entity):
    uid: Ident
    patient_id: Ident
    doctor_id: Ident
    type_key: Ident
    # As last written. What it is now, time included, is `lifecycle.effective_status`.
    status: AppointmentStatus
    starts_at: UtcDateTime
    ends_at: UtcDateTime
    created_at: UtcDateTime
    hold_expires_at: UtcDateTime | None = None
    confirmed_at: UtcDateTime | None = None
    cancelled_at: UtcDateTime | None = None
    cancel_reason: str | None = None
    cancelled_by: str | None = None
    previous_meeting_uid: str | None = None
    room_url: str = ""
    # Attendance marked by an agent (DESIGN: Attendance); absent from documents stored before.
    attendance_note: str | None = None
    attendance_by: str | None = None
    attendance_at: UtcDateTime | None = None
    # Who booked it when an agent did (`admin:<agent>`); absent from documents stored before.
    created_by: str | None = None

    @model_validator(mode="after")
    def _times(self) -> Appointment:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ReminderSent(Entity):
    """One fired reminder: the idempotency key of the worker (DESIGN: Reminders)."""

    appointment_uid: str
    rule_id: str
    recipient_group: RecipientGroup
    recipient_id: str
    sent_at: UtcDateTime
    due_at: UtcDateTime
    late_by_seconds: int = 0
    event_id: str = ""
    # What became of the email and SMS: a skip without a message ("skipped: no mobile number"),
    # or the message's id, whose own status is the one source of truth (`*_status` then empty).
    email_status: str = ""
    sms_status: str = ""
    email_message_id: str = ""
    sms_message_id: str = ""

    @property
    def key(self) -> str:
        return reminder_key(
            self.appointment_uid, self.rule_id, self.recipient_group, self.recipient_id
        )


class BookingSecret(Entity):
    key_id: Ident
    label: OptText = ""
    value_encrypted: str = Field(repr=False)
    created_at: UtcDateTime
    created_by: str
    revoked_at: UtcDateTime | None = None
    revoked_by: str | None = None
    last_used_at: UtcDateTime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public(self) -> dict[str, Any]:
        """Everything an agent may see in a listing: never the value, not even encrypted."""
        data = self.to_json(exclude={"value_encrypted"})
        data["status"] = "active" if self.active else "revoked"
        return data


# How a custom header's value is shown everywhere but an agent's audited reveal.
MASKED = "********"


class Subscription(Entity):
    id: Ident
    url: HttpUrl
    events: list[EventType]
    # Custom headers stored in the clear by an older version (new ones are in `sealed_headers`).
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    secret_encrypted: str = Field(repr=False)
    active: bool = True
    created_at: UtcDateTime | None = None
    created_by: str = ""
    # Deliveries may go to loopback and private addresses too (`--allow-private-network`).
    allow_private_network: bool = False
    # Custom headers by name, each value encrypted under the master key as the signing secret
    # is (they often carry a receiver's credentials: `Authorization: Bearer ...`).
    sealed_headers: dict[str, str] = Field(default_factory=dict, repr=False)

    @property
    def header_names(self) -> list[str]:
        return sorted({*self.headers, *self.sealed_headers})

    def public(self) -> dict[str, Any]:
        """What listings show: never the signing secret, custom headers by name with their
        values masked."""
        shown = self.to_json(exclude={"secret_encrypted", "sealed_headers"})
        shown["headers"] = dict.fromkeys(self.header_names, MASKED)
        return shown


class Event(PlainEntity):
    id: str
    type: EventType
    created_at: UtcDateTime
    data: dict[str, Any]


class AuditEntry(PlainEntity):
    at: UtcDateTime
    actor: str
    action: str
    target: str
    details: dict[str, Any] = Field(default_factory=dict)


__all__ = [
    "Admin",
    "Appointment",
    "AppointmentStatus",
    "AppointmentType",
    "AuditEntry",
    "AvailabilityWindow",
    "BookingSecret",
    "DeliveryStatus",
    "Doctor",
    "Event",
    "EventType",
    "MessageChannel",
    "MessageStatus",
    "Org",
    "Patient",
    "RebookingMode",
    "RecipientGroup",
    "ReminderRule",
    "ReminderSent",
    "Subscription",
    "appointment_target",
    "datetime",
    "reminder_key",
]


# The runner that holds a claim on a pending row: its lease id, unique per running worker
# (rows stored by early builds of 0.1 name it `lease_owner`; they still load).
LeaseId = Annotated[str, Field(validation_alias=AliasChoices("lease_id", "lease_owner"))]


class Delivery(Entity):
    """One event sent to one subscription, with its attempts (DESIGN: Events and webhooks)."""

    id: str
    event_id: str
    event_type: EventType
    subscription_id: str
    url: str
    status: DeliveryStatus = DeliveryStatus.pending
    attempts: int = 0
    created_at: UtcDateTime
    next_attempt_at: UtcDateTime | None = None
    last_attempt_at: UtcDateTime | None = None
    delivered_at: UtcDateTime | None = None
    last_status_code: int | None = None
    last_error: str = ""
    response_excerpt: str = ""
    lease_id: LeaseId = ""
    lease_until: UtcDateTime | None = None


class OutboxMessage(Entity):
    """An email or SMS a reminder asked for."""

    id: str
    channel: MessageChannel
    to: str
    subject: str = ""
    body: str
    status: MessageStatus
    created_at: UtcDateTime
    appointment_uid: str = ""
    event_id: str = ""
    attempts: int = 0
    next_attempt_at: UtcDateTime | None = None
    sent_at: UtcDateTime | None = None
    last_error: str = ""
    lease_id: LeaseId = ""
    lease_until: UtcDateTime | None = None
