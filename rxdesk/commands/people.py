"""`rxdesk patients list|show`, `rxdesk doctors list|show|set-room`, `rxdesk types list`."""

from __future__ import annotations

import argparse

from rxdesk.commands import CommandLine, Context, add_json
from rxdesk.domain.times import format_local


def patients_list(args: argparse.Namespace, ctx: Context) -> int:
    page = ctx.desk.patients.list_patients(args.search or "", limit=args.limit)
    if args.json:
        ctx.json([p.to_json() for p in page.items])
        return 0
    ctx.table(
        ["ID", "NAME", "EMAIL", "PHONE", "EXTERNAL ID"],
        [[p.id, p.name, p.email, p.phone, p.external_id] for p in page.items],
        empty="no patients match",
    )
    return 0


def patients_show(args: argparse.Namespace, ctx: Context) -> int:
    from rxdesk.services.patients import tally

    detail = ctx.desk.patients.show(args.id)
    if args.json:
        ctx.json(detail.to_json())
        return 0
    p, tz = detail.patient, ctx.timezone
    ctx.fields([("id", p.id), ("name", p.name), ("email", p.email), ("phone", p.phone), ("external id", p.external_id),
                ("appointments", tally(detail.counts))])
    for title, page in (("upcoming", detail.upcoming), ("history (newest first)", detail.history)):
        ctx.print("")
        ctx.print(f"{title}:")
        ctx.table(
            ["START", "DOCTOR", "TYPE", "STATUS", "UID"],
            [[format_local(r.starts_at, tz), r.doctor_name, r.type_name, r.status.value, r.uid] for r in page.items],
            empty="  none",
        )
    return 0


def doctors_list(args: argparse.Namespace, ctx: Context) -> int:
    doctors = ctx.desk.doctors.list_doctors()
    if args.json:
        ctx.json([d.to_json() for d in doctors])
        return 0
    ctx.table(
        ["ID", "NAME", "TIME ZONE", "MOBILE", "TYPES"],
        [[d.id, d.name, d.timezone, d.mobile_phone or "-", ", ".join(d.appointment_types)] for d in doctors],
        empty="no doctors yet (rxdesk provision FILE.toml)",
    )
    return 0


def doctors_show(args: argparse.Namespace, ctx: Context) -> int:
    detail = ctx.desk.doctors.show(args.id)
    if args.json:
        ctx.json(detail.to_json())
        return 0
    d = detail.doctor
    ctx.fields(
        [
            ("id", d.id),
            ("name", d.name),
            ("email", d.email),
            ("time zone", d.timezone),
            ("mobile phone", d.mobile_phone or "(none: SMS reminders are skipped)"),
            ("prescription phone", d.prescription_phone or "-"),
            ("room", d.room_url),
            ("types", ", ".join(f"{t.name} ({t.key})" for t in detail.types) or "-"),
            ("upcoming", f"{detail.upcoming_count} active appointments"),
        ]
    )
    days = "Mon Tue Wed Thu Fri Sat Sun".split()
    ctx.print("")
    ctx.print(f"availability ({d.timezone}):")
    for w in sorted(d.availability, key=lambda w: (w.weekday, w.start)):
        ctx.print(f"  {days[w.weekday]}  {w.start}-{w.end}")
    return 0


def doctors_set_room(args: argparse.Namespace, ctx: Context) -> int:
    change = ctx.desk.doctors.set_room(args.id, url=args.url, new=args.new, agent=ctx.agent)
    if args.json:
        ctx.json(change.to_json())
        return 0
    d = change.doctor
    if d.room_url == change.previous_room and not change.moved:
        ctx.print(f"{d.name} already meets in {d.room_url}; nothing changed")
        return 0
    moved = len(change.moved)
    ctx.print(f"{d.name}: meeting room {d.room_url} (was {change.previous_room or '-'}); "
              f"{moved} upcoming appointment{'' if moved == 1 else 's'} moved to it")
    return 0


def types_list(args: argparse.Namespace, ctx: Context) -> int:
    types = ctx.desk.types.list_types()
    if args.json:
        ctx.json([t.to_json() for t in types])
        return 0
    ctx.table(
        ["KEY", "NAME", "MINUTES", "HOLD", "CANCEL NOTICE", "BOOKING NOTICE", "REBOOKING", "REMINDERS"],
        [
            [t.key, t.name, str(t.duration_minutes), f"{t.hold_ttl_minutes}m", f"{t.cancellation_notice_minutes}m",
             f"{t.booking_notice_minutes}m", t.rebooking_mode.value, str(len(t.reminders))]
            for t in types
        ],
        empty="no appointment types yet (rxdesk provision FILE.toml)",
    )
    return 0


def register(cli: CommandLine) -> None:
    p = cli.command("patients", "list", patients_list, help="patients by name; --search narrows")
    p.add_argument("--search", metavar="TEXT", help="part of a name, email, phone or external id")
    p.add_argument("--limit", type=int, metavar="N")
    add_json(p)
    p = cli.command("patients", "show", patients_show, help="a patient with upcoming and recent appointments")
    p.add_argument("id", metavar="ID")
    add_json(p)
    p = cli.command("doctors", "list", doctors_list, help="doctors")
    add_json(p)
    p = cli.command("doctors", "show", doctors_show, help="a doctor: contact, room, types, windows")
    p.add_argument("id", metavar="ID")
    add_json(p)
    p = cli.command("doctors", "set-room", doctors_set_room,
                    help="give a doctor a new meeting room; upcoming appointments move to it",
                    description="Give a doctor a new meeting room (a leaked link, a new video host): --url "
                    "URL, or --new for a fresh room under the organisation's jitsi_base_url. Every held or "
                    "confirmed appointment of the doctor that has not started moves to it in the same write "
                    "(an APPOINTMENT_ROOM_CHANGED event each); started and past ones keep their room.")
    p.add_argument("id", metavar="ID")
    room = p.add_mutually_exclusive_group(required=True)
    room.add_argument("--url", metavar="URL", help="the new room, an http:// or https:// URL")
    room.add_argument("--new", action="store_true", help="a fresh room: <jitsi_base_url>/<name>-<random>")
    add_json(p)
    p = cli.command("types", "list", types_list, help="appointment types")
    add_json(p)


__all__ = ["format_local", "register"]
