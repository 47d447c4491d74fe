"""Provisioning: upsert the organisation, admins, types, doctors and patients from TOML.

The whole file is validated before anything is written; the first problem is reported as one
line naming the file and the field (`doctors[2].availability[0].end: ...`). Then everything is
written in one store write, or nothing is.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.ids import random_token
from rxdesk.domain.models import Admin, AppointmentType, Doctor, Org, Patient
from rxdesk.domain.phones import normalize_mobile
from rxdesk.services.base import Service, admin_actor, record

SECTIONS = ("org", "admins", "appointment_types", "doctors", "patients")
MAX_FILE_BYTES = 64 * 1024 * 1024


def describe_error(exc: ValidationError, prefix: str) -> str:
    """The first pydantic error as `prefix.field[0].sub: message`."""
    err = exc.errors(include_url=False)[0]
    path = prefix
    for part in err.get("loc", ()):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = err.get("msg", "is invalid")
    if err.get("type") == "missing":
        message = "is required"
    elif err.get("type") == "extra_forbidden":
        message = "is not a known field"
    message = message.removeprefix("Value error, ")
    return f"{path}: {message}"


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:40] or "room"


def new_room_url(base: str, doctor_name: str) -> str:
    """A persistent meeting room: `<jitsi_base>/<slug>-<random>`."""
    return f"{base.rstrip('/')}/{slugify(doctor_name)}-{random_token(10)}"


def room_note(existing: Doctor, room_in_file: str | None, new_base: str | None) -> str | None:
    """What a run says when it keeps a doctor's meeting room although the file asks for
    another (a `room_url`, or a new `jitsi_base_url`), and which command moves it."""
    kept = f"doctor {existing.id}: kept the existing meeting room {existing.room_url}"
    if room_in_file is not None and room_in_file != existing.room_url:
        return (f"{kept}; `rxdesk doctors set-room {existing.id} --url {room_in_file}` moves it "
                "and the doctor's upcoming appointments")
    if new_base is not None and not existing.room_url.startswith(new_base.rstrip("/") + "/"):
        return (f"{kept}; `rxdesk doctors set-room {existing.id} --new` gives a room under {new_base} "
                "and moves the doctor's upcoming appointments")
    return None


@dataclass
class ProvisionResult:
    created: dict[str, list[str]] = field(default_factory=dict)
    updated: dict[str, list[str]] = field(default_factory=dict)
    unchanged: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def count(self, kind: str) -> tuple[int, int]:
        return len(self.created.get(kind, [])), len(self.updated.get(kind, []))

    def summary(self) -> str:
        parts = []
        for kind in SECTIONS:
            c, u = self.count(kind)
            same = len(self.unchanged.get(kind, []))
            if c or u or same:
                parts.append(f"{kind.replace('_', ' ')}: {c} created, {u} updated, {same} unchanged")
        return "; ".join(parts) or "the file is empty"

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())

    def to_json(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged, "notes": self.notes}


@dataclass
class _Plan:
    org: Org | None
    admins: list[Admin]
    types: list[AppointmentType]
    doctors: list[tuple[Doctor, bool]]  # (doctor, room given in the file)
    patients: list[Patient]


def _validate(model: type[BaseModel], data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ValidationFailed(f"{where}: must be a table")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(describe_error(exc, where)) from None


def _array(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise ValidationFailed(f"{key}: must be an array of tables ([[{key}]])")
    return value


class ProvisioningService(Service):
    def load_file(self, path: str | Path) -> dict[str, Any]:
        file = Path(path)
        try:
            if file.stat().st_size > MAX_FILE_BYTES:
                raise ValidationFailed(f"{file}: larger than {MAX_FILE_BYTES // 2**20} MB")
            raw = file.read_bytes()
        except FileNotFoundError:
            raise ValidationFailed(f"{file}: no such file") from None
        except IsADirectoryError:
            raise ValidationFailed(f"{file}: is a directory, not a TOML file") from None
        except PermissionError:
            raise ValidationFailed(f"{file}: not readable (permission denied)") from None
        except (OSError, ValueError) as exc:  # a name the OS refuses (NUL, too long) or an I/O error
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a usable file name"
            raise ValidationFailed(f"{str(file)[:200]!r}: {reason}") from None
        try:
            return tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ValidationFailed(f"{file}: not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValidationFailed(f"{file}: not valid TOML ({exc})") from None

    def provision_file(self, path: str | Path, agent: str) -> ProvisionResult:
        doc = self.load_file(path)
        try:
            return self.provision(doc, agent)
        except ValidationFailed as exc:
            raise ValidationFailed(f"{path}: {exc}") from None

    def _plan(self, doc: dict[str, Any], known_types: set[str]) -> _Plan:
        unknown = sorted(set(doc) - set(SECTIONS))
        if unknown:
            raise ValidationFailed(
                f"{unknown[0]}: is not a known section (use {', '.join(SECTIONS)})"
            )
        org = _validate(Org, doc["org"], "org") if "org" in doc else None

        def unique(items: list[Any], attr: str, section: str) -> None:
            seen: set[str] = set()
            for i, item in enumerate(items):
                key = getattr(item, attr)
                if key in seen:
                    raise ValidationFailed(f"{section}[{i}].{attr}: {key!r} appears twice")
                seen.add(key)

        admins = [_validate(Admin, a, f"admins[{i}]") for i, a in enumerate(_array(doc, "admins"))]
        unique(admins, "id", "admins")
        types = [
            _validate(AppointmentType, t, f"appointment_types[{i}]")
            for i, t in enumerate(_array(doc, "appointment_types"))
        ]
        unique(types, "key", "appointment_types")
        type_keys = known_types | {t.key for t in types}

        doctors: list[tuple[Doctor, bool]] = []
        for i, raw in enumerate(_array(doc, "doctors")):
            where = f"doctors[{i}]"
            if isinstance(raw, dict) and raw.get("mobile_phone"):
                raw = dict(raw)
                try:
                    raw["mobile_phone"] = normalize_mobile(str(raw["mobile_phone"]))
                except ValidationFailed as exc:
                    raise ValidationFailed(f"{where}.mobile_phone: {exc}") from None
            doctor = _validate(Doctor, raw, where)
            for j, key in enumerate(doctor.appointment_types):
                if key not in type_keys:
                    raise ValidationFailed(
                        f"{where}.appointment_types[{j}]: unknown appointment type {key!r}"
                    )
            doctors.append((doctor, bool(isinstance(raw, dict) and raw.get("room_url"))))
        unique([d for d, _ in doctors], "id", "doctors")
        patients = [
            _validate(Patient, p, f"patients[{i}]") for i, p in enumerate(_array(doc, "patients"))
        ]
        unique(patients, "id", "patients")
        return _Plan(org, admins, types, doctors, patients)

    def provision(self, doc: dict[str, Any], agent: str) -> ProvisionResult:
        """Upsert everything in `doc` (parsed TOML) in one write. A doctor keeps the meeting
        room it was given when first provisioned; new doctors get a new room."""
        result = ProvisionResult()
        actor = admin_actor(agent)
        with self.store.write() as view:
            plan = self._plan(doc, {t.key for t in view.types.all()})
            now = self.now()
            stored_org = view.org.get()
            org = plan.org or stored_org
            if org is None:
                raise ValidationFailed("org: is required the first time (name, timezone, jitsi_base_url)")

            def note(kind: str, key: str, old: Any, new: Any) -> bool:
                """Record what happens to one entry; True when it must be written."""
                target = result.created if old is None else (result.unchanged if old == new else result.updated)
                target.setdefault(kind, []).append(key)
                return bool(old != new)

            if plan.org is not None and note("org", "org", view.org.get(), plan.org):
                view.org.put(plan.org)
            for admin in plan.admins:
                if note("admins", admin.id, view.admins.get(admin.id), admin):
                    view.admins.put(admin)
            for appt_type in plan.types:
                if note("appointment_types", appt_type.key, view.types.get(appt_type.key), appt_type):
                    view.types.put(appt_type)
            for doctor, room_given in plan.doctors:
                existing = view.doctors.get(doctor.id)
                if existing is not None and existing.room_url:
                    base_moved = stored_org is not None and stored_org.jitsi_base_url != org.jitsi_base_url
                    kept = room_note(existing, doctor.room_url if room_given else None,
                                     org.jitsi_base_url if base_moved else None)
                    if kept:
                        result.notes.append(kept)
                    doctor = doctor.model_copy(update={"room_url": existing.room_url})
                elif not doctor.room_url:
                    doctor = doctor.model_copy(
                        update={"room_url": new_room_url(org.jitsi_base_url, doctor.name)}
                    )
                if note("doctors", doctor.id, existing, doctor):
                    view.doctors.put(doctor)
            for patient in plan.patients:
                if note("patients", patient.id, view.patients.get(patient.id), patient):
                    view.patients.put(patient)
            if not result.changed:
                return result  # nothing to write, not even an audit entry
            record(
                view,
                at=now,
                actor=actor,
                action="provision",
                target="org",
                details={
                    kind: {
                        "created": len(result.created.get(kind, [])),
                        "updated": len(result.updated.get(kind, [])),
                        "ids": (result.created.get(kind, []) + result.updated.get(kind, []))[:100],
                    }
                    for kind in SECTIONS
                    if kind in result.created or kind in result.updated
                },
            )
        return result
