"""The command line. Bare `rxdesk` opens the app; subcommands mirror every action of the app.

Exit codes: 0 success, 1 a refused action or bad input (one line on stderr, nothing changed),
2 a usage error. Only the module of the command being run is imported, and Textual only when
the app opens, so scripts never pay for what they do not run (rxdesk/commands/__init__.py).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rxdesk.commands import build_parser, run

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    return run(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
