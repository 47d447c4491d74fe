"""`rxdesk outbox list|resend`: the emails and SMS reminders asked for, newest first, and an
agent's decision to send one whose sending is unknown, or that failed, again."""

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


def resend(args: argparse.Namespace, ctx: Context) -> int:
    message = ctx.desk.webhooks.resend_message(args.id, ctx.agent)
    return ctx.result(message, f"{message.channel.value} {message.id} to {message.to} is queued again: the next tick "
                      "sends it, with the same Message-ID / Idempotency-Key, so a receiver that did get it can "
                      "drop the copy")


def register(cli: CommandLine) -> None:
    p = cli.command("outbox", "list", list_messages,
                    help="emails and SMS of reminders, newest first (sent or kept locally)")
    add_limit(p, default=100)
    add_json(p)
    p = cli.command("outbox", "resend", resend,
                    help="send an unknown or failed email or SMS again, from the next tick (audited)")
    p.add_argument("id", metavar="ID")
    add_json(p)
