"""Doctors and patients named the way agents name them: by id, name, email or phone, in the
app's filters and in `--doctor` / `--patient`. Several matches are refused with the candidates
listed (name, id, email), and the app gets the same candidates for a pick list."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.domain.models import Appointment, Doctor, Patient
from rxdesk.services import Desk
from rxdesk.services.filters import FilterText
from tests.helpers import Cli, fingerprint, make_appointment


@pytest.fixture
def people(clinic: Desk, now: datetime) -> dict[str, Appointment]:
    """The example clinic plus a second Lena F and a second Dr Anna, each with a booking."""
    with clinic.store.write() as w:
        w.patients.put(Patient(id="pat-004", name="Lena Fuchs", email="lena.fuchs@mail.example",
                               phone="+49 176 5550104"))
        w.doctors.put(Doctor(id="dr-berg", name="Dr Anna Berg", email="anna.berg@riverside.example",
                             timezone="Europe/Berlin"))
    return {
        "fischer": make_appointment(clinic, start=now + timedelta(hours=3), patient_id="pat-001"),
        "fuchs": make_appointment(clinic, start=now + timedelta(hours=5), patient_id="pat-004", doctor_id="dr-sato"),
    }


@pytest.mark.parametrize(("typed", "doctor"), [
    ("dr-weber", "dr-weber"),  # the id
    ("Dr Anna Weber", "dr-weber"),  # the whole name, any case or spacing below
    ("dr  anna  WEBER", "dr-weber"),
    ("Weber", "dr-weber"),  # part of the name
    ("emi.sato@", "dr-sato"),  # part of the email
    ("7911 123456", "dr-sato"),  # the mobile number as written, by its digits
    ("+447911123456", "dr-sato"),
])
def test_a_doctor_is_found_by_id_name_email_or_phone(clinic: Desk, people: dict[str, Appointment], typed: str, doctor: str) -> None:
    found = clinic.doctors.match(typed)
    assert found.one is not None and found.one.id == doctor
    assert found.refusal() is None


@pytest.mark.parametrize(("typed", "patient"), [
    ("pat-002", "pat-002"),
    ("shop-10001", "pat-001"),  # the external id
    ("Lena Fischer", "pat-001"),
    ("lena f", None),  # two Lenas F
    ("fuchs@mail", "pat-004"),
    ("5550104", "pat-004"),
    ("rossi", "pat-003"),
])
def test_a_patient_is_found_by_id_external_id_name_email_or_phone(clinic: Desk, people: dict[str, Appointment], typed: str,
                                                                    patient: str | None) -> None:
    found = clinic.patients.match(typed)
    assert (found.one.id if found.one else None) == patient


def test_several_matches_name_every_candidate_in_one_line(clinic: Desk, people: dict[str, Appointment]) -> None:
    found = clinic.patients.match("Lena F")
    assert found.total == 2 and [c.id for c in found.candidates] == ["pat-001", "pat-004"]
    refusal = found.refusal()
    assert refusal is not None and "\n" not in refusal
    assert "2 patients match 'Lena F'" in refusal
    assert "Lena Fischer (pat-001, lena.fischer@mail.example)" in refusal
    assert "Lena Fuchs (pat-004, lena.fuchs@mail.example)" in refusal
    doctors = clinic.doctors.match("anna")
    assert [c.id for c in doctors.candidates] == ["dr-berg", "dr-weber"] and doctors.one is None
    assert clinic.doctors.match("nobody").refusal() == "no doctor matches 'nobody'"


def test_an_exact_name_wins_over_names_that_contain_it(clinic: Desk, people: dict[str, Appointment]) -> None:
    with clinic.store.write() as w:
        w.doctors.put(Doctor(id="dr-weber2", name="Dr Anna Weberling", timezone="Europe/Berlin"))
    exact = clinic.doctors.match("Dr Anna Weber").one
    assert exact is not None and exact.id == "dr-weber"
    assert clinic.doctors.match("Weber").total == 2


def test_a_long_list_of_candidates_says_how_many_more(clinic: Desk) -> None:
    with clinic.store.write() as w:
        for i in range(14):
            w.patients.put(Patient(id=f"pat-j{i:02d}", name=f"Jan Jansen {i:02d}", email=f"jan{i}@mail.example"))
    found = clinic.patients.match("jansen")
    assert found.total == 14 and len(found.candidates) == 10
    assert (found.refusal() or "").count("(pat-j") == 10 and "and 4 more" in (found.refusal() or "")
    assert len(clinic.patients.match("jansen", limit=50).candidates) == 14


def test_the_app_filter_offers_the_candidates_of_an_ambiguous_name(clinic: Desk, people: dict[str, Appointment]) -> None:
    parsed = clinic.appointments.parse_filter(FilterText(patient="Lena F", doctor="Sato"))
    assert parsed.filter.patient_id is None and parsed.filter.doctor_id == "dr-sato"
    assert "type more" in parsed.errors["patient"]
    assert [c.id for c in parsed.matches["patient"].candidates] == ["pat-001", "pat-004"]
    assert parsed.resolved["doctor"] == "Dr Emi Sato"


def test_the_command_line_takes_names_like_the_app(cli: Cli, people: dict[str, Appointment]) -> None:
    listed = cli("appointments", "list", "--patient", "Lena Fuchs", "--json")
    assert listed.code == 0, listed.err
    assert [r["uid"] for r in listed.json()] == [people["fuchs"].uid]
    by_phone = cli("appointments", "list", "--patient", "170 5550101", "--doctor", "weber", "--json")
    assert [r["uid"] for r in by_phone.json()] == [people["fischer"].uid]


def test_the_command_line_refuses_a_name_that_several_match(cli: Cli, people: dict[str, Appointment], data_dir: Path) -> None:
    """A command acting on one patient refuses a name several share; a listing takes them all."""
    before = fingerprint(data_dir)
    listed = cli("appointments", "list", "--patient", "Lena F", "--json")
    assert [row["uid"] for row in listed.json()] == [people["fischer"].uid, people["fuchs"].uid]
    result = cli("patients", "show", "Lena F")
    assert result.code == 1 and result.out == ""
    assert result.err.count("\n") == 1
    assert "2 patients match 'Lena F'" in result.err
    assert "(pat-001, lena.fischer@mail.example)" in result.err and "(pat-004, lena.fuchs@mail.example)" in result.err
    both = cli("appointments", "list", "--doctor", "Anna", "--patient", "nobody")
    assert both.code == 1 and both.err.count("\n") == 1
    assert "Dr Anna Berg (dr-berg" in both.err and "no patient matches 'nobody'" in both.err
    assert fingerprint(data_dir) == before
