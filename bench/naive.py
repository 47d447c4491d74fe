"""The naive baseline: the same operations on a plain TinyDB file (default JSONStorage), as a
first version of rxdesk would have done them. Its process imports TinyDB and nothing of rxdesk.

Run as a command for end-to-end timings, like the rxdesk CLI:
    python -m bench.naive LEAN_DB cancel DOC_ID REASON
    python -m bench.naive DB list
    python -m bench.naive DB tick

A cancel is the fairest peer there is: a file of the appointments alone (lean documents, no
events, no audit; `datasets.lean_naive`), the document named by its id, one
`table.update(..., doc_ids=[...])`. A list and a tick read the whole clinic's file (names,
types, reminders sent), with Query searches and one write per change.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

from tinydb import Query, TinyDB

from bench.instant import NOW, NOW_TEXT


def _fmt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def cancel(path: str, doc_id: int, reason: str) -> None:
    appointments = TinyDB(path).table("appointments")
    found = appointments.get(doc_id=doc_id)
    if not isinstance(found, dict) or found.get("status") not in ("held", "confirmed"):
        raise SystemExit(f"cannot cancel document {doc_id}")
    changes = {"status": "cancelled", "cancelled_at": NOW_TEXT, "cancel_reason": reason, "cancelled_by": "admin:bench"}
    appointments.update(changes, doc_ids=[doc_id])


def list_default(path: str) -> list[dict]:
    db = TinyDB(path)
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


def tick(path: str, *, fire: int | None = None) -> int:
    """One maintenance tick: expire holds, find due reminders; with `fire`, fire up to that
    many, one write per change (event, reminder row), as a naive worker would."""
    db = TinyDB(path)
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


def main(argv: list[str]) -> int:
    path, command, *rest = argv
    if command == "cancel":
        cancel(path, int(rest[0]), rest[1])
    elif command == "list":
        list_default(path)
    elif command == "tick":
        tick(path, fire=int(rest[0]) if rest else None)
    else:
        raise SystemExit(f"unknown command {command}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
