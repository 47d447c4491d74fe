"""`rxdesk store init|import|check`: moving a desk to PostgreSQL and keeping its schema current."""

from __future__ import annotations

import argparse

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import add_json


def _admin(ctx: Context):  # type: ignore[no-untyped-def]
    from rxdesk.services.backends import StoreAdmin

    return StoreAdmin(ctx.settings)


def init(args: argparse.Namespace, ctx: Context) -> int:
    result = _admin(ctx).init()
    if not result.applied:
        text = f"the {result.where} is at schema version {result.version}: nothing to do"
    elif result.found is None:
        text = f"created the rxdesk schema (version {result.version}) in the {result.where}"
    else:
        steps = (f"migration {number} ({name})" for number, _, name in (a.partition(" ") for a in result.applied))
        text = (f"upgraded the {result.where} from schema version {result.found} to {result.version}: "
                + ", ".join(steps))
    return ctx.result({"database": result.where, "found_version": result.found, "applied": result.applied,
                       "version": result.version}, text)


def import_(args: argparse.Namespace, ctx: Context) -> int:
    result = _admin(ctx).import_data_dir(args.data_dir_from)

    def text() -> None:
        ctx.print(f"imported {args.data_dir_from} into the {result.where} (one transaction):")
        ctx.table(["WHAT", "ROWS"], [[kind, f"{n:,}"] for kind, n in result.counts.items()])
        for note in result.notes:
            ctx.print(f"note: {note}")

    return ctx.result({"database": result.where, "counts": result.counts, "notes": result.notes}, text)


def check(args: argparse.Namespace, ctx: Context) -> int:
    where, comparison = _admin(ctx).check(args.data_dir_from)
    if ctx.as_json:
        ctx.json({"database": where, "same": comparison.same,
                  "counts": [{"what": k, "data_dir": a, "database": b} for k, a, b in comparison.rows],
                  "appointments_checksum": {"data_dir": comparison.data_dir_checksum,
                                            "database": comparison.database_checksum}})
    else:
        ctx.print(f"{args.data_dir_from} against the {where}:")
        ctx.table(["WHAT", "DATA DIR", "DATABASE", ""],
                  [[k, f"{a:,}", f"{b:,}", "same" if a == b else "DIFFERENT"] for k, a, b in comparison.rows])
        same_sum = comparison.data_dir_checksum == comparison.database_checksum
        ctx.print(f"appointments checksum: {comparison.data_dir_checksum[:16]}… data dir, "
                  f"{comparison.database_checksum[:16]}… database: {'same' if same_sum else 'DIFFERENT'}")
    if not comparison.same:
        ctx.err.write("rxdesk: the data dir and the database differ\n")
        return 1
    return 0


def register(cli: CommandLine) -> None:
    p = cli.command("store", "init", init,
                    help="create the schema in the PostgreSQL database, or upgrade it to this version")
    add_json(p)
    p = cli.command("store", "import", import_,
                    help="copy a data dir into the empty PostgreSQL database (one transaction)")
    p.add_argument("data_dir_from", metavar="DATA_DIR", help="the data dir to copy from")
    add_json(p)
    p = cli.command("store", "check", check,
                    help="compare a data dir with the database: counts and a checksum of every appointment")
    p.add_argument("data_dir_from", metavar="DATA_DIR", help="the data dir to compare with")
    add_json(p)
