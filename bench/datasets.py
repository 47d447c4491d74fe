"""Benchmark data sets: a demo clinic (DESIGN, "Demo data shape") plus matching volumes of
events and audit entries, and the same data as one plain TinyDB file for the naive baseline."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.instant import NOW, NOW_TEXT
from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.services.webhooks import FANOUT_CURSOR
from rxdesk.store import TinyStore

__all__ = ["NOW", "NOW_TEXT", "ROOT", "Built", "Spec", "build", "lean_naive"]

ROOT = Path(__file__).resolve().parent / ".data"


# Bumped whenever the store layout changes, so cached data sets are rebuilt.
FORMAT = "v10"


@dataclass(frozen=True)
class Spec:
    name: str
    appointments: int
    doctors: int | None = None
    upcoming: int | None = None
    seed: int = 7

    @property
    def slug(self) -> str:
        return f"{self.name}-{self.appointments}-{self.doctors}-{self.upcoming}-{self.seed}-{FORMAT}"

    def describe(self) -> str:
        extra = []
        if self.doctors is not None:
            extra.append(f"--doctors {self.doctors}")
        if self.upcoming is not None:
            extra.append(f"--upcoming {self.upcoming}")
        return f"{self.appointments:,} appointments" + (f" ({' '.join(extra)})" if extra else " (defaults)")


@dataclass
class Built:
    spec: Spec
    data_dir: Path
    naive_file: Path
    stats: dict[str, Any]

    @property
    def lean_file(self) -> Path:
        return self.naive_file.with_name("naive-appointments.json")


def _history_events(appointments: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """The events a clinic's history would have written: a confirmation for every booking that
    was confirmed, a cancellation or an expiry where one happened. About one per appointment."""
    events = []
    for doc in appointments:
        if doc["status"] == "cancelled":
            events.append((doc["cancelled_at"], "APPOINTMENT_CANCELLED", doc))
        elif doc["status"] == "expired":
            events.append((doc["hold_expires_at"], "APPOINTMENT_HOLD_EXPIRED", doc))
        elif doc["confirmed_at"] is not None:
            events.append((doc["confirmed_at"], "APPOINTMENT_CONFIRMED", doc))
    events.sort(key=lambda e: e[0])
    return events


def build(spec: Spec, root: Path = ROOT, *, fresh: bool = False) -> Built:
    """Build (or reuse) the data set: an rxdesk data dir and the naive TinyDB file."""
    base = root / spec.slug
    stamp = base / "built.json"
    if stamp.exists() and not fresh:
        stats = json.loads(stamp.read_text())
        return Built(spec, base / "rxdesk", base / "naive.json", stats)
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    started = time.perf_counter()
    store = TinyStore(base / "rxdesk")
    desk = Desk(store, FixedClock(NOW), Settings(data_dir=base / "rxdesk", agent="bench"))
    demo = desk.demo.build(
        spec.appointments, agent="bench", seed=spec.seed, doctors=spec.doctors, upcoming=spec.upcoming
    )
    demo_seconds = time.perf_counter() - started

    events = _history_events(demo.appointments)
    with store.write() as view:
        view.bulk.add_events(
            [{"type": kind, "created_at": at, "data": {"appointment": doc}} for at, kind, doc in events]
        )
        # The history's events were delivered long ago: the worker starts after them.
        view.cursors.set(FANOUT_CURSOR, view.events.last_seq())

    _write_naive(base / "naive.json", store, demo, events)
    stats = {
        "appointments": len(demo.appointments),
        "doctors": len(demo.doctors),
        "patients": len(demo.patients),
        "events": len(events),
        "audit": len(demo.audit) + 1,
        "demo_seconds": round(demo_seconds, 2),
        "rxdesk_bytes": sum(p.stat().st_size for p in (base / "rxdesk").rglob("*") if p.is_file()),
        "naive_bytes": (base / "naive.json").stat().st_size,
    }
    stamp.write_text(json.dumps(stats))
    return Built(spec, base / "rxdesk", base / "naive.json", stats)


def _write_naive(path: Path, store: TinyStore, demo: Any, events: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Everything in one TinyDB document, as TinyDB's default JSONStorage keeps it."""
    view = store.read()

    def numbered(rows: Any) -> dict[str, Any]:
        return {str(i): row for i, row in enumerate(rows, start=1)}

    data = {
        "org": {"1": view.org.get().to_json()},
        "admins": numbered(a.to_json() for a in view.admins.all()),
        "appointment_types": numbered(t.to_json() for t in view.types.all()),
        "doctors": numbered(d.to_json() for d in view.doctors.all()),
        "patients": numbered(p.to_json() for p in demo.patients),
        "appointments": numbered(demo.appointments),
        "events": numbered(
            {"id": f"evt_{i}", "type": kind, "created_at": at, "data": {"appointment": doc}}
            for i, (at, kind, doc) in enumerate(events, start=1)
        ),
        "audit": numbered(demo.audit),
        "reminders_sent": {},
    }
    with open(path, "w") as fh:
        json.dump(data, fh)


def lean_naive(built: Built) -> tuple[Path, dict[str, int]]:
    """The fair peer for a cancel: a plain TinyDB file holding only the appointments, each
    without its empty fields (no events, no audit, no people), and each uid's document id.
    Made once from the naive file and kept beside it."""
    path, ids_path = built.lean_file, built.lean_file.with_suffix(".ids.json")
    if not (path.exists() and ids_path.exists()):
        with open(built.naive_file) as fh:
            appointments = json.load(fh)["appointments"]
        lean = {key: {k: v for k, v in doc.items() if v is not None} for key, doc in appointments.items()}
        with open(path.with_suffix(".tmp"), "w") as fh:
            json.dump({"appointments": lean}, fh)
        ids_path.with_suffix(".tmp").write_text(json.dumps({doc["uid"]: int(key) for key, doc in lean.items()}))
        ids_path.with_suffix(".tmp").replace(ids_path)
        path.with_suffix(".tmp").replace(path)
    ids: dict[str, int] = json.loads(ids_path.read_text())
    return path, ids
