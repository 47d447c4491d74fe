"""`rxdesk outbox list`: the emails and SMS reminders asked for, newest first."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import add_json, add_limit
from rxdesk.commands.output import Column
from rxdesk.domain.times import format_local

if TYPE_CHECKING:
    from rxdesk.domain.models import OutboxMessage


def list_messages(args: argparse.Namespace, ctx: Context) -> int:
    from rxdesk.domain.sending import message_state  # the parser never loads the models

    page = ctx.desk.webhooks.list_messages(limit=args.limit)
    columns: list[Column[OutboxMessage]] = [
        ("ID", lambda m: m.id),
        ("CHANNEL", lambda m: m.channel.value),
        ("TO", lambda m: m.to),
        ("STATUS", message_state),
        ("CREATED", lambda m: format_local(m.created_at, ctx.timezone)),
        ("SUBJECT", lambda m: m.subject or m.body[:60]),
        ("LAST ERROR", lambda m: m.last_error),
    ]
    return ctx.listing(page.items, columns, empty="no emails or SMS")


def register(cli: CommandLine) -> None:
    p = cli.command("outbox", "list", list_messages,
                    help="emails and SMS of reminders, newest first (sent or kept locally)")
    add_limit(p, default=100)
    add_json(p)
