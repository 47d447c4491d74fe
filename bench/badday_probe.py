"""A bad day's figures: a doctor away for a day of 30 appointments and for a week of 200, each
planned and written by `rxdesk doctors away --rebook` end to end, and the attention queue.

The data sets' doctors have about 30 upcoming appointments a week, so each run first books
the chosen doctor's free slots (the shortest type it offers, straight into the store, not
timed) until the day holds 30 and the week 200, on a private copy of the data set."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.datasets import NOW, Built
from bench.measure import bench_env, median_of, run_timed, rxdesk_cmd, snapshot_dir, time_call

Log = Callable[[str], None]
DAY, WEEK = 30, 200


def _desk(data: Path):  # type: ignore[no-untyped-def]
    from rxdesk.config import Settings
    from rxdesk.domain.clock import FixedClock
    from rxdesk.services import Desk
    from rxdesk.store import TinyStore

    return Desk(TinyStore(data), FixedClock(NOW), Settings(data_dir=data, agent="bench", now=NOW))


def fill(data: Path, doctor_id: str, start: Any, end: Any, wanted: int) -> int:
    """Book the doctor's free slots in [start, end) until `wanted` active appointments start
    there; returns how many there are."""
    from rxdesk.domain import lifecycle
    from rxdesk.domain.ids import new_appointment_uid
    from rxdesk.domain.queries import AppointmentQuery
    from rxdesk.services.availability import open_slots

    desk = _desk(data)
    with desk.store.write() as view:
        doctor = view.doctors.require(doctor_id)
        have = view.appointments.search(AppointmentQuery(
            doctor_id=doctor_id, statuses=frozenset({"held", "confirmed"}), starts_from=start, starts_before=end,
            as_of=NOW, limit=0)).total or 0
        shortest = min((view.types.require(k) for k in doctor.appointment_types), key=lambda t: t.duration_minutes)
        patients = sorted(view.patients.names())[:500]
        for i, slot in enumerate(open_slots(view, doctor, shortest, now=NOW, start=start, end=end)):
            if have >= wanted:
                break
            view.appointments.put(lifecycle.new_appointment(
                uid=new_appointment_uid(slot.starts_at), patient_id=patients[i % len(patients)], doctor=doctor,
                appt_type=shortest, starts_at=slot.starts_at, now=NOW, status=lifecycle.S.confirmed))
            have += 1
    return have


def _busiest_doctor(data: Path) -> str:
    """A doctor offering the shortest type (prescriptions), whose week can hold 200."""
    desk = _desk(data)
    view = desk.store.read()
    short = min(view.types.all(), key=lambda t: t.duration_minutes)
    return next(d.id for d in view.doctors.all() if short.key in d.appointment_types and len(d.availability) >= 10)


def measure(built: Built, work: Path, *, runs: int, log: Log) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    cmd = rxdesk_cmd()
    doctor = _busiest_doctor(built.data_dir)
    # Tomorrow (a whole day in the future, so the plan has room before and after), and the week
    # from tomorrow.
    day = NOW.replace(hour=0) + timedelta(days=1)
    for key, (span, wanted) in {"away_day": (timedelta(days=1), DAY), "away_week": (timedelta(days=7), WEEK)}.items():
        samples, sizes = [], []
        for run in range(runs):
            copy = snapshot_dir(built.data_dir, work / f"{key}-{run}")
            sizes.append(fill(copy, doctor, day, day + span, wanted))
            argv = [*cmd, "doctors", "away", doctor, "--from", day.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "--to", (day + span).strftime("%Y-%m-%dT%H:%M:%SZ"), "--reason", "benchmark: doctor away",
                    "--rebook"]
            samples.append(run_timed(argv, bench_env(copy)))
        figures[key] = {"rxdesk": median_of(samples), "note": f"{min(sizes)} appointments of {doctor}"}
        log(f"{key} {figures[key]['rxdesk']:.3f} s ({min(sizes)} appointments)")

    # Attention: in a running process (the app asks on every change), and as a command.
    desk = _desk(snapshot_dir(built.data_dir, work / "attention"))
    desk.attention.items()
    warm = median_of([time_call(desk.attention.items) for _ in range(max(runs, 5))])
    env = bench_env(work / "attention")
    run_timed([*cmd, "attention"], env)
    cold = median_of([run_timed([*cmd, "attention"], env) for _ in range(runs)])
    count = len(desk.attention.items())
    note = f"{count} items; `rxdesk attention` end to end {cold * 1000:.0f} ms"
    figures["attention"] = {"rxdesk": warm, "note": note}
    log(f"attention {warm * 1000:.1f} ms in process, {cold:.3f} s as a command")
    return figures
