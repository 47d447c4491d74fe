"""The command line of the foundation: JSON field names, exit codes, one-line refusals."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.domain.models import Appointment
from rxdesk.domain.models import AppointmentStatus as S
from rxdesk.services import Desk
from tests.helpers import CLINIC_TOML, Cli, fingerprint, make_appointment

pytestmark = pytest.mark.backends

APPOINTMENT_FIELDS = {
    "uid", "patient_id", "doctor_id", "type_key", "status", "starts_at", "ends_at", "created_at",
    "hold_expires_at", "confirmed_at", "cancelled_at", "cancel_reason", "cancelled_by",
    "previous_meeting_uid", "room_url", "attendance_note", "attendance_by", "attendance_at", "created_by",
}


@pytest.fixture
def booked(clinic: Desk, now: datetime) -> list[Appointment]:
    return [
        make_appointment(clinic, start=now + timedelta(hours=2)),
        make_appointment(clinic, start=now + timedelta(days=1), doctor_id="dr-sato", patient_id="pat-002"),
        make_appointment(clinic, start=now - timedelta(days=1), status=S.completed),
    ]


def test_list_json_uses_entity_field_names(cli: Cli, booked: list[Appointment]) -> None:
    result = cli("appointments", "list", "--json")
    assert result.code == 0, result.err
    rows = result.json()
    assert [r["uid"] for r in rows] == [booked[0].uid, booked[1].uid]
    assert set(rows[0]) == APPOINTMENT_FIELDS
    assert rows[0]["starts_at"].endswith("Z")


def test_list_human_table_in_org_zone(cli: Cli, booked: list[Appointment]) -> None:
    out = cli("appointments", "list").out.splitlines()
    assert out[0].split() == ["START", "DOCTOR", "PATIENT", "TYPE", "STATUS", "UID"]
    # 10:00 UTC is 11:00 in Berlin (the org zone), a Monday.
    assert out[1].startswith("Mon 2026-11-23 11:00")


def test_list_filters_from_the_command_line(cli: Cli, booked: list[Appointment]) -> None:
    assert [r["uid"] for r in cli("appointments", "list", "--doctor", "dr-sato", "--json").json()] == [booked[1].uid]
    assert [r["uid"] for r in cli("appointments", "list", "--status", "completed", "--all", "--json").json()] == [booked[2].uid]
    got = cli("appointments", "list", "--from", "2026-11-22", "--to", "today", "--status", "completed", "--status", "confirmed", "--json").json()
    assert [r["uid"] for r in got] == [booked[2].uid, booked[0].uid]


def test_cancel_and_show(cli: Cli, booked: list[Appointment]) -> None:
    uid = booked[0].uid
    result = cli("appointments", "cancel", uid, "--reason", "Patient called", "--json")
    assert result.code == 0, result.err
    assert result.json()["status"] == "cancelled"
    shown = cli("appointments", "show", uid, "--json").json()
    assert shown["cancel_reason"] == "Patient called" and shown["cancelled_by"] == "admin:tester"
    assert shown["audit"][0]["actor"] == "admin:tester"
    assert set(shown) >= APPOINTMENT_FIELDS


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("appointments", "cancel", "{completed}", "--reason", "late"), 1, "has ended; mark it no_show instead"),
        (("appointments", "cancel", "{confirmed}", "--reason", "  "), 1, "a reason is required"),
        (("appointments", "cancel", "2611zzzzzzzzzz", "--reason", "x"), 1, "no appointment"),
        (("appointments", "cancel", "{confirmed}"), 2, "--reason"),
        (("appointments", "show", "nope"), 1, "no appointment 'nope'"),
        (("appointments", "list", "--status", "later"), 1, "status 'later'"),
        (("appointments", "list", "--from", "2026-02-30"), 1, "not a real date"),
        (("appointments", "list", "--from", "soon"), 1, "is not a date"),
        (("appointments", "list", "--from", "2026-12-01", "--to", "2026-11-01"), 1, "--to is before --from"),
        (("appointments", "list", "--doctor", "dr-who"), 1, "no doctor"),
        (("appointments", "frobnicate"), 2, "invalid choice"),
        (("patients", "show", "pat-999"), 1, "no patient"),
        (("doctors", "show", "dr-who"), 1, "no doctor"),
        (("provision", "/nonexistent/file.toml"), 1, "no such file"),
        (("appointments",), 2, "a command is required"),
    ],
)
def test_refusals_are_one_line_and_change_nothing(cli: Cli, booked: list[Appointment], data_dir: Path, args: tuple[str, ...], code: int, message: str) -> None:
    names = {"{completed}": booked[2].uid, "{confirmed}": booked[0].uid}
    args = tuple(names.get(a, a) for a in args)
    before = fingerprint(data_dir)
    result = cli(*args)
    assert result.code == code
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "Traceback" not in result.err
    assert fingerprint(data_dir) == before


def test_bad_rxdesk_now_is_one_line(cli: Cli, booked: list[Appointment]) -> None:
    result = cli("appointments", "list", env={"RXDESK_NOW": "next tuesday"})
    assert result.code == 1 and "RXDESK_NOW" in result.err


def test_bad_agent_name_is_refused(cli: Cli, booked: list[Appointment]) -> None:
    result = cli("appointments", "cancel", booked[0].uid, "--reason", "x", "--agent", "bad name\n")
    assert result.code == 1 and "agent name" in result.err


def test_rxdesk_now_moves_the_default_view(cli: Cli, booked: list[Appointment]) -> None:
    later = cli("appointments", "list", "--json", env={"RXDESK_NOW": "2026-11-23T12:00:00Z"}).json()
    assert [r["uid"] for r in later] == [booked[1].uid]


def test_global_options_work_before_and_after_the_command(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "other"
    assert cli("--data-dir", str(other), "provision", str(CLINIC_TOML)).code == 0
    assert len(cli("doctors", "list", "--json", "--data-dir", str(other)).json()) == 3


def test_people_commands(cli: Cli, booked: list[Appointment]) -> None:
    patients = cli("patients", "list", "--search", "rossi", "--json").json()
    assert [p["id"] for p in patients] == ["pat-003"]
    assert set(patients[0]) == {"id", "name", "email", "phone", "external_id"}
    assert [p["id"] for p in cli("patients", "list", "--search", "5550102", "--json").json()] == ["pat-002"]
    detail = cli("patients", "show", "pat-001", "--json").json()
    assert [a["uid"] for a in detail["upcoming"]] == [booked[0].uid]
    assert [a["uid"] for a in detail["history"]] == [booked[2].uid]
    doctor = cli("doctors", "show", "dr-weber", "--json").json()
    assert doctor["mobile_phone"] == "+4915111223344" and doctor["room_url"].startswith("https://meet.jit.si/")
    types = cli("types", "list", "--json").json()
    assert {t["key"] for t in types} == {"gp-consult", "therapy", "prescription"}
    assert types[0]["reminders"] is not None


@pytest.mark.parametrize("command", [("appointments", "list"), ("patients", "list"), ("secrets", "create"),
                                     ("worker", "--once"), ("token", "verify", "a.b.c"), ("doctors", "show", "x")])
def test_a_data_dir_without_rxdesk_data_is_refused_never_read_as_an_empty_clinic(cli: Cli, data_dir: Path, command: tuple[str, ...], backend: str) -> None:
    """`--data-dir /typo appointments list` said "no appointments match": an agent with a typo
    believed the clinic had no bookings."""
    result = cli(*command)
    if backend == "pg":  # an empty database: the same refusal, naming the database
        assert result.code == 1 and result.err.count("\n") == 1
        assert "holds no rxdesk data" in result.err and "rxdesk store import" in result.err
        assert not data_dir.exists()
        return
    assert result.code == 1 and result.err.count("\n") == 1
    assert f"data dir {data_dir} does not exist" in result.err and "rxdesk provision" in result.err
    assert not data_dir.exists()
    data_dir.mkdir()
    result = cli(*command)
    assert result.code == 1 and "holds no rxdesk data" in result.err
    assert [p.name for p in data_dir.iterdir()] == []


@pytest.mark.data_dir_only
def test_demo_and_provision_may_start_from_an_empty_data_dir(cli: Cli, data_dir: Path) -> None:
    assert cli("provision", str(CLINIC_TOML)).code == 0
    assert cli("patients", "list").code == 0
    assert cli("--data-dir", str(data_dir.parent / "demo"), "demo", "--appointments", "50").code == 0


@pytest.mark.data_dir_only
def test_a_data_dir_the_file_system_refuses_is_one_line(cli: Cli, tmp_path: Path) -> None:
    """Found by the junk-input property test: a 5,000-character data dir was an internal error."""
    for bad in ("x" * 5000, str(tmp_path / ("y" * 300))):
        result = cli("--data-dir", bad, "appointments", "list")
        assert result.code == 1 and result.err.count("\n") == 1
        assert "File name too long" in result.err and "internal error" not in result.err
        assert len(result.err) < 300  # the path is shortened, not echoed whole


def test_list_shows_the_appointment_in_progress_marked_and_says_its_window(cli: Cli, booked: list[Appointment], clinic: Desk, now: datetime) -> None:
    running = make_appointment(clinic, start=now - timedelta(minutes=10), doctor_id="dr-osei", patient_id="pat-003")
    result = cli("appointments", "list")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[1].split()[-4:] == ["confirmed", "(in", "progress)", running.uid]
    assert "(in progress)" not in "".join(lines[2:])
    assert result.err.strip() == "held, confirmed · not ended: 3 listed"
    assert [r["uid"] for r in cli("appointments", "list", "--json").json()] == [running.uid, booked[0].uid,
                                                                               booked[1].uid]
    # Only past statuses: the past, newest first, and the window says so.
    older = make_appointment(clinic, start=now - timedelta(days=3), status=S.completed)
    past = cli("appointments", "list", "--status", "completed")
    assert [line.split()[-1] for line in past.out.splitlines()[1:]] == [booked[2].uid, older.uid]
    assert past.err.strip() == "completed · any time · newest first: 2 listed"
    nothing = cli("appointments", "list", "--status", "no_show")
    assert nothing.code == 0 and nothing.err.strip() == "no appointments match (no_show · any time · newest first)"
