"""What the PostgreSQL store reads for the app's list: a window formats only its own rows, the
default view's count and windows come from an index alone, and a dialog reads the name of its
patient, not every patient's. The plans are the real server's (EXPLAIN ANALYZE of the very
statement the store sent, with its parameters)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from rxdesk.domain.ids import new_appointment_uid
from rxdesk.domain.lifecycle import ACTIVE
from rxdesk.domain.models import Appointment
from rxdesk.domain.models import AppointmentStatus as S
from rxdesk.domain.queries import AppointmentQuery
from rxdesk.services import Desk
from rxdesk.services.appointments import AppointmentFilter
from tests.helpers import database_url_of, view_of, wait_until

pytestmark = pytest.mark.database_only

DOCTORS = ("dr-weber", "dr-osei", "dr-lindqvist")
UPCOMING = 300
PAST = 3000  # completed and cancelled before them: most of a clinic's table is its history


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every SELECT sent to the server from now on, as text with its parameters."""
    found: list[tuple[str, Any]] = []
    execute = psycopg.Cursor.execute

    def kept(cur: Any, query: Any, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        text = query.as_string(cur) if hasattr(query, "as_string") else str(query)
        if text.lstrip().upper().startswith("SELECT"):
            found.append((text, params))
        return execute(cur, query, params, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", kept)
    return found


@pytest.fixture
def busy(clinic: Desk, now: datetime) -> list[Appointment]:
    """Upcoming confirmed appointments of three doctors, several starting at the same instant
    (their order is then the uid's), after a longer history; loaded in bulk, the table vacuumed
    as autovacuum would."""
    past = []
    for i in range(PAST):
        start = now - timedelta(hours=1 + i // len(DOCTORS))
        status = S.cancelled if i % 10 == 0 else S.completed
        past.append(Appointment(uid=new_appointment_uid(start), patient_id="pat-002", doctor_id=DOCTORS[i % len(DOCTORS)],
                                type_key="gp-consult", status=status, starts_at=start,
                                ends_at=start + timedelta(minutes=30), created_at=start - timedelta(days=2),
                                confirmed_at=start - timedelta(days=2)))
    made = []
    for i in range(UPCOMING):
        start = now + timedelta(hours=1 + i // len(DOCTORS))
        made.append(Appointment(uid=new_appointment_uid(start), patient_id=("pat-001", "pat-002", "pat-003")[i % 3],
                                doctor_id=DOCTORS[i % len(DOCTORS)], type_key="gp-consult", status=S.confirmed,
                                starts_at=start, ends_at=start + timedelta(minutes=30), created_at=now,
                                confirmed_at=now))
    with clinic.store.write() as view:
        view.bulk.add_appointments([a.to_json() for a in past + made])
    with psycopg.connect(database_url_of(clinic), autocommit=True) as conn:
        def all_visible() -> bool:
            # A vacuum that ran beside another transaction may leave pages it could not yet
            # mark all-visible (an index-only scan then costs heap reads): vacuum again, as
            # autovacuum would, until every page is.
            conn.execute("VACUUM ANALYZE appointments")
            pages = conn.execute("SELECT relpages, relallvisible FROM pg_class WHERE relname = 'appointments'").fetchone()
            return pages is not None and pages[0] == pages[1]

        wait_until(all_visible, what="the appointments table vacuumed, every page all-visible", every=0.05)
    return sorted(made, key=lambda a: (a.starts_at, a.uid.encode()))


@pytest.fixture
def server(clinic: Desk) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url_of(clinic), autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        yield conn


def plan(conn: psycopg.Connection[Any], statement: tuple[str, Any]) -> dict[str, Any]:
    text, params = statement
    row = conn.execute("EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) " + text, params).fetchone()
    assert row is not None
    return row[0][0]["Plan"]  # type: ignore[no-any-return]


def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from nodes(child)


def formats(node: dict[str, Any]) -> bool:
    return any("to_char" in column for column in node.get("Output", ()))


def the(statements: list[tuple[str, Any]], starts: str) -> tuple[str, Any]:
    (found,) = [s for s in statements if s[0].startswith(starts)]
    return found


def test_a_window_deep_in_the_list_formats_only_its_own_rows(
        clinic: Desk, busy: list[Appointment], sent: list[tuple[str, Any]], server: Any) -> None:
    page = clinic.appointments.list_appointments(offset=200, limit=50, count=True)
    assert [r.uid for r in page.items] == [a.uid for a in busy[200:250]] and page.total == UPCOMING
    window = the(sent, 'SELECT "uid", "patient_id"')
    # Every row the plan formats (its instants as text, in the lowest node that outputs them)
    # is a row of the window: none of the 200 skipped by the offset.
    formatted = sum(n["Actual Rows"] * n["Actual Loops"] for n in nodes(plan(server, window))
                    if formats(n) and not any(formats(child) for child in n.get("Plans", ())))
    assert 0 < formatted <= 50


def test_the_default_views_count_and_window_are_read_from_an_index_alone(
        clinic: Desk, busy: list[Appointment], sent: list[tuple[str, Any]], server: Any) -> None:
    clinic.appointments.list_appointments(offset=100, limit=50, count=True)
    # The small table of a test would be read whole; what matters is how an index answers.
    for way in ("seqscan", "bitmapscan"):
        server.execute(f"SET enable_{way} = off")
    for statement in (the(sent, "SELECT count(*) FROM appointments"), the(sent, 'SELECT "uid", "patient_id"')):
        scans = [n for n in nodes(plan(server, statement)) if n.get("Relation Name") == "appointments"
                 and n.get("Index Name") == "appointments_active_in_order"]
        assert [n["Node Type"] for n in scans] == ["Index Only Scan"], statement[0]


@pytest.mark.parametrize("descending", [False, True], ids=["upcoming", "newest first"])
def test_windows_read_by_key_are_the_slices_of_the_whole_list(
        clinic: Desk, busy: list[Appointment], now: datetime, descending: bool) -> None:
    def query(offset: int, limit: int | None) -> AppointmentQuery:
        return AppointmentQuery(statuses=frozenset(s.value for s in ACTIVE), as_of=now, ends_after=now,
                                offset=offset, limit=limit, descending=descending, count=False)

    view = view_of(clinic)
    whole = [r.uid for r in view.appointments.search(query(0, None)).items]
    assert whole == [a.uid for a in (reversed(busy) if descending else busy)]
    for offset, limit in ((0, 7), (3, 10), (128, 128), (290, 50), (UPCOMING, 5)):
        assert [r.uid for r in view.appointments.search(query(offset, limit)).items] == whole[offset:offset + limit]


def test_a_dialog_reads_the_name_of_its_patient_not_every_patients(
        clinic: Desk, busy: list[Appointment], sent: list[tuple[str, Any]]) -> None:
    uid = busy[10].uid
    summary = clinic.appointments.summary(uid)
    assert summary.patient_name == clinic.patients.get(busy[10].patient_id).name
    of_patients = [text for text, _ in sent if "FROM patients" in text]
    assert of_patients and all("WHERE id" in text for text in of_patients), of_patients


def test_a_listing_names_every_patient_it_shows(clinic: Desk, busy: list[Appointment]) -> None:
    rows = clinic.appointments.list_appointments(AppointmentFilter(), limit=20).items
    names = {p.id: p.name for p in clinic.patients.list_patients().items}
    assert [r.patient_name for r in rows] == [names[a.patient_id] for a in busy[:20]]


def test_a_brief_listing_formats_only_the_instants_it_prints_or_reads_its_status_from(
        clinic: Desk, busy: list[Appointment], sent: list[tuple[str, Any]]) -> None:
    for limit in (20, None):  # a window read by key, and the whole list in one pass
        sent.clear()
        brief = clinic.appointments.list_appointments(limit=limit, count=False, brief=True).items
        assert [r.uid for r in brief] == [a.uid for a in busy[:limit]]
        listing = the(sent, 'SELECT "uid", "patient_id"')[0]
        assert re.findall(r'to_char\("(\w+)"', listing) == ["starts_at", "ends_at", "hold_expires_at"], listing
    whole = clinic.appointments.list_appointments(limit=20, count=False).items
    assert whole[0].to_json() == busy[0].to_json()
    # Asked for what it left out, a brief record says so: it never answers with nulls.
    with pytest.raises(LookupError, match="brief record"):
        brief[0].to_json()
    with pytest.raises(LookupError, match="brief record"):
        brief[0].appointment  # noqa: B018


def test_each_tables_columns_are_its_models_fields_in_order() -> None:
    """The store spells its tables' columns out so that loading it loads no pydantic: they
    must stay the models' fields, in their order (a row is read and written by them)."""
    from rxdesk.domain import models
    from rxdesk.store.postgres import rows

    spelled: dict[type[models.Entity], tuple[str, ...]] = {models.Appointment: rows.APPOINTMENT_COLUMNS, models.ReminderSent: rows.REMINDER_COLUMNS,
               models.Patient: rows.PATIENT_COLUMNS, models.Delivery: rows.DELIVERY_COLUMNS,
               models.OutboxMessage: rows.MESSAGE_COLUMNS}
    for model, columns in spelled.items():
        assert columns == tuple(model.model_fields), model.__name__


def test_the_fields_a_stored_appointment_may_leave_out_are_the_ones_that_may_be_null() -> None:
    """A data dir's week leaves out an appointment's null fields and reads them back as null:
    the fields it may leave out must be exactly those of the model that default to null."""
    from rxdesk.domain import models
    from rxdesk.domain.queries import APPOINTMENT_FIELDS, NULLABLE_FIELDS

    fields = models.Appointment.model_fields
    assert tuple(fields) == APPOINTMENT_FIELDS
    assert tuple(name for name, f in fields.items() if not f.is_required() and f.default is None) == NULLABLE_FIELDS
