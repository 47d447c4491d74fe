"""`rxdesk demo` and `rxdesk provision`."""

from __future__ import annotations

import argparse

from rxdesk.commands import CommandLine, Context, add_json
from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.filters import parse_whole


def _positive(text: str) -> int:
    """A count as typed (`10000`, `10_000`, `10,000`): ASCII digits only."""
    try:
        return parse_whole(text.replace("_", "").replace(",", ""), what="count")
    except ValidationFailed:
        raise argparse.ArgumentTypeError(f"{text[:30]!r} is not a whole number (digits 0-9)") from None


def demo(args: argparse.Namespace, ctx: Context) -> int:
    data = ctx.desk.demo.build(
        args.appointments,
        agent=ctx.agent,
        seed=args.seed,
        doctors=args.doctors,
        upcoming=args.upcoming,
        replace=args.replace,
    )
    if args.json:
        ctx.json(
            {
                "data_dir": str(ctx.settings.data_dir),
                "appointments": len(data.appointments),
                "doctors": len(data.doctors),
                "patients": len(data.patients),
                "seed": args.seed,
            }
        )
    else:
        ctx.print(
            f"demo clinic {data.org.name!r} in {ctx.settings.data_dir}: "
            f"{len(data.appointments):,} appointments, {len(data.doctors)} doctors, "
            f"{len(data.patients):,} patients (seed {args.seed})"
        )
    return 0


def provision(args: argparse.Namespace, ctx: Context) -> int:
    result = ctx.desk.provisioning.provision_file(args.file, ctx.agent, dry_run=args.dry_run)
    if args.json:
        ctx.json(result.to_json())
        return 0
    if args.dry_run:
        ctx.print(f"dry run of {args.file}, nothing was written: {result.summary()}")
        for line in result.plan_lines():
            ctx.print(f"would {line}")
    else:
        ctx.print(f"provisioned {args.file}: {result.summary()}")
    for note in result.notes:
        ctx.print(f"note: {note}")
    return 0


def register(cli: CommandLine) -> None:
    p = cli.command(None, "demo", demo, help="fill the data dir with a realistic demo clinic")
    p.add_argument("--appointments", type=_positive, default=5000, metavar="N",
                   help="appointments in all (default 5000)")
    p.add_argument("--doctors", type=_positive, metavar="D", help="doctors (default max(12, N/5000))")
    p.add_argument("--upcoming", type=_positive, metavar="U", help="upcoming appointments over 8 weeks (default N/20)")
    p.add_argument("--seed", type=_positive, default=7, metavar="S",
                   help="random seed: same seed, same data (default 7)")
    p.add_argument("--replace", action="store_true", help="drop what the data dir holds first")
    p.set_defaults(creates_data=True)
    add_json(p)

    p = cli.command(None, "provision", provision, help="upsert org, admins, types, doctors, patients from a TOML file")
    p.add_argument("file", metavar="FILE.toml")
    p.add_argument("--dry-run", action="store_true",
                   help="print what the file would add, change and keep; write nothing")
    p.set_defaults(creates_data=True)
    add_json(p)
