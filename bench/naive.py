"""The naive baseline: the same operations on a plain TinyDB file, used the way TinyDB's own
documentation recommends for speed: a `Storage` backed by orjson (TinyDB's docs: "Write a
custom storage", the JSON library of your choice) and `CachingMiddleware` wherever a process does
more than one operation on the file, so it is read once and written once. Its process imports
TinyDB and orjson and nothing of rxdesk.

Run as a command for end-to-end timings, like the rxdesk CLI:
    python -m bench.naive LEAN_DB cancel DOC_ID REASON
    python -m bench.naive DB list
    python -m bench.naive DB tick

A cancel is the fairest peer there is: a file of the appointments alone (lean documents, no
events, no audit; `datasets.lean_naive`), the document named by its id, one
`table.update(..., doc_ids=[...])`. A list and a tick read the whole clinic's file (names,
types, reminders sent), with Query searches; a tick's changes reach the disk in one write when
the database is closed. A running naive worker (`open_db` once, `tick(db)` again and again) reads
the file once and then works from TinyDB's cache, as a warm rxdesk worker works from its own.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import Any

import orjson
from tinydb import Query, TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage

from bench.instant import NOW, NOW_TEXT


class OrjsonStorage(Storage):
    """TinyDB's JSONStorage with orjson: the whole file read, and written in place, as one
    document."""

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> dict[str, Any] | None:
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return None
        return orjson.loads(raw) if raw else None

    def write(self, data: dict[str, Any]) -> None:
        with open(self.path, "wb") as fh:
            fh.write(orjson.dumps(data))

    def close(self) -> None:
        pass


def open_db(path: str) -> TinyDB:
    """The file behind TinyDB's cache: read on first use, written when closed."""
    return TinyDB(path, storage=CachingMiddleware(OrjsonStorage))


def _fmt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def cancel(path: str, doc_id: int, reason: str) -> None:
    with open_db(path) as db:
        appointments = db.table("appointments")
        found = appointments.get(doc_id=doc_id)
        if not isinstance(found, dict) or found.get("status") not in ("held", "confirmed"):
            raise SystemExit(f"cannot cancel document {doc_id}")
        changes = {"status": "cancelled", "cancelled_at": NOW_TEXT, "cancel_reason": reason,
                   "cancelled_by": "admin:bench"}
        appointments.update(changes, doc_ids=[doc_id])


def list_default(path: str) -> list[dict[str, Any]]:
    with open_db(path) as db:
        A = Query()
        rows = db.table("appointments").search(A.status.one_of(["held", "confirmed"]) & (A.starts_at >= NOW_TEXT))
        rows.sort(key=lambda r: (r["starts_at"], r["uid"]))
        doctors = {d["id"]: d["name"] for d in db.table("doctors").all()}
        patients = {p["id"]: p["name"] for p in db.table("patients").all()}
    out = [
        f"{r['starts_at']}  {doctors.get(r['doctor_id'], '')}  {patients.get(r['patient_id'], '')}  "
        f"{r['type_key']}  {r['status']}  {r['uid']}"
        for r in rows
    ]
    sys.stdout.write("\n".join(out) + "\n")
    return rows


def tick(db: TinyDB, *, fire: int | None = None) -> int:
    """One maintenance tick on an open database: expire holds, find due reminders; with
    `fire`, fire up to that many (an event and a reminder row each), as a naive worker would."""
    A = Query()
    appointments = db.table("appointments")
    expired = appointments.search((A.status == "held") & (A.hold_expires_at <= NOW_TEXT))
    for doc in expired:
        appointments.update({"status": "expired"}, A.uid == doc["uid"])
    rules = {t["key"]: t["reminders"] for t in db.table("appointment_types").all()}
    horizon = _fmt(NOW + timedelta(days=30))
    upcoming = appointments.search((A.status == "confirmed") & (A.starts_at > NOW_TEXT) & (A.starts_at <= horizon))
    sent = db.table("reminders_sent")
    already = {row["key"] for row in sent.all()}  # one read of the table, as any worker would
    fired = 0
    for doc in upcoming:
        start = datetime.fromisoformat(doc["starts_at"])
        for rule in rules.get(doc["type_key"], []):
            if start - timedelta(minutes=rule["minutes_before"]) > NOW:
                continue
            key = f"{doc['uid']}|{rule['id']}|{rule['recipient']}"
            if key in already:
                continue
            if fire is None or fired >= fire:
                continue
            db.table("events").insert({"type": "APPOINTMENT_REMINDER_DUE", "created_at": NOW_TEXT,
                                       "data": {"appointment": doc, "rule": rule}})
            sent.insert({"key": key, "sent_at": NOW_TEXT})
            already.add(key)
            fired += 1
    return fired


def tick_once(path: str, *, fire: int | None = None) -> int:
    """A tick as a worker started for it (`worker --once`): the file read, the changes written."""
    with open_db(path) as db:
        return tick(db, fire=fire)


def main(argv: list[str]) -> int:
    path, command, *rest = argv
    if command == "cancel":
        cancel(path, int(rest[0]), rest[1])
    elif command == "list":
        list_default(path)
    elif command == "tick":
        tick_once(path, fire=int(rest[0]) if rest else None)
    else:
        raise SystemExit(f"unknown command {command}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
