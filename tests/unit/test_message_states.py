"""One source of truth for a message's state: the appointment's page, `outbox list` and the
attention queue read it from the message itself.

(A reminder row kept `email_status: "queued"` after the outbox showed the email sent, and the
page said "late 105180s".)"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import Cli, free_port, make_appointment
from tests.unit.test_notify import Relay, start
from tests.unit.test_worker import only_rule

pytestmark = pytest.mark.backends


def a_day_late(clinic: Desk, settings: Settings, smtp_url: str, now: datetime) -> tuple[Desk, str]:
    """A "day before" email reminder that fires 22 h late (the worker was down)."""
    desk = Desk(clinic.store, clinic.clock, settings.with_overrides(smtp_url=smtp_url))
    only_rule(desk, "gp-consult", "patient", 24 * 60, email=True)
    uid = make_appointment(desk, start=now + timedelta(hours=2), created_at=now - timedelta(days=5)).uid
    return desk, uid


def test_a_sent_email_is_sent_on_the_page_in_the_outbox_and_not_in_attention(clinic: Desk, settings: Settings, cli: Cli, now: datetime) -> None:
    relay = Relay()
    server, port = start(relay, "127.0.0.1")
    try:
        desk, uid = a_day_late(clinic, settings, f"smtp://127.0.0.1:{port}", now)
        assert MaintenanceService(desk).tick().messages_sent == 1
    finally:
        server.stop()
    (row,) = cli("appointments", "show", uid, "--json").json()["reminders_sent"]
    assert row["email_status"] == "sent" and row["late_by_seconds"] == 22 * 3600
    shown = cli("appointments", "show", uid)
    assert "patient:pat-001 · 22 h late · email sent" in shown.out and "79200" not in shown.out
    (message,) = cli("outbox", "list", "--json").json()
    assert message["status"] == "sent" and message["appointment_uid"] == uid
    assert "sent" in cli("outbox", "list").out
    assert [i["kind"] for i in cli("attention", "--json").json() if i["kind"].startswith("messages")] == []


def test_a_failed_email_is_failed_everywhere(clinic: Desk, settings: Settings, cli: Cli, clock: FixedClock, now: datetime) -> None:
    closed = free_port("127.0.0.1")
    desk, uid = a_day_late(clinic, settings, f"smtp://127.0.0.1:{closed}", now)
    for minutes in (0, 1, 6, 36):  # the first attempt and its three retries
        clock.set(now + timedelta(minutes=minutes))
        MaintenanceService(desk).tick()
    at = {"RXDESK_NOW": (now + timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    (row,) = cli("appointments", "show", uid, "--json", env=at).json()["reminders_sent"]
    assert row["email_status"] == "failed"
    assert "email failed" in cli("appointments", "show", uid, env=at).out
    (message,) = cli("outbox", "list", "--json", env=at).json()
    assert message["status"] == "failed" and "cannot reach" in message["last_error"]
    (item,) = [i for i in cli("attention", "--json", env=at).json() if i["kind"].startswith("messages")]
    assert item["kind"] == "messages_failed" and "1 email of reminders could not be sent" in item["title"]
