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
from bench.measure import copy_file, expect, median_of, time_call
from bench.places import DatabasePlaces, DataDirPlaces, commits

Log = Callable[[str], None]
FIRE = 1000
LONGEST_RULE = 43200  # minutes: the longest reminder rule rxdesk takes (30 days)
WARMING_TICKS = 12  # idle ticks a running worker takes to settle, run before its idle tick is timed
TIMED_TICKS = 15  # the fewest idle ticks timed: a sub-millisecond median needs more samples than `runs`


def rules_for(upcoming: list[Any], wanted: int) -> tuple[list[int], int]:
    """Patient rules (their `minutes_before`, made before NOW) that remind about `wanted` of
    these confirmed appointments at NOW, and how many they remind. An appointment is reminded
    by a rule when it starts within the rule's window and was confirmed by its moment
    (`domain.reminders.moment_counts`): in a clinic whose bookings are recent, no one window
    holds a thousand, so a few rules are added, as a clinic reminding a week, two days and a
    day before would have."""

    def held(minutes: int) -> int:
        until = NOW + timedelta(minutes=minutes)
        return sum(1 for a in upcoming if a.starts_at <= until and a.confirmed_at is not None
                   and a.confirmed_at <= a.starts_at - timedelta(minutes=minutes))

    counts = {minutes: held(minutes) for minutes in range(60, LONGEST_RULE + 1, 360)}
    chosen: list[int] = []
    total = 0
    while total < wanted and counts:
        enough = [m for m, n in counts.items() if total + n >= wanted]
        pick = min(enough, key=lambda m: counts[m]) if enough else max(counts, key=lambda m: counts[m])
        if counts[pick] == 0:
            break
        chosen.append(pick)
        total += counts.pop(pick)
    return chosen, total


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
    from rxdesk.domain.clock import FixedClock
    from rxdesk.domain.models import EventType
    from rxdesk.domain.queries import AppointmentQuery
    from rxdesk.services import Desk
    from rxdesk.services.maintenance import MaintenanceService

    who = places.backend
    figures: dict[str, dict[str, Any]] = {}

    # Idle: after a first tick has caught up with what the data set had due at NOW. Warm: a
    # running worker's next tick; cold: a worker started for one tick (`worker --once`). The
    # naive worker likewise: TinyDB's cache kept open, or the file read again.
    place = places.new("worker-idle")
    desk = place.desk()
    worker = MaintenanceService(desk, owner="bench")
    worker.tick()
    idle: list[Any] = []
    # A running worker's steady state. Its first idle ticks after that catch-up are slower and
    # settle within about ten (at A and C alike: 0.4-0.7 ms, then 0.27 ms), so those are run
    # first, unmeasured. Its ticks are sub-millisecond, so more of them than `runs` are taken
    # (a scheduler's hiccup in one of three moves the median by half).
    for _ in range(WARMING_TICKS):
        idle.append(worker.tick())
    samples = [time_call(lambda: idle.append(worker.tick())) for _ in range(max(runs, TIMED_TICKS))]
    desk.close()
    cold_samples = []
    for _ in range(runs):
        cold_desk = place.desk()
        cold_worker = MaintenanceService(cold_desk, owner="bench", once=True)  # as `worker --once` makes it
        cold_samples.append(time_call(lambda: idle.append(cold_worker.tick())))  # noqa: B023 - called here
        cold_desk.close()
    busy = [r.summary() for r in idle if r.expired or r.completed or r.reminders or r.writes]
    expect(not busy, f"{who}: an idle tick had work to do ({busy[0] if busy else ''})")
    figures["tick_idle"] = {who: median_of(samples)}
    figures["tick_idle_cold"] = {who: median_of(cold_samples)}
    log(f"{who} tick idle {figures['tick_idle'][who]:.3f} s, cold {figures['tick_idle_cold'][who]:.3f} s")
    if naive:
        from bench import naive as naive_store

        path = str(copy_file(built.naive_file, work / "naive-tick.json"))
        naive_store.tick_once(path)  # the first one expires holds: writes
        db = naive_store.open_db(path)
        for _ in range(WARMING_TICKS):  # as rxdesk's: settled first
            naive_store.tick(db)
        figures["tick_idle"]["naive"] = median_of([time_call(lambda: naive_store.tick(db))
                                                   for _ in range(max(runs, TIMED_TICKS))])
        db.close()
        figures["tick_idle_cold"]["naive"] = median_of([time_call(lambda: naive_store.tick_once(path))
                                                        for _ in range(runs)])
        log(f"naive tick idle {figures['tick_idle']['naive']:.3f} s, cold {figures['tick_idle_cold']['naive']:.3f} s")

    # 1,000 reminders: a patient rule whose window holds the next 1,000 confirmed appointments
    # that it may remind (each confirmed before its reminder's moment), added before those
    # moments came (a rule reminds from its creation on), every reminder delivered to a
    # subscription on a local receiver.
    tick_samples, writes, fired = [], [], []
    receiver_count: list[int] = []
    for run in range(runs):
        desk = places.new(f"worker-fire-{run}").desk()
        worker = MaintenanceService(desk, owner="bench")
        worker.tick()  # catch up first
        with desk.store.read() as view:
            page = view.appointments.search(
                AppointmentQuery(statuses=frozenset({"confirmed"}), starts_from=NOW + timedelta(minutes=1),
                                 starts_before=NOW + timedelta(minutes=LONGEST_RULE), count=False)
            )
        upcoming = [record.appointment for record in page.items]
        rules, promised = rules_for(upcoming, FIRE)
        wanted = min(FIRE, promised)  # a smaller data set may not hold a thousand to remind
        receiver = Receiver()
        try:
            earlier = Desk(desk.store, FixedClock(NOW - timedelta(minutes=max(rules, default=0))), desk.settings)
            for appt_type in desk.types.list_types():
                for minutes in rules:
                    if not any(r.recipient.value == "patient" and r.minutes_before == minutes
                               for r in appt_type.reminders):
                        earlier.reminders.add_rule(appt_type.key, "patient", minutes, agent="bench")
            desk.webhooks.add_subscription(receiver.url, [EventType.APPOINTMENT_REMINDER_DUE.value], {}, "bench",
                                           allow_private_network=True)
            before = commits(desk.store)
            seconds = time_call(lambda: fired.append(worker.tick()))  # noqa: B023 - called here
            writes.append(commits(desk.store) - before)
            tick_samples.append(seconds)
        finally:
            receiver_count.append(receiver.count)
            receiver.close()
            desk.close()
        report = fired[-1]
        expect(wanted > 0 and report.reminders >= wanted * 0.9
               and report.delivered == report.reminders == receiver_count[-1],
               f"{who}: the tick fired {report.reminders} reminders, delivered {report.delivered}, "
               f"the receiver got {receiver_count[-1]} (wanted about {wanted:,})")
        log(f"{who} tick firing {report.reminders} reminders ({len(rules)} rules), {report.delivered} delivered: "
            f"{seconds:.3f} s, {writes[-1]} writes")
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
        expect(r.completed > 0, f"{who}: a week-late tick completed no appointment ({r.summary()})")
        log(f"{who} week-late tick: {r.completed} completed, {r.expired} expired, {r.reminders} reminders, "
            f"{writes[-1]} writes: {samples[-1]:.3f} s")
    r = reports[-1]
    return {who: median_of(samples), places.key("writes"): max(writes),
            places.key("note"): f"{r.completed} completed, {r.expired} holds expired, {r.reminders} reminders, "
                           f"{max(writes)} write{'s' if max(writes) != 1 else ''}"}
