"""The schema, as numbered migrations, and the check every process makes before using it.

`rxdesk store init` applies the migrations a database lacks, in one transaction, under an
advisory lock (two operators running it at once apply each once), and records each in
`rxdesk_schema`. Every other command checks the recorded version first: an older database is
refused with the command that upgrades it, a newer one with the advice to upgrade rxdesk.

Why the tables look as they do:

- Reference data an agent edits (org, admins, types, doctors, secrets, subscriptions) is small
  and read whole: one JSON document a row, keyed by its natural id.
- Appointments, patients, deliveries, messages and the reminders sent have one column a field,
  so that the filters, the worker's queues and the constraints can use them.
- `appointments_no_double_booking` makes two overlapping held or confirmed appointments of one
  doctor impossible, whatever process writes them. A hold that has lapsed is still stored as
  `held` until it is expired; the store expires the lapsed holds a new booking overlaps in the
  same transaction, so they never block a slot.
- `appointment_reminders_sent` has the reminder's identity as its primary key: a reminder can
  be recorded once, however many workers on however many hosts fire it.
- Event data and audit details are `json`, not `jsonb`: they are sent and shown as written,
  keys in their order.
- Indexes follow what the app and the worker ask: the overview (active, in the listing's order,
  covering what its count and its windows read), filters by
  doctor, patient and status, the holds about to lapse, confirmed appointments by start (due
  reminders), confirmed appointments by end (completing them), pending deliveries and messages
  by next attempt, and the attention queue (deliveries by status).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rxdesk.domain.errors import StoreError


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


INITIAL = """
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE org (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    doc jsonb NOT NULL
);
CREATE TABLE admins (id text PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE appointment_types (key text PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE doctors (id text PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE booking_secrets (key_id text PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE subscriptions (id text PRIMARY KEY, doc jsonb NOT NULL);

CREATE TABLE patients (
    id text PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL DEFAULT '',
    phone text NOT NULL DEFAULT '',
    external_id text NOT NULL DEFAULT '',
    -- casefolded by rxdesk (Python's rules, whatever the database's collation): the order of
    -- the patients list and the text search
    name_key text NOT NULL,
    search_text text NOT NULL
);
CREATE UNIQUE INDEX patients_external_id ON patients (external_id) WHERE external_id <> '';
CREATE INDEX patients_by_name ON patients (name_key COLLATE "C", id);

CREATE TABLE appointments (
    uid text PRIMARY KEY,
    patient_id text NOT NULL,
    doctor_id text NOT NULL,
    type_key text NOT NULL,
    status text NOT NULL
        CHECK (status IN ('held', 'confirmed', 'cancelled', 'expired', 'completed', 'no_show')),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    hold_expires_at timestamptz,
    confirmed_at timestamptz,
    cancelled_at timestamptz,
    cancel_reason text,
    cancelled_by text,
    previous_meeting_uid text,
    room_url text NOT NULL DEFAULT '',
    attendance_note text,
    attendance_by text,
    attendance_at timestamptz,
    successor_uid text,
    CONSTRAINT appointments_ends_after_start CHECK (ends_at > starts_at),
    CONSTRAINT appointments_no_double_booking EXCLUDE USING gist (
        doctor_id WITH =, tstzrange(starts_at, ends_at) WITH &&
    ) WHERE (status IN ('held', 'confirmed'))
);
CREATE INDEX appointments_by_start ON appointments (starts_at, uid);
CREATE INDEX appointments_active_by_start ON appointments (starts_at, uid)
    WHERE status IN ('held', 'confirmed');
CREATE INDEX appointments_by_doctor ON appointments (doctor_id, starts_at, uid);
CREATE INDEX appointments_by_patient ON appointments (patient_id, starts_at, uid);
CREATE INDEX appointments_by_status ON appointments (status, starts_at, uid);
CREATE INDEX appointments_holds_by_expiry ON appointments (hold_expires_at) WHERE status = 'held';
CREATE INDEX appointments_confirmed_by_end ON appointments (ends_at, uid) WHERE status = 'confirmed';

CREATE TABLE appointment_reminders_sent (
    appointment_uid text NOT NULL,
    rule_id text NOT NULL,
    recipient_group text NOT NULL,
    recipient_id text NOT NULL,
    sent_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    late_by_seconds integer NOT NULL DEFAULT 0,
    event_id text NOT NULL DEFAULT '',
    email_status text NOT NULL DEFAULT '',
    sms_status text NOT NULL DEFAULT '',
    PRIMARY KEY (appointment_uid, rule_id, recipient_group, recipient_id)
);

CREATE SEQUENCE events_seq;
CREATE TABLE events (
    seq bigint PRIMARY KEY,
    id text NOT NULL UNIQUE,
    type text NOT NULL,
    created_at timestamptz NOT NULL,
    data json NOT NULL,
    -- the writing transaction: the worker fans out only events of finished transactions, in
    -- transaction order, so an event committed late is never skipped
    txid xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX events_by_type ON events (type, seq);
CREATE INDEX events_by_txid ON events (txid, seq);

CREATE TABLE audit (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    details json NOT NULL
);
CREATE INDEX audit_by_target ON audit (target, seq);
CREATE INDEX audit_not_appointments ON audit (seq) WHERE target NOT LIKE 'appointment:%';

CREATE SEQUENCE deliveries_seq;
CREATE TABLE deliveries (
    id text PRIMARY KEY,
    event_id text NOT NULL,
    event_type text NOT NULL,
    subscription_id text NOT NULL,
    url text NOT NULL,
    status text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    next_attempt_at timestamptz,
    last_attempt_at timestamptz,
    delivered_at timestamptz,
    last_status_code integer,
    last_error text NOT NULL DEFAULT '',
    response_excerpt text NOT NULL DEFAULT '',
    lease_id text NOT NULL DEFAULT '',
    lease_until timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_by_status ON deliveries (status, id);
CREATE TABLE delivery_appointments (
    appointment_uid text NOT NULL,
    delivery_id text NOT NULL,
    PRIMARY KEY (appointment_uid, delivery_id)
);

CREATE SEQUENCE messages_seq;
CREATE TABLE messages (
    id text PRIMARY KEY,
    channel text NOT NULL,
    "to" text NOT NULL,
    subject text NOT NULL DEFAULT '',
    body text NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    appointment_uid text NOT NULL DEFAULT '',
    event_id text NOT NULL DEFAULT '',
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    sent_at timestamptz,
    last_error text NOT NULL DEFAULT '',
    lease_id text NOT NULL DEFAULT '',
    lease_until timestamptz
);
CREATE INDEX messages_due ON messages (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX messages_by_status ON messages (status, id);

-- named counters and cursors (the fan-out position, the last tick)
CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL);
"""

# A reminder's row names its email and SMS, whose own status is the one kept (rows before: '').
REMINDER_MESSAGES = """
ALTER TABLE appointment_reminders_sent
    ADD COLUMN email_message_id text NOT NULL DEFAULT '',
    ADD COLUMN sms_message_id text NOT NULL DEFAULT '';
"""

# Who booked an appointment when an agent did; the audit trail read by agent and by time
# (`audit list`, the app's activity) without a scan of the whole log.
APPOINTMENT_CREATOR = """
ALTER TABLE appointments ADD COLUMN created_by text;
CREATE INDEX audit_by_actor ON audit (actor, seq);
CREATE INDEX audit_by_time ON audit (at, seq);
"""

# The active appointments in a listing's own order (start, then uid byte by byte), with what
# their status as of an instant needs: the default view's count and any window of it are read
# from the index alone (an index-only scan), not from 40,000 rows of the table. It takes the
# place of the index of active appointments by start, which it serves as well.
ACTIVE_IN_ORDER = """
CREATE INDEX appointments_active_in_order ON appointments (starts_at, uid COLLATE "C")
    INCLUDE (status, ends_at, hold_expires_at) WHERE status IN ('held', 'confirmed');
DROP INDEX appointments_active_by_start;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial", INITIAL),
    Migration(2, "reminder messages", REMINDER_MESSAGES),
    Migration(3, "appointment creator, audit by agent and time", APPOINTMENT_CREATOR),
    Migration(4, "active appointments in listing order", ACTIVE_IN_ORDER),
)

VERSION_TABLE = "rxdesk_schema"
LOCK_KEY = 0x72786465736B  # "rxdesk": the advisory lock that serialises migrations


def latest(migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    return migrations[-1].version if migrations else 0


def current_version(conn: Any) -> int | None:
    """The schema version recorded in the database, or None when it has no rxdesk schema."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,)).fetchone()
    if not row or not row[0]:
        return None
    found = conn.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()
    return int(found[0]) if found and found[0] is not None else 0


def migrate(conn: Any, migrations: tuple[Migration, ...] = MIGRATIONS) -> tuple[int | None, list[Migration]]:
    """Apply what the database lacks, all in one transaction. Returns the version found and
    the migrations applied. A database newer than `migrations` is refused, untouched."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        found = current_version(conn)
        if found is not None and found > latest(migrations):
            raise StoreError(too_new(found, latest(migrations)))
        if found is None:
            conn.execute(
                f"CREATE TABLE {VERSION_TABLE} (version integer PRIMARY KEY, name text NOT NULL, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
        applied = []
        for migration in migrations:
            if found is not None and migration.version <= found:
                continue
            conn.execute(migration.sql)
            conn.execute(
                f"INSERT INTO {VERSION_TABLE} (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied.append(migration)
    return found, applied


def too_new(found: int, known: int) -> str:
    return (f"the database is at schema version {found}, newer than this rxdesk knows ({known}): "
            "upgrade rxdesk on this machine")


def configure_and_check(conn: Any, where: str, *, check: bool = True) -> None:
    """A store's first connection set up (`connect.SESSION_SETTINGS`) and, with `check`, its
    schema checked (`require_current`), in one round trip."""
    from psycopg import errors

    from rxdesk.store.postgres.connect import SESSION_SETTINGS

    if not check:
        conn.execute(f"SELECT {SESSION_SETTINGS}")
        return
    try:
        row = conn.execute(f"SELECT {SESSION_SETTINGS}, max(version) FROM {VERSION_TABLE}").fetchone()
    except errors.UndefinedTable:
        conn.execute(f"SELECT {SESSION_SETTINGS}")  # no schema: refused below, in a connection set up as any
        found = None
    else:
        found = int(row[1]) if row and row[1] is not None else 0
    require_version(found, where)


def require_current(conn: Any, where: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> None:
    """Refuse a database without the schema, or at another version than this rxdesk's."""
    require_version(current_version(conn), where, migrations)


def require_version(found: int | None, where: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> None:
    known = latest(migrations)
    if found is None:
        raise StoreError(f"the {where} has no rxdesk schema: run `rxdesk store init` first")
    if found < known:
        raise StoreError(
            f"the {where} is at schema version {found}, this rxdesk needs {known}: "
            "run `rxdesk store init` to upgrade it (stop the other rxdesk processes first)"
        )
    if found > known:
        raise StoreError(f"{too_new(found, known)} ({where})")
