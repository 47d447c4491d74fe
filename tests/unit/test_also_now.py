"""Adding a rule says how many confirmed appointments are inside its window, and when
`--also-now` reminds fewer of them, why: an appointment confirmed after the moment the rule
reminds at was booked inside the window (the patient knew the time), and the rule of
`domain.reminders` leaves it out, `--also-now` or not.

(`--minutes-before 43199 --also-now` with three such appointments printed only "added reminder
rule patient-43199m": nobody was reminded, and nothing said why.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from rxdesk.services import Desk
from tests.helpers import CliResult, make_appointment

pytestmark = pytest.mark.backends

CliRunner = Callable[..., CliResult]
PATIENTS = ("pat-001", "pat-002", "pat-003")
DOCTORS = ("dr-weber", "dr-osei", "dr-sato")


def booked_last_week(clinic: Desk, now: datetime, count: int) -> list[str]:
    """Appointments in 10 to 12 days, confirmed a week ago: after a 30-day rule's moment."""
    return [make_appointment(clinic, start=now + timedelta(days=10 + i), patient_id=PATIENTS[i],
                             doctor_id=DOCTORS[i], created_at=now - timedelta(days=7)).uid for i in range(count)]


def add(cli: CliRunner, *extra: str) -> CliResult:
    return cli("reminders", "add", "--type", "gp-consult", "--recipient", "patient", "--minutes-before", "43199",
               "--email", *extra)


def test_also_now_says_why_it_reminds_none_of_the_appointments_inside_the_window(
        clinic: Desk, cli: CliRunner, now: datetime) -> None:
    booked_last_week(clinic, now, 3)
    added = add(cli, "--also-now")
    assert added.code == 0, added.err
    assert "3 confirmed appointments already inside its window: none reminded" in added.out
    assert "3 of them were confirmed after the moment the rule reminds at" in added.out
    edited = cli("reminders", "edit", "--type", "gp-consult", "patient-43199m", "--recipient", "doctor",
                 "--also-now", "--json")
    assert edited.code == 0, edited.err
    assert {k: edited.json()[k] for k in ("inside_window", "reminded_now", "booked_inside")} == {
        "inside_window": 3, "reminded_now": 0, "booked_inside": 3}
    assert cli("outbox", "list", "--json").json() == []


def test_also_now_reminds_those_confirmed_before_their_moment_and_names_the_rest(
        clinic: Desk, cli: CliRunner, now: datetime) -> None:
    long_ago = make_appointment(clinic, start=now + timedelta(days=9), created_at=now - timedelta(days=40)).uid
    booked_last_week(clinic, now, 2)
    added = add(cli, "--also-now", "--json")
    assert added.code == 0, added.err
    assert {k: added.json()[k] for k in ("inside_window", "reminded_now", "booked_inside")} == {
        "inside_window": 3, "reminded_now": 1, "booked_inside": 2}
    assert [m["appointment_uid"] for m in cli("outbox", "list", "--json").json()] == [long_ago]


def test_without_also_now_it_says_how_many_it_would_remind(clinic: Desk, cli: CliRunner, now: datetime) -> None:
    make_appointment(clinic, start=now + timedelta(days=9), created_at=now - timedelta(days=40))
    booked_last_week(clinic, now, 1)
    added = add(cli)
    assert "2 confirmed appointments already inside its window: not reminded (--also-now reminds 1 of them now)" \
        in added.out
    assert "1 of them was confirmed after the moment" in added.out
