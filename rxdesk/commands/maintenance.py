"""`rxdesk worker`, `reminders`, `subscriptions`, `deliveries`, `events`, `outbox`.

Everything sections 5 and 6 of the app can do is here too: rule edits, a test event, a
delivery's payload and response, the email and SMS outbox.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from datetime import datetime

from rxdesk.commands import GROUP_HELP, CommandLine, Context, add_json
from rxdesk.domain.errors import RxdeskError, ValidationFailed
from rxdesk.domain.filters import parse_whole
from rxdesk.domain.times import format_local


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number of seconds") from None
    if not 0.05 <= value <= 86400:
        raise argparse.ArgumentTypeError("the interval must be between 0.05 and 86400 seconds")
    return value


def _limit(text: str) -> int:
    try:
        value = parse_whole(text, what="limit")
    except ValidationFailed as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not 1 <= value <= 100000:
        raise argparse.ArgumentTypeError("the limit must be between 1 and 100000")
    return value


def worker(args: argparse.Namespace, ctx: Context) -> int:
    from rxdesk.worker.headless import run

    if args.json and not args.once:
        raise ValidationFailed("--json needs --once (one tick, one JSON line)")
    owner = f"worker:{socket.gethostname()[:40]}"
    try:
        desk = ctx.desk
    except RxdeskError as exc:
        if not args.json:
            raise
        # The app's tick process reads one JSON line, refusals included.
        ctx.print(json.dumps({"ok": False, "error": str(exc)}))
        return 1
    return run(desk, once=args.once, interval=args.interval, owner=owner, out=sys.stdout, as_json=args.json)


# -- reminders --------------------------------------------------------------------------

def reminders_list(args: argparse.Namespace, ctx: Context) -> int:
    rows = ctx.desk.reminders.list_rules(args.type)
    if args.json:
        ctx.json([r.to_json() for r in rows])
        return 0
    ctx.table(["TYPE", "ID", "RECIPIENT", "MINUTES BEFORE", "EMAIL", "SMS"],
              [[r.type_key, r.rule.id, r.rule.recipient.value, str(r.rule.minutes_before),
                "yes" if r.rule.send_email else "no", "yes" if r.rule.send_sms else "no"] for r in rows],
              empty="no reminder rules")
    return 0


def reminders_add(args: argparse.Namespace, ctx: Context) -> int:
    row = ctx.desk.reminders.add_rule(args.type, args.recipient, args.minutes_before, email=args.email,
                                      sms=args.sms, agent=ctx.agent)
    if args.json:
        ctx.json(row.to_json())
    else:
        ctx.print(f"added reminder rule {row.rule.id} to {row.type_key}")
    return 0


def reminders_edit(args: argparse.Namespace, ctx: Context) -> int:
    row = ctx.desk.reminders.edit_rule(args.type, args.id, recipient=args.recipient, minutes_before=args.minutes_before,
                                       email=args.email, sms=args.sms, agent=ctx.agent)
    if args.json:
        ctx.json(row.to_json())
    else:
        rule = row.rule
        ctx.print(f"reminder rule {rule.id} of {row.type_key}: {rule.recipient.value}, {rule.minutes_before} minutes "
                  f"before, email {'on' if rule.send_email else 'off'}, SMS {'on' if rule.send_sms else 'off'}")
    return 0


def reminders_remove(args: argparse.Namespace, ctx: Context) -> int:
    rule = ctx.desk.reminders.remove_rule(args.type, args.id, agent=ctx.agent)
    ctx.print(f"removed reminder rule {rule.id} from {args.type.strip()}")
    return 0


# -- subscriptions ----------------------------------------------------------------------

def subscriptions_add(args: argparse.Namespace, ctx: Context) -> int:
    from rxdesk.services.webhooks import parse_header_args

    made = ctx.desk.webhooks.add_subscription(args.url, args.event, parse_header_args(args.header or []),
                                              ctx.agent, allow_private_network=args.allow_private_network)
    if args.json:
        ctx.json(made.to_json())
        return 0
    sub = made.subscription
    ctx.print(f"added subscription {sub.id} to {sub.url}")
    ctx.print(f"signing secret (shown once, store it now): {made.secret}")
    return 0


def subscriptions_list(args: argparse.Namespace, ctx: Context) -> int:
    subs = ctx.desk.webhooks.list_subscriptions()
    if args.json:
        ctx.json([s.public() for s in subs])
        return 0
    ctx.table(["ID", "URL", "EVENTS", "ACTIVE", "PRIVATE NETWORK"],
              [[s.id, s.url, ",".join(e.value for e in s.events), "yes" if s.active else "no",
                "allowed" if s.allow_private_network else "no"] for s in subs],
              empty="no subscriptions")
    return 0


def subscriptions_test(args: argparse.Namespace, ctx: Context) -> int:
    result = ctx.desk.webhooks.send_test(args.id, ctx.agent)
    if args.json:
        ctx.json({"ok": result.ok, "status_code": result.status_code, "error": result.error,
                  "response_excerpt": result.excerpt})
    elif result.ok:
        ctx.print(f"test event delivered to {args.id.strip()} ({result.status_code})")
    if not result.ok:
        from rxdesk.domain.errors import Refused

        raise Refused(f"test event to {args.id.strip()} failed: {result.error}")
    return 0


def subscriptions_remove(args: argparse.Namespace, ctx: Context) -> int:
    sub = ctx.desk.webhooks.remove_subscription(args.id, ctx.agent)
    ctx.print(f"removed subscription {sub.id} ({sub.url})")
    return 0


# -- deliveries and events --------------------------------------------------------------

def deliveries_list(args: argparse.Namespace, ctx: Context) -> int:
    page = ctx.desk.webhooks.list_deliveries(args.status, limit=args.limit)
    if args.json:
        ctx.json([d.to_json() for d in page.items])
        return 0
    tz = ctx.timezone
    ctx.table(["ID", "EVENT", "SUBSCRIPTION", "STATUS", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR"],
              [[d.id, d.event_type.value, d.subscription_id, d.status.value, str(d.attempts),
                format_local(d.next_attempt_at, tz) if d.next_attempt_at else "", d.last_error] for d in page.items],
              empty="no deliveries")
    return 0


def deliveries_show(args: argparse.Namespace, ctx: Context) -> int:
    detail = ctx.desk.webhooks.show_delivery(args.id)
    if args.json:
        ctx.json(detail.to_json())
        return 0
    d, tz = detail.delivery, ctx.timezone

    def when(value: datetime | None) -> str:
        return format_local(value, tz) if value else ""

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
    return 0


def deliveries_replay(args: argparse.Namespace, ctx: Context) -> int:
    delivery = ctx.desk.webhooks.replay(args.id, ctx.agent)
    if args.json:
        ctx.json(delivery.to_json())
    else:
        ctx.print(f"delivery {delivery.id} will be sent again at the next tick")
    return 0


def events_list(args: argparse.Namespace, ctx: Context) -> int:
    page = ctx.desk.webhooks.list_events(args.type, limit=args.limit)
    if args.json:
        ctx.json([e.to_json() for e in page.items])
        return 0
    tz = ctx.timezone
    rows = []
    for e in page.items:
        appt = e.data.get("appointment") or {}
        rows.append([e.id, e.type.value, format_local(e.created_at, tz), str(appt.get("uid", ""))])
    ctx.table(["ID", "TYPE", "CREATED", "APPOINTMENT"], rows, empty="no events")
    return 0


def outbox_list(args: argparse.Namespace, ctx: Context) -> int:
    page = ctx.desk.webhooks.list_messages(limit=args.limit)
    if args.json:
        ctx.json([m.to_json() for m in page.items])
        return 0
    tz = ctx.timezone
    ctx.table(["ID", "CHANNEL", "TO", "STATUS", "CREATED", "SUBJECT", "LAST ERROR"],
              [[m.id, m.channel.value, m.to, m.status.value, format_local(m.created_at, tz),
                m.subject or m.body[:60], m.last_error] for m in page.items],
              empty="no emails or SMS")
    return 0


def _flag_pair(p: argparse.ArgumentParser, name: str, help: str) -> None:
    p.add_argument(f"--{name}", action="store_true", help=help)


def _toggle(p: argparse.ArgumentParser, name: str, what: str) -> None:
    """`--NAME` / `--no-NAME`; left out, the rule keeps what it had."""
    p.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=None, help=f"{what} on or off")


def register(cli: CommandLine) -> None:
    p = cli.command(None, "worker", worker, help="the maintenance manager, headless (every minute)",
                    description="Expire holds, fire reminders, send email/SMS and deliver webhooks: one tick "
                    "every minute on the minute, one log line per tick. SIGTERM or ctrl+c finishes the "
                    "running tick and exits.")
    p.add_argument("--once", action="store_true", help="run one tick and exit (1 if it failed)")
    p.add_argument("--interval", type=_interval, metavar="SECONDS", help="tick every SECONDS instead of on the minute")
    p.add_argument("--json", action="store_true", help="with --once: print the tick's counts as one JSON line")

    p = cli.command("reminders", "list", reminders_list, help="reminder rules of every appointment type")
    p.add_argument("--type", metavar="KEY", help="only this appointment type")
    add_json(p)
    p = cli.command("reminders", "add", reminders_add, help="add a reminder rule to an appointment type")
    p.add_argument("--type", required=True, metavar="KEY")
    p.add_argument("--recipient", required=True, metavar="GROUP", help="patient, doctor or admin (every admin)")
    p.add_argument("--minutes-before", required=True, metavar="N", help="1..43200")
    _flag_pair(p, "email", "also send an email")
    _flag_pair(p, "sms", "also send an SMS")
    add_json(p)
    p = cli.command("reminders", "edit", reminders_edit, help="change a reminder rule (what is left out stays)")
    p.add_argument("--type", required=True, metavar="KEY")
    p.add_argument("id", metavar="ID")
    p.add_argument("--recipient", metavar="GROUP", help="patient, doctor or admin (every admin)")
    p.add_argument("--minutes-before", metavar="N", help="1..43200")
    _toggle(p, "email", "email")
    _toggle(p, "sms", "SMS")
    add_json(p)
    p = cli.command("reminders", "remove", reminders_remove, help="remove a reminder rule")
    p.add_argument("--type", required=True, metavar="KEY")
    p.add_argument("id", metavar="ID")

    p = cli.command("subscriptions", "add", subscriptions_add, help="send events to a URL (Standard Webhooks)")
    p.add_argument("--url", required=True, metavar="URL", help="http:// or https://")
    p.add_argument("--event", required=True, action="append", metavar="TYPE",
                   help="an event type (repeatable), e.g. APPOINTMENT_CANCELLED")
    p.add_argument("--header", action="append", metavar="K=V", help="a custom header (repeatable)")
    p.add_argument("--allow-private-network", action="store_true",
                   help="let deliveries reach loopback and private addresses too (audited; link-local, "
                   "multicast and unspecified addresses are always refused)")
    add_json(p)
    p = cli.command("subscriptions", "list", subscriptions_list, help="webhook subscriptions (never their secrets)")
    add_json(p)
    p = cli.command("subscriptions", "test", subscriptions_test,
                    help="send a signed test event now (exit 1 if it fails)")
    p.add_argument("id", metavar="ID")
    add_json(p)
    p = cli.command("subscriptions", "remove", subscriptions_remove, help="remove a subscription")
    p.add_argument("id", metavar="ID")

    p = cli.command("deliveries", "list", deliveries_list, help="webhook deliveries, newest first")
    p.add_argument("--status", metavar="S", help="pending, delivered or dead")
    p.add_argument("--limit", type=_limit, default=100, metavar="N")
    add_json(p)
    p = cli.command("deliveries", "show", deliveries_show, help="one delivery: attempts, payload and response")
    p.add_argument("id", metavar="ID")
    add_json(p)
    p = cli.command("deliveries", "replay", deliveries_replay, help="send a dead delivery again")
    p.add_argument("id", metavar="ID")
    add_json(p)

    GROUP_HELP.setdefault("outbox", "emails and SMS of reminders (sent, or kept here when unconfigured)")
    p = cli.command("outbox", "list", outbox_list,
                    help="emails and SMS of reminders, newest first (sent or kept locally)")
    p.add_argument("--limit", type=_limit, default=100, metavar="N")
    add_json(p)

    p = cli.command("events", "list", events_list, help="the event log, newest first")
    p.add_argument("--type", metavar="TYPE")
    p.add_argument("--limit", type=_limit, default=100, metavar="N")
    add_json(p)



