"""The worker as real processes: two at once, one killed mid-tick, one stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest

from rxdesk.domain.models import DeliveryStatus
from rxdesk.services import Desk
from rxdesk.store import TinyStore
from tests.helpers import REPO, make_appointment
from tests.receiver import Receiver
from tests.unit.test_worker import only_rule


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    r = Receiver()
    yield r
    r.close()


def worker_env(cli_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {**os.environ, **cli_env, "PYTHONPATH": str(REPO), **extra}


def rxdesk(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "rxdesk", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def due_reminders(desk: Desk, now, count: int) -> None:  # type: ignore[no-untyped-def]
    only_rule(desk, "gp-consult", "patient", 60)
    for i in range(count):
        make_appointment(desk, start=now + timedelta(minutes=5 + i), patient_id=f"pat-00{1 + i % 3}")


def test_two_workers_at_once_send_each_reminder_and_webhook_once(clinic: Desk, receiver, now, data_dir, cli_env) -> None:  # type: ignore[no-untyped-def]
    due_reminders(clinic, now, 40)
    clinic.webhooks.add_subscription(receiver.url, ["APPOINTMENT_REMINDER_DUE"], {}, "tester")
    env = worker_env(cli_env)
    procs = [rxdesk("worker", "--once", env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    view = TinyStore(data_dir).read()
    events = [e for _, e in view.events.after(0) if e.type.value == "APPOINTMENT_REMINDER_DUE"]
    assert len(events) == 40
    assert len({(e.data["appointment"]["uid"], e.data["recipient"]["id"]) for e in events}) == 40
    ids = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert set(ids) == {e.id for e in events} and max(ids.values()) == 1


def test_a_worker_killed_mid_tick_loses_no_delivery_and_duplicates_no_reminder(clinic: Desk, receiver, now, data_dir, cli_env) -> None:  # type: ignore[no-untyped-def]
    due_reminders(clinic, now, 10)
    clinic.webhooks.add_subscription(receiver.url, ["APPOINTMENT_REMINDER_DUE"], {}, "tester")
    receiver.gate = threading.Event()  # the receiver hangs: the worker is stuck sending
    proc = rxdesk("worker", "--once", env=worker_env(cli_env))
    deadline = time.monotonic() + 60
    while len(receiver.received) == 0 and time.monotonic() < deadline:
        # requests are recorded after the gate; wait until the worker has claimed (phase one)
        if TinyStore(data_dir).read().deliveries.queued():
            break
        time.sleep(0.02)
    time.sleep(0.2)  # let the sends start; not a timing assert
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    receiver.gate.set()
    receiver.gate = None

    view = TinyStore(data_dir).read()
    fired = [e for _, e in view.events.after(0) if e.type.value == "APPOINTMENT_REMINDER_DUE"]
    assert len(fired) == 10
    pending = [d for d in view.deliveries.newest() if d.status is DeliveryStatus.pending]
    assert len(pending) == 10 and all(d.lease_owner for d in pending)

    # Restarted after the lease ran out: the same deliveries go out, no reminder fires twice.
    later = (now + timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    again = rxdesk("worker", "--once", env=worker_env(cli_env, RXDESK_NOW=later))
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    view = TinyStore(data_dir).read()
    assert [e.id for _, e in view.events.after(0) if e.type.value == "APPOINTMENT_REMINDER_DUE"] == [e.id for e in fired]
    assert all(d.status is DeliveryStatus.delivered for d in view.deliveries.newest())
    assert {r.headers["webhook-id"] for r in receiver.received} == {e.id for e in fired}


def test_sigterm_finishes_the_tick_and_exits_zero(clinic: Desk, cli_env) -> None:  # type: ignore[no-untyped-def]
    proc = rxdesk("worker", "--interval", "0.2", env=worker_env(cli_env))
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(2)]  # started, first tick
    assert "started" in lines[0] and " tick " in lines[1] and "writes=0" in lines[1]
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip().splitlines()[-1].endswith("stopped")
