"""`rxdesk appointments list|show|cancel|mark`."""

from __future__ import annotations

import argparse
import functools
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context, add_json
from rxdesk.domain.times import format_local

if TYPE_CHECKING:
    from rxdesk.services.appointments import AppointmentFilter


def _filter(args: argparse.Namespace, ctx: Context) -> AppointmentFilter:
    from datetime import datetime

    from rxdesk.domain.filters import parse_day, parse_statuses
    from rxdesk.services.appointments import AppointmentFilter

    today = datetime.now().date()
    if args.date_from or args.date_to:
        from rxdesk.domain.times import zone

        today = ctx.desk.clock.now().astimezone(zone(ctx.timezone)).date()
    return AppointmentFilter(
        statuses=parse_statuses(args.status) if args.status else None,
        doctor_id=args.doctor,
        patient_id=args.patient,
        date_from=parse_day(args.date_from, today, what="--from") if args.date_from else None,
        date_to=parse_day(args.date_to, today, what="--to") if args.date_to else None,
        all=args.all,
    )


def list_appointments(args: argparse.Namespace, ctx: Context) -> int:
    f = _filter(args, ctx)
    if f.date_from and f.date_to and f.date_to < f.date_from:
        from rxdesk.domain.errors import ValidationFailed

        raise ValidationFailed("--to is before --from")
    page = ctx.desk.appointments.list_appointments(f, limit=args.limit, count=True)
    if args.json:
        ctx.json([row.to_json() for row in page.items])
        return 0
    tz = ctx.timezone
    # Many appointments share a start time: format each instant once.
    when = functools.lru_cache(maxsize=None)(lambda dt: format_local(dt, tz))
    ctx.table(
        ["START", "DOCTOR", "PATIENT", "TYPE", "STATUS", "UID"],
        [
            [
                when(r.starts_at),
                r.doctor_name,
                r.patient_name,
                r.type_name,
                r.status.value,
                r.uid,
            ]
            for r in page.items
        ],
        empty="no appointments match",
    )
    if page.total is not None and page.total > len(page.items):
        ctx.err.write(f"showing {len(page.items):,} of {page.total:,} (raise --limit)\n")
    return 0


def show(args: argparse.Namespace, ctx: Context) -> int:
    detail = ctx.desk.appointments.show(args.uid)
    if args.json:
        ctx.json(detail.to_json())
        return 0
    a, tz = detail.appointment, ctx.timezone
    pairs = [
        ("uid", a.uid),
        ("status", a.status.value),
        ("starts", f"{format_local(a.starts_at, tz)} ({tz})"),
        ("ends", format_local(a.ends_at, tz)),
        ("type", f"{detail.type.name} ({a.type_key})" if detail.type else a.type_key),
        ("doctor", f"{detail.doctor.name} ({a.doctor_id})" if detail.doctor else a.doctor_id),
        ("patient", f"{detail.patient.name} ({a.patient_id})" if detail.patient else a.patient_id),
        ("room", a.room_url),
        ("created", format_local(a.created_at, tz)),
    ]
    if a.hold_expires_at:
        pairs.append(("hold expires", format_local(a.hold_expires_at, tz)))
    if a.confirmed_at:
        pairs.append(("confirmed", format_local(a.confirmed_at, tz)))
    if a.cancelled_at:
        pairs.append(("cancelled", f"{format_local(a.cancelled_at, tz)} by {a.cancelled_by}"))
        pairs.append(("reason", a.cancel_reason or ""))
    if a.attendance_at:
        marked = format_local(a.attendance_at, tz)
        pairs.append(("attendance", f"{a.status.value}, marked {marked} by {a.attendance_by}"))
        pairs.append(("note", a.attendance_note or ""))
    if detail.previous_chain:
        pairs.append(("rebooked from", " <- ".join(x.uid for x in detail.previous_chain)))
    if detail.next_chain:
        pairs.append(("rebooked to", " -> ".join(x.uid for x in detail.next_chain)))
    ctx.fields(pairs)
    if detail.audit:
        ctx.print("")
        ctx.print("audit:")
        for e in detail.audit:
            ctx.print(f"  {format_local(e.at, tz)}  {e.actor}  {e.action}")
    if detail.reminders_sent:
        ctx.print("")
        ctx.print("reminders sent:")
        for r in detail.reminders_sent:
            ctx.print(f"  {format_local(r.sent_at, tz)}  {r.rule_id}  {r.recipient_group.value}:{r.recipient_id}")
    return 0


def cancel(args: argparse.Namespace, ctx: Context) -> int:
    cancelled = ctx.desk.appointments.cancel_appointments(args.uid, args.reason, ctx.agent)
    if args.json:
        # One uid prints the appointment, as it always has; several print the list.
        ctx.json(cancelled[0].to_json() if len(args.uid) == 1 else [a.to_json() for a in cancelled])
        return 0
    for appt in cancelled:
        ctx.print(f"cancelled {appt.uid} ({format_local(appt.starts_at, ctx.timezone)}): {appt.cancel_reason}")
    return 0


def mark(args: argparse.Namespace, ctx: Context) -> int:
    appt = ctx.desk.appointments.mark_attendance(args.uid, args.status, args.reason, ctx.agent)
    if args.json:
        ctx.json(appt.to_json())
    else:
        ctx.print(f"marked {appt.uid} ({format_local(appt.starts_at, ctx.timezone)}) {appt.status.value}: "
                  f"{appt.attendance_note}")
    return 0


def register(cli: CommandLine) -> None:
    p = cli.command(
        "appointments", "list", list_appointments,
        help="appointments by start; default: held or confirmed, from now on",
        description="Appointments ordered by start. Default: held or confirmed, starting now or "
        "later. --status replaces the status default, --from/--to (days in the org's zone, --to "
        "inclusive) the time default; --all drops whichever default was not replaced.",
    )
    p.add_argument("--status", action="append", metavar="S",
                   help="held, confirmed, cancelled, expired, completed, no_show (repeatable)")
    p.add_argument("--doctor", metavar="ID")
    p.add_argument("--patient", metavar="ID")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="YYYY-MM-DD (or today, +7d)")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="YYYY-MM-DD, inclusive")
    p.add_argument("--all", action="store_true", help="drop the defaults not replaced by --status/--from/--to")
    p.add_argument("--limit", type=int, metavar="N", help="print at most N rows")
    add_json(p)

    p = cli.command("appointments", "show", show, help="one appointment with its chain and audit")
    p.add_argument("uid", metavar="UID")
    add_json(p)

    p = cli.command(
        "appointments", "cancel", cancel,
        help="cancel held or confirmed appointments that have not ended (reason required)",
        description="Cancel one or several held or confirmed appointments that have not ended, with a "
        "reason. Several uids are cancelled in one write, all or none: if one cannot be cancelled, the "
        "refusal names it and nothing changes.",
    )
    p.add_argument("uid", metavar="UID", nargs="+")
    p.add_argument("--reason", required=True, metavar="TEXT", help="why (1-500 characters); stored on the appointment")
    add_json(p)

    p = cli.command(
        "appointments", "mark", mark,
        help="attendance: mark a started appointment no_show or completed (reason required)",
        description="Attendance. no_show: the patient did not attend; completed: they did. A confirmed "
        "appointment can be marked once it has started; a completed or no_show one can be corrected to "
        "the other up to 7 days after its end. (An appointment becomes completed by itself when it ends.)",
    )
    p.add_argument("uid", metavar="UID")
    p.add_argument("--status", required=True, choices=["no_show", "completed"], help="no_show or completed")
    p.add_argument("--reason", required=True, metavar="TEXT",
                   help="why (1-500 characters); stored as the attendance note")
    add_json(p)
