"""`rxdesk appointments list|show|book|cancel|slots|rebook|mark`."""

from __future__ import annotations

import argparse
from itertools import groupby
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import DAYS, add_json, add_limit
from rxdesk.commands.output import safe_table
from rxdesk.domain.times import LocalTimes, format_local, parse_time

if TYPE_CHECKING:
    from rxdesk.services.appointments import AppointmentDetail, AppointmentRow

# How a refusal of `list` names each filter: by its flag.
FLAGS = {"doctor": "--doctor", "patient": "--patient", "statuses": "--status", "date_from": "--from",
         "date_to": "--to"}
LIST_HEADERS = ["START", "DOCTOR", "PATIENT", "TYPE", "STATUS", "UID"]
IN_PROGRESS = "(in progress)"  # beside the status of an appointment running now


def list_appointments(args: argparse.Namespace, ctx: Context) -> int:
    from rxdesk.domain.errors import ValidationFailed
    from rxdesk.services.filters import FilterText

    service = ctx.desk.appointments
    typed = FilterText(doctor=args.doctor or "", patient=args.patient or "", statuses=",".join(args.status or ()),
                       date_from=args.date_from or "", date_to=args.date_to or "", all=args.all)
    parsed = service.parse_filter(typed, names=FLAGS, every_patient_named=True)
    refusal = parsed.refusal()
    if refusal:
        raise ValidationFailed(refusal)
    if parsed.filter.patient_ids:  # a name several patients share: every one of them
        ctx.note(f"patient: {parsed.resolved['patient']}")
    page = service.list_appointments(parsed.filter, limit=args.limit, count=args.limit is not None,
                                     brief=not ctx.as_json)
    if ctx.as_json:
        ctx.json([row.to_json() for row in page.items])
    elif page.items:
        ctx.out.write(appointment_table(page.items, ctx.timezone))
    else:
        ctx.note(f"no appointments match ({parsed.window})")
    if page.total is not None and page.total > len(page.items):
        ctx.note(f"showing {len(page.items):,} of {page.total:,} (raise --limit)")
    if page.items and not ctx.as_json:
        ctx.note(f"{parsed.window}: {len(page.items):,} listed")
    return 0


def appointment_table(rows: list[AppointmentRow], zone: str) -> str:
    """The listing as text, at a small constant cost per row: the zone is applied once per
    distinct hour (`LocalTimes`), each distinct name escaped and measured once."""
    local = LocalTimes(zone)
    cells = []
    for row in rows:
        stored, status, uid = row.record.listed
        if row.in_progress:
            status = f"{status} {IN_PROGRESS}"
        cells.append((local(stored), row.doctor_name, row.patient_name, row.type_name, status, uid))
    return safe_table(LIST_HEADERS, cells)


def show(args: argparse.Namespace, ctx: Context) -> int:
    detail = ctx.desk.appointments.show(args.uid)
    return ctx.result(detail, lambda: _print_detail(ctx, detail))


def _print_detail(ctx: Context, detail: AppointmentDetail) -> None:
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
        ("created", format_local(a.created_at, tz) + (f" by {a.created_by}" if a.created_by else "")),
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
        from rxdesk.domain.sending import reminder_outcome  # the parser never loads the models

        for r in detail.reminders_sent:
            ctx.print(f"  {format_local(r.sent_at, tz)}  {r.rule_id}  {r.recipient_group.value}:{r.recipient_id}"
                      f"{reminder_outcome(r)}")


def cancel(args: argparse.Namespace, ctx: Context) -> int:
    zone = zone_to_print(ctx)
    cancelled = ctx.desk.appointments.cancel_appointments(args.uid, args.reason, ctx.agent)

    def printed() -> None:
        for appt in cancelled:
            ctx.print(f"cancelled {appt.uid} ({format_local(appt.starts_at, zone)}): {appt.cancel_reason}")

    # One uid prints the appointment, as it always has; several print the list.
    return ctx.result(cancelled[0] if len(args.uid) == 1 else cancelled, printed)


def mark(args: argparse.Namespace, ctx: Context) -> int:
    zone = zone_to_print(ctx)
    appt = ctx.desk.appointments.mark_attendance(args.uid, args.status, args.reason, ctx.agent)
    return ctx.result(appt, lambda: ctx.print(
        f"marked {appt.uid} ({format_local(appt.starts_at, zone)}) {appt.status.value}: "
        f"{appt.attendance_note}"))


def zone_to_print(ctx: Context) -> str:
    """The organisation's zone, read before a write whose answer shows local times: a store
    that cannot give it (a damaged file) refuses the command before it changes anything, not
    after (an exit 1 for a change that was made)."""
    return "UTC" if ctx.as_json else ctx.timezone


def doctor_named(ctx: Context, text: str | None) -> str | None:
    """The id of the doctor an option names (an id, a name, ...), or None when it is not given."""
    return ctx.desk.naming.doctor_id(text) if text is not None else None


def slots(args: argparse.Namespace, ctx: Context) -> int:
    choice = ctx.desk.rebooking.slots(args.uid, days=args.days, doctor_id=doctor_named(ctx, args.doctor))
    if ctx.as_json:
        return ctx.result(choice.slots)
    appt, kind = choice.appointment, choice.appointment_type
    about = f"{appt.uid} ({choice.patient_name} with {choice.doctor_name}, {kind.name} ({kind.key})"
    if not choice.slots:
        ctx.note(f"no open slots for {about}) in the next {args.days} days")
        return 0
    tz = choice.zone
    ctx.print(f"open slots for {about}, {kind.rebooking_mode.value.replace('_', ' ')}), times in {tz}:")
    for doctor, group in groupby(choice.slots, key=lambda s: (s.doctor_id, s.doctor_name)):
        ctx.print("")
        ctx.print(f"{doctor[1]} ({doctor[0]})")
        for day, items in groupby(group, key=lambda s: format_local(s.starts_at, tz)[:14]):
            ctx.print(f"  {day}  " + " ".join(format_local(s.starts_at, tz)[15:] for s in items))
    return 0


def rebook(args: argparse.Namespace, ctx: Context) -> int:
    start = parse_time(args.start, ctx.timezone, what="--start")
    new = ctx.desk.rebooking.rebook(args.uid, start, doctor_id=doctor_named(ctx, args.doctor), agent=ctx.agent)
    return ctx.result(new, lambda: ctx.print(
        f"rebooked {args.uid.strip()} to {new.uid} ({format_local(new.starts_at, ctx.timezone)} {ctx.timezone}, "
        f"{new.doctor_id})"))


def book(args: argparse.Namespace, ctx: Context) -> int:
    service = ctx.desk.agent_booking
    patient_id = ctx.desk.naming.patient_id(args.patient)
    type_key = ctx.desk.naming.type_key(args.type)
    doctor_id = doctor_named(ctx, args.doctor)
    tz = ctx.timezone
    if args.start is None:  # the free slots to choose from
        choice = service.slots(patient_id, type_key, days=args.days, doctor_id=doctor_id)
        if ctx.as_json:
            return ctx.result(choice.slots)
        if not choice.slots:
            ctx.note(f"no free {choice.appointment_type.name} slots in the next {choice.days} days")
            return 0
        ctx.print(f"free {choice.appointment_type.name} slots for {choice.patient.name} ({choice.patient.id}), "
                  f"by start, times in {tz}; book one with --start:")
        ctx.table(["START", "DOCTOR", "DOCTOR ID"],
                  [[format_local(s.starts_at, tz), s.doctor_name, s.doctor_id] for s in choice.slots])
        return 0
    start = parse_time(args.start, tz, what="--start")
    appt = service.book(patient_id, type_key, start, doctor_id=doctor_id, hold=args.hold, agent=ctx.agent)

    def text() -> None:
        names = ctx.desk.appointments.summary(appt.uid)
        ctx.print(f"{appt.status.value} {appt.uid}: {names.patient_name} ({appt.patient_id}) with "
                  f"{names.doctor_name} ({appt.doctor_id}), {names.type_name} ({appt.type_key}), "
                  f"{format_local(appt.starts_at, tz)} ({tz})")
        if appt.hold_expires_at is not None:
            ctx.print(f"the hold lapses at {format_local(appt.hold_expires_at, tz)} unless it is confirmed")

    return ctx.result(appt, text)


def underscored(text: str) -> str:
    """`no-show` as `no_show`: a status as typed, the dash people use read as the name's underscore."""
    return text.strip().replace("-", "_")


def register(cli: CommandLine) -> None:
    p = cli.command(
        "appointments", "list", list_appointments,
        help="appointments by start; default: held or confirmed that have not ended",
        description="Appointments ordered by start. Default: held or confirmed that have not ended, "
        "those in progress first (marked). A --status naming only past statuses (completed, no_show, "
        "expired) lists the past instead, newest first. --status replaces the status default, "
        "--from/--to (days in the org's zone, --to inclusive) the time default; --all drops whichever "
        "default was not replaced. The window in effect is said on stderr. --doctor and "
        "--patient take an id, a name, an email or a phone number (or part of one). --doctor must name "
        "exactly one: several matches are refused with the candidates listed. --patient lists every "
        "patient it matches (up to 1,000; stderr says how many), as the app's patient filter does.",
    )
    p.add_argument("--status", action="append", metavar="S",
                   help="held, confirmed, cancelled, expired, completed, no_show, or active (repeatable)")
    p.add_argument("--doctor", metavar="ID", help="the doctor: an id, or a name, email or phone (or part)")
    p.add_argument("--patient", metavar="ID",
                   help="the patient: an id, external id, name, email or phone (or part); every one it matches")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="YYYY-MM-DD (or today, +7d)")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="YYYY-MM-DD, inclusive")
    p.add_argument("--all", action="store_true", help="drop the defaults not replaced by --status/--from/--to")
    add_limit(p)
    add_json(p)

    p = cli.command(
        "appointments", "book", book,
        help="book an appointment for a patient (confirmed, or held with --hold)",
        description="Book an appointment for a patient, as an agent: confirmed (or held for the type's hold "
        "time with --hold), created_by admin:AGENT, audited, with its event (APPOINTMENT_CONFIRMED or "
        "APPOINTMENT_HELD). The slot rules of a token booking apply, but not the patient's booking notice: "
        "in the doctor's windows, free, not started. Without --doctor, the first doctor by name offering the "
        "type who is free then takes it. Without --start, lists the free slots of every doctor offering the "
        "type by start (books nothing). --start: ISO-8601; without a zone, in the organisation's zone.",
    )
    p.add_argument("--patient", required=True, metavar="ID",
                   help="the patient: an id, external id, name, email or phone")
    p.add_argument("--type", required=True, metavar="KEY", help="the appointment type: its key or its name")
    p.add_argument("--start", metavar="ISO",
                   help="the slot's start, e.g. 2026-11-25T09:00 (without a zone: the organisation's)")
    p.add_argument("--doctor", metavar="ID", help="the doctor: an id, or a name, email or phone (or part)")
    p.add_argument("--hold", action="store_true", help="hold the slot instead of confirming it")
    p.add_argument("--days", type=DAYS, default=14, metavar="N",
                   help="without --start: how far ahead to list (default 14, at most 90)")
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

    p = cli.command("appointments", "slots", slots, help="open slots to rebook an appointment into")
    p.add_argument("uid", metavar="UID")
    p.add_argument("--days", type=DAYS, default=14, metavar="N", help="how far ahead (default 14, at most 90)")
    p.add_argument("--doctor", metavar="ID", help="only this doctor (any_doctor types): an id, or a name (or part)")
    add_json(p)

    p = cli.command("appointments", "rebook", rebook,
                    help="move an appointment to a free slot (the original is cancelled, linked)")
    p.add_argument("uid", metavar="UID")
    p.add_argument("--start", required=True, metavar="ISO",
                   help="the slot's start: ISO-8601, e.g. 2026-11-25T09:00:00Z; without a zone, the organisation's")
    p.add_argument("--doctor", metavar="ID", help="another doctor (any_doctor types only): an id, or a name (or part)")
    add_json(p)

    p = cli.command(
        "appointments", "mark", mark,
        help="attendance: mark a started appointment no_show or completed (reason required)",
        description="Attendance. no_show: the patient did not attend; completed: they did. A confirmed "
        "appointment can be marked once it has started; a completed or no_show one can be corrected to "
        "the other up to 7 days after its end. (An appointment becomes completed by itself when it ends.)",
    )
    p.add_argument("uid", metavar="UID")
    p.add_argument("--status", required=True, choices=["no_show", "completed"], type=underscored,
                   help="no_show (or no-show) or completed")
    p.add_argument("--reason", required=True, metavar="TEXT",
                   help="why (1-500 characters); stored as the attendance note")
    add_json(p)
