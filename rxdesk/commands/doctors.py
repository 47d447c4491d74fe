"""`rxdesk doctors list|show|set-phone|set-room|slots`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import DAYS, add_json
from rxdesk.commands.output import Column

if TYPE_CHECKING:
    from rxdesk.domain.models import Doctor
    from rxdesk.services.doctors import DoctorDetail

WEEKDAYS = "Mon Tue Wed Thu Fri Sat Sun".split()
DOCTOR_HELP = "the doctor: an id, or a name, email or phone (or part of one)"


DOCTOR_COLUMNS: list[Column[Doctor]] = [
    ("ID", lambda d: d.id),
    ("NAME", lambda d: d.name),
    ("TIME ZONE", lambda d: d.timezone),
    ("MOBILE", lambda d: d.mobile_phone or "-"),
    ("TYPES", lambda d: ", ".join(d.appointment_types)),
]


def doctors_list(args: argparse.Namespace, ctx: Context) -> int:
    return ctx.listing(ctx.desk.doctors.list_doctors(), DOCTOR_COLUMNS,
                       empty="no doctors yet (rxdesk provision FILE.toml)")


def doctor_id(ctx: Context, text: str) -> str:
    """The doctor an argument names: an id, or a name, email or phone (or part of one)."""
    return ctx.desk.naming.doctor_id(text)


def doctors_show(args: argparse.Namespace, ctx: Context) -> int:
    detail = ctx.desk.doctors.show(doctor_id(ctx, args.id))
    return ctx.result(detail, lambda: _print_detail(ctx, detail))


def _print_detail(ctx: Context, detail: DoctorDetail) -> None:
    d = detail.doctor
    ctx.fields([
        ("id", d.id),
        ("name", d.name),
        ("email", d.email),
        ("time zone", d.timezone),
        ("mobile phone", d.mobile_phone or "(none: SMS reminders are skipped)"),
        ("prescription phone", d.prescription_phone or "-"),
        ("room", d.room_url),
        ("types", ", ".join(f"{t.name} ({t.key})" for t in detail.types) or "-"),
        ("upcoming", f"{detail.upcoming_count} active appointments"),
    ])
    ctx.print("")
    ctx.print(f"availability ({d.timezone}):")
    for w in sorted(d.availability, key=lambda w: (w.weekday, w.start)):
        ctx.print(f"  {WEEKDAYS[w.weekday]}  {w.start}-{w.end}")


def set_phone(args: argparse.Namespace, ctx: Context) -> int:
    doctor = ctx.desk.doctors.set_phone(doctor_id(ctx, args.id), args.number, ctx.agent)

    def text() -> str:
        if not doctor.mobile_phone:
            return f"{doctor.name}: mobile phone cleared (SMS reminders to this doctor are skipped)"
        from rxdesk.domain.phones import display_phone  # phone metadata loads only for this command

        return f"{doctor.name}: mobile phone {display_phone(doctor.mobile_phone)} ({doctor.mobile_phone})"

    return ctx.result(doctor, lambda: ctx.print(text()))


def set_room(args: argparse.Namespace, ctx: Context) -> int:
    change = ctx.desk.doctors.set_room(doctor_id(ctx, args.id), url=args.url, new=args.new, agent=ctx.agent)
    d = change.doctor
    if d.room_url == change.previous_room and not change.moved:
        text = f"{d.name} already meets in {d.room_url}; nothing changed"
    else:
        moved = len(change.moved)
        text = (f"{d.name}: meeting room {d.room_url} (was {change.previous_room or '-'}); "
                f"{moved} upcoming appointment{'' if moved == 1 else 's'} moved to it")
    return ctx.result(change, text)


def slots(args: argparse.Namespace, ctx: Context) -> int:
    doctor, type_key = doctor_id(ctx, args.id), ctx.desk.naming.type_key(args.type)
    diagnosis = ctx.desk.rebooking.diagnose(doctor, type_key, days=args.days)
    return ctx.result({**diagnosis.__dict__, "reason": diagnosis.reason}, lambda: ctx.fields([
        ("doctor", f"{ctx.desk.doctors.get(doctor).name} ({doctor})"),
        ("type", f"{ctx.desk.types.get(type_key).name} ({type_key})"),
        ("offers the type", "yes" if diagnosis.offers_type else "no"),
        ("weekly windows", str(diagnosis.windows)),
        (f"slots in the next {args.days} days", str(diagnosis.in_windows)),
        ("inside the booking notice", str(diagnosis.inside_notice)),
        ("booked", str(diagnosis.booked)),
        ("free", str(diagnosis.free)),
        ("answer", diagnosis.reason),
    ]))


def register(cli: CommandLine) -> None:
    p = cli.command("doctors", "list", doctors_list, help="doctors")
    add_json(p)
    p = cli.command("doctors", "show", doctors_show, help="a doctor: contact, room, types, windows")
    p.add_argument("id", metavar="ID", help=DOCTOR_HELP)
    add_json(p)
    p = cli.command("doctors", "set-phone", set_phone,
                    help="a doctor's mobile number for SMS reminders (international format; '' clears it)")
    p.add_argument("id", metavar="ID", help=DOCTOR_HELP)
    p.add_argument("number", metavar="NUMBER")
    add_json(p)
    p = cli.command("doctors", "set-room", set_room,
                    help="give a doctor a new meeting room; upcoming appointments move to it",
                    description="Give a doctor a new meeting room (a leaked link, a new video host): --url "
                    "URL, or --new for a fresh room under the organisation's jitsi_base_url. Every held or "
                    "confirmed appointment of the doctor that has not started moves to it in the same write "
                    "(an APPOINTMENT_ROOM_CHANGED event each); started and past ones keep their room.")
    p.add_argument("id", metavar="ID", help=DOCTOR_HELP)
    room = p.add_mutually_exclusive_group(required=True)
    room.add_argument("--url", metavar="URL", help="the new room, an http:// or https:// URL")
    room.add_argument("--new", action="store_true", help="a fresh room: <jitsi_base_url>/<name>-<random>")
    add_json(p)
    p = cli.command("doctors", "slots", slots, help="why patients see (no) slots for a doctor and an appointment type")
    p.add_argument("id", metavar="ID", help=DOCTOR_HELP)
    p.add_argument("--type", required=True, metavar="KEY", help="the appointment type: its key or its name")
    p.add_argument("--days", type=DAYS, default=14, metavar="N", help="how far ahead (default 14, at most 90)")
    add_json(p)
