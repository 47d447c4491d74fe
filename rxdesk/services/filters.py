"""The one parser of what an agent typed into an appointment filter: the overview's filter
fields and `rxdesk appointments list`'s options both go through `parse_filter_text`, so a day,
a status or a name means the same in the app and in a script.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from rxdesk.domain.enums import AppointmentStatus
from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.filters import parse_day, parse_statuses
from rxdesk.domain.queries import AppointmentQuery
from rxdesk.domain.times import format_local, zone
from rxdesk.services.appointments import DEFAULT_STATUSES, AppointmentFilter, window_of
from rxdesk.services.base import Service
from rxdesk.services.matching import Candidate, Matches, every_patient, masked_phone, match_doctors, match_patients
from rxdesk.store.protocols import StoreView


@dataclass(frozen=True)
class FilterText:
    """What an agent typed into the filters, before any parsing: the overview's fields, or
    the options of `appointments list` (`statuses` joins repeated `--status` with commas)."""

    doctor: str = ""
    patient: str = ""
    statuses: str = ""
    date_from: str = ""
    date_to: str = ""
    all: bool = False  # `--all`: drop whichever default was not replaced


# How a refusal names each field: the app's labels; the command line passes its flags.
FIELD_NAMES: Mapping[str, str] = {"doctor": "doctor", "patient": "patient", "statuses": "status",
                                  "date_from": "from", "date_to": "to"}


@dataclass
class ParsedFilter:
    """A filter built from typed text: the fields that made sense, and why the others did not.

    A status or day with an error is left out of `filter`, so the list still follows the good
    fields; a doctor or patient text that names no one person (nobody, or several to pick
    from) lists nothing, never everyone's appointments (`unmatched` says why). `matches` holds
    what the doctor and patient texts matched, one or many: a pick list shows its candidates
    when there is more than one.
    """

    filter: AppointmentFilter
    errors: dict[str, str] = field(default_factory=dict)
    resolved: dict[str, str] = field(default_factory=dict)  # field -> what the text matched
    matches: dict[str, Matches] = field(default_factory=dict)
    # For telling patients of one name apart in the pick list: each one's next held or
    # confirmed appointment, and the zone to show it in.
    next_visits: dict[str, datetime] = field(default_factory=dict)
    zone: str = "UTC"

    @property
    def window(self) -> str:
        """The statuses and the time window in effect, defaults included, in words:
        "held, confirmed · not ended"."""
        return describe_filter(self.filter)

    @property
    def unmatched(self) -> dict[str, str]:
        """The doctor or patient fields that name no one the list can follow -> why: while
        any is there, the filter lists nothing."""
        return {key: error for key, error in self.errors.items() if key in PEOPLE}

    def picks(self) -> dict[str, list[tuple[str, str]]]:
        """The doctors and patients to pick from where a text matched several:
        field -> [(id, "name · id · email")]; a patient also with the last digits of their
        phone and their next appointment ("next Tue 2026-11-24 09:30", or "none booked")."""

        def label(key: str, c: Candidate) -> str:
            parts = [c.name, c.id, c.email]
            if key == "patient":
                visit = self.next_visits.get(c.id)
                parts += [masked_phone(c.phone), f"next {format_local(visit, self.zone)}" if visit else "none booked"]
            return " · ".join(part for part in parts if part)

        return {key: [(c.id, label(key, c)) for c in found.candidates]
                for key, found in self.matches.items() if found.total > 1}

    def refusal(self) -> str | None:
        """Every error in one line, in the order of the fields, a doctor or patient that
        several match with the candidates named; None when there is none."""
        found = {key: self.matches[key].refusal() for key in self.errors if key in self.matches}
        return "; ".join(found.get(key) or error for key, error in self.errors.items()) or None


PEOPLE = ("doctor", "patient")
# How many doctors or patients the overview offers to pick from when a text matches several.
PICK_LIMIT = 50
# How many patients the overview's patient field filters on at once ("every Lena"): more, and
# the agent is asked to type more.
MANY_PATIENTS = 1000
ANY_TIME_WORDS = ("any", "all")


def parse_filter_text(service: Service, text: FilterText, *, names: Mapping[str, str] = FIELD_NAMES,
                      overview: bool = False, every_patient_named: bool = False) -> ParsedFilter:
    """Turn typed filters into an `AppointmentFilter`, one error per bad field.

    Doctors and patients are matched by id, name, email or phone (`services.matching`; a
    patient also by external id); statuses take `active` and `all`; days take `YYYY-MM-DD`,
    `today`, `+7d`, in the organisation's zone as of the service clock. `names` says how a
    refusal names each field.

    `overview` reads the app's fields as their empty state says (`from: now`, `to: any`):
    `all` is every status within the window shown (the command line's `--status all` drops the
    time default instead), `from: any` reaches back, and an end alone keeps today as the start;
    a doctor's name several share offers up to PICK_LIMIT of them to pick from; a patient's
    name several share filters on all of them (up to MANY_PATIENTS) and offers them too.
    `every_patient_named` filters on all of them too without the rest of `overview` (the
    command line's listing); a command acting on one patient still refuses several.
    """
    with service.store.read() as view:
        return _parse(service, view, text, names, overview, overview or every_patient_named)


def _parse(service: Service, view: StoreView, text: FilterText, names: Mapping[str, str],
           overview: bool, every_named: bool) -> ParsedFilter:
    parsed = ParsedFilter(AppointmentFilter())
    errors, resolved = parsed.errors, parsed.resolved
    people: dict[str, str | None] = {"doctor": None, "patient": None}
    several: frozenset[str] | None = None
    for key, typed, match in (("doctor", text.doctor, match_doctors), ("patient", text.patient, match_patients)):
        if not typed.strip():
            continue
        found = parsed.matches[key] = match(view, typed, limit=PICK_LIMIT) if overview else match(view, typed)
        if found.one is not None:
            people[key], resolved[key] = found.one.id, found.one.name
        elif every_named and key == "patient" and found.total > 1 and \
                (ids := every_patient(view, typed, limit=MANY_PATIENTS)) is not None:
            # Every patient the name matches ("every Lena next week"); the pick list stays.
            several = frozenset(ids)
            resolved[key] = f"{len(ids):,} matching {typed.strip()[:40]!r}"
        elif overview and found.total > 1:
            errors[key] = f"{found.total:,} {key}s match {typed.strip()[:40]!r}: pick one below (↓, enter) or type more"
        else:
            errors[key] = found.summary() or ""
    statuses: frozenset[str] | None = None
    show_all = text.all
    raw_status = text.statuses.strip().casefold()
    if raw_status == "all" and overview:  # every status, within the time window shown
        statuses = frozenset(s.value for s in AppointmentStatus)
    elif raw_status == "all":
        show_all = True
    elif raw_status:
        try:
            statuses = parse_statuses(raw_status)
        except RxdeskError as exc:
            errors["statuses"] = str(exc)
    parsed.zone = service.org_basics(view).timezone
    today = service.now().astimezone(zone(parsed.zone)).date()
    patients = parsed.matches.get("patient")
    if overview and patients is not None and patients.total > 1:
        parsed.next_visits = next_visits(view, [c.id for c in patients.candidates], service.now())
    days: dict[str, date | None] = {"date_from": None, "date_to": None}
    for key, raw in (("date_from", text.date_from), ("date_to", text.date_to)):
        if overview and key == "date_from" and raw.strip().casefold() in ANY_TIME_WORDS:
            show_all = True  # no lower bound: the past too
        elif raw.strip():
            try:
                days[key] = parse_day(raw, today, what=names[key])
            except RxdeskError as exc:
                errors[key] = str(exc)
    typed_from = bool(text.date_from.strip())
    if overview and days["date_to"] and not typed_from:
        days["date_from"] = today  # the start the empty field promises (now, as a day)
    if days["date_from"] and days["date_to"] and days["date_to"] < days["date_from"]:
        errors["date_to"] = (f"{names['date_to']} is before {names['date_from']}" if typed_from
                             else f"{names['date_to']} is before today ({names['date_from']}: any reaches back)")
        days["date_to"] = None
        if not typed_from:
            days["date_from"] = None
    if parsed.unmatched:
        several = frozenset()  # a person typed that the list cannot follow: nobody's appointments
    parsed.filter = AppointmentFilter(
        statuses=statuses,
        doctor_id=people["doctor"],
        patient_id=people["patient"],
        patient_ids=several,
        date_from=days["date_from"],
        date_to=days["date_to"],
        all=show_all,
    )
    return parsed


def next_visits(view: StoreView, patient_ids: list[str], now: datetime) -> dict[str, datetime]:
    """Each patient's next held or confirmed appointment from `now` (one read for them all)."""
    found: dict[str, datetime] = {}
    query = AppointmentQuery(statuses=DEFAULT_STATUSES, patient_ids=frozenset(patient_ids), starts_from=now,
                             as_of=now, count=False)
    for record in view.appointments.search(query).items:
        found.setdefault(record.patient_id, record.starts_at)
        if len(found) == len(patient_ids):
            break
    return found


def describe_filter(f: AppointmentFilter) -> str:
    """What a filter lets through, as an agent reads it: statuses, then the time window (its
    defaults said too; `appointments.window_of` decides them)."""
    return window_of(f).text()
