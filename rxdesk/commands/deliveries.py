"""`rxdesk deliveries list|show|replay`: webhook deliveries, their attempts and answers."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import add_json, add_limit
from rxdesk.commands.output import Column
from rxdesk.domain.times import format_local

if TYPE_CHECKING:
    from rxdesk.domain.models import Delivery
    from rxdesk.services.webhooks import DeliveryDetail


def list_deliveries(args: argparse.Namespace, ctx: Context) -> int:
    page = ctx.desk.webhooks.list_deliveries(args.status, limit=args.limit)
    columns: list[Column[Delivery]] = [
        ("ID", lambda d: d.id),
        ("EVENT", lambda d: d.event_type.value),
        ("SUBSCRIPTION", lambda d: d.subscription_id),
        ("STATUS", lambda d: d.status.value),
        ("ATTEMPTS", lambda d: str(d.attempts)),
        ("NEXT ATTEMPT", lambda d: format_local(d.next_attempt_at, ctx.timezone)),
        ("LAST ERROR", lambda d: d.last_error),
    ]
    return ctx.listing(page.items, columns, empty="no deliveries")


def show(args: argparse.Namespace, ctx: Context) -> int:
    detail = ctx.desk.webhooks.show_delivery(args.id)
    return ctx.result(detail, lambda: _print_detail(ctx, detail))


def _print_detail(ctx: Context, detail: DeliveryDetail) -> None:
    d, tz = detail.delivery, ctx.timezone

    def when(value: datetime | None) -> str:
        return format_local(value, tz)

    ctx.fields([("id", d.id), ("event", f"{d.event_id} ({d.event_type.value})"), ("subscription", d.subscription_id),
                ("url", d.url), ("status", d.status.value), ("attempts", str(d.attempts)),
                ("last attempt", when(d.last_attempt_at)), ("next attempt", when(d.next_attempt_at)),
                ("delivered", when(d.delivered_at)),
                ("last status", str(d.last_status_code) if d.last_status_code is not None else ""),
                ("last error", d.last_error)])
    ctx.print("payload:")
    ctx.print(detail.body or "(the event is gone)")
    ctx.print("response:")
    ctx.print(d.response_excerpt or "(none)")


def replay(args: argparse.Namespace, ctx: Context) -> int:
    delivery = ctx.desk.webhooks.replay(args.id, ctx.agent)
    return ctx.result(delivery, f"delivery {delivery.id} will be sent again at the next tick")


def register(cli: CommandLine) -> None:
    p = cli.command("deliveries", "list", list_deliveries, help="webhook deliveries, newest first")
    p.add_argument("--status", metavar="S", help="pending, delivered or dead")
    add_limit(p, default=100)
    add_json(p)
    p = cli.command("deliveries", "show", show, help="one delivery: attempts, payload and response")
    p.add_argument("id", metavar="ID")
    add_json(p)
    p = cli.command("deliveries", "replay", replay, help="send a dead delivery again")
    p.add_argument("id", metavar="ID")
    add_json(p)
