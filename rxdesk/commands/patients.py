"""`rxdesk patients list|show`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import add_json, add_limit
from rxdesk.commands.output import Column
from rxdesk.domain.times import format_local

if TYPE_CHECKING:
    from rxdesk.domain.models import Patient
    from rxdesk.services.appointments import AppointmentRow
    from rxdesk.services.patients import PatientDetail

PATIENT_COLUMNS: list[Column[Patient]] = [
    ("ID", lambda p: p.id),
    ("NAME", lambda p: p.name),
    ("EMAIL", lambda p: p.email),
    ("PHONE", lambda p: p.phone),
    ("EXTERNAL ID", lambda p: p.external_id),
]


def patients_list(args: argparse.Namespace, ctx: Context) -> int:
    page = ctx.desk.patients.list_patients(args.search or "", limit=args.limit)
    return ctx.listing(page.items, PATIENT_COLUMNS, empty="no patients match")


def patients_show(args: argparse.Namespace, ctx: Context) -> int:
    detail = ctx.desk.patients.show(ctx.desk.naming.patient_id(args.id))
    return ctx.result(detail, lambda: _print_detail(ctx, detail))


def _print_detail(ctx: Context, detail: PatientDetail) -> None:
    from rxdesk.services.patients import tally

    p, tz = detail.patient, ctx.timezone
    ctx.fields([("id", p.id), ("name", p.name), ("email", p.email), ("phone", p.phone), ("external id", p.external_id),
                ("appointments", tally(detail.counts))])
    columns: list[Column[AppointmentRow]] = [
        ("START", lambda r: format_local(r.starts_at, tz)),
        ("DOCTOR", lambda r: r.doctor_name),
        ("TYPE", lambda r: r.type_name),
        ("STATUS", lambda r: r.status.value),
        ("UID", lambda r: r.uid),
    ]
    for title, page in (("upcoming", detail.upcoming), ("history (newest first)", detail.history)):
        ctx.print("")
        ctx.print(f"{title}:")
        ctx.listing(page.items, columns, empty="  none")


def register(cli: CommandLine) -> None:
    p = cli.command("patients", "list", patients_list, help="patients by name; --search narrows")
    p.add_argument("--search", metavar="TEXT", help="part of a name, email, phone or external id")
    add_limit(p)
    add_json(p)
    p = cli.command("patients", "show", patients_show, help="a patient with upcoming and recent appointments")
    p.add_argument("id", metavar="ID", help="the patient: an id, external id, or a name, email or phone (or part)")
    add_json(p)
