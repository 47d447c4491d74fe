"""`rxdesk reminders list|add|edit|remove`: reminder rules of appointment types (section 5 of
the app)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import MINUTES_BEFORE, add_json
from rxdesk.commands.output import Column
from rxdesk.domain.limits import MINUTES_BEFORE as MINUTES_BOUNDS

if TYPE_CHECKING:
    from rxdesk.services.reminders import RuleRow

RULE_COLUMNS: list[Column[RuleRow]] = [
    ("TYPE", lambda r: r.type_key),
    ("ID", lambda r: r.rule.id),
    ("RECIPIENT", lambda r: r.rule.recipient.value),
    ("MINUTES BEFORE", lambda r: str(r.rule.minutes_before)),
    ("EMAIL", lambda r: "yes" if r.rule.send_email else "no"),
    ("SMS", lambda r: "yes" if r.rule.send_sms else "no"),
]


def list_rules(args: argparse.Namespace, ctx: Context) -> int:
    return ctx.listing(ctx.desk.reminders.list_rules(args.type), RULE_COLUMNS, empty="no reminder rules")


def _with_window(text: str, row: RuleRow) -> str:
    note = row.window_note()
    return f"{text}; {note}" if note else text


def add(args: argparse.Namespace, ctx: Context) -> int:
    row = ctx.desk.reminders.add_rule(args.type, args.recipient, args.minutes_before, email=args.email,
                                      sms=args.sms, agent=ctx.agent, also_now=args.also_now)
    return ctx.result(row, _with_window(f"added reminder rule {row.rule.id} to {row.type_key}", row))


def edit(args: argparse.Namespace, ctx: Context) -> int:
    row = ctx.desk.reminders.edit_rule(args.type, args.id, recipient=args.recipient, minutes_before=args.minutes_before,
                                       email=args.email, sms=args.sms, agent=ctx.agent, also_now=args.also_now)
    rule = row.rule
    return ctx.result(row, _with_window(
        f"reminder rule {rule.id} of {row.type_key}: {rule.recipient.value}, "
        f"{rule.minutes_before} minutes before, email {'on' if rule.send_email else 'off'}, "
        f"SMS {'on' if rule.send_sms else 'off'}", row))


def _also_now_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--also-now", action="store_true",
                   help="also remind, now, the confirmed appointments already inside the rule's window "
                        "(without it a rule reminds only moments still to come)")


def remove(args: argparse.Namespace, ctx: Context) -> int:
    rule = ctx.desk.reminders.remove_rule(args.type, args.id, agent=ctx.agent)
    ctx.print(f"removed reminder rule {rule.id} from {args.type.strip()}")
    return 0


def _minutes_option(p: argparse.ArgumentParser, *, required: bool) -> None:
    low, high = MINUTES_BOUNDS
    p.add_argument("--minutes-before", type=MINUTES_BEFORE, required=required, metavar="N", help=f"{low}..{high}")


def register(cli: CommandLine) -> None:
    p = cli.command("reminders", "list", list_rules, help="reminder rules of every appointment type")
    p.add_argument("--type", metavar="KEY", help="only this appointment type")
    add_json(p)
    p = cli.command("reminders", "add", add, help="add a reminder rule to an appointment type")
    p.add_argument("--type", required=True, metavar="KEY")
    p.add_argument("--recipient", required=True, metavar="GROUP", help="patient, doctor or admin (every admin)")
    _minutes_option(p, required=True)
    p.add_argument("--email", action="store_true", help="also send an email")
    p.add_argument("--sms", action="store_true", help="also send an SMS")
    _also_now_option(p)
    add_json(p)
    p = cli.command("reminders", "edit", edit, help="change a reminder rule (what is left out stays)")
    p.add_argument("--type", required=True, metavar="KEY")
    p.add_argument("id", metavar="ID")
    p.add_argument("--recipient", metavar="GROUP", help="patient, doctor or admin (every admin)")
    _minutes_option(p, required=False)
    # --NAME / --no-NAME; left out, the rule keeps what it had.
    p.add_argument("--email", action=argparse.BooleanOptionalAction, default=None, help="email on or off")
    p.add_argument("--sms", action=argparse.BooleanOptionalAction, default=None, help="SMS on or off")
    _also_now_option(p)
    add_json(p)
    p = cli.command("reminders", "remove", remove, help="remove a reminder rule")
    p.add_argument("--type", required=True, metavar="KEY")
    p.add_argument("id", metavar="ID")
