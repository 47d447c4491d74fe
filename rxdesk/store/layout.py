"""Where everything lives in a TinyDB data dir: every segment kind and the rules that hold.

A segment is one TinyDB database (`segment_db`: `{table: {key: document}}`) in one immutable
file, named by the manifest (see `engine`). Every document is keyed by its natural id (TinyDB's
`doc_id`). Appointments, logs and queues are split so that an agent's action and a worker tick
rewrite a few small segments, never the history.

======================  =================================  ===================================
segment                 tables (key -> document)           invariants
======================  =================================  ===================================
``core``                ``org`` (``"org"``), ``admins``,   small; rewritten by setup actions
                        ``appointment_types``,             (provisioning, rules, secrets,
                        ``doctors``, ``booking_secrets``,  subscriptions); each keyed by its
                        ``subscriptions``                  natural id (id, key, key_id)
``patients-NN``         ``patients`` (id)                  the patient records whose id's
                                                           CRC-32 modulo ``PATIENT_SHARDS`` is
                                                           NN: one patient reads one shard. An
                                                           older data dir keeps them all in one
                                                           ``patients`` segment, read as it is
``patient-names``       ``compact`` (``"lines"`` ->        every patient's id and name, one
                        ``{"text"}``)                      line ``id<TAB>name`` each, sorted by
                                                           id (`name_lines`), written in the
                                                           same commit as ``patients``: a
                                                           listing bisects it for its names, a
                                                           search by name splits it. The
                                                           manifest says ``rxdesk-store/3``
                                                           (counter ``names.lines``). A name
                                                           that cannot be a line (a tab stored
                                                           by an older version) keeps it as two
                                                           lists in step (``"by_id"`` ->
                                                           ``{"ids", "names"}``), as an older
                                                           data dir has it, or its ``names``
                                                           table (id -> ``{"name"}``): read
                                                           until the next patient write
``holds``               ``held`` (uid -> ``{"expires"}``)  exactly the held appointments that
                                                           have a ``hold_expires_at``, written
                                                           with the appointment: the worker
                                                           finds lapsed holds without reading
                                                           weeks of appointments
``appt-YYYY-MM-DD``     ``appointments`` (uid),            one week (Monday, UTC) of
                        ``order`` (``"by_start"`` ->       appointments by start; a uid's first
                        ``{"starts", "uids"}``),           three characters name its week, so
                        ``reminders_sent``                 ``uid -> segment`` needs no index; a
                        (``uid|rule|group|recipient``),    week holds what belongs to its
                        ``audit`` (sequence number),       appointments: reminders fired, audit
                        ``links`` (uid ->                  entries about them, rebook links.
                        ``{"successor"}``)                 ``order`` lists the week's starts and
                                                           uids sorted together, written with
                                                           the appointments (`weeks`); a week
                                                           without one (an older data dir) is
                                                           ordered when read. An older link is
                                                           the bare successor uid
``week-counts-``        ``by_doctor`` (doctor id ->          how many of each doctor's appointments
``YYYY-MM-DD``          ``{status: count}``)               of that week have each stored status
                                                           (none listed: none), written with the
                                                           week; the manifest's ``count.``
                                                           counters hold the week's totals
``events-NNNNNN``       ``events`` (``evt_<seq><rand>``)   the event log, ``EVENTS_PER_SEGMENT``
                                                           per segment by sequence number
``audit-NNNNNN``        ``audit`` (sequence number)        the audit log of everything but one
                                                           appointment; numbered by the same
                                                           counter as the entries kept in weeks
``deliveries-NNNNNN``   ``deliveries`` (``dlv_<seq>``)     webhook deliveries, append-only log
``messages-NNNNNN``     ``messages`` (``msg_<seq>``)       emails and SMS, append-only log
``queues``              ``deliveries``, ``messages``       exactly the pending rows of those two
                        (id -> ``{"at", "lease"}``; a      logs, with their next attempt and
                        delivery also ``"sub"``,           lease: an idle tick reads this alone;
                        ``"tries"``, ``"created"``),       ``dead`` holds the deliveries that died
                        ``dead`` (id -> ``{"sub", "at"}``) in the last week (at least), so what
                                                           needs attention reads no log
``reminder-problems``   ``skipped`` (ReminderSent key),    reminders whose email or SMS was
                        ``failed`` (message id) ->         skipped or failed, of appointments
                        ``{"starts", "row"}``              that have not started: an entry goes
                                                           once a later write sees its start pass
``delivery-index-`      ``by_appointment``                 ids of the deliveries that carry
``YYYY-MM-DD``          (uid -> ``{"ids"}``)               events about each appointment of
                                                           that week, in creation order
``activity-YYYY-MM-DD`` ``audit`` (sequence number)        a copy of every audit entry made
                                                           that day (UTC, by ``at``), wherever
                                                           the entry lives, written in the same
                                                           commit: the desk's activity since a
                                                           day reads those days alone
======================  =================================  ===================================

An appointment's document in a week is its JSON form without the fields that are null
(`weeks.stored_appointment`); one written by an older version holds them as null, or lacks the
fields added since. Either reads as the same appointment. Once a week stores one so, the
manifest says ``rxdesk-store/4`` (counter ``appointments.compact``): a version that would print
the fields it leaves out as missing refuses the data dir.

Beside the manifest, ``last-tick.json`` notes the newest maintenance tick (owner, instant):
written by every tick outside any commit, so an idle tick moves no generation.

Counters in the manifest number the logs (``events``, ``audit``, ``deliveries``,
``messages``: the last sequence number used) and hold named cursors (``webhooks.cursor``: the
last event fanned out to subscriptions). ``activity.from`` is the first audit entry the
``activity-`` days hold (1: every entry); in a data dir that had entries before them,
``activity.after`` (``YYYYMMDD``) is the day of that entry: only later days are whole.
``ends.YYYY-MM-DD`` is the latest end of that week's appointments (seconds since the epoch;
it never moves back): what is in progress on a Monday morning reads no week that ended before.
``count.YYYY-MM-DD.STATUS`` is how many of the week's appointments have that stored status, valid
while ``counted.appt-YYYY-MM-DD`` names the generation of the week's file (`weeks`): a count of
the weeks ahead reads none of them. Every
index above is written in the same commit as what it indexes, so a crash can never leave them
apart.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from rxdesk.domain.errors import StoreError, short_path
from rxdesk.domain.ids import uid_partition

CORE = "core"
PATIENTS = "patients"  # every patient record, in a data dir from before the shards
PATIENT_SHARD_PREFIX = "patients-"
PATIENT_SHARDS = 64
PATIENT_NAMES = "patient-names"
HOLDS = "holds"
APPT_PREFIX = "appt-"
QUEUES = "queues"
# The newest maintenance tick, in a file beside the manifest (outside every commit).
LAST_TICK = "last-tick.json"
# Left once `rxdesk store import` has copied the data dir into a database: from then on the
# database is the desk, and a process still pointed at the data dir would work on a copy.
MOVED_MARK = "moved-to-postgresql"
DELIVERY_INDEX_PREFIX = "delivery-index-"
WEEK_COUNTS_PREFIX = "week-counts-"
ACTIVITY_PREFIX = "activity-"

EVENTS = "events"
AUDIT = "audit"
DELIVERIES = "deliveries"
MESSAGES = "messages"
# Small enough that appending an event (every change writes one) rewrites ~300 KB, not MBs.
EVENTS_PER_SEGMENT = 500
AUDIT_PER_SEGMENT = 5000
QUEUED_PER_SEGMENT = 2000


def appt_segment(week: str) -> str:
    """The segment of the week starting on Monday `week` (`YYYY-MM-DD`)."""
    return f"{APPT_PREFIX}{week}"


def appointment_segment(uid: str) -> str | None:
    """The week segment that holds appointment `uid`, or None when `uid` is not one of ours."""
    week = uid_partition(uid)
    return appt_segment(week) if week is not None else None


def delivery_index_segment(uid: str) -> str | None:
    week = uid_partition(uid)
    return f"{DELIVERY_INDEX_PREFIX}{week}" if week is not None else None


def activity_segment(at: str) -> str:
    """The segment of the audit entries made on the UTC day of `at` (stored form, or a day)."""
    return f"{ACTIVITY_PREFIX}{at[:10]}"


def patient_segment(patient_id: str) -> str:
    """The shard that holds the record of patient `patient_id`."""
    return f"{PATIENT_SHARD_PREFIX}{zlib.crc32(patient_id.encode('utf-8', 'surrogatepass')) % PATIENT_SHARDS:02d}"


def refuse_if_moved(data_dir: Path) -> None:
    """StoreError when `rxdesk store import` has moved the data dir into a database."""
    mark = data_dir / MOVED_MARK
    if mark.is_file():
        try:
            moved = " ".join(mark.read_text(errors="replace").split())[:300]
        except OSError:
            moved = "by `rxdesk store import`"
        raise StoreError(f"the data in {short_path(data_dir)} was moved to PostgreSQL ({moved}): set "
                         f"RXDESK_DATABASE_URL; to work on the data dir again, delete {short_path(mark)}")
