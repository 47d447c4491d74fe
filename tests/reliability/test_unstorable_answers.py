"""Text from outside that a store cannot hold as it came: a receiver's answer with a NUL byte,
invalid UTF-8 or a lone surrogate, a token whose `kid` or `sub` holds `\\u0000`. One bad answer
fails (or succeeds) its own delivery only, on both stores; nothing else is sent twice."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.models import DeliveryStatus
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from rxdesk.services.tokens import TokenRefused
from rxdesk.services.webhooks import AttemptResult
from tests.helpers import Cli, make_appointment
from tests.receiver import Receiver
from tests.unit.test_tokens_minting import claims_at, mint

pytestmark = pytest.mark.backends

HOSTILE_BODY = b"oops\x00nul \xff\xfe \xed\xa0\x80 \x1b[31m"


@pytest.mark.parametrize("status", [500, 200])
def test_a_nul_in_one_answer_records_its_delivery_and_resends_nothing_else(
        clinic: Desk, clock: FixedClock, now: datetime, cli: Cli, status: int, receiver: Receiver) -> None:
    hostile = receiver
    hostile.default, hostile.body = (status, {}), HOSTILE_BODY
    with Receiver() as good:
        for url in (hostile.url, good.url + "/hook"):
            clinic.webhooks.add_subscription(url, ["APPOINTMENT_CANCELLED"], {}, "tester", allow_private_network=True)
        for day in (1, 2):
            appt = make_appointment(clinic, start=now + timedelta(days=day))
            clinic.appointments.cancel_appointment(appt.uid, "moved away", "tester")
        report = MaintenanceService(clinic).tick()
        assert (report.delivered, report.retrying) == ((4, 0) if status == 200 else (2, 2))
        # Once the leases have run out, nothing recorded above goes out again.
        clock.advance(minutes=6)
        again = MaintenanceService(clinic).tick()
    assert len(good.received) == 2, "a good receiver was sent the same events again"
    assert len(hostile.received) == (2 if status == 200 else 4)  # a failed one is retried, once per event
    if status == 500:
        assert again.retrying == 2 and again.delivered == 0
    hostile_deliveries = [d for d in clinic.webhooks.list_deliveries().items if d.url == hostile.url]
    for delivery in hostile_deliveries:
        assert delivery.last_status_code == status
        assert delivery.status is (DeliveryStatus.delivered if status == 200 else DeliveryStatus.pending)
        excerpt = delivery.response_excerpt
        assert excerpt.startswith("oops\ufffdnul \ufffd")
        assert "\x00" not in excerpt and not any(0xD800 <= ord(c) <= 0xDFFF for c in excerpt)
        assert "\x1b[31m" in excerpt  # kept as it came; shown escaped
    shown = cli("deliveries", "show", hostile_deliveries[0].id)
    assert shown.code == 0, shown.err
    assert "oops\ufffdnul" in shown.out and "\\x1b[31m" in shown.out and "\x1b" not in shown.out


def test_every_outside_text_of_an_attempt_is_storable() -> None:
    result = AttemptResult(False, 500, "answered 500 \x00 \udc80", None, "a\x00b\ud800c")
    # Compared as ascii(): a failure report holding a lone surrogate could not be sent between test workers.
    assert ascii(result.excerpt) == ascii("a\ufffdb\ufffdc")
    assert ascii(result.error) == ascii("answered 500 \ufffd \ufffd")




@pytest.mark.parametrize("where", ["kid", "sub"])
def test_a_token_whose_kid_or_sub_holds_a_nul_is_refused_like_an_unknown_one(
        clinic: Desk, now: datetime, where: str) -> None:
    made = clinic.secrets.create_secret("partner", "ops")
    kid = made.secret.key_id + "\u0000" if where == "kid" else made.secret.key_id
    sub = "shop-10001\u0000" if where == "sub" else "shop-10001"
    with pytest.raises(TokenRefused) as info:
        clinic.tokens.verify(mint(made.value, claims_at(now, sub), kid=kid))
    reason = "unknown_kid" if where == "kid" else "unknown_patient"
    assert info.value.reason == reason
    assert "\\x00" in str(info.value)


@pytest.mark.database_only
def test_a_result_the_database_refuses_holds_back_only_its_own_delivery(
        clinic: Desk, clock: FixedClock, now: datetime, database_url: str | None, receiver: Receiver) -> None:
    import psycopg

    assert database_url is not None
    refusing = receiver
    refusing.default, refusing.body = (500, {}), b"poison"
    good = Receiver()
    # A rule of the server's own that one answer breaks, as an unforeseen value would.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE deliveries ADD CONSTRAINT no_poison CHECK (response_excerpt NOT LIKE '%poison%')")
    try:
        for url in (refusing.url, good.url + "/hook"):
            clinic.webhooks.add_subscription(url, ["APPOINTMENT_CANCELLED"], {}, "tester", allow_private_network=True)
        appt = make_appointment(clinic, start=now + timedelta(days=1))
        clinic.appointments.cancel_appointment(appt.uid, "moved away", "tester")
        report = MaintenanceService(clinic).tick()
        clock.advance(minutes=6)
        MaintenanceService(clinic).tick()
    finally:
        refusing.close()
        good.close()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("ALTER TABLE deliveries DROP CONSTRAINT no_poison")
    assert report.delivered == 1 and report.retrying == 1
    assert len(good.received) == 1, "the good receiver was sent the event again"
    refused = next(d for d in clinic.webhooks.list_deliveries().items if d.url == refusing.url)
    assert refused.status is DeliveryStatus.pending and refused.attempts == 2
    assert refused.response_excerpt == "" and "could not be stored" in refused.last_error
