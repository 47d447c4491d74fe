"""`rxdesk provision FILE.toml`: upsert the organisation, admins, types, doctors and patients."""

from __future__ import annotations

import argparse

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import add_json


def provision(args: argparse.Namespace, ctx: Context) -> int:
    result = ctx.desk.provisioning.provision_file(args.file, ctx.agent, dry_run=args.dry_run)

    def text() -> None:
        if args.dry_run:
            ctx.print(f"dry run of {args.file}, nothing was written: {result.summary()}")
            for line in result.plan_lines():
                ctx.print(f"would {line}")
        else:
            ctx.print(f"provisioned {args.file}: {result.summary()}")
        for note in result.notes:
            ctx.print(f"note: {note}")

    return ctx.result(result, text)


def register(cli: CommandLine) -> None:
    p = cli.command(None, "provision", provision, help="upsert org, admins, types, doctors, patients from a TOML file")
    p.add_argument("file", metavar="FILE.toml")
    p.add_argument("--dry-run", action="store_true",
                   help="print what the file would add, change and keep; write nothing")
    p.set_defaults(creates_data=True)
    add_json(p)
