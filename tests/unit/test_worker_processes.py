"""The worker as real processes: two at once, one killed mid-tick, one stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.domain.models import DeliveryStatus, ReminderSent
from rxdesk.services import Desk
from rxdesk.store.protocols import StoreView
from tests.helpers import REPO, another_store, make_appointment, view_of, wait_until
from tests.receiver import Receiver
from tests.unit.test_worker import only_rule

DOCTORS = ("dr-weber", "dr-osei", "dr-sato")
pytestmark = pytest.mark.backends


def worker_env(cli_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {**os.environ, **cli_env, "PYTHONPATH": str(REPO), **extra}


def rxdesk(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "rxdesk", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def due_reminders(desk: Desk, now: datetime, count: int) -> None:
    only_rule(desk, "gp-consult", "patient", 60)
    for i in range(count):
        make_appointment(desk, start=now + timedelta(minutes=5 + i), patient_id=f"pat-00{1 + i % 3}", minutes=1)


def test_two_workers_at_once_send_each_reminder_and_webhook_once(clinic: Desk, receiver: Receiver, now: datetime, data_dir: Path, cli_env: dict[str, str]) -> None:
    due_reminders(clinic, now, 40)
    clinic.webhooks.add_subscription(receiver.url, ["APPOINTMENT_REMINDER_DUE"], {}, "tester", allow_private_network=True)
    env = worker_env(cli_env)
    procs = [rxdesk("worker", "--once", env=env) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    view = view_of(another_store(clinic))
    events = [e for _, e in view.events.after(0) if e.type.value == "APPOINTMENT_REMINDER_DUE"]
    assert len(events) == 40
    assert len({(e.data["appointment"]["uid"], e.data["recipient"]["id"]) for e in events}) == 40
    ids = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert set(ids) == {e.id for e in events} and max(ids.values()) == 1


def test_a_worker_killed_mid_tick_loses_no_delivery_and_duplicates_no_reminder(clinic: Desk, receiver: Receiver, now: datetime, data_dir: Path, cli_env: dict[str, str]) -> None:
    due_reminders(clinic, now, 10)
    clinic.webhooks.add_subscription(receiver.url, ["APPOINTMENT_REMINDER_DUE"], {}, "tester", allow_private_network=True)
    receiver.gate = threading.Event()  # the receiver hangs: the worker is stuck sending
    proc = rxdesk("worker", "--once", env=worker_env(cli_env))
    wait_until(lambda: receiver.held > 0, what="the worker's first send, held at the receiver")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    receiver.gate.set()
    receiver.gate = None

    view = view_of(another_store(clinic))
    fired = [e for _, e in view.events.after(0) if e.type.value == "APPOINTMENT_REMINDER_DUE"]
    assert len(fired) == 10
    pending = [d for d in view.deliveries.newest() if d.status is DeliveryStatus.pending]
    assert len(pending) == 10 and all(d.lease_id for d in pending)

    # Restarted after the lease ran out: the same deliveries go out, no reminder fires twice.
    later = (now + timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    again = rxdesk("worker", "--once", env=worker_env(cli_env, RXDESK_NOW=later))
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    view = view_of(another_store(clinic))
    assert [e.id for _, e in view.events.after(0) if e.type.value == "APPOINTMENT_REMINDER_DUE"] == [e.id for e in fired]
    assert all(d.status is DeliveryStatus.delivered for d in view.deliveries.newest())
    assert {r.headers["webhook-id"] for r in receiver.received} == {e.id for e in fired}


def test_sigterm_finishes_the_tick_and_exits_zero(clinic: Desk, cli_env: dict[str, str]) -> None:
    proc = rxdesk("worker", "--interval", "0.2", env=worker_env(cli_env))
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(2)]  # started, first tick
    assert "started" in lines[0] and " tick " in lines[1] and "writes=0" in lines[1]
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip().splitlines()[-1].endswith("stopped")



def test_workers_killed_at_many_moments_of_a_tick_lose_and_duplicate_nothing(clinic: Desk, receiver: Receiver, now: datetime, data_dir: Path, cli_env: dict[str, str]) -> None:
    """Each round brings 60 new reminders and kills its worker at another moment: right after
    it claimed, after a few sends, after its last send (recording), or while it starts up.
    A last worker finishes; every reminder fired once and every event was delivered."""
    only_rule(clinic, "gp-consult", "patient", 60)
    running: dict[str, subprocess.Popen[str]] = {}
    kill_at_request: list[int | None] = [None]

    def maybe_kill(_request: object) -> None:
        wanted = kill_at_request[0]
        if wanted is not None and len(receiver.received) >= wanted and "worker" in running:
            running["worker"].send_signal(signal.SIGKILL)
            kill_at_request[0] = None

    receiver.on_request = maybe_kill
    clinic.webhooks.add_subscription(receiver.url, ["APPOINTMENT_REMINDER_DUE"], {}, "tester", allow_private_network=True)
    at, made, other = now, 0, another_store(clinic)
    for round_, moment in enumerate(("claimed", "few sent", "all sent", "starting")):
        for i in range(60):  # 20 short appointments a doctor, none overlapping another
            make_appointment(clinic, start=now + timedelta(minutes=50 + 7 * round_, seconds=20 * (i // 3)),
                             length=timedelta(seconds=20), doctor_id=DOCTORS[i % 3],
                             patient_id=f"pat-00{1 + made % 3}")
            made += 1
        before = len(receiver.received)
        unsent = 60 + sum(d.status is DeliveryStatus.pending for d in view_of(other).deliveries.newest())
        kill_at_request[0] = {"few sent": before + 5, "all sent": before + unsent}.get(moment)
        proc = rxdesk("worker", "--once", env=worker_env(cli_env, RXDESK_NOW=at.strftime("%Y-%m-%dT%H:%M:%SZ")))
        running["worker"] = proc
        if moment == "claimed":
            wait_until(lambda: view_of(other).deliveries.due(at + timedelta(minutes=6)), what="the worker's claims",
                       every=0.005)
            proc.send_signal(signal.SIGKILL)
        elif moment == "starting":
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        running.pop("worker")
        assert proc.returncode == -signal.SIGKILL, moment
        at += timedelta(minutes=6)  # past the dead runner's leases
    survivor = rxdesk("worker", "--once", env=worker_env(cli_env, RXDESK_NOW=at.strftime("%Y-%m-%dT%H:%M:%SZ")))
    _out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    receiver.close()  # every request it received is counted below

    view = view_of(another_store(clinic))
    fired = [e for _, e in view.events.after(0) if e.type.value == "APPOINTMENT_REMINDER_DUE"]
    keys = Counter((e.data["appointment"]["uid"], e.data["recipient"]["id"]) for e in fired)
    assert len(keys) == made and max(keys.values()) == 1  # each reminder exactly once
    assert len({r.appointment_uid for r in view_reminders_sent(view, keys)}) == made
    deliveries = list(view.deliveries.newest())
    assert Counter(d.event_id for d in deliveries) == Counter({e.id: 1 for e in fired})
    assert all(d.status is DeliveryStatus.delivered for d in deliveries)
    assert {e.id for e in fired} == {r.headers["webhook-id"] for r in receiver.received}


def view_reminders_sent(view: StoreView, keys: Iterable[tuple[str, str]]) -> list[ReminderSent]:
    return [row for uid in {uid for uid, _ in keys} for row in view.reminders_sent.for_appointment(uid)]
