"""A webhook's custom header values are secrets: `Authorization: Bearer …` or an API key for
the receiver. They are stored encrypted under the master key, as the signing secret is, shown
masked in every listing, and in full only on an agent's audited reveal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from rxdesk.domain.models import EventType, Subscription
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import CliResult, make_appointment, view_of
from tests.receiver import Receiver

pytestmark = pytest.mark.backends

CliRunner = Callable[..., CliResult]
VALUE = "Bearer s3cr3t-partner-token"


def everything_stored(data_dir: Path, database_url: str | None) -> bytes:
    """Every byte the desk keeps: the data dir's files, and on PostgreSQL every table's rows."""
    found = b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())
    if database_url:
        import psycopg
        from psycopg import sql

        with psycopg.connect(database_url, autocommit=True) as conn:
            tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
            for table in tables:
                rows = conn.execute(sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(table))).fetchall()
                found += "".join(r[0] for r in rows).encode()
    return found


def add_subscription(cli: CliRunner, receiver: Receiver) -> str:
    added = cli("subscriptions", "add", "--url", receiver.url + "/hooks", "--event", "APPOINTMENT_CANCELLED",
                "--header", f"Authorization={VALUE}", "--header", "X-Shop=riverside", "--allow-private-network",
                "--json")
    assert added.code == 0, added.err
    assert VALUE not in added.out
    return str(added.json()["id"])


def test_header_values_are_stored_encrypted_listed_masked_and_still_sent(
        cli: CliRunner, clinic: Desk, receiver: Receiver, data_dir: Path, database_url: str | None) -> None:
    sub_id = add_subscription(cli, receiver)
    assert VALUE.encode() not in everything_stored(data_dir, database_url)
    assert b"riverside\"" not in everything_stored(data_dir, database_url).replace(b"riverside.example", b"")
    (listed,) = cli("subscriptions", "list", "--json").json()
    assert listed["headers"] == {"Authorization": "********", "X-Shop": "********"}
    table = cli("subscriptions", "list")
    assert VALUE not in table.out and "Authorization" in table.out
    (sub,) = clinic.webhooks.list_subscriptions()
    assert VALUE not in repr(sub)
    # The receiver gets them as they were given.
    appt = make_appointment(clinic, start=clinic.clock.now() + timedelta(days=2))
    clinic.appointments.cancel_appointment(appt.uid, "patient called", "tester")
    assert MaintenanceService(clinic).tick().delivered == 1
    (delivery,) = receiver.received
    assert delivery.headers["authorization"] == VALUE and delivery.headers["x-shop"] == "riverside"
    assert cli("subscriptions", "test", sub_id).code == 0
    assert receiver.received[-1].headers["authorization"] == VALUE
    assert VALUE.encode() not in everything_stored(data_dir, database_url)


def test_only_an_audited_reveal_shows_them(cli: CliRunner, clinic: Desk, receiver: Receiver) -> None:
    sub_id = add_subscription(cli, receiver)
    shown = cli("subscriptions", "reveal", sub_id)
    assert shown.code == 0 and f"Authorization: {VALUE}" in shown.out and "X-Shop: riverside" in shown.out
    as_json = cli("subscriptions", "reveal", sub_id, "--json").json()
    assert as_json["headers"] == {"Authorization": VALUE, "X-Shop": "riverside"}
    entries = [e for e in view_of(clinic).audit.newest().items if e.action == "subscription.reveal_headers"]
    assert len(entries) == 2 and entries[0].actor == "admin:tester"
    assert entries[0].details == {"headers": ["Authorization", "X-Shop"]}
    assert cli("subscriptions", "reveal", "sub_nope").code == 1


def test_headers_an_older_version_stored_in_the_clear_are_sealed_by_a_key_rotation_and_still_sent(
        cli: CliRunner, clinic: Desk, receiver: Receiver) -> None:
    sub_id = add_subscription(cli, receiver)
    with clinic.store.write() as view:  # as an older version stored it
        sub = view.subscriptions.require(sub_id)
        view.subscriptions.put(Subscription.from_stored({**sub.to_json(), "sealed_headers": {},
                                                         "headers": {"Authorization": VALUE}}))
    assert cli("subscriptions", "list", "--json").json()[0]["headers"] == {"Authorization": "********"}
    assert cli("secrets", "rotate-master-key").code == 0
    (stored,) = view_of(clinic).subscriptions.all()  # the files replaced stay for a grace period
    assert VALUE not in str(stored.to_json()) and set(stored.sealed_headers) == {"Authorization"}
    assert cli("subscriptions", "reveal", sub_id, "--json").json()["headers"] == {"Authorization": VALUE}
    appt = make_appointment(clinic, start=clinic.clock.now() + timedelta(days=2))
    clinic.appointments.cancel_appointment(appt.uid, "patient called", "tester")
    assert MaintenanceService(clinic).tick().delivered == 1
    assert receiver.received[-1].headers["authorization"] == VALUE
    assert EventType.APPOINTMENT_CANCELLED.value in receiver.received[-1].body.decode()
