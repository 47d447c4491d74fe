"""One rule, stated three times, held to one answer.

The effective status at an instant is `lifecycle.status_at` in the domain, SQL conditions in
the PostgreSQL store and the planner's arithmetic over week segments in the data dir; a search
for a patient or a doctor is `queries.person_matches` in the domain and SQL on PostgreSQL. Here
the same generated appointments and people go through the store under test and through the
domain, at the instants where the rules turn (a hold's expiry, a start, an end, and one
microsecond either side): every listing, count, window and order must be the domain's.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from rxdesk.commands.appointments import appointment_table
from rxdesk.domain import lifecycle
from rxdesk.domain.clock import FixedClock
from rxdesk.domain.ids import new_appointment_uid
from rxdesk.domain.models import Appointment, AvailabilityWindow, Doctor, Patient
from rxdesk.domain.models import AppointmentStatus as S
from rxdesk.domain.queries import AppointmentQuery, digits_of, person_matches, search_terms
from rxdesk.domain.times import format_utc
from rxdesk.services import Desk
from rxdesk.services.appointments import AppointmentFilter, AppointmentRow
from rxdesk.services.matching import match_doctors
from rxdesk.store.postgres import PgStore
from tests.helpers import Cli

pytestmark = pytest.mark.backends

# Sunday evening: starts run across Monday 00:00 UTC, where the data dir's week segments meet.
BASE = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
LENGTHS = (timedelta(minutes=30), timedelta(minutes=90), lifecycle.LONGEST_APPOINTMENT)
MICRO = timedelta(microseconds=1)
BUSY = "dr-grid"  # the doctor of every appointment that is not active (active ones may not overlap)


def grid() -> list[Appointment]:
    """Every stored status at starts 25 minutes apart across the week boundary (several at one
    start, so the uid decides their order), three lengths up to the longest, and holds that
    lapse before the start, at it, during, at the end, after it, or never."""
    rng = random.Random(25)
    made = []
    for k in range(5):
        start = BASE + timedelta(minutes=25 * k)
        length = LENGTHS[k % 3]
        created = start - timedelta(days=2)
        holds: list[timedelta | None] = [-timedelta(minutes=10), timedelta(0), timedelta(minutes=5), length,
                                         length + timedelta(hours=1), None]
        specs = [(S.held, hold) for hold in holds]
        specs += [(S.confirmed, None), (S.expired, -timedelta(minutes=30)), (S.cancelled, None),
                  (S.completed, None), (S.no_show, None)]
        for n, (status, hold) in enumerate(specs):
            uid = new_appointment_uid(start, rng)
            active = status in lifecycle.ACTIVE
            made.append(Appointment(
                uid=uid, patient_id=f"pat-00{n % 3 + 1}", doctor_id=f"dr-{uid}" if active else BUSY,
                type_key="gp-consult", status=status, starts_at=start, ends_at=start + length, created_at=created,
                hold_expires_at=start + hold if hold is not None else None,
                confirmed_at=created if status is not S.held else None))
    return made


def instants(appts: list[Appointment]) -> list[datetime | None]:
    """None (statuses as stored), then every start, end and hold expiry, and a microsecond
    either side of each."""
    turning = {a.starts_at for a in appts} | {a.ends_at for a in appts}
    turning |= {a.hold_expires_at for a in appts if a.hold_expires_at is not None}
    return [None, *sorted(t + d for t in turning for d in (-MICRO, timedelta(0), MICRO))]


def expected(appts: list[Appointment], q: AppointmentQuery) -> list[str]:
    """The domain's answer: every criterion on the appointment models, by start then uid."""
    found = []
    for a in appts:
        status = lifecycle.effective_status(a, q.as_of) if q.as_of is not None else a.status
        if q.statuses is not None and status not in q.statuses:
            continue
        if (q.doctor_id is not None and a.doctor_id != q.doctor_id) or \
                (q.patient_id is not None and a.patient_id != q.patient_id):
            continue
        if (q.starts_from is not None and a.starts_at < q.starts_from) or \
                (q.starts_before is not None and a.starts_at >= q.starts_before):
            continue
        if q.ends_after is not None and a.ends_at <= q.ends_after:
            continue
        found.append(a)
    found.sort(key=lambda a: (a.starts_at, a.uid), reverse=q.descending)
    return [a.uid for a in found]


# Time changes whether an appointment has these (as one of ACTIVE or PAST too); the others match
# as stored whatever the instant, so they are asked once, with the statuses as stored.
TIMED: list[frozenset[str]] = [lifecycle.ACTIVE, lifecycle.PAST, *(frozenset({s.value}) for s in lifecycle.TIME_MOVES),
                               *(frozenset({target.value}) for _, target in lifecycle.TIME_MOVES.values())]
STORED: list[frozenset[str] | None] = [None, *(frozenset({s.value}) for s in S)]


def queries(at: datetime | None) -> Iterator[AppointmentQuery]:
    """What the listings ask at `at`: each status that time changes (and active, past); the
    overview's default (active, not ended); the past newest first; starts from and before the
    instant; one doctor, one patient. With `at` None: each status as stored."""
    if at is None:
        for stored in STORED:
            yield AppointmentQuery(statuses=stored)
        return
    for statuses in TIMED:
        yield AppointmentQuery(statuses=statuses, as_of=at)
    yield AppointmentQuery(statuses=lifecycle.ACTIVE, ends_after=at, as_of=at)
    yield AppointmentQuery(statuses=lifecycle.ACTIVE, ends_after=at, starts_before=at + timedelta(hours=1), as_of=at)
    yield AppointmentQuery(statuses=lifecycle.PAST, descending=True, as_of=at)
    yield AppointmentQuery(statuses=frozenset({"held", "expired"}), starts_from=at, as_of=at)
    yield AppointmentQuery(statuses=None, starts_before=at, descending=True, as_of=at)
    yield AppointmentQuery(statuses=frozenset({"completed"}), doctor_id=BUSY, starts_from=at - timedelta(hours=1),
                           as_of=at)
    yield AppointmentQuery(statuses=lifecycle.ACTIVE, patient_id="pat-002", ends_after=at, as_of=at)


def test_status_search_count_and_order_are_the_domains_at_every_turning_instant(clinic: Desk) -> None:
    appts = grid()
    with clinic.store.write() as view:
        for appt in appts:
            view.appointments.put(appt)
    checked = 0
    with clinic.store.read() as view:
        for n, at in enumerate(instants(appts)):
            exact = n % 3 == 2  # the turning instant itself, not a microsecond beside it
            for q in queries(at):
                want = expected(appts, q)
                page = view.appointments.search(q)
                assert [r.uid for r in page.items] == want, (q, format_utc(at) if at else None)
                assert page.total == len(want), q
                if exact or at is None:  # counted alone, and a window deep in the result is the walk to it
                    assert view.appointments.count(q) == len(want), q
                    middle = dataclasses.replace(q, offset=len(want) // 3, limit=4, count=False)
                    assert [r.uid for r in view.appointments.search(middle).items] == want[len(want) // 3:][:4], q
                checked += 1
    assert checked > 500


def test_the_overview_default_and_its_in_progress_marks_are_the_domains_at_every_turning_instant(clinic: Desk, clock: FixedClock) -> None:
    appts = grid()
    by_uid = {a.uid: a for a in appts}
    with clinic.store.write() as view:
        for appt in appts:
            view.appointments.put(appt)
    for at in instants(appts)[1::3]:  # each turning instant itself
        assert at is not None
        clock.set(at)
        rows = clinic.appointments.list_appointments().items
        assert [r.uid for r in rows] == expected(appts, AppointmentQuery(
            statuses=lifecycle.ACTIVE, ends_after=at, as_of=at)), format_utc(at)
        for row in rows:
            appt = by_uid[row.uid]
            assert row.status is lifecycle.effective_status(appt, at)
            assert row.in_progress == (appt.starts_at <= at < appt.ends_at)


def test_a_brief_listing_reads_as_the_whole_one_at_every_turning_instant(clinic: Desk, clock: FixedClock) -> None:
    """What a printed listing reads of a brief record (`AppointmentQuery.brief`): the same
    start, status as of now, names, in-progress mark and next change as the whole record's."""
    appts = grid()
    with clinic.store.write() as view:
        for appt in appts:
            view.appointments.put(appt)
    every = AppointmentFilter(all=True)

    def printed(rows: list[AppointmentRow], at: datetime) -> list[tuple[object, ...]]:
        return [(r.record.listed, r.record.keys, r.status, r.in_progress, r.next_change(at), r.doctor_name,
                 r.patient_name, r.type_name) for r in rows]

    compared = 0
    for at in instants(appts)[1::3]:
        assert at is not None
        clock.set(at)
        for f in (AppointmentFilter(), every):
            whole = clinic.appointments.list_appointments(f).items
            brief = clinic.appointments.list_appointments(f, brief=True).items
            assert printed(brief, at) == printed(whole, at), (f, format_utc(at))
            compared += len(whole)
    assert compared > 1000


def test_the_printed_listing_is_the_table_of_the_whole_records(clinic: Desk, clock: FixedClock, cli: Cli) -> None:
    """`appointments list` prints from brief records: the same text as the whole records'
    table, at instants where holds lapse and appointments run and end."""
    appts = grid()
    with clinic.store.write() as view:
        for appt in appts:
            view.appointments.put(appt)
    zone = clinic.org().timezone
    for at in (BASE + timedelta(minutes=40), BASE + timedelta(hours=2, seconds=1)):
        clock.set(at)
        for flags, f in (((), AppointmentFilter()), (("--all",), AppointmentFilter(all=True))):
            printed = cli("appointments", "list", *flags, env={"RXDESK_NOW": format_utc(at)})
            assert printed.code == 0, printed.err
            assert printed.out == appointment_table(clinic.appointments.list_appointments(f).items, zone)
            assert "(in progress)" in printed.out or flags


PEOPLE = [
    ("Straße Anna", "anna@example.org", "+49 151 1122 3344", "EXT-1"),
    ("İlkay Gündoğan", "ilkay@example.com", "0170-555-0101", ""),
    ("ΣΊΣΥΦΟΣ Papas", "sisyphos@example.gr", "(030) 555 12", "ext-2"),
    ("Lena  Fischer", "lena.f@example.org", "", "shop-19001"),
    ("Lena Fuchs", "", "٠١٥١ ١١٢٢ 99", ""),
    ("Omar Haddad", "omar@haddad.example", "+44 20 7946 0958", "SHOP-19002"),
    ("Émile Zola", "EMILE@EXAMPLE.FR", "+33 1 23 45 67 89", ""),
]
NEEDLES = ["", "strasse", "STRASSE", "ss", "i̇lkay", "ilkay", "σίσυφος", "ΣΊΣΥΦΟΣ", "lena f", "lena  fischer",
           "  LENA ", "151 1122", "1511122", "٠١٥١", "١٥١١", "1511", "555", "55", "@example", "example.org",
           "émile", "EMILE", "ext-", "shop-1900", "pat-0", "+49", "-", "(030)", "nobody", "0958", "20 7946"]


def test_a_patient_search_finds_whom_the_domain_rule_finds(clinic: Desk) -> None:
    patients = [Patient(id=f"pat-1{n:02d}", name=name, email=email, phone=phone, external_id=external)
                for n, (name, email, phone, external) in enumerate(PEOPLE)]
    with clinic.store.write() as view:
        for patient in patients:
            view.patients.put(patient)
    with clinic.store.read() as view:
        everyone = sorted(view.patients.all(), key=lambda p: (p.name.casefold(), p.id))
        for text in NEEDLES:
            needle, digits = search_terms(text)
            want = [p.id for p in everyone
                    if person_matches(needle, digits, p.name, p.email, p.external_id, p.id, p.phone)]
            page = view.patients.search(text)
            assert [p.id for p in page.items] == want and page.total == len(want), text
            assert [p.id for p in view.patients.search(text, offset=1, limit=2).items] == want[1:3], text


def test_a_doctor_search_finds_whom_the_domain_rule_finds(clinic: Desk) -> None:
    window = [AvailabilityWindow(weekday=0, start="09:00", end="12:00")]
    doctors = [Doctor(id=f"dr-{n:02d}", name=name, email=email or f"dr{n}@example.org", timezone="Europe/Berlin",
                      mobile_phone="+" + digits_of(phone) if phone.startswith("+") else "", availability=window)
               for n, (name, email, phone, _) in enumerate(PEOPLE) if email]
    with clinic.store.write() as view:
        for doctor in doctors:
            view.doctors.put(doctor)
    with clinic.store.read() as view:
        everyone = sorted(view.doctors.all(), key=lambda d: (d.name.casefold(), d.id))
        for text in NEEDLES[1:]:
            needle, digits = search_terms(text)
            found = match_doctors(view, text, limit=100)
            exact = [d.id for d in everyone if d.id.casefold() == needle or search_terms(d.name)[0] == needle]
            want = exact or [d.id for d in everyone
                             if person_matches(needle, digits, d.name, d.email, "", d.id, d.mobile_phone)]
            assert [c.id for c in found.candidates] == want and found.total == len(want), text


@pytest.mark.database_only
def test_the_databases_no_double_booking_rule_is_the_domains_active(clinic: Desk) -> None:
    """The exclusion constraint is written in a migration; it must still say what ACTIVE says."""
    from rxdesk.store.postgres.appointments import STORED_ACTIVE

    store = clinic.store
    assert isinstance(store, PgStore)
    with store.connection() as conn:
        predicate = conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                                 "WHERE conname = 'appointments_no_double_booking'").fetchone()[0]
    named = sorted(s.value for s in lifecycle.ACTIVE)
    assert all(f"'{status}'" in predicate for status in named), predicate
    assert predicate.count("'") == 2 * len(named), predicate
    assert STORED_ACTIVE.as_string(None) == "status IN ({})".format(", ".join(f"'{s}'" for s in named))
