"""`rxdesk worker`: the tick every minute on the minute, one log line per tick.

SIGTERM or SIGINT lets the running tick finish, then the loop exits 0. A failing tick is
logged (one line; details in logs/errors.log) and the next one runs as usual: a server worker
keeps going through a full disk or a damaged file until someone fixes it.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from rxdesk.crashlog import log_crash
from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.terminal import json_safe, terminal_safe
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService, TickReport


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def log_line(report: TickReport, seconds: float) -> str:
    counts = (f"expired={report.expired} reminders={report.reminders} deliveries_created={report.deliveries_created} "
              f"delivered={report.delivered} retrying={report.retrying} dead={report.dead} "
              f"messages_sent={report.messages_sent} outbox={report.messages_outbox} "
              f"messages_failed={report.messages_failed} messages_skipped={report.messages_skipped} "
              f"deferred={report.deferred} writes={report.writes}")
    return f"{_stamp()} tick {counts} took={seconds:.2f}s"


def report_json(report: TickReport, seconds: float) -> str:
    """One tick as one JSON line (`worker --once --json`), for the app's tick process."""
    import json

    return json_safe(json.dumps({"ok": True, "summary": report.summary(), "problems": report.problems,
                       "expired": report.expired, "completed": report.completed, "reminders": report.reminders,
                       "delivered": report.delivered, "retrying": report.retrying, "dead": report.dead,
                       "writes": report.writes,
                       "seconds": round(seconds, 3)}))


def run(desk: Desk, *, once: bool, interval: float | None, owner: str, out: TextIO,
        sleep_until: Callable[[threading.Event, float], bool] | None = None, as_json: bool = False) -> int:
    maintenance = MaintenanceService(desk, owner=owner)
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    failures = 0
    try:
        if as_json:  # one tick, one JSON line: a SIGTERM meanwhile lets it finish
            return _once_as_json(desk, maintenance, out)
        out.write(f"{_stamp()} worker {owner} started on {desk.store.location}"
                  f" ({'one tick' if once else f'every {interval:g} s' if interval else 'every minute'})\n")
        out.flush()
        while True:
            started = time.monotonic()
            try:
                report = maintenance.tick()
                out.write(log_line(report, time.monotonic() - started) + "\n")
                out.writelines(f"{_stamp()} problem {terminal_safe(problem)}\n" for problem in report.problems)
                failures = 0
            except RxdeskError as exc:
                failures += 1
                out.write(f"{_stamp()} tick failed: {terminal_safe(str(exc))}\n")
            except Exception as exc:  # noqa: BLE001 - keep serving; support gets the traceback
                failures += 1
                where = log_crash(desk.settings.data_dir if desk.settings else None)
                out.write(f"{_stamp()} tick failed: internal error ({type(exc).__name__}); details in {where}\n")
            out.flush()
            if once or stop.is_set():
                break
            delay = interval if interval else 60.0 - (time.time() % 60.0)
            if stop.wait(delay):
                break
        out.write(f"{_stamp()} worker {owner} stopped\n")
        out.flush()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if (once and failures) else 0


def _once_as_json(desk: Desk, maintenance: MaintenanceService, out: TextIO) -> int:
    import json

    started = time.monotonic()
    try:
        report = maintenance.tick()
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
