"""SIGKILL at random moments: the data always loads, and what was reported done is there.

A writer process cancels appointments as fast as it can and prints each one it finished. We
kill it at a random moment, many times. After each kill a fresh store must open, every
reported cancellation must be there with its one event, and the one in flight is either whole
(cancelled, with its event and audit entry) or absent. On PostgreSQL the transaction is the
unit: a writer killed before, during or after any of its statements leaves all or nothing.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.services import Desk
from tests.helpers import REPO, another_store, assert_week_counts_exact, make_appointment, view_of

pytestmark = pytest.mark.backends

WRITER = textwrap.dedent(
    """
    import contextlib, io, sys
    from rxdesk.cli import main
    data_dir, *uids = sys.argv[1:]  # the data is in RXDESK_DATABASE_URL when that is set
    report = sys.stdout
    print("started", file=report, flush=True)
    for uid in uids:
        with contextlib.redirect_stdout(io.StringIO()):  # only our lines on the pipe
            code = main(["--data-dir", data_dir, "appointments", "cancel", uid, "--reason", "crash test"])
        print("ok" if code == 0 else f"failed-{code}", uid, file=report, flush=True)
    """
)


def test_killed_writers_leave_whole_changes_only(clinic: Desk, now: datetime, data_dir: Path, cli_env: dict[str, str]) -> None:
    rng = random.Random(20261124)
    start = now + timedelta(days=1)
    with clinic.store.write():
        pass
    pending = [make_appointment(clinic, start=start + timedelta(minutes=10 * i), minutes=10).uid for i in range(160)]
    env = {**os.environ, **cli_env, "PYTHONPATH": str(REPO)}
    reported: set[str] = set()
    trials = 12
    for _ in range(trials):
        batch, pending = pending[:12], pending[12:]
        errors = data_dir.parent / "writer-errors.txt"
        with errors.open("w") as err_file:
            proc = subprocess.Popen([sys.executable, "-c", WRITER, str(data_dir), *batch], cwd=REPO, env=env,
                                    stdout=subprocess.PIPE, stderr=err_file, text=True)
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "started"
            first = proc.stdout.readline()  # writes are under way once the first one is done
            time.sleep(rng.uniform(0.0, 0.08))  # somewhere in the stream of writes; not a timing assert
            proc.send_signal(signal.SIGKILL)
            out = first + proc.stdout.read()  # the same reader: nothing it buffered is lost
            proc.wait(timeout=30)
        err = errors.read_text()
        reported |= {line.split()[1] for line in out.splitlines() if line.startswith("ok ")}

        view = view_of(another_store(clinic))  # loads, or the test fails here with the StoreError
        cancelled = set()
        for uid in batch:
            appt = view.appointments.require(uid)
            if appt.status.value == "cancelled":
                cancelled.add(uid)
                assert [a.action for a in view.audit.for_target(f"appointment:{uid}")] == ["appointment.cancel"]
        assert reported & set(batch) <= cancelled
        failed = [line for line in out.splitlines() if line.startswith("failed")]
        assert not failed, (failed, err)
        assert len(cancelled - reported) <= 1, (out, err)  # at most the one in flight, and then whole
        events = Counter(e.data["appointment"]["uid"] for _, e in view.events.after(0)
                         if e.type.value == "APPOINTMENT_CANCELLED")
        assert {uid for uid in events if uid in batch} == cancelled
        assert all(count == 1 for count in events.values())
        if not clinic.settings.database_url:  # the weeks' counts commit with them, or not at all
            assert_week_counts_exact(data_dir)
    assert reported, "the writer never got a cancellation done: the kills came too early to test anything"
    # And after all that, the store still takes writes.
    clinic2 = Desk(another_store(clinic), clinic.clock, clinic.settings)
    clinic2.appointments.cancel_appointment(pending[0], "after the crashes", "tester")


STEP_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from rxdesk.cli import main
    data_dir, uid, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    calls = 0
    def counted(real):
        def call(*args, **kwargs):
            global calls
            calls += 1
            if calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return call
    os.fsync = counted(os.fsync)
    os.replace = counted(os.replace)
    os.rename = counted(os.rename)
    code = main(["--data-dir", data_dir, "appointments", "cancel", uid, "--reason", "step"])
    print("done", code, calls, flush=True)
    """
)


def kill_at_every_step(clinic: Desk, now: datetime, cli_env: dict[str, str], killer: str, *, most: int) -> None:
    """Cancel one appointment after another in a process that `killer` kills at step 1, 2, 3...
    of the cancellation, until one finishes: each is then whole (cancelled, one event, one audit
    entry) or absent (nothing at all), and both happened."""
    env = {**os.environ, **cli_env, "PYTHONPATH": str(REPO)}
    start = now + timedelta(days=1)
    step, whole, absent = 1, 0, 0
    while True:
        uid = make_appointment(clinic, start=start + timedelta(minutes=10 * step), minutes=10).uid
        proc = subprocess.run([sys.executable, "-c", killer, str(clinic.settings.data_dir), uid, str(step)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)
        view = view_of(another_store(clinic))
        appt = view.appointments.require(uid)
        events = [e for _, e in view.events.after(0)
                  if e.type.value == "APPOINTMENT_CANCELLED" and e.data["appointment"]["uid"] == uid]
        audit = view.audit.for_target(f"appointment:{uid}")
        if appt.status.value == "cancelled":
            whole += 1
            assert len(events) == 1 and len(audit) == 1
        else:
            absent += 1
            assert events == [] and audit == []
        if not clinic.settings.database_url:
            assert_week_counts_exact(clinic.settings.data_dir)
        if proc.returncode == 0:  # the cancellation needed fewer steps than `step`: all were tried
            assert proc.stdout.splitlines()[-1].startswith("done 0"), proc.stdout + proc.stderr
            break
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        step += 1
        assert step < most, "a cancellation should not take this many steps"
    assert absent >= 1 and whole >= 1


@pytest.mark.data_dir_only
def test_a_kill_at_every_step_of_a_commit_leaves_it_whole_or_absent(clinic: Desk, now: datetime, cli_env: dict[str, str]) -> None:
    """Kill the writer at each fsync and rename of one cancellation, in turn."""
    kill_at_every_step(clinic, now, cli_env, STEP_KILLER, most=40)


STATEMENT_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import psycopg
    from rxdesk.cli import main
    data_dir, uid, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    steps = 0
    def step():
        global steps
        steps += 1
        if steps == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    real = psycopg.Cursor.execute
    def execute(self, *args, **kwargs):
        step()  # killed before the statement reaches the server
        result = real(self, *args, **kwargs)
        step()  # killed after the server answered it (for COMMIT: after it committed)
        return result
    psycopg.Cursor.execute = execute
    code = main(["--data-dir", data_dir, "appointments", "cancel", uid, "--reason", "step"])
    print("done", code, steps, flush=True)
    """
)


@pytest.mark.database_only
def test_a_kill_before_or_after_any_statement_leaves_a_change_whole_or_absent(clinic: Desk, now: datetime, cli_env: dict[str, str]) -> None:
    """Kill the writer before and after each statement of one cancellation, in turn."""
    kill_at_every_step(clinic, now, cli_env, STATEMENT_KILLER, most=80)
