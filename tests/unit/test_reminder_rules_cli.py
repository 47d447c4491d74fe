"""Reminder rules from the command line: a new rule reminds only moments still to come
(`--also-now` reminds the appointments already inside its window), identical rules are
refused, and what `reminders edit` does when a rule reaches further ahead."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import Cli, fingerprint, make_appointment
from tests.unit.test_worker import only_rule

pytestmark = pytest.mark.backends


def inside_the_window(clinic: Desk, now: datetime) -> list[str]:
    """Two confirmed appointments within the next three days, booked long ago."""
    only_rule(clinic, "gp-consult", "doctor", 5)
    return [make_appointment(clinic, start=now + timedelta(hours=h), patient_id=p,
                             created_at=now - timedelta(days=10)).uid
            for h, p in ((5, "pat-001"), (50, "pat-002"))]


def test_a_rule_added_inside_the_window_sends_nothing_without_also_now(clinic: Desk, cli: Cli, now: datetime) -> None:
    inside_the_window(clinic, now)
    added = cli("reminders", "add", "--type", "gp-consult", "--recipient", "patient", "--minutes-before", "4320",
                "--email", "--sms")
    assert added.code == 0
    assert "2 confirmed appointments already inside its window: not reminded (--also-now" in added.out
    ticked = cli("worker", "--once", "--json")
    assert ticked.code == 0 and ticked.json()["reminders"] == 0
    assert cli("outbox", "list", "--json").json() == []
    later = (now + timedelta(hours=80)).strftime("%Y-%m-%dT%H:%M:%SZ")
    make_appointment(clinic, start=now + timedelta(days=5), patient_id="pat-003", doctor_id="dr-osei")
    # Its moment (start - 3 d) comes after the rule was made: that one is reminded.
    assert cli("worker", "--once", "--json", env={"RXDESK_NOW": later}).json()["reminders"] == 1


def test_also_now_reminds_them_at_once(clinic: Desk, cli: Cli, now: datetime) -> None:
    uids = inside_the_window(clinic, now)
    added = cli("reminders", "add", "--type", "gp-consult", "--recipient", "patient", "--minutes-before", "4320",
                "--email", "--json", "--also-now")
    assert added.code == 0 and added.json()["inside_window"] == 2 and added.json()["reminded_now"] == 2
    outbox = cli("outbox", "list", "--json").json()
    assert sorted(m["appointment_uid"] for m in outbox) == sorted(uids)
    assert all(m["channel"] == "email" and m["status"] == "outbox" for m in outbox)
    assert cli("worker", "--once", "--json").json()["reminders"] == 0  # not a second time


def test_an_identical_rule_is_refused_naming_the_one_there(clinic: Desk, cli: Cli, data_dir: Path, backend: str) -> None:
    only_rule(clinic, "gp-consult", "patient", 60)
    (rule_id,) = [r["id"] for r in cli("reminders", "list", "--type", "gp-consult", "--json").json()]
    before = fingerprint(data_dir)
    again = cli("reminders", "add", "--type", "gp-consult", "--recipient", "patient", "--minutes-before", "60")
    assert again.code == 1 and again.err.count("\n") == 1
    assert f"already has rule {rule_id}: patient, 1 h before" in again.err
    assert cli("reminders", "add", "--type", "gp-consult", "--recipient", "doctor", "--minutes-before", "60").code == 0
    doctor_rule = [r["id"] for r in cli("reminders", "list", "--type", "gp-consult", "--json").json()
                   if r["recipient"] == "doctor"][0]
    edited = cli("reminders", "edit", "--type", "gp-consult", doctor_rule, "--recipient", "patient")
    assert edited.code == 1 and f"already has rule {rule_id}" in edited.err
    if backend == "tiny":
        assert cli("reminders", "list", "--type", "gp-consult", "--json").code == 0
    assert cli("reminders", "add", "--type", "gp-consult", "--recipient", "patient",
               "--minutes-before", "43201").code == 2  # minutes stay 1..43200
    assert before != fingerprint(data_dir)  # the doctor rule was added; nothing else changed


def test_editing_a_rule_to_reach_further_ahead_reminds_from_the_edit_on(clinic: Desk, cli: Cli, now: datetime, clock: FixedClock) -> None:
    only_rule(clinic, "gp-consult", "patient", 60)
    make_appointment(clinic, start=now + timedelta(hours=5))
    rule_id = cli("reminders", "list", "--type", "gp-consult", "--json").json()[0]["id"]
    edited = cli("reminders", "edit", "--type", "gp-consult", rule_id, "--minutes-before", "1440")
    assert edited.code == 0 and "1 confirmed appointment already inside its window: not reminded" in edited.out
    assert MaintenanceService(clinic).tick().reminders == 0
    shrunk = cli("reminders", "edit", "--type", "gp-consult", rule_id, "--minutes-before", "120")
    assert shrunk.code == 0 and "inside its window" not in shrunk.out
    clock.set(now + timedelta(hours=3))  # 2 h before: after the edit, so it reminds
    assert MaintenanceService(clinic).tick().reminders == 1


def test_provisioning_refuses_two_identical_rules_and_dates_new_rules(cli: Cli, tmp_path: Path, now: datetime) -> None:
    rule = '[[appointment_types.reminders]]\nid = "{}"\nrecipient = "patient"\nminutes_before = 60\n'
    head = ('[org]\nname = "Clinic"\ntimezone = "Europe/Berlin"\njitsi_base_url = "https://meet.jit.si"\n'
            '[[appointment_types]]\nkey = "gp"\nname = "GP"\nduration_minutes = 20\n')
    twice = tmp_path / "twice.toml"
    twice.write_text(head + rule.format("first") + rule.format("second"))
    refused = cli("provision", str(twice))
    assert refused.code == 1 and "appointment_types[0].reminders[1]" in refused.err and "rule first" in refused.err
    once = tmp_path / "once.toml"
    once.write_text(head + rule.format("first"))
    assert cli("provision", str(once)).code == 0
    (stored,) = cli("reminders", "list", "--json").json()
    assert stored["created_at"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    again = cli("provision", str(once))  # the same file again: nothing to say about the rules
    assert again.code == 0 and "kept its" not in again.out


def test_the_count_before_saving_is_what_saving_counts(clinic: Desk, now: datetime) -> None:
    inside_the_window(clinic, now)  # two booked long ago, within 5 h and 50 h
    make_appointment(clinic, start=now + timedelta(hours=20), patient_id="pat-003", created_at=now)  # booked inside
    before = clinic.reminders.inside_window("gp-consult", "patient", "3d")
    assert before is not None and (before.inside, before.remindable) == (3, 2)
    assert [r.rule.recipient.value for r in clinic.reminders.list_rules("gp-consult")] == ["doctor"]  # nothing saved
    row = clinic.reminders.add_rule("gp-consult", "patient", "3d", agent="tester", also_now=True)
    assert (row.inside_window, row.reminded_now, row.booked_inside) == (3, 2, 1)
    # An edit that does not start the rule afresh counts nothing; one that reaches further does.
    assert clinic.reminders.inside_window("gp-consult", "patient", "2d", row.rule.id) is None
    further = clinic.reminders.inside_window("gp-consult", "patient", "4d", row.rule.id)
    assert further is not None and further.remindable == 0  # the two it could remind, it already has
