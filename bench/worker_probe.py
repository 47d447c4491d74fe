"""The worker's figures: an idle tick, a tick that fires 1,000 reminders to a webhook receiver
on 127.0.0.1 (counting the store writes it takes), and the tick of a worker that was down for a
week (a week of completions, the holds that lapsed, the reminders due)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.datasets import NOW, Built
from bench.measure import copy_file, median_of, time_call
from bench.places import DatabasePlaces, DataDirPlaces, commits

Log = Callable[[str], None]
FIRE = 1000


def _serve(port_out: Any, count: Any) -> None:
    """The receiver's process: answers 204 to every POST and counts them."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            with count.get_lock():
                count.value += 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer.request_queue_size = 128  # a real receiver's backlog, not socketserver's 5
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.send(server.server_address[1])
    server.serve_forever()


class Receiver:
    """A webhook receiver in its own process, as a partner's server would be: its request
    handling does not share the worker's interpreter (and its GIL)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._count = context.Value("i", 0)
        ours, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(theirs, self._count), daemon=True)
        self._process.start()
        self.url = f"http://127.0.0.1:{ours.recv()}/hook"

    @property
    def count(self) -> int:
        return int(self._count.value)

    def close(self) -> None:
        self._process.terminate()
        self._process.join(10)


def measure(built: Built, work: Path, *, runs: int, naive: bool, log: Log,
            places: DataDirPlaces | DatabasePlaces) -> dict[str, dict[str, Any]]:
    from rxdesk.domain.models import EventType
    from rxdesk.domain.queries import AppointmentQuery
    from rxdesk.services.maintenance import MaintenanceService

    who = places.backend
    figures: dict[str, dict[str, Any]] = {}

    # Idle: after a first tick has caught up with what the data set had due at NOW.
    place = places.new("worker-idle")
    desk = place.desk()
    worker = MaintenanceService(desk, owner="bench")
    worker.tick()
    samples = [time_call(worker.tick) for _ in range(max(runs, 5))]
    cold_desk = place.desk()
    cold = time_call(MaintenanceService(cold_desk, owner="bench").tick)
    desk.close()
    cold_desk.close()
    figures["tick_idle"] = {who: median_of(samples),
                            places.key("note"): f"a running worker; {cold * 1000:.0f} ms with nothing cached, "
                                           "as `worker --once`"}
    log(f"{who} tick idle {figures['tick_idle'][who]:.3f} s")
    if naive:
        from bench import naive as naive_store

        path = str(copy_file(built.naive_file, work / "naive-tick.json"))
        naive_store.tick(path)  # the first one expires holds: writes
        figures["tick_idle"]["naive"] = time_call(lambda: naive_store.tick(path))
        log(f"naive tick idle {figures['tick_idle']['naive']:.3f} s")

    # 1,000 reminders: a patient rule whose window holds exactly the next 1,000 confirmed
    # appointments, every one of them delivered to a subscription on a local receiver.
    tick_samples, writes, fired = [], [], []
    for run in range(runs):
        desk = places.new(f"worker-fire-{run}").desk()
        worker = MaintenanceService(desk, owner="bench")
        worker.tick()  # catch up first
        with desk.store.read() as view:
            page = view.appointments.search(
                AppointmentQuery(statuses=frozenset({"confirmed"}), starts_from=NOW + timedelta(minutes=1),
                                 limit=FIRE + 1, count=False)
            )
        count = min(FIRE, len(page.items) - 1)  # a small data set has fewer upcoming
        last_start, next_start = page.items[count - 1].starts_at, page.items[count].starts_at
        note = "(ties at the boundary: a few more may fire)" if last_start == next_start else ""
        minutes = min(43200, int((last_start - NOW).total_seconds() // 60) + 1)
        receiver = Receiver()
        try:
            for appt_type in desk.types.list_types():
                desk.reminders.add_rule(appt_type.key, "patient", minutes, agent="bench")
            desk.webhooks.add_subscription(receiver.url, [EventType.APPOINTMENT_REMINDER_DUE.value], {}, "bench",
                                           allow_private_network=True)
            before = commits(desk.store)
            seconds = time_call(lambda: fired.append(worker.tick()))  # noqa: B023 - called here
            writes.append(commits(desk.store) - before)
            tick_samples.append(seconds)
        finally:
            receiver.close()
            desk.close()
        report = fired[-1]
        log(f"{who} tick firing {report.reminders} reminders, {report.delivered} delivered: {seconds:.3f} s, "
            f"{writes[-1]} writes {note}")
    figures["tick_1000"] = {who: median_of(tick_samples), places.key("writes"): max(writes),
                            places.key("note"): f"{fired[-1].reminders} reminders fired, "
                                           f"{fired[-1].delivered} webhooks delivered"}
    figures["tick_week"] = week_late(places, runs=runs, log=log)
    return figures


def week_late(places: DataDirPlaces | DatabasePlaces, *, runs: int, log: Log) -> dict[str, Any]:
    """A worker caught up at NOW, then down for a week: its next tick writes down a week of
    completed appointments and the holds that lapsed, and fires the reminders due, in one
    phase-one write (no subscriptions: nothing to send)."""
    from rxdesk.services.maintenance import MaintenanceService

    who = places.backend
    samples, reports, writes = [], [], []
    for run in range(runs):
        desk = places.new(f"worker-week-{run}").desk()
        worker = MaintenanceService(desk, owner="bench")
        worker.tick(NOW)  # caught up
        before = commits(desk.store)
        samples.append(time_call(lambda: reports.append(worker.tick(NOW + timedelta(days=7)))))  # noqa: B023
        writes.append(commits(desk.store) - before)
        desk.close()
        r = reports[-1]
        log(f"{who} week-late tick: {r.completed} completed, {r.expired} expired, {r.reminders} reminders, "
            f"{writes[-1]} writes: {samples[-1]:.3f} s")
    r = reports[-1]
    return {who: median_of(samples), places.key("writes"): max(writes),
            places.key("note"): f"{r.completed} completed, {r.expired} holds expired, {r.reminders} reminders, "
                           f"{max(writes)} write{'s' if max(writes) != 1 else ''}"}
