"""The holds index of a data dir from before it existed is seeded from the service clock
(RXDESK_NOW applies), not the wall clock: otherwise holds of a clinic running on a fixed
clock far from today were never found, and never expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.store.tinystore import HOLDS
from rxdesk.worker.tick import Maintenance
from tests.helpers import CLINIC_TOML, make_appointment

LONG_AGO = datetime(2020, 1, 6, 8, 0, tzinfo=UTC)  # years before the wall clock


def test_the_holds_index_is_seeded_from_the_service_clock(data_dir) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=data_dir, agent="tester", now=LONG_AGO)
    desk = Desk.open(settings)
    desk.provisioning.provision_file(CLINIC_TOML, "setup")
    held = make_appointment(desk, start=LONG_AGO + timedelta(days=2), status="held", hold_minutes=10,
                            created_at=LONG_AGO - timedelta(minutes=5))
    with desk.store.write() as w:  # as a data dir written before the index existed
        w.snap.drop(HOLDS)  # type: ignore[attr-defined]
    make_appointment(desk, start=LONG_AGO + timedelta(days=3))  # the first write since: seeds the index
    report = Maintenance(Desk.open(settings)).tick(LONG_AGO + timedelta(minutes=10))
    assert report.expired == 1
    assert desk.store.read().appointments.require(held.uid).status.value == "expired"
    assert isinstance(desk.clock, FixedClock)
