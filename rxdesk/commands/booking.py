"""`rxdesk booking hold|confirm|cancel`: what a partner's booking page does for a patient,
behind the patient's booking token (`-` reads it from stdin)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import add_json, read_token
from rxdesk.domain.times import format_local, parse_time

if TYPE_CHECKING:
    from rxdesk.domain.models import Appointment


def _line(ctx: Context, appt: Appointment, verb: str) -> str:
    return (f"{verb} {appt.uid}: {appt.doctor_id}, {appt.type_key}, {format_local(appt.starts_at, ctx.timezone)} "
            f"({ctx.timezone})")


def hold(args: argparse.Namespace, ctx: Context) -> int:
    start = parse_time(args.start, ctx.timezone, what="--start")
    appt = ctx.desk.booking.hold(read_token(args.token), ctx.desk.naming.doctor_id(args.doctor), args.type, start)

    def text() -> None:
        ctx.print(_line(ctx, appt, "held"))
        ctx.print(f"confirm before {format_local(appt.hold_expires_at, ctx.timezone)}: "
                  f"rxdesk booking confirm {appt.uid} --token JWT")

    return ctx.result(appt, text)


def confirm(args: argparse.Namespace, ctx: Context) -> int:
    appt = ctx.desk.booking.confirm(read_token(args.token), args.uid)
    return ctx.result(appt, lambda: ctx.print(_line(ctx, appt, "confirmed")))


def cancel(args: argparse.Namespace, ctx: Context) -> int:
    appt = ctx.desk.booking.cancel(read_token(args.token), args.uid)
    return ctx.result(appt, lambda: ctx.print(_line(ctx, appt, "cancelled")))


def _token_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--token", required=True, metavar="JWT", help="a patient booking token (- reads stdin)")


def register(cli: CommandLine) -> None:
    p = cli.command("booking", "hold", hold, help="hold a free slot for the token's patient")
    _token_option(p)
    p.add_argument("--doctor", required=True, metavar="ID", help="the doctor: an id, or a name (or part of one)")
    p.add_argument("--type", required=True, metavar="KEY")
    p.add_argument("--start", required=True, metavar="ISO",
                   help="the slot's start, e.g. 2026-11-25T09:00:00Z; without a zone, the organisation's")
    add_json(p)
    p = cli.command("booking", "confirm", confirm, help="confirm the token's patient's hold")
    p.add_argument("uid", metavar="UID")
    _token_option(p)
    add_json(p)
    p = cli.command("booking", "cancel", cancel,
                    help="cancel as the patient (at least the type's cancellation notice ahead)")
    p.add_argument("uid", metavar="UID")
    _token_option(p)
    add_json(p)
