"""Several patients at once: a query for the appointments of any of a set of patients, the
same on both stores (order, windows, counts), and the overview's filter that uses it for a name
several patients share."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rxdesk.domain.models import Appointment, Patient
from rxdesk.domain.queries import AppointmentQuery
from rxdesk.services import Desk
from rxdesk.services.filters import FilterText
from tests.helpers import make_appointment, view_of

pytestmark = pytest.mark.backends


@pytest.fixture
def lenas(clinic: Desk, now: datetime) -> list[Appointment]:
    """Lena Fischer (pat-001) and two more Lenas, with appointments over three weeks, and
    Omar's in between."""
    with clinic.store.write() as view:
        view.patients.put(Patient(id="pat-004", name="Lena Fuchs", phone="+49 176 5550104"))
        view.patients.put(Patient(id="pat-005", name="Lena Berg"))
    made: list[Appointment] = []
    for days, patient, doctor in ((1, "pat-001", "dr-weber"), (1, "pat-002", "dr-sato"), (2, "pat-004", "dr-sato"),
                                  (8, "pat-005", "dr-weber"), (9, "pat-002", "dr-weber"), (15, "pat-004", "dr-osei"),
                                  (15, "pat-001", "dr-sato")):
        made.append(make_appointment(clinic, start=now + timedelta(days=days, hours=2), patient_id=patient,
                                     doctor_id=doctor))
    return made


def test_any_of_these_patients_in_order_in_windows_and_counted(clinic: Desk, lenas: list[Appointment], now: datetime) -> None:
    ids = frozenset({"pat-001", "pat-004", "pat-005"})
    wanted = sorted((a for a in lenas if a.patient_id in ids), key=lambda a: (a.starts_at, a.uid))
    view = view_of(clinic)
    query = AppointmentQuery(patient_ids=ids, starts_from=now, as_of=now)
    page = view.appointments.search(query)
    assert [r.uid for r in page.items] == [a.uid for a in wanted] and page.total == 5
    window = view.appointments.search(AppointmentQuery(patient_ids=ids, starts_from=now, as_of=now, offset=2, limit=2))
    assert [r.uid for r in window.items] == [a.uid for a in wanted[2:4]] and window.total == 5
    assert view.appointments.count(AppointmentQuery(patient_ids=ids, doctor_id="dr-sato", as_of=now)) == 2
    assert view.appointments.count(AppointmentQuery(patient_ids=frozenset(), as_of=now)) == 0
    late = view.appointments.search(AppointmentQuery(patient_ids=ids, starts_from=now + timedelta(days=7),
                                                     starts_before=now + timedelta(days=10), as_of=now))
    assert [r.patient_id for r in late.items] == ["pat-005"]


def test_the_overview_filter_takes_every_patient_a_name_matches(clinic: Desk, lenas: list[Appointment], now: datetime) -> None:
    parsed = clinic.appointments.parse_filter(FilterText(patient="Lena"), overview=True)
    assert parsed.errors == {} and parsed.filter.patient_ids == frozenset({"pat-001", "pat-004", "pat-005"})
    assert parsed.resolved["patient"] == "3 matching 'Lena'"
    rows = clinic.appointments.list_appointments(parsed.filter).items
    assert {r.patient_id for r in rows} == {"pat-001", "pat-004", "pat-005"} and len(rows) == 5
    picks = dict(parsed.picks()["patient"])
    assert picks["pat-004"].startswith("Lena Fuchs · pat-004 · ••• 0104 · next ")
    assert "••• 0101 · next Tue 2026-11-24 11:00" in picks["pat-001"]  # Lena Fischer, +49 170 5550101
    # The command line still wants one: several are refused with the candidates.
    strict = clinic.appointments.parse_filter(FilterText(patient="Lena"))
    assert "3 patients match 'Lena'" in (strict.refusal() or "")
    assert strict.filter.patient_ids == frozenset() and not clinic.appointments.list_appointments(strict.filter).items
