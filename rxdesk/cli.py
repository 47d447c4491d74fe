"""The command line. Bare `rxdesk` opens the app; subcommands mirror every action of the app.

Exit codes: 0 success, 1 a refused action or bad input (one line on stderr, nothing changed),
2 a usage error. Textual is imported only when the app opens, so scripts never pay for it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rxdesk.commands import CommandLine, run

# Each module registers its commands; see rxdesk/commands/__init__.py.
COMMAND_MODULES = (
    "rxdesk.commands.setup",
    "rxdesk.commands.appointments",
    "rxdesk.commands.people",
    "rxdesk.commands.rebooking",
    "rxdesk.commands.away",
    "rxdesk.commands.attention",
    "rxdesk.commands.tokens",
    "rxdesk.commands.maintenance",
    "rxdesk.commands.store",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    cli = CommandLine()
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(cli)
    return cli.parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    return run(parser, list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    raise SystemExit(main())
