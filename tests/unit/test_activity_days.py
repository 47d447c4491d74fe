"""The data dir keeps a copy of each day's audit entries: the desk's activity since a day (an
agent's actions today, the app's section 8 by default) reads those days, never the history of
appointments in every week."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.queries import AuditQuery
from rxdesk.services import Desk
from rxdesk.services.activity import ActivityFilter
from rxdesk.store import TinyStore
from rxdesk.store.engine import writable
from rxdesk.store.log_repositories import ACTIVITY_AFTER, ACTIVITY_FROM
from tests.helpers import make_appointment


def entries(store: TinyStore, query: AuditQuery) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.target) for e in store.read().audit.search(query).items]


def history(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    """Appointments over many weeks cancelled on several days, the last ones today."""
    for week in range(6):
        appt = make_appointment(clinic, start=now + timedelta(weeks=week, days=1))
        clock.set(now - timedelta(days=5 - week))
        clinic.appointments.cancel_appointment(appt.uid, f"reason {week}", "anna" if week % 2 else "bob")
    clock.set(now)


def test_an_agents_actions_today_read_no_week_of_appointments(clinic: Desk, clock: FixedClock, now: datetime,
        data_dir: Path) -> None:
    history(clinic, clock, now)
    fresh = TinyStore(data_dir)  # nothing cached: what it reads is what the query needs
    found = entries(fresh, AuditQuery(actor="admin:anna", since=now.replace(hour=0)))
    assert [(actor, action) for actor, action, _ in found] == [("admin:anna", "appointment.cancel")]
    read = [seg.name for seg, _size in fresh.engine._cache.values()]
    assert read and not [name for name in read if name.startswith("appt-")], read


def test_the_days_answer_as_every_week_does(clinic: Desk, clock: FixedClock, now: datetime,
        data_dir: Path) -> None:
    history(clinic, clock, now)
    store = TinyStore(data_dir)
    for days_back in range(8):
        since = now.replace(hour=0) - timedelta(days=days_back)
        for actor in (None, "admin:anna", "admin:bob"):
            by_days = entries(store, AuditQuery(actor=actor, since=since))
            everything = store.read().audit.search(AuditQuery(actor=actor)).items
            assert by_days == [(e.actor, e.action, e.target) for e in everything if e.at >= since]
    assert clinic.activity.list_activity(ActivityFilter(agent="bob", since="-5d")).items


def test_entries_made_before_the_days_were_kept_are_still_found(clinic: Desk, clock: FixedClock, now: datetime,
        data_dir: Path) -> None:
    """A data dir from before the day copies: its older entries are read where they live until
    a day after the first copy; from then on the days alone answer."""
    history(clinic, clock, now)
    store = TinyStore(data_dir)
    with store.write() as view:  # as an older version left it: no day copies
        tx = writable(view.snap)
        for name in tx.names("activity-"):
            tx.drop(name)
        tx.set_counter(ACTIVITY_FROM, 0)
    appt = make_appointment(clinic, start=now + timedelta(days=3))
    clinic.appointments.cancel_appointment(appt.uid, "first copied", "anna")
    assert store.read().snap.counter(ACTIVITY_AFTER) == int(f"{now:%Y%m%d}")
    today = entries(TinyStore(data_dir), AuditQuery(actor="admin:anna", since=now.replace(hour=0)))
    assert [details for _, details, _ in today] == ["appointment.cancel", "appointment.cancel"]
    clock.set(now + timedelta(days=1))
    later = make_appointment(clinic, start=now + timedelta(days=4))
    clinic.appointments.cancel_appointment(later.uid, "next day", "anna")
    fresh = TinyStore(data_dir)
    tomorrow = entries(fresh, AuditQuery(actor="admin:anna", since=(now + timedelta(days=1)).replace(hour=0)))
    assert tomorrow == [("admin:anna", "appointment.cancel", f"appointment:{later.uid}")]
    assert not [seg.name for seg, _ in fresh.engine._cache.values() if seg.name.startswith("appt-")]
