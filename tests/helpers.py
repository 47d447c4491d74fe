"""Shared test helpers: a CLI runner, data-dir fingerprints, appointment factories."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from rxdesk.cli import main
from rxdesk.domain.ids import new_appointment_uid
from rxdesk.domain.models import Appointment, AppointmentStatus
from rxdesk.services import Desk

REPO = Path(__file__).resolve().parent.parent
CLINIC_TOML = REPO / "examples" / "clinic.toml"


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self):  # type: ignore[no-untyped-def]
        import json

        return json.loads(self.out)


def run_cli(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run `rxdesk ARGS` in this process with `env` added to the environment."""
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    try:
        os.environ.update(env or {})
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return CliResult(code, out.getvalue(), err.getvalue())


def fingerprint(data_dir: Path) -> dict[str, str]:
    """Every file under the data dir with a hash of its bytes (to prove nothing changed)."""
    result = {}
    if not data_dir.exists():
        return result
    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and path.name != ".lock" and "logs" not in path.parts:
            result[str(path.relative_to(data_dir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


def make_appointment(
    desk: Desk,
    *,
    start: datetime,
    doctor_id: str = "dr-weber",
    patient_id: str = "pat-001",
    type_key: str = "gp-consult",
    status: AppointmentStatus | str = AppointmentStatus.confirmed,
    minutes: int | None = None,
    hold_minutes: int = 15,
    created_at: datetime | None = None,
    uid: str | None = None,
) -> Appointment:
    """Insert an appointment directly (bypassing booking rules) for a test's setup."""
    view = desk.store.read()
    appt_type = view.types.require(type_key)
    doctor = view.doctors.require(doctor_id)
    status = AppointmentStatus(status)
    now = desk.clock.now()
    created = created_at or min(now, start) - timedelta(days=1)
    appt = Appointment(
        uid=uid or new_appointment_uid(start),
        patient_id=patient_id,
        doctor_id=doctor_id,
        type_key=type_key,
        status=status,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes or appt_type.duration_minutes),
        created_at=created,
        hold_expires_at=(created + timedelta(minutes=hold_minutes)) if status in (AppointmentStatus.held, AppointmentStatus.expired) else None,
        confirmed_at=created + timedelta(minutes=1) if status not in (AppointmentStatus.held, AppointmentStatus.expired) else None,
        cancelled_at=now if status is AppointmentStatus.cancelled else None,
        cancel_reason="test setup" if status is AppointmentStatus.cancelled else None,
        cancelled_by="admin:setup" if status is AppointmentStatus.cancelled else None,
        room_url=doctor.room_url,
    )
    with desk.store.write() as w:
        w.appointments.put(appt)
    return appt
