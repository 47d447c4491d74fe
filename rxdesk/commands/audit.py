"""`rxdesk audit list`: what agents did across the desk, and who did this, newest first."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import add_json, add_limit
from rxdesk.commands.output import Column
from rxdesk.domain.times import format_local

if TYPE_CHECKING:
    from rxdesk.services.activity import ActivityRow


def list_audit(args: argparse.Namespace, ctx: Context) -> int:
    from rxdesk.services.activity import ActivityFilter

    typed = ActivityFilter(agent=args.agent_name or "", since=args.since or "", target=args.target or "")
    page = ctx.desk.activity.list_activity(typed, limit=args.limit)
    tz = ctx.timezone
    columns: list[Column[ActivityRow]] = [
        ("AT", lambda r: format_local(r.entry.at, tz)),
        ("ACTOR", lambda r: r.entry.actor),
        ("ACTION", lambda r: r.entry.action),
        ("TARGET", lambda r: r.entry.target),
        ("DETAILS", lambda r: r.summary()),
    ]
    ctx.listing(page.items, columns, empty="no audit entries match")
    if args.limit is not None and len(page.items) == args.limit:
        ctx.note(f"showing the newest {args.limit:,} (raise --limit, or narrow with --agent, --since, --target)")
    return 0


def register(cli: CommandLine) -> None:
    p = cli.command(
        "audit", "list", list_audit,
        help="the audit trail across the desk, newest first: what agents did, who did this",
        description="Audit entries across the desk (appointments' included), newest first. --agent NAME: one "
        "agent's (as RXDESK_AGENT names them; patient:ID, partner:KID and worker:NAME as written); --since "
        "DATE: from that day on, in the organisation's zone (YYYY-MM-DD, today, yesterday, -7d); --target: "
        "what an entry is about, an appointment's uid, a doctor's id, or a target as written "
        "(doctor:dr-weber). Times in the organisation's zone.",
        agent_option=False,
    )
    # `--agent` before the group name is the agent running the command (RXDESK_AGENT); here it is
    # whose entries to list, so it is kept apart.
    p.add_argument("--agent", dest="agent_name", metavar="NAME", help="only this agent's entries")
    p.add_argument("--since", metavar="DATE", help="from this day on: YYYY-MM-DD, today, yesterday, -7d")
    p.add_argument("--target", metavar="UID", help="only entries about this appointment, doctor, ... (its id)")
    add_limit(p, default=100)
    add_json(p)
