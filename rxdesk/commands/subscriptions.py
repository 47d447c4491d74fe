"""`rxdesk subscriptions add|list|test|remove`: webhook subscriptions (section 6 of the app)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import add_json
from rxdesk.commands.output import Column

if TYPE_CHECKING:
    from rxdesk.domain.models import Subscription

SUBSCRIPTION_COLUMNS: list[Column[Subscription]] = [
    ("ID", lambda s: s.id),
    ("URL", lambda s: s.url),
    ("EVENTS", lambda s: ",".join(e.value for e in s.events)),
    ("HEADERS", lambda s: ",".join(s.header_names)),
    ("ACTIVE", lambda s: "yes" if s.active else "no"),
    ("PRIVATE NETWORK", lambda s: "allowed" if s.allow_private_network else "no"),
]


def add(args: argparse.Namespace, ctx: Context) -> int:
    from rxdesk.services.webhooks import parse_header_args

    made = ctx.desk.webhooks.add_subscription(args.url, args.event, parse_header_args(args.header or []),
                                              ctx.agent, allow_private_network=args.allow_private_network)

    def text() -> None:
        ctx.print(f"added subscription {made.subscription.id} to {made.subscription.url}")
        ctx.print(f"signing secret (shown once, store it now): {made.secret}")

    return ctx.result(made, text)


def list_subscriptions(args: argparse.Namespace, ctx: Context) -> int:
    return ctx.listing(ctx.desk.webhooks.list_subscriptions(), SUBSCRIPTION_COLUMNS, empty="no subscriptions",
                       to_json=lambda s: s.public())


def test(args: argparse.Namespace, ctx: Context) -> int:
    result = ctx.desk.webhooks.send_test(args.id, ctx.agent)
    answer = {"ok": result.ok, "status_code": result.status_code, "error": result.error,
              "response_excerpt": result.excerpt}
    if result.ok:
        return ctx.result(answer, f"test event delivered to {args.id.strip()} ({result.status_code})")
    from rxdesk.domain.errors import Refused

    if ctx.as_json:
        ctx.json(answer)
    raise Refused(f"test event to {args.id.strip()} failed: {result.error}")


def reveal(args: argparse.Namespace, ctx: Context) -> int:
    headers = ctx.desk.webhooks.reveal_headers(args.id, ctx.agent)

    def text() -> None:
        if not headers:
            ctx.print(f"subscription {args.id.strip()} has no custom headers")
        for name, value in sorted(headers.items()):
            ctx.print(f"{name}: {value}")

    return ctx.result({"id": args.id.strip(), "headers": headers}, text)


def remove(args: argparse.Namespace, ctx: Context) -> int:
    sub = ctx.desk.webhooks.remove_subscription(args.id, ctx.agent)
    ctx.print(f"removed subscription {sub.id} ({sub.url})")
    return 0


def register(cli: CommandLine) -> None:
    p = cli.command("subscriptions", "add", add, help="send events to a URL (Standard Webhooks)")
    p.add_argument("--url", required=True, metavar="URL", help="http:// or https://")
    p.add_argument("--event", required=True, action="append", metavar="TYPE",
                   help="an event type (repeatable), e.g. APPOINTMENT_CANCELLED")
    p.add_argument("--header", action="append", metavar="K=V", help="a custom header (repeatable)")
    p.add_argument("--allow-private-network", action="store_true",
                   help="let deliveries reach loopback and private addresses too (audited; link-local, "
                   "multicast and unspecified addresses are always refused)")
    add_json(p)
    p = cli.command("subscriptions", "list", list_subscriptions,
                    help="webhook subscriptions (never their secrets; custom header values masked)")
    add_json(p)
    p = cli.command("subscriptions", "reveal", reveal,
                    help="show a subscription's custom headers with their values (audited)")
    p.add_argument("id", metavar="ID")
    add_json(p)
    p = cli.command("subscriptions", "test", test, help="send a signed test event now (exit 1 if it fails)")
    p.add_argument("id", metavar="ID")
    add_json(p)
    p = cli.command("subscriptions", "remove", remove, help="remove a subscription")
    p.add_argument("id", metavar="ID")
