"""The appointment query planner of the segment store: which weeks to read, and how little
of each.

Appointments live in week segments by start (`layout`); every query is ordered by start, so a
plan reads the weeks the time range touches, in order, and within a week bisects the rows by
start (the order stored in the week, `weeks`). A doctor's or a
patient's appointments come from the week's grouping by that field; a count of a week wholly
inside the range takes its rows per status by length, without visiting them.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Hashable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rxdesk.domain.ids import uid_partition
from rxdesk.domain.lifecycle import ACTIVE, LONGEST_APPOINTMENT, status_value_at
from rxdesk.domain.queries import AppointmentQuery, AppointmentRecord, Page, appointment_from_json
from rxdesk.domain.times import format_utc, week_key, weeks_between
from rxdesk.store.engine import Snapshot
from rxdesk.store.layout import APPT_PREFIX, HOLDS, appt_segment
from rxdesk.store.segment_db import Segment
from rxdesk.store.weeks import Rows, ended_by, order_by_start, rows_by_start, stored_counts

if TYPE_CHECKING:
    from rxdesk.domain.models import Appointment


def _ceil(instant: datetime) -> datetime:
    """The first whole second at or after `instant`. Stored instants are whole seconds, so
    `starts_at >= instant` and `starts_at < instant` hold exactly when they hold for this second
    (the stored form of an instant cuts its microseconds: right for `>`, `<=`, not for these)."""
    return instant + timedelta(microseconds=(1_000_000 - instant.microsecond) % 1_000_000)


def _in_seconds(query: AppointmentQuery) -> AppointmentQuery:
    """The query with its start bounds on whole seconds, and the earliest start that can match
    an `ends_after` in `starts_from`: the weeks to read follow from the starts alone."""
    start, before = query.starts_from, query.starts_before
    if query.ends_after is not None:
        earliest = query.ends_after - LONGEST_APPOINTMENT
        start = earliest if start is None else max(start, earliest)
    if start is not None:
        start = _ceil(start)
    if before is not None:
        before = _ceil(before)
    if start is query.starts_from and before is query.starts_before:
        return query
    return dataclasses.replace(query, starts_from=start, starts_before=before)


def _one_week(query: AppointmentQuery, week: str) -> AppointmentQuery:
    """The query narrowed to one week (for counting week by week)."""
    monday = datetime.fromisoformat(week).replace(tzinfo=UTC)
    start = max(query.starts_from, monday) if query.starts_from else monday
    before = monday + timedelta(days=7)
    before = min(query.starts_before, before) if query.starts_before else before
    return dataclasses.replace(query, starts_from=start, starts_before=before, offset=0, limit=None)


def _sorted_rows(seg: Segment) -> Rows:
    return rows_by_start(seg)


def _grouped(seg: Segment, field: str) -> dict[str, list[dict[str, Any]]]:
    def build() -> dict[str, list[dict[str, Any]]]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in _sorted_rows(seg):
            groups.setdefault(row[field], []).append(row)
        return groups

    return seg.memo(("by", field), build)


def _of_patients(seg: Segment, patient_ids: frozenset[str]) -> list[dict[str, Any]]:
    """The week's appointments of any of these patients, by start: their groups merged."""
    groups = _grouped(seg, "patient_id")
    found = [groups[p] for p in patient_ids if p in groups]
    if len(found) == 1:
        return found[0]
    return sorted(itertools.chain.from_iterable(found), key=lambda r: (r["starts_at"], r["uid"]))


def _starts(rows: Sequence[dict[str, Any]], seg: Segment, key: Hashable) -> list[str]:
    if key == "all":
        return order_by_start(seg)[0]
    return seg.memo(("starts", key), lambda: [r["starts_at"] for r in rows])


# -- the status at an instant (AppointmentQuery.as_of) -------------------------------------
# The one rule is `lifecycle.status_value_at`; these apply it to stored documents (stored-form
# strings compare as instants) and use a week's groupings so that counting a whole week never
# walks it: only a lapsed hold (a small group) or a confirmed appointment that ended (found by
# bisecting the week's confirmed appointments by end) differs from its stored status.


def _status_as_of(row: Mapping[str, Any], as_of: str | None) -> str:
    status: str = row["status"]
    if as_of is None or status not in ACTIVE:
        return status
    return status_value_at(status, row.get("hold_expires_at"), row["ends_at"], as_of)


def _confirmed_by_end(seg: Segment) -> tuple[list[str], list[dict[str, Any]]]:
    """The week's stored-confirmed documents ordered by end, with their ends for bisecting."""

    def build() -> tuple[list[str], list[dict[str, Any]]]:
        rows = sorted(_grouped(seg, "status").get("confirmed", ()), key=lambda r: (r["ends_at"], r["uid"]))
        return [r["ends_at"] for r in rows], rows

    return seg.memo(("confirmed", "by_end"), build)


def _week_status_counts(seg: Segment, as_of: str | None) -> dict[str, int]:
    """How many of the week's appointments have each status at `as_of` (stored when None)."""
    grouped = _grouped(seg, "status")
    counts = {status: len(rows) for status, rows in grouped.items()}
    if as_of is None:
        return counts
    lapsed = sum(1 for r in grouped.get("held", ()) if _status_as_of(r, as_of) == "expired")
    ended = bisect.bisect_right(_confirmed_by_end(seg)[0], as_of)  # ends_at <= as_of
    counts["held"] = counts.get("held", 0) - lapsed
    counts["expired"] = counts.get("expired", 0) + lapsed
    counts["confirmed"] = counts.get("confirmed", 0) - ended
    counts["completed"] = counts.get("completed", 0) + ended
    return counts


def _hold_expiries_by_week(snap: Snapshot) -> dict[str, list[str]]:
    """When each week's holds expire, sorted (from the holds index: every stored `held`
    appointment with a `hold_expires_at`)."""
    seg = snap.segment(HOLDS)
    if seg is None:
        return {}

    def build() -> dict[str, list[str]]:
        weeks: dict[str, list[str]] = {}
        for uid, doc in seg.table("held").documents().items():
            week = uid_partition(uid)
            if week is not None and isinstance(doc.get("expires"), str):
                weeks.setdefault(week, []).append(doc["expires"])
        for expiries in weeks.values():
            expiries.sort()
        return weeks

    return seg.memo(("expiries", "by_week"), build)


class AppointmentPlanner:
    """The appointment queries over one snapshot (or transaction)."""

    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap
        self._weeks: list[str] | None = None

    def weeks(self) -> list[str]:
        if self._weeks is not None:
            return list(self._weeks)
        weeks = [n[len(APPT_PREFIX):] for n in self._snap.names(APPT_PREFIX)]
        if not self._snap.writable:  # a read snapshot never changes: list its weeks once
            self._weeks = weeks
        return list(weeks)

    def _select_weeks(self, start: datetime | None, before: datetime | None) -> list[str]:
        weeks = self.weeks()
        first, last = 0, len(weeks)
        if start is not None:
            first = bisect.bisect_left(weeks, week_key(start))
        if before is not None:
            last = bisect.bisect_right(weeks, week_key(before - timedelta(seconds=1)))
        return weeks[first:max(first, last)]

    def iter_raw(self, query: AppointmentQuery) -> Iterator[dict[str, Any]]:
        """Matching raw documents in order, loading one week at a time."""
        query = _in_seconds(query)
        start_s = format_utc(query.starts_from) if query.starts_from else None
        before_s = format_utc(query.starts_before) if query.starts_before else None
        ends_s = format_utc(query.ends_after) if query.ends_after is not None else None
        statuses = query.statuses
        as_of = format_utc(query.as_of) if query.as_of is not None else None
        weeks = self._select_weeks(query.starts_from, query.starts_before)
        if query.descending:
            weeks.reverse()
        for week in weeks:
            if query.ends_after is not None and ended_by(self._snap, week, query.ends_after):
                continue  # (last Sunday's week, read on a Monday morning for what is in progress)
            seg = self._snap.segment(appt_segment(week))
            if seg is None:
                continue
            rows: Sequence[dict[str, Any]]
            if query.doctor_id is not None:
                rows = _grouped(seg, "doctor_id").get(query.doctor_id, [])
                key: Any = ("doctor", query.doctor_id)
            elif query.patient_id is not None:
                rows = _grouped(seg, "patient_id").get(query.patient_id, [])
                key = ("patient", query.patient_id)
            elif query.patient_ids is not None:
                rows = _of_patients(seg, query.patient_ids)
                key = None
            else:
                rows = _sorted_rows(seg)
                key = "all"
            lo, hi = 0, len(rows)
            if start_s is not None or before_s is not None:
                starts = _starts(rows, seg, key) if key is not None else [r["starts_at"] for r in rows]
                if start_s is not None:
                    lo = bisect.bisect_left(starts, start_s)
                if before_s is not None:
                    hi = bisect.bisect_left(starts, before_s)
            window = rows[lo:hi]
            if query.descending:
                window = window[::-1]
            # Tens of thousands of rows a listing: the query's fields are read once, not per row.
            patient_id, patient_ids, doctor_id = query.patient_id, query.patient_ids, query.doctor_id
            for row in window:
                if ends_s is not None and row["ends_at"] <= ends_s:
                    continue
                if statuses is not None and _status_as_of(row, as_of) not in statuses:
                    continue
                if patient_id is not None and row["patient_id"] != patient_id:
                    continue
                if patient_ids is not None and row["patient_id"] not in patient_ids:
                    continue
                if doctor_id is not None and row["doctor_id"] != doctor_id:
                    continue
                yield row

    def count_raw(self, query: AppointmentQuery) -> int:
        """How many documents match, without walking them where a week's indexes can say:
        a week wholly inside the time range counts its rows per status (at `as_of`) from its
        groupings. With `ends_after`, only the rows that start before it are looked at one by
        one (whether they have ended)."""
        query = _in_seconds(query)
        start_s = format_utc(query.starts_from) if query.starts_from else None
        before_s = format_utc(query.starts_before) if query.starts_before else None
        ends_s = format_utc(query.ends_after) if query.ends_after is not None else None
        statuses = query.statuses
        as_of = format_utc(query.as_of) if query.as_of is not None else None
        total = 0
        by_person = query.doctor_id is not None or query.patient_id is not None or query.patient_ids is not None
        by_patient = query.patient_id is not None or query.patient_ids is not None
        for week in self._select_weeks(query.starts_from, query.starts_before):
            if query.ends_after is not None and ended_by(self._snap, week, query.ends_after):
                continue
            counted = None if by_patient else \
                self._counted(week, query.doctor_id, statuses, start_s, before_s, ends_s, as_of)
            if counted is not None:
                total += counted
                continue
            seg = self._snap.segment(appt_segment(week))
            if seg is None:
                continue
            if by_person:
                total += sum(1 for _ in self.iter_raw(_one_week(query, week)))
                continue
            rows = _sorted_rows(seg)
            lo, hi = 0, len(rows)
            if start_s is not None or before_s is not None:
                starts = _starts(rows, seg, "all")
                if start_s is not None:
                    lo = bisect.bisect_left(starts, start_s)
                if before_s is not None:
                    hi = max(lo, bisect.bisect_left(starts, before_s))  # an empty range counts 0
            if ends_s is not None:
                # Started before `ends_after`: still running then? Started later: not ended.
                started = max(lo, min(hi, bisect.bisect_left(_starts(rows, seg, "all"), ends_s)))
                before = rows[lo:started]
                total += sum(1 for row in before if row["ends_at"] > ends_s
                             and (statuses is None or _status_as_of(row, as_of) in statuses))
                later = self._counted_after(week, before, statuses, ends_s, as_of) \
                    if lo == 0 and hi == len(rows) else None
                if later is not None:
                    total += later
                    continue
                lo = started
            if statuses is None:
                total += hi - lo
            elif lo == 0 and hi == len(rows):
                counts = _week_status_counts(seg, as_of)
                total += sum(counts.get(status, 0) for status in statuses)
            else:
                total += sum(1 for row in rows[lo:hi] if _status_as_of(row, as_of) in statuses)
        return total

    def _counted_after(self, week: str, before: Sequence[dict[str, Any]], statuses: frozenset[str] | None,
                       ends_s: str, as_of: str | None) -> int | None:
        """How many of the week's appointments that start at `ends_s` or later have a status
        of `statuses` at `as_of`: the week's stored counts less those of the rows that started
        before (`before`, walked already), without walking the rest of the week in progress (a
        clinic's week is thousands of rows, the overview counts it at every reload). Such an
        appointment has not ended by `as_of` (not after `ends_s`); only a lapsed hold differs
        from its stored status, found in the holds index. None: the rest must be walked."""
        if statuses is None or as_of is None or as_of > ends_s:
            return None
        counts = stored_counts(self._snap, week)
        if counts is None:
            return None
        for row in before:
            if row["status"] in counts:
                counts[row["status"]] -= 1
        if ("held" in statuses) != ("expired" in statuses):
            lapsed = bisect.bisect_right(_hold_expiries_by_week(self._snap).get(week, []), as_of)
            lapsed -= sum(1 for row in before if row["status"] == "held" and _status_as_of(row, as_of) == "expired")
            counts["held"] -= lapsed
            counts["expired"] += lapsed
        return sum(counts.get(status, 0) for status in statuses)

    def _counted(self, week: str, doctor_id: str | None, statuses: frozenset[str] | None,
                 start_s: str | None, before_s: str | None, ends_s: str | None, as_of: str | None) -> int | None:
        """The count of a week (of one doctor's appointments, with `doctor_id`) from its stored
        counts, without reading it, when the range holds the whole week and nothing in it has
        ended by `ends_s` or `as_of` (it starts later); a lapsed hold is found in the holds
        index. None: the week must be read."""
        monday = datetime.fromisoformat(week).replace(tzinfo=UTC)
        first, after = format_utc(monday), format_utc(monday + timedelta(days=7))
        if (start_s is not None and start_s > first) or (before_s is not None and before_s < after) \
                or (ends_s is not None and ends_s >= first) or (as_of is not None and as_of >= first):
            return None
        counts = stored_counts(self._snap, week, doctor_id)
        if counts is None:
            return None
        if statuses is None:
            return sum(counts.values())
        if as_of is not None and ("held" in statuses) != ("expired" in statuses):
            lapsed = bisect.bisect_right(_hold_expiries_by_week(self._snap).get(week, []), as_of)
            if lapsed and doctor_id is not None:
                return None  # whose holds lapsed, the index does not say: the week is read
            counts["held"] -= lapsed
            counts["expired"] += lapsed
        return sum(counts.get(status, 0) for status in statuses)

    def search(self, query: AppointmentQuery) -> Page[AppointmentRecord]:
        page = self.window_raw(query)
        return Page([AppointmentRecord(doc, whole=True) for doc in page.items], page.total, page.offset, page.limit)

    # -- a window deep in the result ------------------------------------------------------

    def window_raw(self, query: AppointmentQuery) -> Page[dict[str, Any]]:
        """Rows `offset` .. `offset + limit - 1` of the query's ordered result, and its total
        when `count` is asked: the same as walking `iter_raw` to the offset, without the walk.

        A scrolling list asks for windows anywhere in tens of thousands of rows. Whole weeks
        before the window are skipped by their counts (`count_raw` of the query narrowed to
        the week, which a week's groupings answer without visiting its rows); only the week
        the window starts in is walked, from its first row. The total is the sum of the same
        per-week counts."""
        query = _in_seconds(query)
        offset = max(0, query.offset)
        limit = None if query.limit is None else max(0, query.limit)
        weeks = self._select_weeks(query.starts_from, query.starts_before)
        if query.descending:
            weeks.reverse()
        picked: list[dict[str, Any]] = []
        total = 0
        skip = offset
        for week in weeks:
            full = limit is not None and len(picked) >= limit
            if full and not query.count:
                break
            one = _one_week(query, week)
            if skip == 0 and not query.count:  # the window starts here: no count tells anything
                end = None if limit is None else limit - len(picked)
                picked.extend(itertools.islice(self.iter_raw(one), end))
                continue
            rows = self.count_raw(one)
            total += rows
            if full:
                continue
            if skip >= rows:
                skip -= rows
                continue
            end = None if limit is None else skip + (limit - len(picked))
            picked.extend(itertools.islice(self.iter_raw(one), skip, end))
            skip = 0
        return Page(picked, total if query.count else None, offset, query.limit)

    def count(self, query: AppointmentQuery) -> int:
        return self.count_raw(query)

    def active_for_doctor(
        self, doctor_id: str, start: datetime, end: datetime, as_of: datetime | None = None
    ) -> list[Appointment]:
        """The doctor's held and confirmed appointments that overlap [start, end): held or
        confirmed at `as_of` (a lapsed hold is not), or as stored when `as_of` is None."""
        start_s, end_s = format_utc(start), format_utc(_ceil(end))
        as_of_s = format_utc(as_of) if as_of is not None else None
        found = []
        # An appointment starting late in the previous week may run into this range.
        for week in weeks_between(start - LONGEST_APPOINTMENT, end):
            if ended_by(self._snap, week, start):
                continue
            seg = self._snap.segment(appt_segment(week))
            if seg is None:
                continue
            for row in _grouped(seg, "doctor_id").get(doctor_id, ()):
                if row["starts_at"] < end_s and start_s < row["ends_at"] and \
                        _status_as_of(row, as_of_s) in ACTIVE:
                    found.append(row)
        return [appointment_from_json(r) for r in found]

    def confirmed_starting(self, after: datetime, until: datetime, *,
                           reach: Mapping[str, datetime] | None = None) -> list[Appointment]:
        """Confirmed appointments with after < starts_at <= until (with `reach`, of its types,
        each up to its instant: rows of other types or further out build no model)."""
        after_s, until_s = format_utc(after), format_utc(until)
        limits = {key: format_utc(at) for key, at in reach.items()} if reach is not None else None
        found = []
        for week in self._select_weeks(after, until + timedelta(seconds=1)):
            seg = self._snap.segment(appt_segment(week))
            if seg is None:
                continue
            # Bisected, not walked: a running worker asks for a minute of a week at a time.
            rows = _grouped(seg, "status").get("confirmed", [])
            starts = _starts(rows, seg, ("status", "confirmed"))
            window = rows[bisect.bisect_right(starts, after_s):bisect.bisect_right(starts, until_s)]
            if limits is not None:
                window = [r for r in window if r["starts_at"] <= limits.get(r["type_key"], "")]
            found.extend(window)
        return [appointment_from_json(r) for r in found]

    def confirmed_ended(
        self, after: datetime | None, until: datetime, *, max_weeks: int = 8
    ) -> tuple[list[Appointment], datetime]:
        """Stored-confirmed appointments with `after < ends_at <= until` (from the first when
        `after` is None), reading at most `max_weeks` week segments: a worker that was down
        catches up in bounded steps. Returns them, ordered by end within each week, and the
        instant up to which the answer is complete (`until`, or less when it stopped early)."""
        after_s = format_utc(after) if after is not None else None
        until_s = format_utc(until)
        weeks = self._select_weeks(after - LONGEST_APPOINTMENT if after is not None else None,
                                   until + timedelta(seconds=1))
        found: list[dict[str, Any]] = []
        reached = until
        for scanned, week in enumerate(weeks):
            if scanned >= max(2, max_weeks):
                # Every appointment ending by this week's Monday started in a week read above.
                monday = datetime.fromisoformat(week).replace(tzinfo=UTC)
                reached = min(until, max(monday, after) if after is not None else monday)
                break
            seg = self._snap.segment(appt_segment(week))
            if seg is None:
                continue
            ends, rows = _confirmed_by_end(seg)
            lo = bisect.bisect_right(ends, after_s) if after_s is not None else 0
            found.extend(rows[lo:bisect.bisect_right(ends, until_s)])
        return [appointment_from_json(r) for r in found], reached
