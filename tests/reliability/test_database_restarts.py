"""A PostgreSQL server that is down when the worker starts, or restarts between two ticks, on a
throwaway cluster of its own (tests/pgcluster.py): the worker waits for it, no tick fails on a
stale connection, and the driver's own log lines never reach the terminal."""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rxdesk.config import Settings
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from rxdesk.store import init_database
from tests.helpers import CLINIC_TOML, REPO, run_cli
from tests.pgcluster import Cluster, start_cluster

# Each test takes `backend` only to be left out where PostgreSQL is (RXDESK_TEST_BACKENDS=tiny).
pytestmark = pytest.mark.database_only


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A server of this module's own, with a provisioned clinic in its `postgres` database."""
    made = start_cluster()
    try:
        init_database(made.url())
        desk = Desk.open(settings_on(made, tmp_path_factory.mktemp("setup")))
        desk.provisioning.provision_file(CLINIC_TOML, "setup")
        desk.close()
        yield made
    finally:
        made.remove()


def settings_on(cluster: Cluster, data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, agent="tester", now=None, master_key=None, database_url=cluster.url())


class Lines:
    """The lines a process writes to stdout, as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout

        def read() -> None:
            for line in stdout:
                self._queue.put(line)
            self._queue.put(None)  # the process closed its output: it has ended

        threading.Thread(target=read, daemon=True).start()

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r}; saw {self.seen!r}")


def test_a_worker_started_before_the_database_waits_for_it_then_ticks(cluster: Cluster, tmp_path: Path,
                                                                     backend: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "RXDESK_DATA_DIR": str(tmp_path / "data"),
           "RXDESK_DATABASE_URL": cluster.url(), "RXDESK_AGENT": "tester"}
    cluster.stop("fast")
    restarted = False
    try:
        once = run_cli("worker", "--once", env=env)
        assert once.code == 1 and once.out == ""
        assert once.err.count("\n") == 1 and "is PostgreSQL running there?" in once.err

        proc = subprocess.Popen([sys.executable, "-m", "rxdesk", "worker", "--interval", "0.2"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            lines = Lines(proc)
            waiting = lines.wait_for("waiting for the store")
            assert "is PostgreSQL running there?" in waiting and "every 0.2 s" in waiting
            lines.wait_for("waiting for the store")  # it tries again, and is still running
            assert proc.poll() is None
            cluster.start(same_port=True)
            restarted = True
            assert "on database 'postgres'" in lines.wait_for(" started on ")
            lines.wait_for(" tick expired=")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and err == ""
    finally:
        if not restarted:
            cluster.start(same_port=True)


def test_a_server_restart_between_ticks_fails_no_tick(cluster: Cluster, tmp_path: Path, capfd: pytest.CaptureFixture[str], backend: str) -> None:
    desk = Desk.open(settings_on(cluster, tmp_path))
    try:
        worker = MaintenanceService(desk)
        desk.doctors.list_doctors()  # the pool holds connections of the server's first life
        worker.tick()
        cluster.stop("fast")
        cluster.start(same_port=True)
        for _ in range(3):
            worker.tick()
        assert sorted(d.id for d in desk.doctors.list_doctors()) == ["dr-osei", "dr-sato", "dr-weber"]
    finally:
        desk.close()
    captured = capfd.readouterr()
    assert captured.err == "" and "psycopg" not in captured.out


def test_the_drivers_warnings_go_to_the_error_log_not_the_terminal(cluster: Cluster, tmp_path: Path, capfd: pytest.CaptureFixture[str], backend: str) -> None:
    desk = Desk.open(settings_on(cluster, tmp_path))
    try:
        desk.doctors.list_doctors()
        logging.getLogger("psycopg.pool").warning("discarding closed connection: %s",
                                                  "<psycopg.Connection [BAD] at 0x7f0>")
    finally:
        desk.close()
    assert capfd.readouterr().err == ""
    logged = (tmp_path / "logs" / "errors.log").read_text()
    assert "database driver (psycopg.pool) warning: discarding closed connection" in logged
