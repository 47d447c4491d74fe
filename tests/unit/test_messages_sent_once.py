"""An email or SMS reaches its recipient once, whatever fails after it was sent.

(A full disk after sending made the next tick send the same 35 SMS again: the results write
failed, the claims ran out, and the messages went out a second time.) Here the results write
fails for real at the store boundary: the data dir cannot write its files (the disk is full),
the database connection is cut before the commit. The real SMTP server and the real SMS
gateway then count what they received.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import StoreError
from rxdesk.domain.models import MessageStatus, OutboxMessage
from rxdesk.services import Desk, journal
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import Cli, free_port, make_appointment, view_of
from tests.mailserver import Inbox
from tests.receiver import Receiver
from tests.unit.test_worker import only_rule

pytestmark = pytest.mark.backends


def messaging_desk(clinic: Desk, settings: Settings, inbox: Inbox, gateway: Receiver) -> Desk:
    desk = Desk(clinic.store, clinic.clock, settings.with_overrides(
        smtp_url=f"smtp://127.0.0.1:{inbox.port}", mail_from="desk@riverside.example",
        sms_url=gateway.url + "/sms"))
    only_rule(desk, "gp-consult", "patient", 60, email=True, sms=True)
    for i, (patient, doctor) in enumerate((("pat-001", "dr-weber"), ("pat-002", "dr-osei"), ("pat-001", "dr-sato"))):
        make_appointment(desk, start=desk.clock.now() + timedelta(minutes=30 + 5 * i), patient_id=patient,
                         doctor_id=doctor)
    return desk


def results_write_fails(runner: MaintenanceService, backend: str, request: pytest.FixtureRequest,
                        monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """From the moment `runner` records its results, the store cannot commit: the data dir's
    disk is full, or the database connection is cut. Clear the event to end it."""
    armed = threading.Event()
    record = runner._record_all

    def recording(*args: Any, **kwargs: Any) -> Any:
        armed.set()
        return record(*args, **kwargs)

    monkeypatch.setattr(runner, "_record_all", recording)
    if backend == "tiny":
        from rxdesk import fileio
        from rxdesk.store import engine

        write = fileio.write_atomic  # what the engine writes with

        def full_disk(path: Path, data: bytes, **kwargs: Any) -> None:
            if armed.is_set():
                raise StoreError(f"cannot write {path}: the disk is full")
            write(path, data, **kwargs)

        monkeypatch.setattr(engine, "write_atomic", full_disk)
    else:
        from rxdesk.store.postgres import logs

        pg_server = request.getfixturevalue("pg_server")
        put = logs.MessageRepo.put

        def cut(self: logs.MessageRepo, row: OutboxMessage) -> None:
            put(self, row)
            if armed.is_set():
                armed.clear()  # once: the reconnect that follows works
                pid = self._s.value("SELECT pg_backend_pid()")
                with pg_server.admin() as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        monkeypatch.setattr(logs.MessageRepo, "put", cut)
    return armed


def failed_tick(runner: MaintenanceService) -> None:
    """A tick whose results could not be written: the lost database fails it; the full disk
    is reported in its problems. Either way nothing says the messages went out."""
    try:
        report = runner.tick()
    except StoreError:
        pass
    else:
        assert report.messages_sent == 0 and any("could not be written" in p for p in report.problems)
    view = view_of(runner.store)
    assert all(m.status is MessageStatus.pending and m.lease_id for m in view.messages.newest().items)


def assert_each_received_once(inbox: Inbox, gateway: Receiver) -> None:
    emails = Counter((m["To"], m["Subject"]) for m in inbox.received)
    texts = Counter((r.json()["to"], r.json()["body"]) for r in gateway.received)
    assert len(emails) == 3 and len(texts) == 3
    assert set(emails.values()) == {1} and set(texts.values()) == {1}


def test_a_failed_results_write_is_written_by_the_next_tick_and_nothing_is_sent_again(
        clinic: Desk, settings: Settings, inbox: Inbox, receiver: Receiver, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, clock: FixedClock, now: datetime) -> None:
    desk = messaging_desk(clinic, settings, inbox, receiver)
    runner = MaintenanceService(desk)
    with monkeypatch.context() as patch:
        armed = results_write_fails(runner, backend, request, patch)
        failed_tick(runner)
        armed.clear()
    assert_each_received_once(inbox, receiver)
    clock.set(now + timedelta(minutes=6))  # the claims' leases have run out
    report = runner.tick()
    assert_each_received_once(inbox, receiver)
    assert report.messages_sent == 6 and report.messages_unknown == 0 and report.writes <= 2
    assert {m.status for m in desk.webhooks.list_messages().items} == {MessageStatus.sent}


def test_a_runner_that_never_recorded_leaves_its_messages_unknown_never_sent_again(
        clinic: Desk, settings: Settings, inbox: Inbox, receiver: Receiver, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, clock: FixedClock, now: datetime, cli: Cli) -> None:
    desk = messaging_desk(clinic, settings, inbox, receiver)
    crashed = MaintenanceService(desk)
    with monkeypatch.context() as patch:
        results_write_fails(crashed, backend, request, patch)
        def no_room(path: Path, data: bytes, **kwargs: Any) -> None:
            raise StoreError(f"cannot write {path}: the disk is full")

        patch.setattr(journal, "write_atomic", no_room)  # the results journal cannot keep them either
        failed_tick(crashed)
    clock.set(now + timedelta(minutes=6))
    report = MaintenanceService(desk).tick()  # another runner; the first never comes back
    clock.set(now + timedelta(minutes=20))
    MaintenanceService(desk).tick()
    assert_each_received_once(inbox, receiver)
    assert report.messages_unknown == 6 and report.messages_sent == 0
    assert {m.status for m in desk.webhooks.list_messages().items} == {MessageStatus.unknown}
    # Shown as such: the outbox, the attention queue and the appointment's page agree.
    stamp = {"RXDESK_NOW": (now + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    listed = cli("outbox", "list", "--json", env=stamp).json()
    assert {m["status"] for m in listed} == {"unknown"}
    attention = cli("attention", "--json", env=stamp).json()
    assert any("unknown" in item["title"] for item in attention)
    uid = view_of(desk).messages.newest().items[0].appointment_uid
    (row,) = desk.appointments.show(uid).reminders_sent
    assert row.email_status == "unknown" and row.sms_status == "unknown"


def test_a_retry_carries_the_same_idempotency_key_and_message_id(clinic: Desk, settings: Settings, receiver: Receiver, clock: FixedClock, now: datetime) -> None:
    box = Inbox(refuse_first=True)
    port = free_port("127.0.0.1")
    server = Controller(box, hostname="127.0.0.1", port=port)
    server.start()
    try:
        desk = Desk(clinic.store, clinic.clock, settings.with_overrides(
            smtp_url=f"smtp://127.0.0.1:{port}", mail_from="desk@riverside.example", sms_url=receiver.url + "/sms"))
        only_rule(desk, "gp-consult", "patient", 60, email=True, sms=True)
        make_appointment(desk, start=now + timedelta(minutes=30))
        receiver.answers = [(500, {})]
        first = MaintenanceService(desk).tick()
        assert first.retrying == 0 and first.messages_sent == 0
        clock.set(now + timedelta(minutes=1))
        assert MaintenanceService(desk).tick().messages_sent == 2
    finally:
        server.stop()
    keys = [r.headers["idempotency-key"] for r in receiver.received]
    assert len(keys) == 2 and keys[0] == keys[1] and len(keys[0]) >= 32
    (delivered,) = box.received
    assert delivered["Message-ID"] == box.refused["Message-ID"]
    assert delivered["Message-ID"].endswith("@riverside.example>")
    # Another message has another key.
    make_appointment(desk, start=now + timedelta(minutes=45), patient_id="pat-002", doctor_id="dr-osei")
    MaintenanceService(desk).tick()
    assert receiver.received[-1].headers["idempotency-key"] != keys[0]


def test_a_runner_that_records_after_its_message_was_marked_unknown_says_what_happened(
        clinic: Desk, settings: Settings, receiver: Receiver, clock: FixedClock, now: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.test_worker_leases import pause_while_sending

    desk = Desk(clinic.store, clinic.clock, settings.with_overrides(sms_url=receiver.url + "/sms"))
    only_rule(desk, "gp-consult", "patient", 60, sms=True)
    make_appointment(desk, start=now + timedelta(minutes=30))
    slow, sent, go_on = MaintenanceService(desk), threading.Event(), threading.Event()
    pause_while_sending(slow, sent, go_on, monkeypatch)
    ticking = threading.Thread(target=slow.tick)
    ticking.start()
    assert sent.wait(30)
    clock.set(now + timedelta(minutes=6))  # its lease ran out before it could record
    assert MaintenanceService(desk).tick().messages_unknown == 1
    go_on.set()
    ticking.join(30)
    (message,) = desk.webhooks.list_messages().items
    assert message.status is MessageStatus.sent and len(receiver.received) == 1
