"""Provisioning: upsert the organisation, admins, types, doctors and patients from TOML.

The whole file is checked before anything is written; the first problem is reported as one
line naming the file and the field (`doctors[2].availability[0].end: ...`): unknown keys, a
value of the wrong type (no `true` for a weekday, no `"30"` for minutes), a zone that is not
IANA, overlapping windows, duplicate ids, an `external_id` another patient already answers
to, a control character anywhere. Then everything is written in one store write, or nothing.

An entry is matched by `id` (`key` for types). A key absent from the entry keeps the stored
value; a key present replaces it (lists whole). What agents own is never overwritten by a
re-run: a type's `reminders` and a doctor's `mobile_phone` (and meeting room) come from the
file only when the entry is new, and the run says what it kept. `dry_run` plans the same and
writes nothing.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from datetime import time as dt_time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.ids import random_token
from rxdesk.domain.models import Admin, AppointmentType, Doctor, Entity, Org, Patient, ReminderRule
from rxdesk.domain.phones import normalize_mobile
from rxdesk.domain.reminders import same_rule
from rxdesk.domain.terminal import has_control
from rxdesk.domain.times import check_iana_zone
from rxdesk.services.base import Service, admin_actor, record
from rxdesk.store.protocols import StoreView, UnitOfWork

SECTIONS = ("org", "admins", "appointment_types", "doctors", "patients")
MAX_FILE_BYTES = 64 * 1024 * 1024
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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
    changes: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # kind -> key -> fields
    dry_run: bool = False

    def count(self, kind: str) -> tuple[int, int]:
        return len(self.created.get(kind, [])), len(self.updated.get(kind, []))

    def summary(self) -> str:
        parts = []
        made, changed = ("to create", "to update") if self.dry_run else ("created", "updated")
        for kind in SECTIONS:
            c, u = self.count(kind)
            same = len(self.unchanged.get(kind, []))
            if c or u or same:
                parts.append(f"{kind.replace('_', ' ')}: {c} {made}, {u} {changed}, {same} unchanged")
        return "; ".join(parts) or "the file is empty"

    def plan_lines(self) -> list[str]:
        """What a run adds and changes, entry by entry (for `--dry-run`)."""
        lines: list[str] = []
        for kind in SECTIONS:
            what = "the organisation" if kind == "org" else kind.replace("_", " ").removesuffix("s")
            lines.extend(f"add {what}{_named(kind, key)}" for key in self.created.get(kind, []))
            lines.extend(f"change {what}{_named(kind, key)}: {', '.join(self.changes.get(kind, {}).get(key, []))}"
                         for key in self.updated.get(kind, []))
        return lines

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())

    def to_json(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged, "notes": self.notes,
                "changes": self.changes, "dry_run": self.dry_run}


def _array(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise ValidationFailed(f"{key}: must be an array of tables ([[{key}]])")
    return value


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every key and scalar value in a parsed TOML value, with where it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            yield inner, str(key)
            yield from _leaves(item, inner)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def _validate(model: type[BaseModel], data: Any, where: str) -> Any:
    """Strict: a value of the wrong type is refused, never converted (`"30"` is no number,
    `true` is no weekday)."""
    if not isinstance(data, dict):
        raise ValidationFailed(f"{where}: must be a table")
    try:
        return model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        raise ValidationFailed(describe_error(exc, where)) from None


def _changed_fields(old: Entity | None, new: Entity) -> list[str]:
    if old is None:
        return []
    before, after = old.to_json(), new.to_json()
    return [name for name in after if before.get(name) != after[name]]


def _check_windows(doctor: Doctor, where: str) -> None:
    windows = sorted(enumerate(doctor.availability), key=lambda item: (item[1].weekday, item[1].start))
    for (i, a), (j, b) in itertools.pairwise(windows):
        if a.weekday == b.weekday and b.start < a.end:
            first, second = sorted((i, j))
            other = doctor.availability[first]
            raise ValidationFailed(
                f"{where}.availability[{second}]: overlaps availability[{first}] "
                f"({WEEKDAYS[other.weekday]} {other.start}-{other.end}); each slot would count twice"
            )


def _named(kind: str, key: str) -> str:
    """How a plan line names an entry: by its key, except the one organisation."""
    return "" if kind == "org" else f" {key}"


@dataclass
class _Run:
    """One provisioning run over one view: what is planned, what is written."""

    view: StoreView
    result: ProvisionResult
    unit: UnitOfWork | None  # the write the plan goes into; None for a dry run

    @property
    def write(self) -> bool:
        return self.unit is not None

    def settle(self, kind: str, key: str, old: Entity | None, new: Entity) -> bool:
        """Record what happens to one entry; True when it must be written."""
        if old is None:
            self.result.created.setdefault(kind, []).append(key)
        elif old == new:
            self.result.unchanged.setdefault(kind, []).append(key)
        else:
            self.result.updated.setdefault(kind, []).append(key)
            self.result.changes.setdefault(kind, {})[key] = _changed_fields(old, new)
        return self.write and old != new


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

    def provision_file(self, path: str | Path, agent: str, *, dry_run: bool = False) -> ProvisionResult:
        doc = self.load_file(path)
        try:
            return self.provision(doc, agent, dry_run=dry_run)
        except ValidationFailed as exc:
            raise ValidationFailed(f"{path}: {exc}") from None

    def provision(self, doc: dict[str, Any], agent: str, *, dry_run: bool = False) -> ProvisionResult:
        """Upsert everything in `doc` (parsed TOML) in one write, by the rules of the module
        docstring; with `dry_run`, the same plan and no write."""
        actor = admin_actor(agent)
        if dry_run:
            with self.store.read() as view:
                return self._run(_Run(view, ProvisionResult(dry_run=True), None), doc, actor)
        with self.store.write() as unit:
            return self._run(_Run(unit, ProvisionResult(), unit), doc, actor)

    def _run(self, run: _Run, doc: dict[str, Any], actor: str) -> ProvisionResult:
        self._check_document(doc)
        view, result = run.view, run.result
        org = self._org(run, doc)
        admins = self._entries(run, doc, "admins", Admin, "id")
        types = self._types(run, doc)
        known_types = {t.key for t in view.types.all()} | {t.key for t, _ in types}
        doctors = self._doctors(run, doc, org[0] if org else view.org.get(), known_types=known_types)
        patients = self._patients(run, doc)
        unit = run.unit
        if unit is None or not result.changed:
            return result  # nothing to write, not even an audit entry
        if org is not None and org[1]:
            unit.org.put(org[0])
        unit_puts: list[tuple[Callable[[Any], None], list[tuple[Any, bool]]]] = [
            (unit.admins.put, admins), (unit.types.put, types), (unit.doctors.put, doctors),
            (unit.patients.put, patients)]
        for put, items in unit_puts:
            for item, write in items:
                if write:
                    put(item)
        record(unit, at=self.now(), actor=actor, action="provision", target="org", details={
            kind: {"created": len(result.created.get(kind, [])), "updated": len(result.updated.get(kind, [])),
                   "ids": (result.created.get(kind, []) + result.updated.get(kind, []))[:100]}
            for kind in SECTIONS if kind in result.created or kind in result.updated
        })
        return result

    # -- the checks of the whole file -------------------------------------------------

    @staticmethod
    def _check_document(doc: dict[str, Any]) -> None:
        unknown = sorted(set(doc) - set(SECTIONS))
        if unknown:
            raise ValidationFailed(f"{unknown[0]}: is not a known section (use {', '.join(SECTIONS)})")
        for path, value in _leaves(doc, ""):
            if isinstance(value, date | dt_time):  # no field holds a TOML date: times are "HH:MM" text
                raise ValidationFailed(f"{path}: is a TOML date or time; write it as text in quotes, e.g. \"09:00\"")
            if isinstance(value, str) and has_control(value):
                raise ValidationFailed(f"{path}: must not contain control characters (escapes, newlines, tabs, "
                                       "bidi overrides)")

    @staticmethod
    def _unique(entries: list[Any], attr: str, section: str) -> None:
        seen: set[str] = set()
        for i, raw in enumerate(entries):
            key = raw.get(attr) if isinstance(raw, dict) else None
            if isinstance(key, str) and key in seen:
                raise ValidationFailed(f"{section}[{i}].{attr}: {key!r} appears twice")
            if isinstance(key, str):
                seen.add(key)

    # -- one section at a time: the stored entry, the file's keys over it ---------------

    def _merge(self, stored: Entity | None, raw: Any, where: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise ValidationFailed(f"{where}: must be a table")
        return {**stored.to_json(), **raw} if stored is not None else dict(raw)

    def _org(self, run: _Run, doc: dict[str, Any]) -> tuple[Org, bool] | None:
        stored = run.view.org.get()
        if "org" not in doc:
            if stored is None:
                raise ValidationFailed("org: is required the first time (name, timezone, jitsi_base_url)")
            return None
        org = _validate(Org, self._merge(stored, doc["org"], "org"), "org")
        self._zone(org.timezone, "org.timezone")
        return org, run.settle("org", "org", stored, org)

    def _each(self, doc: dict[str, Any], kind: str, attr: str, repo: Any,
              ) -> Iterator[tuple[str, dict[str, Any], Any, dict[str, Any]]]:
        """Each entry of a section: where it is, its keys, the stored entry, the two merged."""
        entries = _array(doc, kind)
        self._unique(entries, attr, kind)
        for i, raw in enumerate(entries):
            where = f"{kind}[{i}]"
            key = raw.get(attr) if isinstance(raw, dict) else None
            stored = repo.get(key) if isinstance(key, str) else None
            yield where, raw, stored, self._merge(stored, raw, where)

    def _entries(self, run: _Run, doc: dict[str, Any], kind: str, model: type[Entity], attr: str,
                 ) -> list[tuple[Any, bool]]:
        made = []
        for where, _raw, stored, merged in self._each(doc, kind, attr, getattr(run.view, kind)):
            item = _validate(model, merged, where)
            made.append((item, run.settle(kind, getattr(item, attr), stored, item)))
        return made

    def _types(self, run: _Run, doc: dict[str, Any]) -> list[tuple[AppointmentType, bool]]:
        made = []
        for where, raw, stored, merged in self._each(doc, "appointment_types", "key", run.view.types):
            if stored is not None:  # agents own the rules once the type exists
                merged["reminders"] = [r.to_json() for r in stored.reminders]
            appt_type = _validate(AppointmentType, merged, where)
            if stored is None:
                appt_type = self._new_rules(appt_type, where)
            if stored is not None and "reminders" in raw:
                given = _validate(AppointmentType, {**merged, "reminders": raw["reminders"]}, where).reminders
                if [r.model_copy(update={"created_at": None}) for r in given] != [
                        r.model_copy(update={"created_at": None}) for r in stored.reminders]:
                    run.result.notes.append(
                        f"appointment type {appt_type.key}: kept its {len(stored.reminders)} reminder rule(s); "
                        "the file's rules apply only to a new type (agents edit them with `rxdesk reminders`)")
            made.append((appt_type, run.settle("appointment_types", appt_type.key, stored, appt_type)))
        return made

    def _new_rules(self, appt_type: AppointmentType, where: str) -> AppointmentType:
        """A new type's rules remind from this run on (DESIGN: Reminders); two rules for one
        recipient group and minutes are refused, naming the first."""
        rules: list[ReminderRule] = []
        for i, rule in enumerate(appt_type.reminders):
            same = same_rule(rules, rule.recipient, rule.minutes_before)
            if same is not None:
                raise ValidationFailed(f"{where}.reminders[{i}]: reminds {rule.recipient.value} "
                                       f"{rule.minutes_before} minutes before, as rule {same.id} already does")
            rules.append(rule if rule.created_at else rule.model_copy(update={"created_at": self.now()}))
        return appt_type.model_copy(update={"reminders": rules})

    def _doctors(self, run: _Run, doc: dict[str, Any], org: Org | None, *, known_types: set[str],
                 ) -> list[tuple[Doctor, bool]]:
        jitsi = (org or Org(name="rxdesk")).jitsi_base_url
        stored_org = run.view.org.get()
        # A new jitsi_base_url moves no room by itself: the run names the command that does.
        new_base = jitsi if stored_org is not None and stored_org.jitsi_base_url != jitsi else None
        made = []
        for where, raw, stored, merged in self._each(doc, "doctors", "id", run.view.doctors):
            given_phone = raw.get("mobile_phone")
            if stored is not None:  # agents own the mobile number and the room once the doctor exists
                # The stored room is kept as it is, never checked again by today's rule (it is not input).
                merged["mobile_phone"], merged["room_url"] = stored.mobile_phone, ""
                if "room_url" in raw:  # kept, yet checked: the file is input, and a note quotes it
                    room = _validate(Doctor, {**merged, "room_url": raw["room_url"]}, where).room_url
                    raw = {**raw, "room_url": room}
            elif isinstance(given_phone, str) and given_phone:
                merged["mobile_phone"] = self._mobile(given_phone, f"{where}.mobile_phone")
            doctor = _validate(Doctor, merged, where)
            if stored is not None:
                doctor = doctor.model_copy(update={"room_url": stored.room_url})
            self._zone(doctor.timezone, f"{where}.timezone")
            if "availability" in raw:
                _check_windows(doctor, where)
            for j, type_key in enumerate(doctor.appointment_types):
                if type_key not in known_types:
                    raise ValidationFailed(f"{where}.appointment_types[{j}]: unknown appointment type {type_key!r}")
            if stored is None and not doctor.room_url:
                doctor = doctor.model_copy(update={"room_url": new_room_url(jitsi, doctor.name)})
            if stored is not None:
                self._note_kept_doctor(run, stored, raw, where, new_base)
            made.append((doctor, run.settle("doctors", doctor.id, stored, doctor)))
        return made

    def _note_kept_doctor(self, run: _Run, stored: Doctor, raw: dict[str, Any], where: str,
                          new_base: str | None) -> None:
        given = raw.get("mobile_phone")
        if isinstance(given, str):
            phone = self._mobile(given, f"{where}.mobile_phone") if given else ""
            if phone != stored.mobile_phone:
                run.result.notes.append(
                    f"doctor {stored.id}: kept the mobile phone {stored.mobile_phone or '(none)'}; the file's number "
                    "applies only to a new doctor (agents change it with `rxdesk doctors set-phone`)")
        room = raw.get("room_url")
        kept = room_note(stored, room if isinstance(room, str) and room else None, new_base)
        if kept:
            run.result.notes.append(kept)

    def _patients(self, run: _Run, doc: dict[str, Any]) -> list[tuple[Patient, bool]]:
        made = self._entries(run, doc, "patients", Patient, "id")
        self._check_external_ids(run.view, [p for p, _ in made])
        return made

    @staticmethod
    def _check_external_ids(view: StoreView, patients: list[Patient]) -> None:
        """A token's `sub` names one patient: an `external_id` is nobody else's `external_id`
        and nobody else's `id`."""
        if not patients:
            return
        final = dict(view.patients.external_ids())
        final.update({p.id: p.external_id for p in patients})
        owners: dict[str, list[str]] = {}
        for pid, ext in final.items():
            if ext:
                owners.setdefault(ext, []).append(pid)
        for i, patient in enumerate(patients):
            ext = patient.external_id
            if not ext:
                continue
            others = [pid for pid in owners.get(ext, []) if pid != patient.id]
            if others:
                raise ValidationFailed(f"patients[{i}].external_id: {ext!r} is also the external_id of patient "
                                       f"{others[0]} (a token's sub must name one patient)")
            if ext != patient.id and ext in final:
                raise ValidationFailed(f"patients[{i}].external_id: {ext!r} is the id of patient {ext} "
                                       "(a token's sub must name one patient)")
        in_file = {p.id for p in patients}
        for pid, ext in final.items():  # a file patient's id taken as someone's external_id
            if ext and ext != pid and ext in in_file:
                raise ValidationFailed(f"patients: {ext!r} is the id of a patient in the file and the external_id "
                                       f"of patient {pid} (a token's sub must name one patient)")

    @staticmethod
    def _zone(name: str, where: str) -> None:
        _at(where, check_iana_zone, name)

    @staticmethod
    def _mobile(number: str, where: str) -> str:
        mobile: str = _at(where, normalize_mobile, number)
        return mobile


def _at(where: str, check: Any, value: Any) -> Any:
    """`check(value)`, its refusal prefixed with the field it is about."""
    try:
        return check(value)
    except ValidationFailed as exc:
        raise ValidationFailed(f"{where}: {exc}") from None
