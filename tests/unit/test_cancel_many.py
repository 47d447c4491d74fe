"""Several appointments cancelled at once: one write, all or none, one event each."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.domain.errors import NotFound, Refused, ValidationFailed
from rxdesk.domain.models import Appointment
from rxdesk.services import Desk
from tests.helpers import Cli, commits, fingerprint, make_appointment, view_of

pytestmark = pytest.mark.backends


@pytest.fixture
def three(clinic: Desk, now: datetime) -> list[Appointment]:
    day = now + timedelta(days=1)
    return [make_appointment(clinic, start=day.replace(hour=h), patient_id=p)
            for h, p in ((8, "pat-001"), (9, "pat-002"), (13, "pat-003"))]


def test_several_are_cancelled_in_one_write_with_an_event_and_an_audit_entry_each(clinic: Desk, three: list[Appointment]) -> None:
    before = commits(clinic.store)
    done = clinic.appointments.cancel_appointments([a.uid for a in three], "  clinic closed  ", "alice")
    assert commits(clinic.store) == before + 1
    assert [a.uid for a in done] == [a.uid for a in three]
    for appt in three:
        stored = clinic.appointments.get(appt.uid)
        assert stored.status.value == "cancelled" and stored.cancel_reason == "clinic closed"
        assert stored.cancelled_by == "admin:alice"
        assert [e.action for e in clinic.appointments.show(appt.uid).audit] == ["appointment.cancel"]
    events = [e for _, e in view_of(clinic).events.after(0)]
    assert [e.type.value for e in events] == ["APPOINTMENT_CANCELLED"] * 3
    assert [e.data["appointment"]["uid"] for e in events] == [a.uid for a in three]
    assert {e.data["reason"] for e in events} == {"clinic closed"}


def test_one_that_cannot_be_cancelled_is_named_and_nothing_changes(clinic: Desk, three: list[Appointment], now: datetime, data_dir: Path) -> None:
    ended = make_appointment(clinic, start=now - timedelta(days=2), status="completed")
    gone = make_appointment(clinic, start=now + timedelta(days=2), status="cancelled")
    before = fingerprint(data_dir)
    for odd, error in ((ended.uid, Refused), (gone.uid, Refused), ("1bv0000000000000", NotFound)):
        uids = [three[0].uid, odd, three[1].uid]
        with pytest.raises(error) as caught:
            clinic.appointments.cancel_appointments(uids, "clinic closed", "alice")
        assert odd in str(caught.value) and "\n" not in str(caught.value)
        assert fingerprint(data_dir) == before
    assert all(clinic.appointments.get(a.uid).status.value == "confirmed" for a in three)


def test_a_uid_named_twice_is_cancelled_once(clinic: Desk, three: list[Appointment]) -> None:
    uid = three[0].uid
    done = clinic.appointments.cancel_appointments([uid, f" {uid.upper()} "], "duplicate", "alice")
    assert [a.uid for a in done] == [uid]
    assert len([e for _, e in view_of(clinic).events.after(0)]) == 1


def test_bad_input_changes_nothing(clinic: Desk, three: list[Appointment], data_dir: Path) -> None:
    before = fingerprint(data_dir)
    for uids, reason in (([], "x"), ([three[0].uid], "  "), ([three[0].uid], "two\nlines")):
        with pytest.raises(ValidationFailed):
            clinic.appointments.cancel_appointments(uids, reason, "alice")
    assert fingerprint(data_dir) == before


def test_the_cli_cancels_several_and_refuses_as_one_line(clinic: Desk, three: list[Appointment], cli: Cli, data_dir: Path) -> None:
    done = cli("appointments", "cancel", three[0].uid, three[1].uid, "--reason", "doctor ill", "--json")
    assert done.code == 0, done.err
    assert [a["uid"] for a in done.json()] == [three[0].uid, three[1].uid]
    assert {a["status"] for a in done.json()} == {"cancelled"}
    before = fingerprint(data_dir)
    refused = cli("appointments", "cancel", three[2].uid, three[0].uid, "--reason", "again")
    assert refused.code == 1 and refused.out == ""
    assert len(refused.err.strip().splitlines()) == 1 and three[0].uid in refused.err
    assert fingerprint(data_dir) == before
    single = cli("appointments", "cancel", three[2].uid, "--reason", "last one", "--json")
    assert single.code == 0 and single.json()["uid"] == three[2].uid  # one uid: the object, as before
    usage = cli("appointments", "cancel", "--reason", "nothing named")
    assert usage.code == 2
