"""`rxdesk token verify`. `-` for the token reads it from stdin, so it need not sit in shell
history or the process list."""

from __future__ import annotations

import argparse

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import add_json, read_token
from rxdesk.domain.times import format_local


def verify(args: argparse.Namespace, ctx: Context) -> int:
    verified = ctx.desk.tokens.verify(read_token(args.jwt))
    p = verified.patient
    return ctx.result(verified.claims, lambda: ctx.fields([
        ("valid", "yes"),
        ("patient", f"{p.name} ({p.id})"),
        ("sub", str(verified.claims.get("sub"))),
        ("kid", verified.kid),
        ("issued", format_local(verified.issued_at, ctx.timezone)),
        ("expires", format_local(verified.expires_at, ctx.timezone)),
    ]))


def register(cli: CommandLine) -> None:
    p = cli.command("token", "verify", verify,
                    help="check a patient booking token; exit 1 with the reason when refused")
    p.add_argument("jwt", metavar="JWT", help="the token, or - to read it from stdin")
    add_json(p)
