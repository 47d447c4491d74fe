"""The store contract (store/protocols.py) as both stores keep it: scopes, typed rows that
cannot corrupt what other readers see, the bulk loader; and what is the segment store's own
(old stored fields, flushing, the planner's windows)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from rxdesk.config import Settings
from rxdesk.domain.models import AuditEntry, Delivery, EventType
from rxdesk.domain.queries import AppointmentQuery, AppointmentRecord, OrgBasics
from rxdesk.services import Desk
from rxdesk.services.webhooks import FANOUT_CURSOR
from rxdesk.store import TinyStore, open_store
from rxdesk.store.protocols import Store, UnitOfWork
from tests.helpers import CLINIC_TOML, another_store, make_appointment, tiny_view_of

pytestmark = pytest.mark.backends


@pytest.mark.data_dir_only
def test_the_factory_picks_the_segment_store_for_a_data_dir(settings: Settings) -> None:
    store: Store = open_store(settings)
    assert isinstance(store, TinyStore) and store.location == str(settings.data_dir)


def test_a_unit_of_work_that_raises_changes_nothing(store: TinyStore, now: datetime) -> None:
    with pytest.raises(RuntimeError), store.write() as view:
        view.events.append(EventType.APPOINTMENT_CANCELLED, {"x": 1}, now)
        view.cursors.set(FANOUT_CURSOR, 7)
        raise RuntimeError("abandon the write")
    with store.read() as view:
        assert view.events.last_seq() == 0 and view.cursors.get(FANOUT_CURSOR) == 0
    assert store.is_empty()


def test_the_organisations_name_and_zone_are_read_as_the_organisation(desk: Desk) -> None:
    assert desk.org_basics() == OrgBasics(desk.org().name, desk.org().timezone) == OrgBasics("rxdesk", "UTC")
    desk.provisioning.provision_file(CLINIC_TOML, "setup")
    org = desk.org()
    assert org.timezone != "UTC" and desk.org_basics() == OrgBasics(org.name, org.timezone)


def test_the_names_of_some_patients_are_their_names(clinic: Desk) -> None:
    # Asked first (the app's first rows), then with the whole index built (every later listing).
    wanted = {"pat-001", "pat-003", "pat-none"}
    store = another_store(clinic)  # as a process that has read nothing yet
    for _ in range(2):
        with store.read() as view:
            found = view.patients.names_of(wanted)
            every = dict(view.patients.names())
            assert {pid: found.get(pid) for pid in wanted} == {pid: every.get(pid) for pid in wanted}
            assert every["pat-001"] and "pat-none" not in found
    with store.read() as view:
        assert view.patients.names_of(set()).get("pat-001") in (None, every["pat-001"])
    store.close()


def test_a_read_view_refuses_changes(clinic: Desk) -> None:
    with clinic.store.read() as view, pytest.raises(RuntimeError, match="read-only"):
        cast(UnitOfWork, view).cursors.set(FANOUT_CURSOR, 1)  # a write method, called on a read view


def test_nested_data_read_from_the_store_is_the_callers_own(clinic: Desk, now: datetime) -> None:
    """A caller that changes what it was handed must not change what the next reader sees:
    the segment store caches parsed documents and hands out copies."""
    with clinic.store.write() as view:
        event = view.events.append(EventType.APPOINTMENT_CANCELLED, {"appointment": {"uid": "a"}}, now)
        view.audit.append(AuditEntry(at=now, actor="t", action="x", target="org", details={"list": [1]}))
    with clinic.store.read() as view:
        read = view.events.get(event.id)
        assert read is not None
        read.data["appointment"]["uid"] = "changed"
        view.events.newest().items[0].data["appointment"]["uid"] = "changed too"
        view.audit.newest().items[0].details["list"].append(2)
        names = view.doctors.names()
        with pytest.raises(TypeError):
            cast(dict[str, str], names)["dr-weber"] = "someone else"  # as a careless caller would
    with clinic.store.read() as view:
        again = view.events.get(event.id)
        assert again is not None and again.data["appointment"]["uid"] == "a"
        assert view.audit.newest().items[0].details == {"list": [1]}
        assert view.doctors.names()["dr-weber"] != "someone else"


def test_listed_appointments_are_typed_records_of_the_stored_appointment(clinic: Desk, now: datetime) -> None:
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    with clinic.store.read() as view:
        page = view.appointments.search(AppointmentQuery(starts_from=now, limit=5))
        assert view.appointments.count(AppointmentQuery(starts_from=now)) == page.total == 1
    (record,) = page.items
    assert isinstance(record, AppointmentRecord)
    assert (record.uid, record.status, record.starts_at, record.patient_id, record.doctor_id, record.type_key) == (
        appt.uid, appt.status, appt.starts_at, appt.patient_id, appt.doctor_id, appt.type_key)
    assert record.appointment == appt and record.to_json() == appt.to_json()
    record.to_json()["status"] = "cancelled"
    with clinic.store.read() as view:
        assert view.appointments.search(AppointmentQuery(starts_from=now)).items[0].status is appt.status


def test_the_bulk_loader_writes_a_clinic_in_one_unit_and_can_clear_it(clinic: Desk, now: datetime) -> None:
    with clinic.store.write() as view:
        assert not view.bulk.is_empty()
        view.bulk.clear()
        assert view.bulk.is_empty()
        view.bulk.add_events([{"type": "APPOINTMENT_CANCELLED", "created_at": "2026-11-20T08:00:00Z", "data": {}}] * 3)
        view.bulk.add_audit([{"at": "2026-11-20T08:00:00Z", "actor": "t", "action": "x", "target": "org",
                              "details": {}}])
    with clinic.store.read() as view:
        assert view.doctors.all() == [] and view.patients.count() == 0
        ids = [e.id for _, e in view.events.after(0)]
        assert len(ids) == 3 and len(set(ids)) == 3
        assert [a.action for a in view.audit.for_target("org")] == ["x"]
    assert not clinic.store.is_empty()  # no organisation, but events and audit entries


@pytest.mark.data_dir_only
def test_a_claim_stored_under_its_old_field_name_still_loads(data_dir: Path, clinic: Desk, now: datetime) -> None:
    """0.1 stored a claim's holder as `lease_owner`; it is read as `lease_id`."""
    with clinic.store.write() as view:
        delivery_id = view.deliveries.new_id()
        view.deliveries.put(Delivery(id=delivery_id, event_id="evt_x", event_type=EventType.APPOINTMENT_CANCELLED,
                                     subscription_id="sub_x", url="http://127.0.0.1:9/", created_at=now,
                                     next_attempt_at=now, lease_id="worker#1", lease_until=now))
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    path = data_dir / "segments" / manifest["segments"]["deliveries-000000"]["file"]
    stored = json.loads(path.read_text())
    doc = stored["deliveries"][delivery_id]
    doc["lease_owner"] = doc.pop("lease_id")
    assert Delivery.model_validate(doc).lease_id == "worker#1"


@pytest.mark.data_dir_only
def test_the_engine_flushes_to_disk_unless_a_test_asks_it_not_to(data_dir: Path) -> None:
    assert TinyStore(data_dir).engine.fsync is True
    fast = TinyStore(data_dir, fsync=False)
    with fast.write() as view:
        view.cursors.set(FANOUT_CURSOR, 3)
    with TinyStore(data_dir).read() as view:
        assert view.cursors.get(FANOUT_CURSOR) == 3


@pytest.mark.data_dir_only
def test_a_window_anywhere_in_a_listing_is_the_walk_to_it(clinic: Desk, now: datetime) -> None:
    """search() skips whole weeks by their counts; its window and total must be exactly what
    walking every row to the offset gives, in either order, for any filter."""
    import itertools
    import random

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    rng = random.Random(11)
    for _ in range(150):
        make_appointment(clinic, start=now + timedelta(hours=rng.randint(-24 * 40, 24 * 40)),
                         doctor_id=rng.choice(["dr-weber", "dr-osei", "dr-sato"]),
                         patient_id=rng.choice(["pat-001", "pat-002", "pat-003"]),
                         status=rng.choice(["held", "confirmed", "cancelled"]), hold_minutes=60 * 24 * 90)
    view = tiny_view_of(clinic)
    instants = st.one_of(st.none(), st.integers(-24 * 45, 24 * 45).map(lambda h: now + timedelta(hours=h)))

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(statuses=st.one_of(st.none(), st.frozensets(st.sampled_from(["held", "confirmed", "expired"]), min_size=1)),
           doctor=st.sampled_from([None, "dr-weber"]), start=instants, before=instants, descending=st.booleans(),
           offset=st.integers(0, 160), limit=st.one_of(st.none(), st.integers(0, 40)), count=st.booleans(),
           as_of=st.sampled_from([None, now]))
    def check(statuses: frozenset[str] | None, doctor: str | None, start: datetime | None, before: datetime | None,
              descending: bool, offset: int, limit: int | None, count: bool, as_of: datetime | None) -> None:
        query = AppointmentQuery(statuses=statuses, doctor_id=doctor, starts_from=start, starts_before=before,
                                 descending=descending, offset=offset, limit=limit, count=count, as_of=as_of)
        walked = [doc["uid"] for doc in view.appointments.iter_raw(query)]
        end = None if limit is None else offset + limit
        page = view.appointments.search(query)
        assert [r.uid for r in page.items] == list(itertools.islice(walked, offset, end))
        assert page.total == (len(walked) if count else None)

    check()


@pytest.mark.data_dir_only
def test_the_first_window_of_a_listing_uncounted_counts_no_week(clinic: Desk, now: datetime,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # The app's first rows: a week's count only says how many rows to skip, and there are none
    # (counting the current week of a large clinic walked its thousands of rows).
    from rxdesk.store.planner import AppointmentPlanner

    for days in range(0, 30, 3):
        make_appointment(clinic, start=now + timedelta(days=days, hours=2))
    query = AppointmentQuery(statuses=frozenset({"held", "confirmed"}), ends_after=now, as_of=now, limit=4,
                             count=False)
    expected = [doc["uid"] for doc in tiny_view_of(clinic).appointments.iter_raw(query)][:4]

    def counting(_planner: AppointmentPlanner, _query: AppointmentQuery) -> int:
        raise AssertionError("a week was counted")

    monkeypatch.setattr(AppointmentPlanner, "count_raw", counting)
    assert [r.uid for r in tiny_view_of(clinic).appointments.search(query).items] == expected


@pytest.mark.data_dir_only
def test_a_listings_first_rows_name_their_patients_without_the_whole_index(clinic: Desk, now: datetime,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # Building the index of every patient's name took ~14 ms at 120,000 patients; the first
    # rows need their own patients' names.
    from rxdesk.store.patients import PatientRepo

    for hours in (2, 3, 4):
        make_appointment(clinic, start=now + timedelta(hours=hours), patient_id=f"pat-00{hours - 1}")
    expected = [(r.record.uid, r.patient_name) for r in clinic.appointments.list_appointments(limit=2, count=False)]
    fresh = Desk(another_store(clinic), clinic.clock, clinic.settings)

    def every_name(_repo: PatientRepo) -> None:
        raise AssertionError("the whole index was built")

    monkeypatch.setattr(PatientRepo, "names", every_name)
    listed = fresh.appointments.list_appointments(limit=2, count=False)
    assert [(r.record.uid, r.patient_name) for r in listed] == expected
    assert all(name != pid for (_, name), pid in zip(expected, ("pat-001", "pat-002"), strict=True))
    fresh.close()
