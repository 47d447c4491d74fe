"""Flat entities made and stored without their pydantic schema (`domain.plain`, the organisation
read back from the segment store) are exactly what pydantic makes of them: the same stored JSON,
byte for byte, and the same validated model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxdesk.domain import plain
from rxdesk.domain.errors import UnreadableRecord
from rxdesk.domain.models import (
    Admin,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    AuditEntry,
    AvailabilityWindow,
    BookingSecret,
    Delivery,
    Doctor,
    Entity,
    Event,
    EventType,
    MessageChannel,
    MessageStatus,
    Org,
    OutboxMessage,
    Patient,
    RebookingMode,
    RecipientGroup,
    ReminderRule,
    ReminderSent,
    Subscription,
)
from rxdesk.domain.queries import (
    DEFAULT_ZONE,
    ORG_FIELDS,
    ORG_REQUIRED,
    OrgBasics,
    appointment_from_json,
    org_basics,
    org_from_json,
)
from rxdesk.store.segment_db import encode as dumps

T = TypeVar("T")

idents = st.from_regex(r"[a-z0-9][a-z0-9._:@+-]{0,20}", fullmatch=True)
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | texts | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


def dumped(value: dict[str, Any]) -> bytes:
    return dumps(value)  # as the store writes it


@st.composite
def appointments(draw: st.DrawFn) -> Appointment:
    starts = draw(instants).replace(microsecond=0)

    def optional(strategy: st.SearchStrategy[T]) -> T | None:
        return draw(st.none() | strategy)

    appt = Appointment(
        uid=draw(idents), patient_id=draw(idents), doctor_id=draw(idents), type_key=draw(idents),
        status=draw(st.sampled_from(list(AppointmentStatus))),
        starts_at=starts, ends_at=starts + timedelta(minutes=draw(st.integers(1, 240))),
        created_at=draw(instants), hold_expires_at=optional(instants), confirmed_at=optional(instants),
        cancelled_at=optional(instants), cancel_reason=optional(texts), cancelled_by=optional(texts),
        previous_meeting_uid=optional(idents), room_url=draw(st.sampled_from(["", "https://meet.example/x"])),
        attendance_note=optional(texts), attendance_by=optional(texts), attendance_at=optional(instants),
    )
    how = draw(st.sampled_from(["validated", "from the store", "changed"]))
    if how == "from the store":
        return appointment_from_json(appt.model_dump(mode="json"))
    if how == "changed":  # as the lifecycle changes one: model_copy, not validated again
        return appointment_from_json(appt.model_dump(mode="json")).model_copy(
            update={"status": AppointmentStatus.cancelled, "cancelled_at": draw(instants),
                    "cancel_reason": draw(texts), "hold_expires_at": None})
    return appt


@settings(max_examples=300, deadline=None)
@given(appointments())
def test_an_appointment_is_stored_exactly_as_pydantic_dumps_it(appt: Appointment) -> None:
    form = plain.stored_form(appt)
    assert form is not None
    assert dumped(form) == dumped(appt.model_dump(mode="json"))
    assert dumped(appt.to_json()) == dumped(appt.model_dump(mode="json"))


@settings(max_examples=300, deadline=None)
@given(id=texts, type=st.sampled_from(list(EventType)) | st.sampled_from([t.value for t in EventType]),
       created_at=instants | instants.map(lambda d: d.replace(microsecond=0)), data=st.dictionaries(texts, json_values))
def test_an_event_made_plain_equals_the_validated_one(id: str, type: Any, created_at: datetime, data: Any) -> None:
    check_plain(Event, {"id": id, "type": type, "created_at": created_at, "data": data})


@settings(max_examples=300, deadline=None)
@given(at=instants | instants.map(lambda d: d.astimezone(UTC).replace(microsecond=0)), actor=texts, action=texts,
       target=texts, details=st.dictionaries(texts, json_values))
def test_an_audit_entry_made_plain_equals_the_validated_one(at: datetime, actor: str, action: str, target: str,
                                                            details: Any) -> None:
    check_plain(AuditEntry, {"at": at, "actor": actor, "action": action, "target": target, "details": details})


def check_plain(model: Any, values: dict[str, Any]) -> None:
    validated = model(**values)
    made = model.of_plain(**values)
    assert made == validated and made.model_fields_set == validated.model_fields_set
    assert dumped(made.to_json()) == dumped(validated.model_dump(mode="json"))


def test_the_plain_path_is_taken_for_what_a_cancel_writes() -> None:
    """Otherwise nothing is gained: the values a cancel writes are all plain."""
    now = datetime(2026, 11, 23, 8, tzinfo=UTC)
    event = plain.construct_plain(Event, {"id": "e1", "type": EventType.APPOINTMENT_CANCELLED, "created_at": now,
                                          "data": {"appointment": {"uid": "x", "n": 1}, "reason": "sick"}})
    entry = plain.construct_plain(AuditEntry, {"at": now, "actor": "admin:ana", "action": "appointment.cancel",
                                               "target": "appointment:x", "details": {"reason": "sick"}})
    assert event is not None and entry is not None


@pytest.mark.parametrize("values", [
    {"id": " e1", "type": EventType.APPOINTMENT_CANCELLED, "data": {}},  # validation strips it
    {"id": "e1", "type": "APPOINTMENT_CANCELLED", "data": {}},  # validation makes it the member
    {"id": "e1", "type": EventType.APPOINTMENT_CANCELLED, "data": {" k": 1}},  # keys are stripped
    {"id": "e1", "type": EventType.APPOINTMENT_CANCELLED, "data": {}, "extra": 1},  # refused
    {"id": "e1", "type": EventType.APPOINTMENT_CANCELLED, "data": {"at": datetime(2026, 1, 1, tzinfo=UTC)}},
])
def test_values_validation_would_change_or_refuse_go_through_pydantic(values: dict[str, Any]) -> None:
    values.setdefault("created_at", datetime(2026, 11, 23, 8, tzinfo=UTC))
    assert plain.construct_plain(Event, values) is None


def test_entities_that_are_not_flat_are_left_to_pydantic() -> None:
    assert plain.construct_plain(Appointment, {"uid": "x"}) is None  # validators on its fields
    assert plain._plan(Doctor) is None  # nested windows
    patient = Patient(id="pat-1", name="Ana")
    assert patient.to_json() == patient.model_dump(mode="json")


@settings(max_examples=100, deadline=None)
@given(name=st.text("Northbridge Telehealth éü'-0 ", max_size=40).filter(str.strip),
       timezone=st.sampled_from(["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"]),
       url=st.sampled_from(["https://meet.jit.si", "http://meet.example:8443/rooms"]))
def test_the_stored_organisation_reads_back_as_the_validated_one(name: str, timezone: str, url: str) -> None:
    org = Org(name=name, timezone=timezone, jitsi_base_url=url)
    read = org_from_json(orjson.loads(dumps(org.to_json())))
    assert read == org and read.model_fields_set == Org.model_validate(org.to_json()).model_fields_set


@pytest.mark.parametrize("doc", [{"name": "Clinic", "colour": "red"}, {"name": 7}, {"timezone": "UTC"}])
def test_a_stored_organisation_of_another_shape_is_validated_and_refused(doc: dict[str, Any]) -> None:
    with pytest.raises(UnreadableRecord, match="stored org cannot be read"):
        org_from_json(doc)
    with pytest.raises(UnreadableRecord, match="stored org cannot be read"):
        org_basics(doc)  # the name and zone alone are refused alike


def test_the_organisations_fields_without_pydantic_are_its_models() -> None:
    assert set(Org.model_fields) == ORG_FIELDS
    assert {name for name, info in Org.model_fields.items() if info.is_required()} == ORG_REQUIRED
    assert Org.model_fields["timezone"].default == DEFAULT_ZONE


@settings(max_examples=100, deadline=None)
@given(name=st.text("Northbridge Telehealth éü'-0 ", max_size=40).filter(str.strip),
       timezone=st.sampled_from(["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"]),
       zone_stored=st.booleans())
def test_the_stored_organisations_name_and_zone_are_the_models(name: str, timezone: str, zone_stored: bool) -> None:
    doc = Org(name=name, timezone=timezone).to_json()
    if not zone_stored:  # a document without the field: the model's default
        del doc["timezone"]
    org = org_from_json(doc)
    assert org_basics(doc) == OrgBasics(org.name, org.timezone)


NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)
RULE = ReminderRule(id="day-before", recipient=RecipientGroup.patient, minutes_before=1440, send_email=True)
WINDOW = AvailabilityWindow(weekday=0, start="09:00", end="12:00")
# One of every entity, with its optional fields set and not: what each stores must be what
# pydantic dumps (`domain.plain` reads no serializer methods, so none may exist).
EVERY_ENTITY: list[Entity] = [
    Org(name="Riverside", timezone="Europe/Berlin"), Org(name="R"),
    Admin(id="adm-1", name="Desk", email="desk@x.example", phone="+49 30 1"), Admin(id="adm-2", name="Mara"),
    RULE, AppointmentType(key="gp", name="GP", duration_minutes=30, reminders=[RULE]),
    AppointmentType(key="t", name="T", duration_minutes=50, rebooking_mode=RebookingMode.any_doctor),
    WINDOW, Doctor(id="dr-1", name="Dr A", availability=[WINDOW], appointment_types=["gp"],
                   room_url="https://meet.example/a", mobile_phone="+4915112345678"),
    Patient(id="pat-1", name="Ana", external_id="shop-1"), Patient(id="pat-2", name="Ben"),
    Appointment(uid="u1", patient_id="pat-1", doctor_id="dr-1", type_key="gp", status=AppointmentStatus.held,
                starts_at=NOW, ends_at=NOW + timedelta(minutes=30), created_at=NOW, hold_expires_at=NOW),
    ReminderSent(appointment_uid="u1", rule_id="day-before", recipient_group=RecipientGroup.patient,
                 recipient_id="pat-1", sent_at=NOW, due_at=NOW, late_by_seconds=3),
    BookingSecret(key_id="bk_1", label="shop", value_encrypted="gAAAA", created_at=NOW, created_by="admin:a",
                  last_used_at=NOW),
    Subscription(id="sub_1", url="https://hooks.example/rx", events=[EventType.APPOINTMENT_CANCELLED],
                 headers={"X-Shop": "r"}, secret_encrypted="gAAAA", created_at=NOW, created_by="admin:a"),
    Event(id="evt_1", type=EventType.APPOINTMENT_CANCELLED, created_at=NOW, data={"a": [1, None, "x"]}),
    AuditEntry(at=NOW, actor="admin:a", action="appointment.cancel", target="appointment:u1", details={"r": "x"}),
    Delivery(id="dlv_1", event_id="evt_1", event_type=EventType.APPOINTMENT_CANCELLED, subscription_id="sub_1",
             url="https://hooks.example/rx", created_at=NOW, next_attempt_at=NOW, last_status_code=500,
             lease_id="w#1", lease_until=NOW),
    OutboxMessage(id="msg_1", channel=MessageChannel.sms, to="+4915112345678", body="hi", status=MessageStatus.sent,
                  created_at=NOW, sent_at=NOW),
]


def concrete_entities() -> set[type[Entity]]:
    found, pending = set(), [Entity]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model.model_fields:
            found.add(model)
    return found


def test_every_entity_is_stored_as_pydantic_dumps_it_and_read_back_equal() -> None:
    assert {type(item) for item in EVERY_ENTITY} == concrete_entities()  # a new entity belongs here
    for item in EVERY_ENTITY:
        assert dumped(item.to_json()) == dumped(item.model_dump(mode="json")), type(item).__name__
        assert type(item).from_stored(orjson.loads(dumped(item.to_json()))) == item
