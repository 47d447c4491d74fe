"""The app's maintenance tick, run as a child process (`rxdesk worker --once --json`).

A tick parses and writes store segments and sends hundreds of requests; in a thread of the
app it would hold the interpreter's lock for much of that and the screen would stutter. In its
own process it runs beside the app on another core, and the app only waits on a pipe. The
child is an ordinary worker: same leases, same exactly-once rules as `rxdesk worker`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from rxdesk.config import Settings
from rxdesk.domain.clock import Clock, FixedClock


@dataclass(frozen=True)
class ChildTick:
    ok: bool
    text: str  # the tick's summary, or why it failed


def tick_in_child(settings: Settings, clock: Clock, *, cancelled: Callable[[], bool] = lambda: False,
                  poll_seconds: float = 0.1) -> ChildTick:
    """Run one tick in a child process and wait for it. If `cancelled()` turns true (the app
    is closing) the wait ends at once; the child is left to finish its tick and exit, as a
    worker stopped mid-tick would."""
    env = dict(os.environ)
    env.pop("RXDESK_NOW", None)
    # A fixed clock (RXDESK_NOW, tests) is handed on; a real one the child reads itself.
    env.update(settings.to_env(now=clock.now() if isinstance(clock, FixedClock) else None))
    child = subprocess.Popen([sys.executable, "-m", "rxdesk", "worker", "--once", "--json"], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)  # ctrl+c in the app's terminal is not meant for it
    while True:
        try:  # reads both pipes while waiting, so a long answer never blocks the child
            out, err = child.communicate(timeout=poll_seconds)
            break
        except subprocess.TimeoutExpired:
            if cancelled():
                return ChildTick(False, "the app stopped waiting; the tick finishes on its own")
    for line in reversed(out.splitlines()):
        try:
            answer = json.loads(line)
        except ValueError:
            continue
        if answer.get("ok"):
            return ChildTick(True, answer.get("summary", ""))
        return ChildTick(False, str(answer.get("error", "the tick failed")))
    # No answer: the child could not start or died. Its own one-line error says why.
    reason = next((line.removeprefix("rxdesk: ") for line in err.splitlines() if line.strip()), "")
    return ChildTick(False, reason or f"the worker process ended with code {child.returncode}")
