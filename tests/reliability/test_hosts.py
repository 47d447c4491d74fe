"""Two "hosts" on one store: two workers and two command-line streams at once, workers killed
mid-tick again and again. Nothing is shared between the processes but the store (on
PostgreSQL, nothing but the database), as it would be across machines.

Afterwards the counts are exact: each reminder fired once per recipient, each event has one
delivery and it was delivered (a retry keeps its webhook-id), each cancellation that reported
success is there with its one event.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.domain.models import DeliveryStatus
from rxdesk.services import Desk
from tests.helpers import REPO, another_store, make_appointment, view_of
from tests.receiver import Receiver
from tests.unit.test_worker import only_rule

pytestmark = [pytest.mark.backends, pytest.mark.slow]

DOCTORS = ("dr-weber", "dr-osei", "dr-sato")

STREAM = textwrap.dedent(
    """
    import sys
    from rxdesk.cli import main
    data_dir, reason, *uids = sys.argv[1:]
    for uid in uids:
        code = main(["--data-dir", data_dir, "appointments", "cancel", uid, "--reason", reason])
        print("ok" if code == 0 else f"failed-{code}", uid, flush=True)
    """
)


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_two_workers_and_two_streams_killed_mid_tick_keep_every_count_exact(
        clinic: Desk, now: datetime, data_dir: Path, cli_env: dict[str, str], receiver: Receiver) -> None:
    rng = random.Random(20261127)
    only_rule(clinic, "gp-consult", "patient", 60)
    # 60 appointments whose reminder is due now (20 a doctor, 1 minute each), and 40 for the
    # streams to cancel: tomorrow, so none of them is due.
    due = [make_appointment(clinic, start=now + timedelta(minutes=30 + i // 3), minutes=1, doctor_id=DOCTORS[i % 3],
                            patient_id=f"pat-00{1 + i % 3}").uid for i in range(60)]
    later = [make_appointment(clinic, start=now + timedelta(days=1, minutes=10 * i), minutes=10).uid for i in range(40)]
    # Every few requests, before the receiver answers, both workers are killed: one of them is
    # waiting for that answer (mid-tick: its claims taken, their results not yet recorded).
    killed_mid_send = threading.Event()
    seen = Counter[str]()
    workers: dict[str, subprocess.Popen[str]] = {}

    def on_request(_request: object) -> None:
        seen["requests"] += 1
        if seen["requests"] % 9 == 0 and not killed_mid_send.is_set():
            for proc in list(workers.values()):
                proc.send_signal(signal.SIGKILL)
            killed_mid_send.set()

    receiver.on_request = on_request
    clinic.webhooks.add_subscription(receiver.url, ["APPOINTMENT_REMINDER_DUE", "APPOINTMENT_CANCELLED"], {}, "tester",
                                     allow_private_network=True)
    env = {**os.environ, **cli_env, "PYTHONPATH": str(REPO)}

    logs = data_dir.parent / "worker-logs"
    logs.mkdir()
    started = Counter[str]()

    def worker(host: str) -> subprocess.Popen[str]:
        started[host] += 1
        with (logs / f"{host}-{started[host]}.txt").open("w") as log:  # a file: nobody reads it meanwhile
            return subprocess.Popen([sys.executable, "-m", "rxdesk", "--agent", host, "worker", "--interval", "0.2"],
                                    cwd=REPO, env=env, stdout=log, stderr=log, text=True)

    def ticking(host: str) -> bool:
        return " tick " in (logs / f"{host}-{started[host]}.txt").read_text()

    workers.update({"host-a": worker("host-a"), "host-b": worker("host-b")})
    streams = [subprocess.Popen([sys.executable, "-c", STREAM, str(data_dir), f"stream {n}", *uids], cwd=REPO,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for n, uids in (("a", later[:20]), ("b", later[20:]))]
    kills = mid_send = 0
    deadline = time.monotonic() + 120
    try:
        while any(s.poll() is None for s in streams) or kills < 6 or not mid_send:
            assert time.monotonic() < deadline, "the workers made no progress"
            killed_mid_send.wait(rng.uniform(0.2, 1.0))  # a request, or somewhere in a tick; not a timing assert
            if killed_mid_send.is_set():
                hosts, mid_send = sorted(workers), mid_send + 1
            else:  # a worker that is up and ticking, killed wherever it is
                hosts = [h for h in sorted(workers) if ticking(h)][:1]
                rng.shuffle(hosts)
            for host in hosts:
                workers[host].send_signal(signal.SIGKILL)
                workers[host].communicate(timeout=30)
                workers[host] = worker(host)
                kills += 1
            killed_mid_send.clear()
        outputs = [s.communicate(timeout=120) for s in streams]
    finally:
        for proc in workers.values():
            proc.send_signal(signal.SIGTERM)
        for proc in workers.values():
            proc.communicate(timeout=60)
    stranded = [d for d in view_of(another_store(clinic)).deliveries.newest() if d.lease_id]
    assert stranded, "no worker was killed holding claims: the kills missed every tick"

    # Past every lease a killed worker left: one last worker sends what is still claimed.
    survivor = subprocess.run([sys.executable, "-m", "rxdesk", "worker", "--once"], cwd=REPO, capture_output=True,
                              text=True, timeout=120, check=False,
                              env={**env, "RXDESK_NOW": stamp(now + timedelta(minutes=6))})
    receiver.close()
    assert survivor.returncode == 0, survivor.stderr

    reported = [line.split()[1] for out, _ in outputs for line in out.splitlines() if line.startswith("ok ")]
    assert sorted(reported) == sorted(later), [err for _, err in outputs]  # no stream was refused
    view = view_of(another_store(clinic))
    events = [e for _, e in view.events.after(0)]
    reminders = Counter((e.data["appointment"]["uid"], e.data["recipient"]["id"]) for e in events
                        if e.type.value == "APPOINTMENT_REMINDER_DUE")
    assert set(reminders) == {(uid, view.appointments.require(uid).patient_id) for uid in due}
    assert max(reminders.values()) == 1  # each reminder exactly once, whoever fired it
    assert all(len(view.reminders_sent.for_appointment(uid)) == 1 for uid in due)
    cancelled = Counter(e.data["appointment"]["uid"] for e in events if e.type.value == "APPOINTMENT_CANCELLED")
    assert cancelled == Counter(dict.fromkeys(later, 1))
    assert all(view.appointments.require(uid).status.value == "cancelled" for uid in later)
    deliveries = list(view.deliveries.newest())
    assert Counter(d.event_id for d in deliveries) == Counter({e.id: 1 for e in events})  # one per event
    assert all(d.status is DeliveryStatus.delivered for d in deliveries)
    assert {r.headers["webhook-id"] for r in receiver.received} == {e.id for e in events}
