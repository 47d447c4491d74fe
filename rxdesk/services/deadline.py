"""One deadline for a whole outbound attempt: connect, send, and every byte of the answer.

A socket timeout bounds each read, not the attempt: a receiver that drips one byte every five
seconds never trips a 15 s read timeout and held a tick for minutes, past its lease, so a
second worker sent the same webhook again. Here an attempt has `ATTEMPT_SECONDS` from its
start, whatever the other side does, for webhooks, SMTP and the SMS gateway alike:

- HTTP (httpx): `attempt(seconds)` marks the running thread's attempt; the network streams of
  `rxdesk.services.egress` give every connect, read and write only the time that is left.
- SMTP (smtplib): `watch(seconds, abort)` calls `abort` when the time is up; the mail session
  shuts its socket down, which ends whatever read or write was waiting on it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ATTEMPT_SECONDS = 15.0

_local = threading.local()


class AttemptTimedOut(Exception):
    """The attempt's deadline passed."""


@contextmanager
def attempt(seconds: float = ATTEMPT_SECONDS) -> Iterator[None]:
    """Run the block as one attempt of at most `seconds` (in this thread)."""
    outer = getattr(_local, "deadline", None)
    _local.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.deadline = outer


def left(timeout: float | None) -> float | None:
    """`timeout` cut to what is left of this thread's attempt; raises once nothing is left."""
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise AttemptTimedOut
    return remaining if timeout is None else min(timeout, remaining)


class _Watchdog:
    """One thread for every watched attempt of the process: calls each `abort` when its time
    is up, unless the attempt ended first."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._live: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, seconds: float, abort: Callable[[], None]) -> int:
        with self._cond:
            ident = next(self._ids)
            heapq.heappush(self._heap, (time.monotonic() + seconds, ident, abort))
            self._live.add(ident)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rxdesk-attempt-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()
            return ident

    def remove(self, ident: int) -> None:
        with self._cond:
            self._live.discard(ident)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][1] not in self._live:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                due, ident, abort = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._live.discard(ident)
            try:
                abort()
            except Exception:  # noqa: BLE001 - an abort that fails must not stop the others
                pass


_watchdog = _Watchdog()


@contextmanager
def watch(seconds: float, abort: Callable[[], None]) -> Iterator[None]:
    """Call `abort()` from another thread if the block is still running after `seconds`."""
    ident = _watchdog.add(seconds, abort)
    try:
        yield
    finally:
        _watchdog.remove(ident)
