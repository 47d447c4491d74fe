"""`appointments slots|rebook`, `doctors set-phone|slots`."""

from __future__ import annotations

import argparse
from itertools import groupby

from rxdesk.commands import CommandLine, Context, add_json
from rxdesk.domain.times import format_local, parse_instant


def slots(args: argparse.Namespace, ctx: Context) -> int:
    choice = ctx.desk.rebooking.slots(args.uid, days=args.days, doctor_id=args.doctor)
    if args.json:
        ctx.json([s.to_json() for s in choice.slots])
        return 0
    if not choice.slots:
        ctx.err.write(f"no open slots for {choice.appointment.uid} in the next {args.days} days\n")
        return 0
    tz = choice.zone
    ctx.print(f"open slots for {choice.appointment.uid} ({choice.appointment_type.name}, "
              f"{choice.appointment_type.rebooking_mode.value.replace('_', ' ')}), times in {tz}:")
    for doctor, group in groupby(choice.slots, key=lambda s: (s.doctor_id, s.doctor_name)):
        ctx.print("")
        ctx.print(f"{doctor[1]} ({doctor[0]})")
        for day, items in groupby(group, key=lambda s: format_local(s.starts_at, tz)[:14]):
            ctx.print(f"  {day}  " + " ".join(format_local(s.starts_at, tz)[15:] for s in items))
    return 0


def rebook(args: argparse.Namespace, ctx: Context) -> int:
    start = parse_instant(args.start, what="--start")
    new = ctx.desk.rebooking.rebook(args.uid, start, doctor_id=args.doctor, agent=ctx.agent)
    if args.json:
        ctx.json(new.to_json())
    else:
        ctx.print(f"rebooked {args.uid.strip()} to {new.uid} ({format_local(new.starts_at, ctx.timezone)}, "
                  f"{new.doctor_id})")
    return 0


def set_phone(args: argparse.Namespace, ctx: Context) -> int:
    from rxdesk.domain.phones import display_phone  # phone metadata loads only for this command

    doctor = ctx.desk.doctors.set_phone(args.id, args.number, ctx.agent)
    if args.json:
        ctx.json(doctor.to_json())
    elif doctor.mobile_phone:
        ctx.print(f"{doctor.name}: mobile phone {display_phone(doctor.mobile_phone)} ({doctor.mobile_phone})")
    else:
        ctx.print(f"{doctor.name}: mobile phone cleared (SMS reminders to this doctor are skipped)")
    return 0


def doctor_slots(args: argparse.Namespace, ctx: Context) -> int:
    diagnosis = ctx.desk.rebooking.diagnose(args.id, args.type, days=args.days)
    if args.json:
        ctx.json({**diagnosis.__dict__, "reason": diagnosis.reason})
        return 0
    ctx.fields([
        ("offers the type", "yes" if diagnosis.offers_type else "no"),
        ("weekly windows", str(diagnosis.windows)),
        (f"slots in the next {args.days} days", str(diagnosis.in_windows)),
        ("inside the booking notice", str(diagnosis.inside_notice)),
        ("booked", str(diagnosis.booked)),
        ("free", str(diagnosis.free)),
        ("answer", diagnosis.reason),
    ])
    return 0


def register(cli: CommandLine) -> None:
    p = cli.command("appointments", "slots", slots, help="open slots to rebook an appointment into")
    p.add_argument("uid", metavar="UID")
    p.add_argument("--days", default=14, metavar="N", help="how far ahead (default 14, at most 90)")
    p.add_argument("--doctor", metavar="ID", help="only this doctor (any_doctor types)")
    add_json(p)
    p = cli.command("appointments", "rebook", rebook,
                    help="move an appointment to a free slot (the original is cancelled, linked)")
    p.add_argument("uid", metavar="UID")
    p.add_argument("--start", required=True, metavar="ISO", help="the slot's start, e.g. 2026-11-25T09:00:00Z")
    p.add_argument("--doctor", metavar="ID", help="another doctor (any_doctor types only)")
    add_json(p)
    p = cli.command("doctors", "set-phone", set_phone,
                    help="a doctor's mobile number for SMS reminders (international format; '' clears it)")
    p.add_argument("id", metavar="ID")
    p.add_argument("number", metavar="NUMBER")
    add_json(p)
    p = cli.command("doctors", "slots", doctor_slots,
                    help="why patients see (no) slots for a doctor and an appointment type")
    p.add_argument("id", metavar="ID")
    p.add_argument("--type", required=True, metavar="KEY")
    p.add_argument("--days", default=14, metavar="N")
    add_json(p)
