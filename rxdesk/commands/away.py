"""`rxdesk doctors away`: a doctor's appointments in a range moved or cancelled in one write."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context, add_json
from rxdesk.domain.times import format_local

if TYPE_CHECKING:
    from rxdesk.services.away import AwayPlan


def away(args: argparse.Namespace, ctx: Context) -> int:
    service = ctx.desk.away
    doctor_id = ctx.desk.naming.doctor_id(args.id)
    start, end = service.range(args.date_from, args.date_to)
    if args.dry_run:
        plan = service.plan(doctor_id, start, end, args.reason, rebook=args.rebook)
        if args.json:
            ctx.json(plan.to_json())
        else:
            _show(ctx, plan)
            if plan.items:
                ctx.print(f"dry run: nothing was changed. To carry out exactly this plan, run the same command "
                          f"with --expect {plan.plan_id} instead of --dry-run.")
        return 0
    from rxdesk.services.away import PlanChanged

    try:
        result = service.run(doctor_id, start, end, args.reason, rebook=args.rebook, agent=ctx.agent,
                             expected=args.expect)
    except PlanChanged as changed:
        # The plan now, as a dry run prints it, so the agent can read it and expect it instead.
        if args.json:
            ctx.json(changed.to_json())
        else:
            _show(ctx, changed.plan)
            ctx.print(f"nothing was changed. To carry out this plan, run the command again with "
                      f"--expect {changed.plan.plan_id}.")
        raise
    if args.json:
        ctx.json(result.to_json())
        return 0
    _show(ctx, result.plan)
    return 0


def _show(ctx: Context, plan: AwayPlan) -> None:
    tz = plan.zone
    ctx.print(f"{plan.doctor.name} ({plan.doctor.id}) away {plan.range_text()}: {plan.reason}")
    headers = ["START", "PATIENT", "TYPE", "UID", "OUTCOME", "WHY"]
    if plan.done:
        headers.insert(5, "NEW UID")
    rows = []
    for item in plan.items:
        row = [format_local(item.appointment.starts_at, tz), item.patient_name, item.type_name, item.uid,
               item.outcome(tz), item.why or ("" if plan.rebook else "not rebooked (no --rebook)")]
        if plan.done:
            row.insert(5, item.new_uid or "-")
        rows.append(row)
    ctx.table(headers, rows, empty=f"no held or confirmed appointments of {plan.doctor.name} start in that range")
    ctx.print(f"plan {plan.plan_id}: {plan.summary()}")


def register(cli: CommandLine) -> None:
    p = cli.command(
        "doctors", "away", away,
        help="a doctor is away: move or cancel every appointment starting in a range, in one write",
        description="Every held or confirmed appointment of the doctor that starts in the range. Without "
        "--rebook each is cancelled with the reason. With --rebook each moves where its type allows "
        "(any_doctor: another doctor at the same start, else the nearest free slot of any doctor offering "
        "the type; same_doctor: the doctor's first free slot after the range), by the rebook rules; what "
        "cannot move within 28 days is cancelled. One write for the whole plan. --dry-run prints the plan "
        "and changes nothing; --expect PLAN carries out only the plan with that id (else exit 1, nothing changed, "
        "the plan now printed). Times: ISO-8601 (without a zone, in the organisation's), or there a day (today, "
        "tomorrow, 2026-11-24, +2d; --to includes the day), 'YYYY-MM-DD HH:MM', 'HH:MM' (today) or now.",
    )
    p.add_argument("id", metavar="ID", help="the doctor: an id, or a name, email or phone (or part of one)")
    p.add_argument("--from", dest="date_from", required=True, metavar="ISO", help="start of the range")
    p.add_argument("--to", dest="date_to", required=True, metavar="ISO", help="end of the range (a day is included)")
    p.add_argument("--reason", required=True, metavar="TEXT",
                   help="why (1-500 characters); stored on each cancellation")
    p.add_argument("--rebook", action="store_true", help="move each appointment where its type allows")
    p.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    p.add_argument("--expect", metavar="PLAN",
                   help="the plan id a dry run printed: carry out that plan only; when the plan has changed, "
                   "change nothing, print the plan now and exit 1")
    add_json(p)
