"""What agents did across the desk, and who did this (DESIGN: `audit list`, the app's activity
view): the audit trail newest first, narrowed by agent, by day and by what an entry is about.

An appointment's page shows its own history; this is every entry, appointments' included.
What an agent types is read the way the rest of rxdesk reads it: an agent's name as the audit
log writes it (`anna` is `admin:anna`; `patient:…`, `partner:…`, `worker:…` as they are), a day
as the filters take days (`today`, `-7d`, `2026-11-24`, in the organisation's zone), and a target
as written (`doctor:dr-weber`) or by its id alone (an appointment's uid, a doctor's id, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.filters import parse_day
from rxdesk.domain.ids import normalize_uid
from rxdesk.domain.models import AuditEntry
from rxdesk.domain.queries import AuditQuery, Page
from rxdesk.domain.times import local_day_bounds, zone
from rxdesk.services.base import Service, admin_actor
from rxdesk.store.protocols import StoreView

# What the audit log's targets name, before the colon: an id alone may be any of them.
TARGET_KINDS = ("appointment", "doctor", "patient", "appointment_type", "booking_secret", "subscription", "delivery")
# Entries one listing reads at most when no limit is asked for.
MAX_ROWS = 10_000
# Details that name a patient or a doctor by id: the app shows the name instead.
NAMED_DETAILS = {"patient_id": ("patient", "patient"), "doctor_id": ("doctor", "doctor"),
                 "to_doctor_id": ("doctor", "to_doctor")}


@dataclass(frozen=True)
class ActivityRow:
    """One entry as the activity view shows it; `kind` and `ref` say what `enter` opens (an
    appointment, a doctor, ...; empty for the organisation or the master key)."""

    entry: AuditEntry
    kind: str
    ref: str
    # Names the desk knows for the targets this entry mentions (`patient:pat-001` -> the
    # patient's name; an appointment -> `patient · doctor`); filled for the app's listing.
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def about_name(self) -> str:
        """What the entry is about, by name ("" when the desk does not know one)."""
        return self.names.get(self.entry.target, "")

    @property
    def key(self) -> str:
        e = self.entry
        return f"{e.at.isoformat()}|{e.actor}|{e.action}|{e.target}"

    def summary(self) -> str:
        """The details in one line: `reason: patient called · from_status: confirmed`."""
        return " · ".join(f"{name}: {value}" for name, value in self.entry.details.items() if value not in (None, ""))

    def named_summary(self) -> str:
        """`summary` with the patients and doctors it names by id named by name, where known:
        `patient: Lena Fischer` rather than `patient_id: pat-001074`."""
        parts = []
        for name, value in self.entry.details.items():
            if value in (None, ""):
                continue
            kind, label = NAMED_DETAILS.get(name, ("", ""))
            known = self.names.get(f"{kind}:{value}") if kind and isinstance(value, str) else None
            parts.append(f"{label}: {known}" if known else f"{name}: {value}")
        return " · ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return self.entry.to_json()


@dataclass(frozen=True)
class ActivityFilter:
    """What an agent typed: `agent` (a name, or empty for everyone), `since` (a day, or empty
    for any time), `target` (a target or an id, or empty for everything)."""

    agent: str = ""
    since: str = ""
    target: str = ""


def row(entry: AuditEntry) -> ActivityRow:
    kind, _, ref = entry.target.partition(":")
    return ActivityRow(entry, kind if ref else "", ref)


def targets_of(text: str) -> tuple[str, ...]:
    """The targets `text` may mean: itself when it names its kind (`doctor:dr-weber`), else
    every kind of target with that id (an appointment's uid in its normal form)."""
    typed = text.strip()
    if not typed:
        raise ValidationFailed("target is empty")
    if ":" in typed:
        return (typed,)
    found = [f"{kind}:{typed}" for kind in TARGET_KINDS]
    uid = normalize_uid(typed)
    if uid != typed:
        found.append(f"appointment:{uid}")
    return tuple(found)


class ActivityService(Service):
    def query(self, typed: ActivityFilter, *, offset: int = 0, limit: int | None = None) -> AuditQuery:
        """The query an agent's typed filter means (see the module's docstring); a day that is
        not one is refused in one line naming the forms that work."""
        since: datetime | None = None
        if typed.since.strip():
            zone_name = self.org_zone()
            today = self.now().astimezone(zone(zone_name)).date()
            since = local_day_bounds(parse_day(typed.since, today, what="since"), zone_name)[0]
        agent = typed.agent.strip()
        return AuditQuery(actor=admin_actor(agent) if agent else None, since=since,
                          targets=targets_of(typed.target) if typed.target.strip() else None,
                          offset=max(0, offset), limit=min(limit, MAX_ROWS) if limit is not None else MAX_ROWS)

    def org_zone(self) -> str:
        with self.store.read() as view:
            return self.org(view).timezone

    def list_activity(self, typed: ActivityFilter, *, offset: int = 0, limit: int | None = None) -> Page[ActivityRow]:
        """Audit entries across the desk matching what the agent typed, newest first: every
        entry an agent, a partner, a patient or the worker wrote, appointments' included."""
        query = self.query(typed, offset=offset, limit=limit)
        with self.store.read() as view:
            page = view.audit.search(query)
        return Page([row(entry) for entry in page.items], None, page.offset, page.limit)

    def list_named(self, typed: ActivityFilter, *, limit: int) -> Page[ActivityRow]:
        """`list_activity`, each row with the names of the patients, doctors, appointments and
        types it mentions (read once per distinct id; a deleted one keeps its id)."""
        query = self.query(typed, limit=limit)
        with self.store.read() as view:
            page = view.audit.search(query)
            names = _names(view, page.items)
        return Page([ActivityRow(r.entry, r.kind, r.ref, names) for r in map(row, page.items)], None,
                    page.offset, page.limit)


def _names(view: StoreView, entries: list[AuditEntry]) -> dict[str, str]:
    """Target (`kind:id`) -> name, for the targets and named details of `entries`."""
    wanted: set[str] = set()
    for entry in entries:
        wanted.add(entry.target)
        for name, (kind, _label) in NAMED_DETAILS.items():
            value = entry.details.get(name)
            if isinstance(value, str) and value:
                wanted.add(f"{kind}:{value}")
    names: dict[str, str] = {}
    types = {t.key: t.name for t in view.types.all()}

    def person(kind: str, ref: str) -> str:
        key = f"{kind}:{ref}"
        if key not in names:
            found = view.patients.get(ref) if kind == "patient" else view.doctors.get(ref)
            names[key] = found.name if found else ""
        return names[key]

    for target in sorted(wanted):
        kind, _, ref = target.partition(":")
        if kind in ("patient", "doctor"):
            person(kind, ref)
        elif kind == "appointment_type":
            names[target] = types.get(ref, "")
        elif kind == "appointment":
            appt = view.appointments.get(ref)
            if appt is not None:
                who = [n for n in (person("patient", appt.patient_id), person("doctor", appt.doctor_id)) if n]
                names[target] = " · ".join(who)
    return {k: v for k, v in names.items() if v}
