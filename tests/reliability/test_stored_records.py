"""What is stored is read as it is: input rules hold where input enters, never on a read.

An older rxdesk (or a hand-edited data dir) may have stored text today's rules refuse: a name
with an escape sequence or a bidi override. Every read (listings, details, `--json`, a worker
tick, `store import`) takes such a record as it is and shows it escaped; only a record of the
wrong shape is refused, named in one line.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.models import Appointment, Doctor, Patient, RecipientGroup, ReminderRule
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import Cli, make_appointment, run_cli, view_of
from tests.pgfixtures import PgServer

pytestmark = pytest.mark.backends

RED = "\x1b[31m"
FLIPPED = "\u202e"
PATIENT_NAME = f"Lena {RED}Vogel{FLIPPED}gnp.exe"
DOCTOR_NAME = f"Dr Anna {RED}Weber{FLIPPED}"


def raw_in(text: str) -> list[str]:
    return [ch for ch in text if (ord(ch) < 32 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F
            or 0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069]


def store_as_an_older_version(desk: Desk) -> None:
    """Names today's rules refuse, written straight to the store (as an older version did)."""
    with desk.store.write() as w:
        lena = w.patients.require("pat-001")
        w.patients.put(lena.model_copy(update={"name": PATIENT_NAME}))
        weber = w.doctors.require("dr-weber")
        w.doctors.put(weber.model_copy(update={"name": DOCTOR_NAME}))


@pytest.fixture
def old_names(clinic: Desk, now: datetime) -> Appointment:
    # A reminder due at the next tick: the patient's, and the doctor's (which names the patient).
    with clinic.store.write() as w:
        gp = w.types.require("gp-consult")
        rules = [ReminderRule(id="soon", recipient=RecipientGroup.patient, minutes_before=120, send_email=True),
                 ReminderRule(id="soon-doctor", recipient=RecipientGroup.doctor, minutes_before=120, send_email=True)]
        w.types.put(gp.model_copy(update={"reminders": rules}))
    appt = make_appointment(clinic, start=now + timedelta(minutes=90), created_at=now - timedelta(days=2))
    store_as_an_older_version(clinic)
    return appt


def test_the_rules_refuse_these_names_as_input() -> None:
    for name in (PATIENT_NAME, DOCTOR_NAME, "Lena\u202eVogel", "Lena\x85Vogel", "Lena\x7fVogel"):
        with pytest.raises(ValueError):
            Patient(id="pat-x", name=name)
        with pytest.raises(ValueError):
            Doctor(id="dr-x", name=name)


@pytest.mark.parametrize("command", [
    ("patients", "list"),
    ("patients", "list", "--search", "Lena"),
    ("patients", "show", "pat-001"),
    ("doctors", "list"),
    ("doctors", "show", "dr-weber"),
    ("appointments", "list"),
])
def test_listings_and_details_read_what_is_stored_and_escape_it(cli: Cli, old_names: Appointment, command: tuple[str, ...]) -> None:
    result = cli(*command)
    assert result.code == 0, result.err
    assert raw_in(result.out) == [] and raw_in(result.err) == []
    assert "\\x1b[31m" in result.out and "\\u202e" in result.out


def texts_in(value: object) -> list[str]:
    if isinstance(value, dict):
        return [t for item in value.values() for t in texts_in(item)]
    if isinstance(value, list):
        return [t for item in value for t in texts_in(item)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("command", [
    ("patients", "list", "--json"),
    ("patients", "list", "--search", "Lena", "--json"),
    ("patients", "show", "pat-001", "--json"),
    ("doctors", "list", "--json"),
    ("doctors", "show", "dr-weber", "--json"),
])
def test_json_carries_the_stored_names_escaped(cli: Cli, old_names: Appointment, command: tuple[str, ...]) -> None:
    result = cli(*command)
    assert result.code == 0, result.err
    assert raw_in(result.out) == []
    assert "\\u001b[31m" in result.out and "\\u202e" in result.out
    assert {PATIENT_NAME, DOCTOR_NAME} & set(texts_in(result.json()))  # the value round-trips exactly


def test_json_escapes_del_and_c1_controls_too(cli: Cli, clinic: Desk) -> None:
    name = "Lena\x7f\x85\x9b2J\u2066Vogel"
    with clinic.store.write() as w:
        w.patients.put(w.patients.require("pat-001").model_copy(update={"name": name}))
    result = cli("patients", "show", "pat-001", "--json")
    assert result.code == 0, result.err
    assert raw_in(result.out) == [] and "\\u007f\\u0085\\u009b2J\\u2066" in result.out
    assert result.json()["name"] == name


def test_an_appointments_detail_names_both(cli: Cli, old_names: Appointment) -> None:
    shown = cli("appointments", "show", old_names.uid)
    assert shown.code == 0, shown.err
    assert raw_in(shown.out) == [] and "Lena \\x1b[31mVogel\\u202egnp.exe" in shown.out
    data = cli("appointments", "show", old_names.uid, "--json")
    assert data.code == 0, data.err
    assert raw_in(data.out) == []
    assert data.json()["patient"]["name"] == PATIENT_NAME and data.json()["doctor"]["name"] == DOCTOR_NAME


def test_a_worker_tick_fires_the_reminders_of_such_a_patient(cli: Cli, old_names: Appointment, clinic: Desk) -> None:
    ticked = cli("worker", "--once", "--json")
    assert ticked.code == 0, ticked.err
    assert raw_in(ticked.out) == [] and raw_in(ticked.err) == []
    events = [e for e in clinic.webhooks.list_events().items if e.type == "APPOINTMENT_REMINDER_DUE"]
    recipients = {e.data["recipient"]["name"] for e in events}
    assert recipients == {PATIENT_NAME, DOCTOR_NAME}
    outbox = cli("outbox", "list")
    assert outbox.code == 0 and raw_in(outbox.out) == []


def test_the_service_reads_them_too(old_names: Appointment, clinic: Desk) -> None:
    assert clinic.patients.show("pat-001").patient.name == PATIENT_NAME
    report = MaintenanceService(clinic).tick()
    assert report.reminders == 2


@pytest.mark.data_dir_only
def test_store_import_takes_them_over(clinic: Desk, old_names: Appointment, cli_env: dict[str, str], pg_server: PgServer, tmp_path: Path) -> None:
    name = pg_server.create()
    try:
        env = {**cli_env, "RXDESK_DATABASE_URL": pg_server.url(name)}
        imported = run_cli("store", "import", cli_env["RXDESK_DATA_DIR"], env=env)
        assert imported.code == 0, imported.err
        assert raw_in(imported.out) == [] and raw_in(imported.err) == []
        shown = run_cli("patients", "show", "pat-001", "--json", env=env)
        assert shown.code == 0, shown.err
        assert shown.json()["name"] == PATIENT_NAME
    finally:
        pg_server.drop(name)


def damage_a_doctor(desk: Desk) -> None:
    """A stored doctor of another shape (a number for a name): no rule, the record itself."""
    with desk.store.write() as w, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic's "expected str" while writing it: the point here
        w.doctors.put(w.doctors.require("dr-weber").model_copy(update={"name": 42}))


def test_a_record_of_the_wrong_shape_is_named_in_one_line(clinic: Desk, cli: Cli, now: datetime) -> None:
    make_appointment(clinic, start=now + timedelta(days=1))
    damage_a_doctor(clinic)
    with pytest.raises(RxdeskError) as refused:
        view_of(clinic).doctors.get("dr-weber")
    assert "doctor 'dr-weber'" in str(refused.value) and "name" in str(refused.value)
    shown = cli("doctors", "show", "dr-weber")
    assert shown.code == 1 and shown.err.count("\n") == 1 and "doctor 'dr-weber'" in shown.err
    assert "internal error" not in shown.err
    # Listings that only name the doctor show what is stored, as text.
    for command in (("appointments", "list"), ("patients", "show", "pat-001")):
        listed = cli(*command)
        assert listed.code == 0 and "42" in listed.out, (command, listed.err)


def test_a_tick_names_an_unreadable_record_and_goes_on(clinic: Desk, now: datetime) -> None:
    """The reminder that needs the damaged doctor is named as a problem; the others fire."""
    with clinic.store.write() as w:
        gp = w.types.require("gp-consult")
        w.types.put(gp.model_copy(update={"reminders": [
            ReminderRule(id="soon", recipient=RecipientGroup.patient, minutes_before=120, send_email=True)]}))
    make_appointment(clinic, start=now + timedelta(minutes=90), created_at=now - timedelta(days=2))
    fine = make_appointment(clinic, start=now + timedelta(minutes=90), doctor_id="dr-osei", patient_id="pat-002",
                            created_at=now - timedelta(days=2))
    damage_a_doctor(clinic)
    report = MaintenanceService(clinic).tick()
    assert report.reminders == 1
    assert any("doctor 'dr-weber'" in problem for problem in report.problems), report.problems
    (event,) = [e for e in clinic.webhooks.list_events().items if e.type == "APPOINTMENT_REMINDER_DUE"]
    assert event.data["appointment"]["uid"] == fine.uid


@pytest.mark.data_dir_only
def test_the_stores_read_entities_only_through_from_stored() -> None:
    """Both stores build what they read with `Entity.from_stored` (or, for appointments, from
    their validated JSON form): a plain `model_validate` on a read would apply input rules."""
    store = Path(__file__).resolve().parents[2] / "rxdesk" / "store"
    found = [f"{path.relative_to(store)}:{n}" for path in sorted(store.rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if ".model_validate" in line]
    assert found == []
