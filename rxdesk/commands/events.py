"""`rxdesk events list`: the event log, newest first."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import add_json, add_limit
from rxdesk.commands.output import Column
from rxdesk.domain.times import format_local

if TYPE_CHECKING:
    from rxdesk.domain.models import Event


def _appointment_uid(event: Event) -> str:
    appointment = event.data.get("appointment") or {}
    return str(appointment.get("uid", ""))


def list_events(args: argparse.Namespace, ctx: Context) -> int:
    page = ctx.desk.webhooks.list_events(args.type, limit=args.limit)
    columns: list[Column[Event]] = [
        ("ID", lambda e: e.id),
        ("TYPE", lambda e: e.type.value),
        ("CREATED", lambda e: format_local(e.created_at, ctx.timezone)),
        ("APPOINTMENT", _appointment_uid),
    ]
    return ctx.listing(page.items, columns, empty="no events")


def register(cli: CommandLine) -> None:
    p = cli.command("events", "list", list_events, help="the event log, newest first")
    p.add_argument("--type", metavar="TYPE")
    add_limit(p, default=100)
    add_json(p)
