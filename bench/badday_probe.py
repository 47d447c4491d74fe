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
from bench.measure import expect, median_of, run_timed, rxdesk_cmd, time_call
from bench.places import DatabasePlaces, DataDirPlaces, Place

Log = Callable[[str], None]
DAY, WEEK = 30, 200


def active_between(place: Place, doctor_id: str, start: Any, end: Any) -> int:
    """How many held or confirmed appointments of the doctor start in [start, end)."""
    from rxdesk.domain.queries import AppointmentQuery

    desk = place.desk()
    try:
        with desk.store.read() as view:
            return view.appointments.search(AppointmentQuery(
                doctor_id=doctor_id, statuses=frozenset({"held", "confirmed"}), starts_from=start,
                starts_before=end, as_of=NOW, limit=0)).total or 0
    finally:
        desk.close()


def fill(place: Place, doctor_id: str, start: Any, end: Any, wanted: int) -> int:
    """Book the doctor's free slots in [start, end) until `wanted` active appointments start
    there; returns how many there are."""
    from rxdesk.domain import lifecycle
    from rxdesk.domain.ids import new_appointment_uid
    from rxdesk.domain.queries import AppointmentQuery
    from rxdesk.services.availability import open_slots

    desk = place.desk()
    try:
        with desk.store.write() as view:
            doctor = view.doctors.require(doctor_id)
            have = view.appointments.search(AppointmentQuery(
                doctor_id=doctor_id, statuses=frozenset({"held", "confirmed"}), starts_from=start,
                starts_before=end, as_of=NOW, limit=0)).total or 0
            shortest = min((view.types.require(k) for k in doctor.appointment_types),
                           key=lambda t: t.duration_minutes)
            patients = sorted(view.patients.names())[:500]
            for i, slot in enumerate(open_slots(view, doctor, shortest, now=NOW, start=start, end=end)):
                if have >= wanted:
                    break
                view.appointments.put(lifecycle.new_appointment(
                    uid=new_appointment_uid(slot.starts_at), patient_id=patients[i % len(patients)],
                    doctor=doctor, appt_type=shortest, starts_at=slot.starts_at, now=NOW,
                    status=lifecycle.S.confirmed))
                have += 1
    finally:
        desk.close()
    return have


def _busiest_doctor(place: Place) -> str:
    """A doctor offering the shortest type (prescriptions), whose week can hold 200."""
    desk = place.desk()
    try:
        with desk.store.read() as view:
            short = min(view.types.all(), key=lambda t: t.duration_minutes)
            return next(d.id for d in view.doctors.all()
                        if short.key in d.appointment_types and len(d.availability) >= 10)
    finally:
        desk.close()


def measure(built: Built, work: Path, *, runs: int, log: Log,
            places: DataDirPlaces | DatabasePlaces) -> dict[str, dict[str, Any]]:
    who = places.backend
    figures: dict[str, dict[str, Any]] = {}
    cmd = rxdesk_cmd()
    # Tomorrow (a whole day in the future, so the plan has room before and after), and the week
    # from tomorrow.
    day = NOW.replace(hour=0) + timedelta(days=1)
    doctor = ""
    for key, (span, wanted) in {"away_day": (timedelta(days=1), DAY), "away_week": (timedelta(days=7), WEEK)}.items():
        samples, sizes = [], []
        for run in range(runs):
            place = places.new(f"{key}-{run}")
            doctor = doctor or _busiest_doctor(place)
            sizes.append(fill(place, doctor, day, day + span, wanted))
            argv = [*cmd, "doctors", "away", doctor, "--from", day.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "--to", (day + span).strftime("%Y-%m-%dT%H:%M:%SZ"), "--reason", "benchmark: doctor away",
                    "--rebook"]
            expect(sizes[-1] == wanted, f"{who}: the doctor's {key[5:]} holds {sizes[-1]} appointments, not {wanted}")
            samples.append(run_timed(argv, place.env()))
            left = active_between(place, doctor, day, day + span)
            expect(left == 0, f"{who}: `doctors away --rebook` left {left} of {wanted} appointments with the doctor")
        figures[key] = {who: median_of(samples), places.key("note"): f"{min(sizes)} appointments of {doctor}"}
        log(f"{who} {key} {figures[key][who]:.3f} s ({min(sizes)} appointments)")

    # Attention: in a running process (the app asks on every change), and as a command.
    place = places.new("attention")
    desk = place.desk()
    try:
        desk.attention.items()
        warm = median_of([time_call(desk.attention.items) for _ in range(max(runs, 5))])
        count = len(desk.attention.items())
        expect(count > 0, f"{who}: nothing needs attention in the data set: the figure would time an empty queue")
    finally:
        desk.close()
    env = place.env()
    run_timed([*cmd, "attention"], env)
    cold = median_of([run_timed([*cmd, "attention"], env) for _ in range(runs)])
    figures["attention"] = {who: warm, places.key("note"): f"{count} items; `rxdesk attention` end to end "
                                                           f"{cold * 1000:.0f} ms"}
    log(f"{who} attention {warm * 1000:.1f} ms in process, {cold:.3f} s as a command")
    return figures
