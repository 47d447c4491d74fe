"""`appointments list --patient` takes every patient a name several share, as the app's patient
field does, and says how many; a command acting on one patient still refuses several."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rxdesk.domain.models import Appointment, Patient
from rxdesk.services import Desk
from tests.helpers import fingerprint, make_appointment, run_cli

pytestmark = pytest.mark.backends


@pytest.fixture
def lenas(clinic: Desk, now: datetime) -> list[Appointment]:
    """Lena Fischer (pat-001) and two more Lenas, with appointments over three weeks, and
    Omar's (pat-002) in between."""
    with clinic.store.write() as view:
        view.patients.put(Patient(id="pat-004", name="Lena Fuchs", phone="+49 176 5550104"))
        view.patients.put(Patient(id="pat-005", name="Lena Berg"))
    return [make_appointment(clinic, start=now + timedelta(days=days, hours=2), patient_id=patient, doctor_id=doctor)
            for days, patient, doctor in ((1, "pat-001", "dr-weber"), (1, "pat-002", "dr-sato"),
                                          (2, "pat-004", "dr-sato"), (8, "pat-005", "dr-weber"),
                                          (9, "pat-002", "dr-weber"), (15, "pat-004", "dr-osei"),
                                          (15, "pat-001", "dr-sato"))]


def test_appointments_list_takes_every_patient_a_name_matches_and_says_how_many(
        clinic: Desk, lenas: list[Appointment], cli_env: dict[str, str]) -> None:
    listed = run_cli("appointments", "list", "--patient", "Lena", "--json", env=cli_env)
    assert listed.code == 0, listed.err
    wanted = sorted((a for a in lenas if a.patient_id != "pat-002"), key=lambda a: (a.starts_at, a.uid))
    assert [row["uid"] for row in listed.json()] == [a.uid for a in wanted]
    assert "patient: 3 matching 'Lena'" in listed.err.splitlines()
    table = run_cli("appointments", "list", "--patient", "lena", "--doctor", "Sato", env=cli_env)
    assert table.code == 0 and table.err.splitlines()[0] == "patient: 3 matching 'lena'"
    assert [line.split()[-1] for line in table.out.splitlines()[1:]] == [
        a.uid for a in wanted if a.doctor_id == "dr-sato"]
    one = run_cli("appointments", "list", "--patient", "Lena Berg", env=cli_env)
    assert one.code == 0 and "matching" not in one.err and len(one.out.splitlines()) == 2


def test_a_command_acting_on_one_patient_refuses_a_name_several_share(
        clinic: Desk, lenas: list[Appointment], cli_env: dict[str, str]) -> None:
    before = fingerprint(clinic.settings.data_dir)
    booked = run_cli("appointments", "book", "--patient", "Lena", "--type", "gp-consult",
                     "--start", "2026-11-23T12:00", env=cli_env)
    assert booked.code == 1 and booked.err.count("\n") == 1
    assert "3 patients match 'Lena'" in booked.err and "pat-004" in booked.err and "name one by its id" in booked.err
    shown = run_cli("patients", "show", "Lena", env=cli_env)
    assert shown.code == 1 and "3 patients match 'Lena'" in shown.err
    assert fingerprint(clinic.settings.data_dir) == before
