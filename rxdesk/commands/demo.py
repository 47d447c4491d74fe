"""`rxdesk demo`: a realistic demo clinic (DESIGN: Demo data shape)."""

from __future__ import annotations

import argparse

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import add_json, whole
from rxdesk.domain import limits


def demo(args: argparse.Namespace, ctx: Context) -> int:
    data = ctx.desk.demo.build(args.appointments, agent=ctx.agent, seed=args.seed, doctors=args.doctors,
                               upcoming=args.upcoming, replace=args.replace)
    # On PostgreSQL the clinic is in the database; the data dir keeps only the key and logs.
    database = ctx.desk.store.location if ctx.settings.database_url else None
    where = f"the {database}" if database else str(ctx.settings.data_dir)
    return ctx.result(
        {"data_dir": str(ctx.settings.data_dir), "database": database, "appointments": len(data.appointments),
         "doctors": len(data.doctors), "patients": len(data.patients), "seed": args.seed},
        f"demo clinic {data.org.name!r} in {where}: {len(data.appointments):,} appointments, "
        f"{len(data.doctors)} doctors, {len(data.patients):,} patients (seed {args.seed})",
    )


def register(cli: CommandLine) -> None:
    p = cli.command(None, "demo", demo, help="fill the data dir with a realistic demo clinic")
    p.add_argument("--appointments", type=whole(limits.DEMO_APPOINTMENTS, "--appointments"), default=5000,
                   metavar="N", help="appointments in all (default 5000)")
    p.add_argument("--doctors", type=whole(limits.DEMO_DOCTORS, "--doctors"), metavar="D",
                   help="doctors (default max(12, N/5000))")
    p.add_argument("--upcoming", type=whole(limits.DEMO_UPCOMING, "--upcoming"), metavar="U",
                   help="upcoming appointments over 8 weeks (default N/20)")
    p.add_argument("--seed", type=whole(limits.SEED, "--seed"), default=7, metavar="S",
                   help="random seed: same seed, same data (default 7)")
    p.add_argument("--replace", action="store_true", help="drop what the data dir holds first")
    p.set_defaults(creates_data=True)
    add_json(p)
