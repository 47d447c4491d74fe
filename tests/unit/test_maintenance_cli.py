"""The maintenance commands as scripts use them."""

from __future__ import annotations

from datetime import timedelta

from rxdesk.services import Desk
from tests.helpers import fingerprint, make_appointment
from tests.receiver import Receiver


def test_reminders_add_list_remove_and_refusals(clinic: Desk, cli, data_dir) -> None:  # type: ignore[no-untyped-def]
    added = cli("reminders", "add", "--type", "prescription", "--recipient", "doctor", "--minutes-before", "30",
                "--sms", "--json")
    assert added.code == 0, added.err
    rule = added.json()
    assert rule["type_key"] == "prescription" and rule["recipient"] == "doctor" and rule["send_sms"] is True
    listed = cli("reminders", "list", "--type", "prescription", "--json").json()
    assert [r["id"] for r in listed] == [rule["id"]]
    before = fingerprint(data_dir)
    for argv in (("--type", "prescription", "--recipient", "nurse", "--minutes-before", "30"),
                 ("--type", "prescription", "--recipient", "doctor", "--minutes-before", "0"),
                 ("--type", "prescription", "--recipient", "doctor", "--minutes-before", "43201"),
                 ("--type", "nope", "--recipient", "doctor", "--minutes-before", "5")):
        result = cli("reminders", "add", *argv)
        assert result.code == 1 and len(result.err.strip().splitlines()) == 1, argv
    assert cli("reminders", "remove", "--type", "prescription", "no-such-rule").code == 1
    assert fingerprint(data_dir) == before
    assert cli("reminders", "remove", "--type", "prescription", rule["id"]).code == 0
    assert cli("reminders", "list", "--type", "prescription", "--json").json() == []
    actions = [e.action for e in clinic.store.read().audit.for_target("appointment_type:prescription")]
    assert actions == ["reminder.add", "reminder.remove"]


def test_subscriptions_deliveries_and_events(clinic: Desk, cli, now) -> None:  # type: ignore[no-untyped-def]
    receiver = Receiver(default=(500, {}))
    try:
        made = cli("subscriptions", "add", "--url", receiver.url, "--event", "APPOINTMENT_CANCELLED",
                   "--header", "X-Shop=riverside", "--json")
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
    finally:
        receiver.close()
