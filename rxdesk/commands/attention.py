"""`rxdesk attention`: what needs an agent now, most urgent first, each with its fix."""

from __future__ import annotations

import argparse

from rxdesk.commands import CommandLine, Context, add_json
from rxdesk.domain.times import format_local


def attention(args: argparse.Namespace, ctx: Context) -> int:
    items = ctx.desk.attention.items()
    if args.json:
        ctx.json([item.to_json() for item in items])
        return 0
    if not items:
        ctx.print("nothing needs attention")
        return 0
    tz = ctx.timezone
    for number, item in enumerate(items, 1):
        since = f" (since {format_local(item.since, tz)})" if item.since and item.kind.value != "hold_lapsing" else ""
        ctx.print(f"{number}. {item.title}{since}")
        if item.detail:
            ctx.print(f"   {item.detail}")
        ctx.print(f"   fix: {item.command}")
    return 0


def register(cli: CommandLine) -> None:
    p = cli.command(
        None, "attention", attention,
        help="what needs an agent now, most urgent first, each with the command that fixes it",
        description="What an agent should act on now, most urgent first: a maintenance worker that has "
        "not ticked for 5 minutes, holds that lapse within 5 minutes, webhook deliveries dead (last day) or "
        "failing for over an hour, reminder emails and SMS that failed or had no address for appointments "
        "that have not started, doctors without a mobile number whose appointments text them, doctors who "
        "offer a type without windows for it. Each comes with the command that fixes it.",
    )
    add_json(p)
