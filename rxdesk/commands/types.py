"""`rxdesk types list`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import add_json
from rxdesk.commands.output import Column

if TYPE_CHECKING:
    from rxdesk.domain.models import AppointmentType

TYPE_COLUMNS: list[Column[AppointmentType]] = [
    ("KEY", lambda t: t.key),
    ("NAME", lambda t: t.name),
    ("MINUTES", lambda t: str(t.duration_minutes)),
    ("HOLD", lambda t: f"{t.hold_ttl_minutes}m"),
    ("CANCEL NOTICE", lambda t: f"{t.cancellation_notice_minutes}m"),
    ("BOOKING NOTICE", lambda t: f"{t.booking_notice_minutes}m"),
    ("REBOOKING", lambda t: t.rebooking_mode.value),
    ("REMINDERS", lambda t: str(len(t.reminders))),
]


def types_list(args: argparse.Namespace, ctx: Context) -> int:
    return ctx.listing(ctx.desk.types.list_types(), TYPE_COLUMNS,
                       empty="no appointment types yet (rxdesk provision FILE.toml)")


def register(cli: CommandLine) -> None:
    p = cli.command("types", "list", types_list, help="appointment types")
    add_json(p)
