"""Errors an agent may see. Every message is one line that says what is wrong."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class RxdeskError(Exception):
    """Base of every expected failure. `str(err)` is the one-line reason shown to the agent."""

    def __init__(self, message: str) -> None:
        # A reason is always one line: never let a newline from input split it.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self)


class ValidationFailed(RxdeskError):
    """Input that does not fit a field's rules."""


class NotFound(RxdeskError):
    """A named entity does not exist."""


def found(item: T | None, what: str, key: object) -> T:
    """`item`, or NotFound naming what is missing: what every store's `require` says."""
    if item is None:
        raise NotFound(f"no {what} {key!r}")
    return item


class Refused(RxdeskError):
    """A rule forbids the action in the current state (transition, notice, overlap...)."""


class Conflict(Refused):
    """The action lost a race: someone else took the slot or changed the entity first."""


class StoreError(RxdeskError):
    """The data dir cannot be read or written as it is (corrupt file, permissions, lock)."""


class UnreadableRecord(RxdeskError):
    """A stored record of another shape than its entity's (a value of the wrong type, a field
    missing): it cannot be worked with. Named in one line; the record is left as it is. Not a
    StoreError: the rest of the store is sound, and the app and a tick go on without it."""

    def __init__(self, record: str, problem: str) -> None:
        super().__init__(f"stored {record} cannot be read ({problem}); it was damaged or written by another "
                         "program: correct it or remove it")
        self.record = record
        self.problem = problem


class StoreUnavailable(StoreError):
    """The database server cannot be reached right now (down, network, connection lost):
    nothing was changed, and trying again later may work."""


class ConfigError(RxdeskError):
    """The environment or a configuration file is wrong."""


def short_path(path: object) -> str:
    """A path for a one-line message: a long one is cut in the middle."""
    text = str(path)
    return text if len(text) <= 120 else f"{text[:60]}…{text[-40:]}"
