"""The maintenance commands as scripts use them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.config import Settings
from rxdesk.services import Desk
from tests.helpers import Cli, database_url_of, fingerprint, make_appointment, view_of, wait_until
from tests.receiver import Receiver

pytestmark = pytest.mark.backends


def test_reminders_add_list_remove_and_refusals(clinic: Desk, cli: Cli, data_dir: Path) -> None:
    added = cli("reminders", "add", "--type", "prescription", "--recipient", "doctor", "--minutes-before", "30",
                "--sms", "--json")
    assert added.code == 0, added.err
    rule = added.json()
    assert rule["type_key"] == "prescription" and rule["recipient"] == "doctor" and rule["send_sms"] is True
    listed = cli("reminders", "list", "--type", "prescription", "--json").json()
    assert [r["id"] for r in listed] == [rule["id"]]
    before = fingerprint(data_dir)
    for argv, code in ((("--type", "prescription", "--recipient", "nurse", "--minutes-before", "30"), 1),
                       (("--type", "prescription", "--recipient", "doctor", "--minutes-before", "0"), 2),
                       (("--type", "prescription", "--recipient", "doctor", "--minutes-before", "43201"), 2),
                       (("--type", "nope", "--recipient", "doctor", "--minutes-before", "5"), 1)):
        result = cli("reminders", "add", *argv)
        assert result.code == code and len(result.err.strip().splitlines()) == 1, argv
    assert cli("reminders", "remove", "--type", "prescription", "no-such-rule").code == 1
    assert fingerprint(data_dir) == before
    assert cli("reminders", "remove", "--type", "prescription", rule["id"]).code == 0
    assert cli("reminders", "list", "--type", "prescription", "--json").json() == []
    actions = [e.action for e in view_of(clinic).audit.for_target("appointment_type:prescription")]
    assert actions == ["reminder.add", "reminder.remove"]


def test_subscriptions_deliveries_and_events(clinic: Desk, cli: Cli, now: datetime, receiver: Receiver) -> None:
    receiver.default = (500, {})
    made = cli("subscriptions", "add", "--url", receiver.url, "--event", "APPOINTMENT_CANCELLED",
               "--header", "X-Shop=riverside", "--allow-private-network", "--json")
    assert made.code == 0, made.err
    sub = made.json()
    assert sub["secret"].startswith("whsec_") and sub["id"].startswith("sub_")
    listed = cli("subscriptions", "list", "--json")
    assert sub["secret"] not in listed.out and "secret" not in listed.json()[0]
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    assert cli("appointments", "cancel", appt.uid, "--reason", "moved away").code == 0
    assert cli("worker", "--once").code == 0
    (delivery,) = cli("deliveries", "list", "--json").json()
    assert delivery["status"] == "pending" and delivery["attempts"] == 1 and delivery["last_error"] == "answered 500"
    assert cli("deliveries", "replay", delivery["id"]).code == 1  # still pending: retried by itself
    assert cli("deliveries", "list", "--status", "sometimes").code == 1
    events = cli("events", "list", "--type", "APPOINTMENT_CANCELLED", "--json").json()
    assert [e["data"]["appointment"]["uid"] for e in events] == [appt.uid]
    assert cli("events", "list", "--type", "NOT_A_TYPE").code == 1
    assert cli("subscriptions", "remove", sub["id"]).code == 0
    assert cli("subscriptions", "list", "--json").json() == []
    assert cli("subscriptions", "add", "--url", "ftp://x", "--event", "APPOINTMENT_CANCELLED").code == 1


def test_what_the_app_does_in_sections_5_and_6_the_cli_does_too(clinic: Desk, cli: Cli, data_dir: Path, now: datetime, receiver: Receiver) -> None:
    rule = cli("reminders", "add", "--type", "therapy", "--recipient", "patient", "--minutes-before", "60",
               "--email", "--json").json()
    edited = cli("reminders", "edit", "--type", "therapy", rule["id"], "--minutes-before", "90", "--no-email", "--sms",
                 "--json")
    assert edited.code == 0, edited.err
    assert (edited.json()["minutes_before"], edited.json()["send_email"], edited.json()["send_sms"]) == (90, False, True)
    kept = cli("reminders", "edit", "--type", "therapy", rule["id"], "--recipient", "admin", "--json").json()
    assert (kept["recipient"], kept["minutes_before"], kept["send_sms"]) == ("admin", 90, True)
    before = fingerprint(data_dir)
    assert cli("reminders", "edit", "--type", "therapy", rule["id"], "--minutes-before", "0").code == 2
    assert cli("reminders", "edit", "--type", "therapy", "no-such-rule", "--sms").code == 1
    assert fingerprint(data_dir) == before

    sub = cli("subscriptions", "add", "--url", receiver.url, "--event", "APPOINTMENT_CANCELLED",
              "--allow-private-network", "--json").json()
    tested = cli("subscriptions", "test", sub["id"])
    assert tested.code == 0 and "delivered" in tested.out
    assert receiver.received[0].json()["type"] == "rxdesk.test"
    receiver.default = (500, {})
    failed = cli("subscriptions", "test", sub["id"])
    assert failed.code == 1 and failed.err.strip().endswith("answered 500")
    assert cli("subscriptions", "test", "sub_nope").code == 1

    receiver.default = (202, {})
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    clinic.appointments.cancel_appointment(appt.uid, "moved away", "tester")
    assert cli("worker", "--once").code == 0
    (delivery,) = cli("deliveries", "list", "--json").json()
    shown = cli("deliveries", "show", delivery["id"])
    assert shown.code == 0 and appt.uid in shown.out and '{"ok": true}' in shown.out and "202" in shown.out
    as_json = cli("deliveries", "show", delivery["id"], "--json").json()
    assert as_json["payload"]["data"]["appointment"]["uid"] == appt.uid and as_json["status"] == "delivered"
    assert cli("deliveries", "show", "dlv_000000009999").code == 1


def test_the_outbox_lists_reminder_emails_kept_locally(clinic: Desk, cli: Cli, now: datetime) -> None:
    assert cli("reminders", "add", "--type", "gp-consult", "--recipient", "patient", "--minutes-before", "120",
               "--email").code == 0
    make_appointment(clinic, start=now + timedelta(minutes=90))
    assert cli("outbox", "list").err.strip() == "no emails or SMS"
    assert cli("worker", "--once").code == 0
    listed = cli("outbox", "list", "--json").json()
    assert any(m["to"] == "lena.fischer@mail.example" and m["status"] == "outbox" for m in listed)
    assert "lena.fischer@mail.example" in cli("outbox", "list").out


def test_worker_once_json_is_one_line_of_counts_and_refuses_without_once(clinic: Desk, cli: Cli, now: datetime, data_dir: Path, backend: str) -> None:
    from tests.unit.test_worker import only_rule

    only_rule(clinic, "gp-consult", "patient", 60)
    make_appointment(clinic, start=now + timedelta(minutes=30))
    done = cli("worker", "--once", "--json")
    assert done.code == 0, done.err
    answer = done.json()
    assert answer["ok"] and answer["reminders"] == 1 and "1 reminder" in answer["summary"]
    assert cli("worker", "--once", "--json").json()["reminders"] == 0  # exactly once

    refused = cli("worker", "--json")
    assert refused.code == 1 and "--json needs --once" in refused.err

    if backend == "pg":  # the store cannot be opened: a database that is not there
        from tests.pgfixtures import with_database

        broken = cli("worker", "--once", "--json",
                     env={"RXDESK_DATABASE_URL": with_database(database_url_of(clinic), "no_such_db")})
        expected = "does not exist"
    else:
        (data_dir / "rxdesk.json").write_bytes(b"{")
        broken = cli("worker", "--once", "--json")
        expected = "rxdesk.json"
    assert broken.code == 1
    assert broken.json()["ok"] is False and expected in broken.json()["error"]


def test_the_apps_tick_runs_in_a_child_process_that_finishes_when_the_app_stops_waiting(clinic: Desk, now: datetime) -> None:

    from rxdesk.worker.process import tick_in_child
    from tests.unit.test_worker import only_rule

    only_rule(clinic, "gp-consult", "patient", 60)
    make_appointment(clinic, start=now + timedelta(minutes=30))
    done = tick_in_child(clinic.settings, clinic.clock)
    assert done.ok and "1 reminder" in done.text
    assert "reminder" not in tick_in_child(clinic.settings, clinic.clock).text  # exactly once

    # The app closes as a tick starts: it stops waiting at once, and the child still fires.
    make_appointment(clinic, start=now + timedelta(minutes=40), patient_id="pat-002", doctor_id="dr-osei")
    left = tick_in_child(clinic.settings, clinic.clock, cancelled=lambda: True)
    assert not left.ok and "stopped waiting" in left.text

    def fired() -> list[str]:
        return [e.type.value for _, e in view_of(clinic).events.after(0)]

    wait_until(lambda: len(fired()) >= 2, what="the child's tick to record its reminder")
    assert fired() == ["APPOINTMENT_REMINDER_DUE", "APPOINTMENT_REMINDER_DUE"]


def test_settings_survive_the_trip_to_a_child_process(settings: Settings) -> None:
    from datetime import UTC, datetime

    from rxdesk.config import Settings

    full = settings.with_overrides(master_key="k" * 44, smtp_url="smtp://u:p@mail.example:587", mail_from="desk@x.example",
                                   sms_url="https://sms.example/send", sms_token="t0k")
    assert Settings.from_env(full.to_env()) == full
    pinned = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert Settings.from_env(full.to_env(now=pinned)).now == pinned
