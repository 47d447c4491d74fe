"""Option types: a number out of its bounds is a usage error (exit 2) before anything runs,
never a traceback or a silent clamp. The bounds are the domain's (`domain.limits`), the same
the services check, so the command line holds no rule of its own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from rxdesk.domain import limits
from rxdesk.domain.errors import ValidationFailed


def whole(bounds: tuple[int, int], what: str) -> Callable[[str], int]:
    """A whole number as typed (`10000`, `10_000`, `10,000`: ASCII digits only) within `bounds`."""

    def parse(text: str) -> int:
        try:
            return limits.whole_within(text.strip().replace("_", "").replace(",", ""), bounds, what=what)
        except ValidationFailed as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def seconds(bounds: tuple[float, float], what: str) -> Callable[[str], float]:
    """A number of seconds (`0.5`, `60`) within `bounds`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number of seconds") from None
        low, high = bounds
        if not low <= value <= high:  # NaN fails this too
            raise argparse.ArgumentTypeError(f"{what} must be between {limits.shown(low)} and "
                                             f"{limits.shown(high)} seconds")
        return value

    return parse


LIMIT = whole(limits.LISTING_LIMIT, "limit")
DAYS = whole(limits.SLOT_DAYS, "days")
MINUTES_BEFORE = whole(limits.MINUTES_BEFORE, "minutes before")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (field names as in the data model)")


def add_limit(parser: argparse.ArgumentParser, default: int | None = None) -> None:
    low, high = limits.LISTING_LIMIT
    shown = f"; default {default}" if default else ""
    parser.add_argument("--limit", type=LIMIT, default=default, metavar="N",
                        help=f"print at most N rows ({low}..{limits.shown(high)}{shown})")


def read_token(value: str) -> str:
    """A token argument: `-` reads it from stdin, so it need not sit in shell history or the
    process list."""
    if value == "-":
        return sys.stdin.readline().strip()
    return value
