"""The smaller findings of an attack on the desk, each held here.

- `demo` never confirms an appointment after now (a confirmation in the future holds back its
  reminders), and on PostgreSQL names the database it filled, not the data dir;
- `store import` names the file of a record of the wrong shape, as its other refusals do;
- an agent sends an `unknown` or `failed` email or SMS again with `outbox resend ID` (audited);
- `logs/errors.log` cannot grow without end.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.config import Settings
from rxdesk.crashlog import MAX_LOG_BYTES, log_crash
from rxdesk.domain.clock import FixedClock
from rxdesk.domain.models import MessageStatus
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import CliResult, fingerprint, make_appointment, view_of
from tests.pgfixtures import PgServer
from tests.receiver import Receiver
from tests.unit.test_handed_over import hang_up
from tests.unit.test_worker import only_rule

pytestmark = pytest.mark.backends

CliRunner = Callable[..., CliResult]


def test_demo_confirms_nothing_after_now_and_names_where_it_went(
        cli: CliRunner, desk: Desk, now: datetime, database_url: str | None) -> None:
    made = cli("demo", "--appointments", "600", "--seed", "3")
    assert made.code == 0, made.err
    if database_url:
        assert "in the database '" in made.out and str(desk.settings.data_dir) not in made.out
    else:
        assert f"in {desk.settings.data_dir}:" in made.out
    data = desk.demo.build(600, agent="tester", seed=3, replace=True)
    confirmed = [doc["confirmed_at"] for doc in data.appointments if doc["confirmed_at"] is not None]
    assert confirmed and max(datetime.fromisoformat(at) for at in confirmed) <= now


@pytest.fixture
def empty_database(pg_server: PgServer) -> Iterator[str]:
    name = pg_server.create()
    yield pg_server.url(name)
    pg_server.drop(name)


@pytest.mark.data_dir_only
def test_store_import_names_the_file_of_a_record_of_the_wrong_shape(
        clinic: Desk, cli: CliRunner, empty_database: str, data_dir: Path) -> None:
    with clinic.store.write() as w, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic's "expected str" while writing it: the point here
        w.doctors.put(w.doctors.require("dr-weber").model_copy(update={"name": 42}))
    refused = cli("store", "import", str(data_dir), env={"RXDESK_DATABASE_URL": empty_database})
    assert refused.code == 1 and refused.err.count("\n") == 1, refused.err
    assert f"cannot import {data_dir}/segments/core." in refused.err and "doctor 'dr-weber'" in refused.err
    assert "nothing was imported" in refused.err and not (data_dir / "moved-to-postgresql").exists()


@pytest.fixture
def gateway() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_an_agent_sends_an_unknown_sms_again_with_its_key_once_asked(
        clinic: Desk, settings: Settings, gateway: Receiver, cli: CliRunner, clock: FixedClock, now: datetime,
        data_dir: Path) -> None:
    desk = Desk(clinic.store, clinic.clock, settings.with_overrides(sms_url=gateway.url + "/sms"))
    only_rule(desk, "gp-consult", "patient", 60, sms=True)
    appt = make_appointment(desk, start=now + timedelta(minutes=50))
    gateway.answer = hang_up  # took the request, never answered: unknown
    MaintenanceService(desk).tick()
    gateway.answer = None
    (message,) = desk.webhooks.list_messages().items
    assert message.status is MessageStatus.unknown
    env = {"RXDESK_SMS_URL": gateway.url + "/sms"}
    resent = cli("outbox", "resend", message.id, env=env)
    assert resent.code == 0, resent.err
    assert "queued again" in resent.out and "same Message-ID / Idempotency-Key" in resent.out
    (entry,) = [e for e in view_of(desk).audit.newest().items if e.action == "message.resend"]
    assert entry.actor == "admin:tester" and entry.details["from_status"] == "unknown"
    assert MaintenanceService(desk).tick().messages_sent == 1
    first, again = gateway.received
    assert first.headers["idempotency-key"] == again.headers["idempotency-key"]
    # A sent one, or one whose appointment is gone, is not sent again by hand.
    sent = cli("outbox", "resend", message.id, env=env)
    assert sent.code == 1 and "only an unknown or failed one" in sent.err
    with desk.store.write() as view:
        stored = view.messages.get(message.id)
        assert stored is not None
        view.messages.put(stored.model_copy(update={"status": MessageStatus.failed}))
    desk.appointments.cancel_appointment(appt.uid, "patient called", "tester")
    before = fingerprint(data_dir)
    cancelled = cli("outbox", "resend", message.id, env=env)
    assert cancelled.code == 1 and "not sent again: appointment cancelled" in cancelled.err
    assert cli("outbox", "resend", "msg_nope", env=env).code == 1
    assert fingerprint(data_dir) == before


@pytest.mark.data_dir_only
def test_the_error_log_keeps_two_files_at_most(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log = data_dir / "logs" / "errors.log"
    log_crash(data_dir, "first")
    with log.open("a") as fh:
        fh.write("x" * MAX_LOG_BYTES)
    log_crash(data_dir, "after the cut")
    assert log.read_text() == "after the cut\n"
    older = log.with_name("errors.log.1")
    assert older.stat().st_size > MAX_LOG_BYTES and older.read_text().startswith("first\n")
    assert (older.stat().st_mode & 0o777) == 0o600 and (log.stat().st_mode & 0o777) == 0o600
    for _ in range(3):
        with log.open("a") as fh:
            fh.write("y" * MAX_LOG_BYTES)
        log_crash(data_dir, "again")
    assert sorted(p.name for p in log.parent.iterdir()) == ["errors.log", "errors.log.1"]
