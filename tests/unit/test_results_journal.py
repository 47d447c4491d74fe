"""What a `worker --once` sent survives a results write that failed: the results journal.

(The app runs its worker as a child `rxdesk worker --once` every minute, cron does the same:
a results write that failed dropped the tick's counts and problems, the messages that went out
became `unknown` and the deliveries were sent again.) Here the results write fails for real at
the store boundary (the data dir's disk is full, the database connection is cut), the next
`worker --once` is another runner, and the real SMTP server and SMS gateway count what they
received.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import StoreError
from rxdesk.domain.models import MessageStatus
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import CliResult
from tests.mailserver import Inbox
from tests.receiver import Receiver
from tests.unit.test_messages_sent_once import assert_each_received_once, messaging_desk

pytestmark = pytest.mark.backends

CliRunner = Callable[..., CliResult]


@pytest.fixture
def gateway() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def env_of(desk: Desk, at: datetime) -> dict[str, str]:
    settings = desk.settings
    return {"RXDESK_SMTP_URL": settings.smtp_url or "", "RXDESK_MAIL_FROM": settings.mail_from,
            "RXDESK_SMS_URL": settings.sms_url or "", "RXDESK_NOW": at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def results_write_fails(backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                        *, everywhere: bool = False) -> threading.Event:
    """From the moment any runner records its results the store cannot commit (the data dir's
    disk is full; the database connection is cut once). `everywhere`: nothing in the data dir
    can be written, the results journal and the tick's note included. Clear the event to end it."""
    armed = threading.Event()
    record = MaintenanceService._record_all

    def recording(self: MaintenanceService, *args: Any, **kwargs: Any) -> Any:
        armed.set()
        return record(self, *args, **kwargs)

    monkeypatch.setattr(MaintenanceService, "_record_all", recording)

    def full(write: Callable[..., None]) -> Callable[..., None]:
        def writing(path: Path, data: bytes, **kwargs: Any) -> None:
            if armed.is_set():
                raise StoreError(f"cannot write {path}: the disk is full")
            write(path, data, **kwargs)

        return writing

    if backend == "tiny":
        from rxdesk import fileio
        from rxdesk.store import engine, tinystore

        monkeypatch.setattr(engine, "write_atomic", full(fileio.write_atomic))  # what the engine writes with
        if everywhere:  # the tick's note too
            monkeypatch.setattr(tinystore, "write_atomic", full(fileio.write_atomic))
    else:
        from rxdesk.store.postgres import logs

        pg_server = request.getfixturevalue("pg_server")
        put = logs.MessageRepo.put

        def cut(self: Any, row: Any) -> None:
            put(self, row)
            if armed.is_set():
                armed.clear()
                pid = self._s.value("SELECT pg_backend_pid()")
                with pg_server.admin() as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        monkeypatch.setattr(logs.MessageRepo, "put", cut)
    if everywhere:  # full from the moment the tick keeps its results, before it records them
        from rxdesk.services import journal

        keep = journal.Journal.keep

        def keeping(self: journal.Journal, results: journal.Results) -> str:
            armed.set()
            return keep(self, results)

        from rxdesk import fileio

        monkeypatch.setattr(journal.Journal, "keep", keeping)
        monkeypatch.setattr(journal, "write_atomic", full(fileio.write_atomic))
    return armed


def test_the_next_worker_once_writes_what_a_failed_one_sent_and_nothing_is_sent_twice(
        clinic: Desk, settings: Settings, inbox: Inbox, gateway: Receiver, backend: str, cli: CliRunner,
        request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, now: datetime, data_dir: Path) -> None:
    desk = messaging_desk(clinic, settings, inbox, gateway)
    with monkeypatch.context() as patch:
        armed = results_write_fails(backend, request, patch)
        failed = cli("worker", "--once", "--json", env=env_of(desk, now))
        if backend == "tiny":  # the disk is still full for the next one: they stay in the journal
            still = cli("worker", "--once", "--json", env=env_of(desk, now + timedelta(seconds=30))).json()
            assert any("refused them again" in p and "kept in" in p for p in still["problems"]), still
        armed.clear()
    answer = failed.json()
    assert any("kept in" in p and "next tick of any worker" in p for p in answer["problems"]), answer
    assert list((data_dir / "unrecorded").glob("*.json"))
    assert_each_received_once(inbox, gateway)
    # The next `worker --once` (another runner, a minute later) writes them down first.
    ticked = cli("worker", "--once", "--json", env=env_of(desk, now + timedelta(minutes=1)))
    assert ticked.code == 0, ticked.out
    assert ticked.json()["messages_sent"] == 6 and ticked.json()["messages_unknown"] == 0
    assert {m.status for m in desk.webhooks.list_messages().items} == {MessageStatus.sent}
    assert not list((data_dir / "unrecorded").glob("*.json"))
    cli("worker", "--once", "--json", env=env_of(desk, now + timedelta(minutes=10)))
    assert_each_received_once(inbox, gateway)


def test_when_not_even_the_journal_can_be_written_the_tick_says_so_plainly(
        clinic: Desk, settings: Settings, inbox: Inbox, gateway: Receiver, backend: str, cli: CliRunner,
        request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, now: datetime, clock: FixedClock) -> None:
    desk = messaging_desk(clinic, settings, inbox, gateway)
    with monkeypatch.context() as patch:
        results_write_fails(backend, request, patch, everywhere=True)
        failed = cli("worker", "--once", "--json", env=env_of(desk, now))
    assert failed.code == 1
    answer = failed.json()
    assert answer["ok"] is False and answer["error"]
    (note,) = [p for p in answer["problems"] if "nor kept" in p]
    assert "6 email(s)/SMS" in note and "unknown" in note and "never sent again" in note
    clock.set(now + timedelta(minutes=6))  # the claims' leases have run out
    report = MaintenanceService(desk).tick()
    assert report.messages_unknown == 6 and report.messages_sent == 0
    assert_each_received_once(inbox, gateway)
