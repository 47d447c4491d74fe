"""The segments as TinyDB sees them: a week's order by start kept as a document beside its
appointments, and data dirs written before it (no order, rebook links as bare uids) still
opening as they were."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rxdesk.domain.ids import uid_partition
from rxdesk.domain.queries import APPOINTMENT_FIELDS, AppointmentQuery
from rxdesk.services import Desk
from rxdesk.store import TinyStore
from rxdesk.store.protocols import Store
from rxdesk.store.segment_db import open_segment
from tests.helpers import make_appointment, view_of


def week_files(data_dir: Path) -> dict[str, Path]:
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    return {name: data_dir / "segments" / ref["file"] for name, ref in manifest["segments"].items()
            if name.startswith("appt-")}


def listed(store: Store) -> list[str]:
    return [r.uid for r in view_of(store).appointments.search(AppointmentQuery()).items]


def test_a_week_keeps_its_order_by_start_as_a_tinydb_document(clinic: Desk, data_dir: Path, now: datetime) -> None:
    monday = now - timedelta(days=now.weekday()) + timedelta(days=7)
    made = [make_appointment(clinic, start=monday + timedelta(hours=h), doctor_id=d)
            for h, d in ((30, "dr-weber"), (9, "dr-osei"), (30, "dr-sato"), (52, "dr-weber"), (9, "dr-weber"))]
    [path] = week_files(data_dir).values()
    week = open_segment(path)
    order = week.table("order").get(doc_id="by_start")
    expected = sorted((a.starts_at, a.uid) for a in made)
    assert order is not None and order["uids"] == [uid for _, uid in expected]
    def starts_at(uid: str) -> str:
        stored = week.table("appointments").get(doc_id=uid)
        assert stored is not None, uid
        return str(stored["starts_at"])

    assert order["starts"] == sorted(starts_at(u) for u in order["uids"])
    assert listed(clinic.store) == order["uids"]

    clinic.appointments.cancel_appointment(made[0].uid, "patient asked", "tester")
    [path] = week_files(data_dir).values()
    assert open_segment(path).table("order").get(doc_id="by_start") == order  # a cancel moves nothing


def _rewrite(data_dir: Path, change: Any) -> None:
    """Rewrite every week file through `change(tables)` as an older rxdesk would have written
    it, and the manifest's size and checksum with it."""
    manifest_path = data_dir / "rxdesk.json"
    manifest = json.loads(manifest_path.read_text())
    for name, ref in manifest["segments"].items():
        if not name.startswith("appt-"):
            continue
        path = data_dir / "segments" / ref["file"]
        raw = json.dumps(change(json.loads(path.read_bytes()))).encode()
        path.write_bytes(raw)
        ref["size"], ref["crc32"] = len(raw), zlib.crc32(raw)
    manifest_path.write_text(json.dumps(manifest))


def _without_order(tables: dict[str, Any]) -> dict[str, Any]:
    tables.pop("order", None)
    tables["links"] = {uid: link["successor"] for uid, link in tables.get("links", {}).items()}
    return tables


def _with_an_order_that_misses_an_appointment(tables: dict[str, Any]) -> dict[str, Any]:
    """A week an older rxdesk wrote to after this one ordered it: the order lacks its new row."""
    order = tables["order"]["by_start"]
    order["starts"], order["uids"] = order["starts"][1:], order["uids"][1:]
    return tables


@pytest.mark.parametrize("older", [_without_order, _with_an_order_that_misses_an_appointment],
                         ids=["no order, links as bare uids", "an order that misses an appointment"])
def test_a_data_dir_written_before_the_order_was_kept_opens_and_lists_in_order(
        clinic: Desk, data_dir: Path, now: datetime, older: Callable[[dict[str, Any]], None]) -> None:
    first = make_appointment(clinic, start=now + timedelta(days=2, hours=3))
    later = make_appointment(clinic, start=now + timedelta(days=2, hours=1), doctor_id="dr-osei")
    make_appointment(clinic, start=now + timedelta(days=9))
    with clinic.store.write() as view:
        view.appointments.link_successor(first.uid, later.uid)
    _rewrite(data_dir, older)

    def in_order(uids: list[str]) -> list[str]:
        view = TinyStore(data_dir).read()
        return sorted(uids, key=lambda uid: (view.appointments.require(uid).starts_at, uid))

    store = TinyStore(data_dir)
    everything = [d["uid"] for d in store.read().appointments.iter_raw(AppointmentQuery())]
    assert len(everything) == 3 and listed(store) == in_order(everything)
    assert store.read().appointments.successor_of(first.uid) == later.uid

    # The next write of a week stores its order, counting every appointment of it.
    booked = make_appointment(Desk(store, clinic.clock, clinic.settings), start=now + timedelta(days=2, hours=2))
    week = open_segment(week_files(data_dir)[f"appt-{uid_partition(booked.uid)}"])
    order = week.table("order").get(doc_id="by_start")
    assert order is not None and len(order["uids"]) == len(week.table("appointments")) == 3
    assert listed(TinyStore(data_dir)) == in_order([*everything, booked.uid])
    assert TinyStore(data_dir).read().appointments.successor_of(first.uid) == later.uid


def _with_nulls(tables: dict[str, Any]) -> dict[str, Any]:
    """A week as rxdesk wrote it before null fields were left out: every field, null as null."""
    tables["appointments"] = {uid: {name: doc.get(name) for name in APPOINTMENT_FIELDS}
                              for uid, doc in tables["appointments"].items()}
    return tables


def _before_the_later_fields(tables: dict[str, Any]) -> dict[str, Any]:
    """A week written before attendance and the booking agent were kept: those fields absent."""
    later = ("attendance_note", "attendance_by", "attendance_at", "created_by")
    tables["appointments"] = {uid: {name: doc.get(name) for name in APPOINTMENT_FIELDS if name not in later}
                              for uid, doc in _with_nulls(tables)["appointments"].items()}
    return tables


def test_a_week_leaves_null_fields_out_and_every_reader_sees_them_as_null(
        clinic: Desk, data_dir: Path, now: datetime, cli: Any) -> None:
    booked = make_appointment(clinic, start=now + timedelta(days=2, hours=3))
    cancelled = make_appointment(clinic, start=now + timedelta(days=2, hours=4), doctor_id="dr-osei")
    clinic.appointments.cancel_appointment(cancelled.uid, "patient asked", "tester")
    [path] = week_files(data_dir).values()
    stored = open_segment(path).table("appointments").documents()
    assert set(stored) == {booked.uid, cancelled.uid}
    assert all(value is not None for doc in stored.values() for value in doc.values())
    assert "cancelled_at" not in stored[booked.uid] and stored[cancelled.uid]["cancel_reason"] == "patient asked"

    def answers() -> list[str]:
        listing = cli("appointments", "list", "--all", "--json")
        shown = [cli("appointments", "show", uid, "--json") for uid in (booked.uid, cancelled.uid)]
        assert listing.code == 0 and all(s.code == 0 for s in shown), listing.err
        return [listing.out, *(s.out for s in shown)]

    compact = answers()
    listed = json.loads(compact[0])
    rows = listed["items"] if isinstance(listed, dict) else listed
    assert [list(row) for row in rows] == [list(APPOINTMENT_FIELDS)] * 2  # every field, in the model's order
    assert {row["uid"]: row for row in rows} == {a.uid: clinic.appointments.get(a.uid).to_json() for a in (booked, cancelled)}
    assert rows[0]["hold_expires_at"] is None and rows[1]["attendance_at"] is None
    for older in (_with_nulls, _before_the_later_fields):
        _rewrite(data_dir, older)
        assert answers() == compact, older.__name__


def test_a_week_without_null_fields_is_refused_by_a_version_that_would_print_it_without_them(
        clinic: Desk, data_dir: Path, now: datetime) -> None:
    # Versions before it read a document's absent field as absent (only the later fields were
    # filled in): `--json` would miss `cancelled_at`, `hold_expires_at`, ... The manifest's
    # format is one they do not know, so they refuse the data dir instead.
    before_compact = ("rxdesk-store/1", "rxdesk-store/2", "rxdesk-store/3")
    make_appointment(clinic, start=now + timedelta(days=2, hours=3))
    manifest = json.loads((data_dir / "rxdesk.json").read_bytes())
    assert manifest["format"] not in before_compact
    assert manifest["format"] == "rxdesk-store/4"
    fresh = TinyStore(data_dir).read()  # and this version reads it
    assert [r.uid for r in fresh.appointments.search(AppointmentQuery()).items] == listed(clinic.store)
