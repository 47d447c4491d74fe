"""The command line. Bare `rxdesk` opens the app; subcommands mirror every action of the app.

Exit codes: 0 success, 1 a refused action or bad input (one line on stderr, nothing changed),
2 a usage error. Only the module of the command being run is imported, and Textual only when
the app opens, so scripts never pay for what they do not run (rxdesk/commands/__init__.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from rxdesk.commands import build_parser, run

__all__ = ["build_parser", "entry", "main"]


def main(argv: Sequence[str] | None = None, *, short_lived: bool = False) -> int:
    return run(list(sys.argv[1:] if argv is None else argv), short_lived=short_lived)


def entry() -> None:
    """The `rxdesk` program: `main`, then out at once.

    An interpreter's orderly shutdown frees every loaded module's objects one by one, which
    costs a short command 12-17% of its time (20-25 ms of `appointments list` or `cancel` on a
    100,000-appointment data dir; `tests/unit/test_cli_shape.py` keeps what a command loads
    within a budget). Once a command has answered, its output is
    flushed and its data dir or database closed (`commands.run`), nothing is left to tidy: it
    leaves with `os._exit`. The app and the worker, and anything that left a thread or a child
    process running, get the orderly exit. For the same reason a command's store is
    `short_lived`: what it parses from the data dir is kept out of the cyclic collector's passes.
    """
    code = main(short_lived=True)
    if _only_this_thread_runs():
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # the reader went away: the orderly exit deals with it
            raise SystemExit(code) from None
        os._exit(code)
    raise SystemExit(code)


def _only_this_thread_runs() -> bool:
    if "textual" in sys.modules or "rxdesk.worker" in sys.modules:
        return False
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return False
    multiprocessing = sys.modules.get("multiprocessing")
    return multiprocessing is None or not multiprocessing.active_children()


if __name__ == "__main__":
    entry()
