"""Several processes on one store at once: every completed action is kept, once.

Two streams of command-line cancellations run as separate processes while the app (pilot) in
this process cancels others and a third process keeps reading. Afterwards every cancellation
that reported success is in the data with exactly one APPOINTMENT_CANCELLED event, and no
reader ever saw an appointment cancelled without its event (or the other way round). On
PostgreSQL the processes stand for hosts: nothing is shared but the database.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.tui.screens.overview import OverviewScreen
from tests.helpers import REPO, another_store, make_appointment, view_of, wait_until
from tests.receiver import Receiver
from tests.tui.conftest import front, make_app, settle

STREAM = textwrap.dedent(
    """
    import sys
    from rxdesk.cli import main
    data_dir, reason, *uids = sys.argv[1:]
    for uid in uids:
        code = main(["--data-dir", data_dir, "appointments", "cancel", uid, "--reason", reason])
        if code == 0:
            print("ok", uid, flush=True)
    """
)

READER = textwrap.dedent(
    """
    import json, sys
    from rxdesk.config import Settings
    from rxdesk.store import open_store
    data_dir, watched = sys.argv[1], set(sys.argv[2:])
    store = open_store(Settings.from_env(data_dir=data_dir))  # the database when the environment names one
    checks = 0
    while True:
        with store.read() as view:  # one consistent state for both questions
            cancelled = {u for u in watched if view.appointments.require(u).status.value == "cancelled"}
            announced = {e.data["appointment"]["uid"] for _, e in view.events.after(0)
                         if e.type.value == "APPOINTMENT_CANCELLED"} & watched
        if cancelled != announced:
            print(json.dumps({"half_state": sorted(cancelled ^ announced)}), flush=True)
            sys.exit(1)
        checks += 1
        if len(cancelled) == len(watched):
            print(json.dumps({"checks": checks}), flush=True)
            sys.exit(0)
    """
)


pytestmark = pytest.mark.backends


def spawn(code: str, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def test_cli_streams_app_and_reader_at_once_lose_and_duplicate_nothing(clinic: Desk, now: datetime, data_dir: Path, cli_env: dict[str, str], receiver: Receiver) -> None:
    start = now + timedelta(days=1)
    uids = [make_appointment(clinic, start=start + timedelta(minutes=20 * i), minutes=20).uid for i in range(36)]
    stream_a, stream_b, by_app = uids[0:15], uids[15:30], uids[30:36]
    import os

    env = {**os.environ, **cli_env, "PYTHONPATH": str(REPO)}
    clinic.webhooks.add_subscription(receiver.url, ["APPOINTMENT_CANCELLED", "APPOINTMENT_REBOOKED"], {}, "tester",
                                     allow_private_network=True)
    worker = subprocess.Popen([sys.executable, "-m", "rxdesk", "worker", "--interval", "0.1"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader = spawn(READER, str(data_dir), *uids, env=env)
    streams = [spawn(STREAM, str(data_dir), "stream a", *stream_a, env=env),
               spawn(STREAM, str(data_dir), "stream b", *stream_b, env=env)]

    # Meanwhile an agent's app cancels its own six, through the keys, on its own store.
    desk = Desk(another_store(clinic), FixedClock(now), clinic.settings)
    app = make_app(desk)
    moved = make_appointment(clinic, start=start + timedelta(days=1, hours=1), patient_id="pat-002",
                             doctor_id="dr-sato", type_key="prescription").uid
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        screen = front(app, OverviewScreen)
        app.open_rebook(moved)  # the agent also rebooks one, through the keys
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        app.pop_screen()  # back from the new appointment's detail to the overview
        await settle(pilot)
        for uid in by_app:
            screen.table.select_key(uid)
            await pilot.press("c")
            await settle(pilot)
            await pilot.press(*"app", "enter")
            await settle(pilot)

    outputs = [p.communicate(timeout=120) for p in streams]
    reported = [line.split()[1] for out, _ in outputs for line in out.splitlines() if line.startswith("ok ")]
    assert all(p.returncode == 0 for p in streams), [err for _, err in outputs]
    assert sorted(reported) == sorted(stream_a + stream_b)  # nothing was refused for a lock

    reader_out, reader_err = reader.communicate(timeout=120)
    assert reader.returncode == 0, reader_out + reader_err
    assert json.loads(reader_out.splitlines()[-1])["checks"] >= 1

    # Let the worker deliver what is left, then stop it as an operator would.
    other = another_store(clinic)
    wait_until(lambda: len(view_of(other).deliveries.newest().items) >= 37 and not view_of(other).deliveries.queued(),
               what="the worker to deliver every event")
    worker.send_signal(signal.SIGTERM)
    worker_out, worker_err = worker.communicate(timeout=60)
    receiver.close()
    assert worker.returncode == 0, worker_err

    view = view_of(another_store(clinic))
    rebooked = [e for _, e in view.events.after(0) if e.type.value == "APPOINTMENT_REBOOKED"]
    assert [e.data["previous"]["uid"] for e in rebooked] == [moved]
    deliveries = list(view.deliveries.newest())
    assert Counter(d.event_id for d in deliveries) == Counter(
        {e.id: 1 for _, e in view.events.after(0) if e.type.value in ("APPOINTMENT_CANCELLED", "APPOINTMENT_REBOOKED")})
    assert all(d.status.value == "delivered" for d in deliveries)
    assert Counter(r.headers["webhook-id"] for r in receiver.received).most_common(1)[0][1] == 1
    reasons = {"stream a": set(stream_a), "stream b": set(stream_b), "app": set(by_app)}
    for reason, expected in reasons.items():
        for uid in expected:
            appt = view.appointments.require(uid)
            assert appt.status.value == "cancelled" and appt.cancel_reason == reason, uid
    events = [e for _, e in view.events.after(0)]
    assert len({e.id for e in events}) == len(events)
    per_uid = Counter(e.data["appointment"]["uid"] for e in events if e.type.value == "APPOINTMENT_CANCELLED")
    assert per_uid == Counter(dict.fromkeys(uids, 1))  # the rebook's cancellation is in APPOINTMENT_REBOOKED
