"""`rxdesk worker`: the tick every minute on the minute, one log line per tick.

SIGTERM or SIGINT lets the running tick finish, then the loop exits 0. A failing tick is
logged (one line; details in logs/errors.log) and the next one runs as usual: a server worker
keeps going through a full disk, a damaged file or a database that went away until someone
fixes it. A database that cannot be reached when the worker starts is waited for the same way.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from rxdesk.crashlog import log_crash
from rxdesk.domain.errors import RxdeskError, StoreUnavailable
from rxdesk.domain.terminal import json_safe, terminal_safe
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService, TickFailed, TickReport


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def log_line(report: TickReport, seconds: float) -> str:
    counts = (f"expired={report.expired} reminders={report.reminders} deliveries_created={report.deliveries_created} "
              f"delivered={report.delivered} retrying={report.retrying} dead={report.dead} "
              f"messages_sent={report.messages_sent} outbox={report.messages_outbox} "
              f"messages_failed={report.messages_failed} messages_skipped={report.messages_skipped} "
              f"messages_unknown={report.messages_unknown} deferred={report.deferred} writes={report.writes}")
    return f"{_stamp()} tick {counts} took={seconds:.2f}s"


def report_json(report: TickReport, seconds: float, *, error: str = "") -> str:
    """One tick as one JSON line (`worker --once --json`), for the app's tick process; with
    `error`, a tick that did its work but could not write all of it down (`ok` false)."""
    import json

    answer: dict[str, object] = {"ok": not error}
    if error:
        answer["error"] = error
    answer.update({"summary": report.summary(), "problems": report.problems,
                   "expired": report.expired, "completed": report.completed, "reminders": report.reminders,
                   "delivered": report.delivered, "retrying": report.retrying, "dead": report.dead,
                   "messages_sent": report.messages_sent, "messages_failed": report.messages_failed,
                   "messages_unknown": report.messages_unknown, "writes": report.writes,
                   "seconds": round(seconds, 3)})
    return json_safe(json.dumps(answer))


def run(open_desk: Callable[[], Desk], *, once: bool, interval: float | None, owner: str, out: TextIO,
        as_json: bool = False) -> int:
    """Tick until SIGTERM (or once). `open_desk` gives the desk; when its store cannot be
    reached yet (a database that starts after the worker), the loop says so in one line and
    tries again every interval; one tick (`once`) fails at once instead."""
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    failures, why = 0, ""
    try:
        if as_json:  # one tick, one JSON line: a SIGTERM meanwhile lets it finish
            desk = open_desk()
            return _once_as_json(desk, MaintenanceService(desk, owner=owner, once=True), out)
        every = "one tick" if once else f"every {interval:g} s" if interval else "every minute"
        reached = open_desk() if once else _open_when_reachable(open_desk, owner, interval, every, stop, out)
        if reached is None:
            out.write(f"{_stamp()} worker {owner} stopped\n")
            return 0
        desk = reached
        maintenance = MaintenanceService(desk, owner=owner, once=once)
        out.write(f"{_stamp()} worker {owner} started on {desk.store.location} ({every})\n")
        out.flush()
        while True:
            started = time.monotonic()
            try:
                report = maintenance.tick()
                out.write(log_line(report, time.monotonic() - started) + "\n")
                out.writelines(f"{_stamp()} problem {terminal_safe(problem)}\n" for problem in report.problems)
                failures = 0
            except TickFailed as exc:  # its work was done: what it did is said before why it failed
                failures += 1
                out.write(log_line(exc.report, time.monotonic() - started) + "\n")
                out.writelines(f"{_stamp()} problem {terminal_safe(problem)}\n" for problem in exc.report.problems)
                why = f"tick failed: {terminal_safe(str(exc))}"
                out.write(f"{_stamp()} {why}\n")
            except RxdeskError as exc:
                failures += 1
                why = f"tick failed: {terminal_safe(str(exc))}"
                out.write(f"{_stamp()} {why}\n")
            except Exception as exc:  # noqa: BLE001 - keep serving; support gets the traceback
                failures += 1
                where = log_crash(desk.settings.data_dir if desk.settings else None)
                why = f"tick failed: internal error ({type(exc).__name__}); details in {where}"
                out.write(f"{_stamp()} {why}\n")
            out.flush()
            if once or stop.is_set():
                break
            if stop.wait(_until_next(interval)):
                break
        out.write(f"{_stamp()} worker {owner} stopped\n")
        out.flush()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if once and failures:
        sys.stderr.write(f"rxdesk: {why}\n")  # a refused command's one line, beside the log
        return 1
    return 0


def _until_next(interval: float | None) -> float:
    """Seconds to the next tick: `interval`, or to the next whole minute."""
    return interval if interval else 60.0 - (time.time() % 60.0)


def _open_when_reachable(open_desk: Callable[[], Desk], owner: str, interval: float | None, every: str,
                         stop: threading.Event, out: TextIO) -> Desk | None:
    """The desk, once its store can be reached; None when stopped before. Under systemd the
    worker may start before the database: it waits, one line per try, instead of exiting."""
    while True:
        try:
            return open_desk()
        except StoreUnavailable as exc:
            out.write(f"{_stamp()} worker {owner} waiting for the store ({every}): {terminal_safe(str(exc))}\n")
            out.flush()
        if stop.wait(_until_next(interval)):
            return None


def _once_as_json(desk: Desk, maintenance: MaintenanceService, out: TextIO) -> int:
    import json

    started = time.monotonic()
    try:
        report = maintenance.tick()
    except TickFailed as exc:
        out.write(report_json(exc.report, time.monotonic() - started, error=str(exc)) + "\n")
        return 1
    except RxdeskError as exc:
        out.write(json_safe(json.dumps({"ok": False, "error": str(exc)})) + "\n")
        return 1
    except Exception as exc:  # noqa: BLE001 - one line for the app; support gets the traceback
        where = log_crash(desk.settings.data_dir if desk.settings else None)
        failed = {"ok": False, "error": f"internal error ({type(exc).__name__}); see {where}"}
        out.write(json_safe(json.dumps(failed)) + "\n")
        return 1
    out.write(report_json(report, time.monotonic() - started) + "\n")
    return 0
