"""`rxdesk worker`: the maintenance manager without the app."""

from __future__ import annotations

import argparse
import sys

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import seconds
from rxdesk.domain.errors import RxdeskError, ValidationFailed
from rxdesk.domain.limits import TICK_INTERVAL_SECONDS


def worker(args: argparse.Namespace, ctx: Context) -> int:
    import socket

    from rxdesk.worker.headless import run

    if args.json and not args.once:
        raise ValidationFailed("--json needs --once (one tick, one JSON line)")
    owner = f"worker:{socket.gethostname()[:40]}"
    args.long_running = not args.once  # ticks until stopped: keeps what every tick reads (`open_store`)
    if args.json:
        try:
            desk = ctx.desk
        except RxdeskError as exc:
            # The app's tick process reads one JSON line, refusals included.
            ctx.json({"ok": False, "error": str(exc)}, one_line=True)
            return 1
        return run(lambda: desk, once=True, interval=None, owner=owner, out=sys.stdout, as_json=True)
    return run(lambda: ctx.desk, once=args.once, interval=args.interval, owner=owner, out=sys.stdout)


def register(cli: CommandLine) -> None:
    p = cli.command(None, "worker", worker, help="the maintenance manager, headless (every minute)",
                    description="Expire holds, fire reminders, send email/SMS and deliver webhooks: one tick "
                    "every minute on the minute, one log line per tick. SIGTERM or ctrl+c finishes the "
                    "running tick and exits. A database that cannot be reached yet is tried again every "
                    "interval.")
    p.add_argument("--once", action="store_true", help="run one tick and exit (1 if it failed)")
    p.add_argument("--interval", type=seconds(TICK_INTERVAL_SECONDS, "the interval"), metavar="SECONDS",
                   help="tick every SECONDS instead of on the minute")
    p.add_argument("--json", action="store_true", help="with --once: print the tick's counts as one JSON line")
