"""`rxdesk store import` and the processes still running on the data dir.

(A worker left running on the data dir after the import kept ticking there while a new worker
ticked on PostgreSQL: both sent the same reminder.) The import is refused while a worker ticks
on the data dir, names it and says how to stop it; it copies and marks the data dir under the
data dir's write lock, and every write after that, of any process that opened the data dir
before, is refused: a worker left running sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import StoreError
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from rxdesk.store import TinyStore, open_store
from tests.helpers import CliResult, make_appointment
from tests.pgfixtures import PgServer
from tests.receiver import Receiver
from tests.unit.test_worker import only_rule

pytestmark = pytest.mark.backends

CliRunner = Callable[..., CliResult]


@pytest.fixture
def empty_database(pg_server: PgServer) -> Iterator[str]:
    name = pg_server.create()
    yield pg_server.url(name)
    pg_server.drop(name)


@pytest.fixture
def gateway() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def texting(desk: Desk, gateway: Receiver, settings: Settings) -> Desk:
    return Desk(desk.store, desk.clock, settings.with_overrides(sms_url=gateway.url + "/sms"))


@pytest.mark.data_dir_only
def test_the_import_is_refused_while_a_worker_ticks_on_the_data_dir(
        clinic: Desk, cli: CliRunner, cli_env: dict[str, str], empty_database: str, data_dir: Path,
        now: datetime) -> None:
    assert cli("worker", "--once").code == 0  # a worker's tick, a moment ago
    refused = cli("store", "import", str(data_dir), env={"RXDESK_DATABASE_URL": empty_database})
    assert refused.code == 1 and refused.err.count("\n") == 1
    assert "worker:" in refused.err and "ticked on" in refused.err and "stop it first" in refused.err
    assert not (data_dir / "moved-to-postgresql").exists()
    in_database = Settings(data_dir=data_dir, agent="tester", now=now, master_key=None, database_url=empty_database)
    database = Desk.open(in_database)
    try:
        assert database.is_empty()
    finally:
        database.close()
    later = {"RXDESK_NOW": (now + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "RXDESK_DATABASE_URL": empty_database}
    imported = cli("store", "import", str(data_dir), env=later)
    assert imported.code == 0, imported.err


@pytest.mark.data_dir_only
def test_a_worker_left_running_on_the_data_dir_sends_nothing_after_the_import(
        clinic: Desk, cli: CliRunner, settings: Settings, gateway: Receiver, empty_database: str, data_dir: Path,
        clock: FixedClock, now: datetime) -> None:
    desk = texting(clinic, gateway, settings)
    only_rule(desk, "gp-consult", "patient", 60, sms=True)
    make_appointment(desk, start=now + timedelta(minutes=70))  # its reminder is due in ten minutes
    left_running = MaintenanceService(desk)
    assert left_running.tick().reminders == 0
    clock.set(now + timedelta(minutes=3))
    stamp = {"RXDESK_NOW": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"), "RXDESK_DATABASE_URL": empty_database}
    assert cli("store", "import", str(data_dir), env=stamp).code == 0
    clock.set(now + timedelta(minutes=10))
    with pytest.raises(StoreError, match="moved to PostgreSQL"):
        left_running.tick()
    opened_before = TinyStore(data_dir, fsync=False)  # any process that had it open
    with pytest.raises(StoreError, match="moved to PostgreSQL"), opened_before.write():
        pass
    on_database = settings.with_overrides(database_url=empty_database, sms_url=gateway.url + "/sms")
    moved = Desk(open_store(on_database), clock, on_database)
    try:
        assert MaintenanceService(moved).tick().messages_sent == 1
    finally:
        moved.close()
    with pytest.raises(StoreError, match="moved to PostgreSQL"):
        left_running.tick()
    assert len(gateway.received) == 1


@pytest.mark.data_dir_only
def test_the_import_waits_for_results_a_tick_could_not_write_down(
        clinic: Desk, cli: CliRunner, empty_database: str, data_dir: Path, now: datetime) -> None:
    from rxdesk.services.journal import Journal, Results

    assert Journal(data_dir).keep(Results(now, "worker:gone#1-abc", messages=[("msg_000000000009", "")])) == ""
    env = {"RXDESK_DATABASE_URL": empty_database}
    refused = cli("store", "import", str(data_dir), env=env)
    assert refused.code == 1 and "not written down yet" in refused.err and "rxdesk worker --once" in refused.err
    assert cli("worker", "--once").code == 0
    later = {**env, "RXDESK_NOW": (now + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert cli("store", "import", str(data_dir), env=later).code == 0
