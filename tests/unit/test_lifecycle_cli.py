"""One appointment's whole life on the command line, time set with RXDESK_NOW: held, confirmed,
completed by time (before and after the tick writes it down), corrected to no_show; then a
doctor's room changed. Every event is checked."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from rxdesk.services import Desk
from tests.helpers import Cli, fingerprint
from tests.unit.test_tokens_minting import claims_at, mint

pytestmark = pytest.mark.backends

SLOT = "2026-11-23T10:00:00Z"  # Monday 11:00 in Berlin; gp-consult lasts 30 minutes


def at(instant: str) -> dict[str, str]:
    return {"RXDESK_NOW": instant}


def test_held_confirmed_completed_then_corrected_to_no_show(clinic: Desk, cli: Cli, now: datetime) -> None:
    secret = cli("secrets", "create", "--label", "shop", "--json").json()
    token = mint(secret["secret"], claims_at(now, "shop-10001"), kid=secret["key_id"])

    held = cli("booking", "hold", "--token", token, "--doctor", "dr-weber", "--type", "gp-consult",
               "--start", SLOT, "--json")
    assert held.code == 0, held.err
    uid = held.json()["uid"]
    assert held.json()["status"] == "held"

    confirmed = cli("booking", "confirm", uid, "--token", token, "--json", env=at("2026-11-23T08:05:00Z"))
    assert confirmed.code == 0, confirmed.err
    assert confirmed.json()["status"] == "confirmed"

    # Under way: still confirmed.
    during = at("2026-11-23T10:10:00Z")
    assert cli("appointments", "show", uid, "--json", env=during).json()["status"] == "confirmed"

    # Ended, no worker has run: it IS completed for every read already.
    after = at("2026-11-23T10:31:00Z")
    shown = cli("appointments", "show", uid, "--json", env=after).json()
    assert shown["status"] == "completed"
    assert {"attendance_note", "attendance_by", "attendance_at"} <= set(shown)
    listed = cli("appointments", "list", "--status", "completed", "--all", "--json", env=after).json()
    assert [r["uid"] for r in listed] == [uid] and listed[0]["status"] == "completed"
    assert cli("appointments", "list", "--status", "confirmed", "--all", "--json", env=after).json() == []
    refused = cli("appointments", "cancel", uid, "--reason", "too late", env=after)
    assert (refused.code, refused.err.strip()) == (1, f"rxdesk: appointment {uid} has ended; mark it no_show instead")
    refused = cli("appointments", "rebook", uid, "--start", "2026-11-25T09:00:00Z", env=after)
    assert refused.code == 1 and "completed" in refused.err
    refused = cli("appointments", "mark", uid, "--status", "completed", "--reason", "again", env=after)
    assert refused.code == 1 and "already completed" in refused.err

    # The tick writes it down, with its event.
    tick = cli("worker", "--once", "--json", env=after)
    assert tick.code == 0, tick.err
    assert json.loads(tick.out.strip().splitlines()[-1])["completed"] == 1

    # The agent learns the patient never joined: corrected to no_show, with a reason.
    later = at("2026-11-24T09:00:00Z")
    marked = cli("appointments", "mark", uid, "--status", "no_show", "--reason", "Patient never joined", "--json",
                 env=later)
    assert marked.code == 0, marked.err
    missed = marked.json()
    assert (missed["status"], missed["attendance_note"], missed["attendance_by"], missed["attendance_at"]) == (
        "no_show", "Patient never joined", "admin:tester", "2026-11-24T09:00:00Z")
    text = cli("appointments", "show", uid, env=later).out
    assert "no_show, marked" in text and "Patient never joined" in text

    # Every event of its life, oldest first: the hold and each change have exactly one.
    events = list(reversed(cli("events", "list", "--json", env=later).json()))
    assert [(e["type"], e["data"]["appointment"]["uid"], e["data"]["appointment"]["status"], e["created_at"])
            for e in events] == [
        ("APPOINTMENT_HELD", uid, "held", "2026-11-23T08:00:00Z"),
        ("APPOINTMENT_CONFIRMED", uid, "confirmed", "2026-11-23T08:05:00Z"),
        ("APPOINTMENT_COMPLETED", uid, "completed", "2026-11-23T10:31:00Z"),
        ("APPOINTMENT_NO_SHOW", uid, "no_show", "2026-11-24T09:00:00Z"),
    ]
    assert events[3]["data"]["reason"] == "Patient never joined"
    assert events[3]["data"]["appointment"] == missed
    audit = cli("appointments", "show", uid, "--json", env=later).json()["audit"]
    assert [e["action"] for e in audit] == ["booking.hold", "booking.confirm", "appointment.complete",
                                            "appointment.mark"]
    assert audit[2]["actor"].startswith("worker:") and audit[3]["actor"] == "admin:tester"

    patient = cli("patients", "show", "pat-001", env=later)
    assert "0 upcoming · 0 completed · 1 no-show · 0 cancelled" in patient.out
    assert cli("patients", "show", "pat-001", "--json", env=later).json()["counts"]["no_show"] == 1

    # A week after the end the correction window has closed.
    closed = cli("appointments", "mark", uid, "--status", "completed", "--reason", "late", env=at("2026-12-01T00:00:00Z"))
    assert closed.code == 1 and "more than 7 days" in closed.err


def test_mark_refusals_are_one_line_and_change_nothing(clinic: Desk, cli: Cli, data_dir: Path) -> None:
    before = fingerprint(data_dir)
    for args, code, message in [
        (("appointments", "mark", "1bv0000000000000", "--status", "no_show", "--reason", "x"), 1, "no appointment"),
        (("appointments", "mark", "1bv0000000000000", "--status", "gone", "--reason", "x"), 2, "invalid choice"),
        (("appointments", "mark", "1bv0000000000000", "--status", "no_show"), 2, "--reason"),
        (("doctors", "set-room", "dr-weber"), 2, "one of the arguments --url --new is required"),
        (("doctors", "set-room", "dr-weber", "--new", "--url", "https://x.example/r"), 2, "not allowed with"),
        (("doctors", "set-room", "dr-weber", "--url", "javascript:alert(1)"), 1, "http:// or https://"),
        (("doctors", "set-room", "dr-who", "--new"), 1, "no doctor matches 'dr-who'"),
    ]:
        result = cli(*args)
        assert result.code == code, (args, result.err)
        assert message in result.err, (args, result.err)
        assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    assert fingerprint(data_dir) == before


def test_set_room_from_the_command_line(clinic: Desk, cli: Cli) -> None:
    result = cli("doctors", "set-room", "dr-weber", "--url", "https://video.example/weber")
    assert result.code == 0, result.err
    assert "meeting room https://video.example/weber" in result.out and "0 upcoming appointments moved" in result.out
    again = cli("doctors", "set-room", "dr-weber", "--url", "https://video.example/weber")
    assert again.code == 0 and "nothing changed" in again.out
    fresh = cli("doctors", "set-room", "dr-weber", "--new", "--json").json()
    assert fresh["room_url"].startswith("https://meet.jit.si/dr-anna-weber-")
    assert fresh["previous_room_url"] == "https://video.example/weber" and fresh["moved"] == []
    assert cli("doctors", "show", "dr-weber", "--json").json()["room_url"] == fresh["room_url"]
    sub = cli("subscriptions", "add", "--url", "https://partner.example/h", "--event", "APPOINTMENT_ROOM_CHANGED",
              "--event", "APPOINTMENT_NO_SHOW", "--event", "APPOINTMENT_COMPLETED", "--json")
    assert sub.code == 0, sub.err


def test_a_rebooked_no_show_cannot_be_corrected_to_completed_until_its_replacement_is_cancelled(clinic: Desk, cli: Cli, now: datetime) -> None:
    from datetime import timedelta

    from tests.helpers import make_appointment

    missed = make_appointment(clinic, start=now - timedelta(days=1), status="no_show")
    new = cli("appointments", "rebook", missed.uid, "--start", "2026-11-25T09:00:00Z", "--json")
    assert new.code == 0, new.err
    uid = new.json()["uid"]
    before = fingerprint(clinic.settings.data_dir)
    refused = cli("appointments", "mark", missed.uid, "--status", "completed", "--reason", "she joined")
    assert (refused.code, refused.err) == (1, f"rxdesk: appointment {missed.uid} was rebooked to {uid}; "
                                              "cancel that one first\n")
    assert fingerprint(clinic.settings.data_dir) == before
    assert cli("appointments", "cancel", uid, "--reason", "she joined the first").code == 0
    done = cli("appointments", "mark", missed.uid, "--status", "completed", "--reason", "she joined", "--json")
    assert done.code == 0 and done.json()["status"] == "completed"
