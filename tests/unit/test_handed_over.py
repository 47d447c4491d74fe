"""An email or SMS handed over without a complete answer is `unknown`, never sent again.

Handed over: an email once its whole content and the closing `.` of DATA went out, an SMS once
the gateway was sent the whole request. A failure before that, or an answer that refuses it
(an SMTP 4xx/5xx to DATA, an HTTP 5xx), is retried with the same key; after it, a dropped
connection or an answer that never comes leaves the outcome unknown. Real servers here: an
aiosmtpd server that stores a message and then hangs up or answers late, the HTTP receiver as
the SMS gateway holding its answer or hanging up after reading the request.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.models import MessageStatus
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import CliResult, fingerprint, free_port, make_appointment, wait_until
from tests.mailserver import serving
from tests.receiver import Receiver
from tests.unit.test_worker import only_rule

pytestmark = pytest.mark.backends

CliRunner = Callable[..., CliResult]

PATIENTS = ("pat-001", "pat-002", "pat-003")
DOCTORS = ("dr-weber", "dr-osei", "dr-sato")


class Server:
    """An SMTP server that stores every message it is sent. `hang_up_on` (the n-th DATA of each
    connection, from 1) stores the message and closes the connection without answering;
    `late` answers each DATA after that many seconds."""

    def __init__(self, *, hang_up_on: int = 0, late: float = 0.0) -> None:
        self.hang_up_on = hang_up_on
        self.late = late
        self.received: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self._per_connection: Counter[int] = Counter()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = message_from_bytes(envelope.original_content or b"", policy=email_policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        self.envelopes.append(list(envelope.rcpt_tos))
        self._per_connection[id(session)] += 1
        if self.hang_up_on and self._per_connection[id(session)] == self.hang_up_on:
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()
            return "250 OK"  # never reaches the client
        if self.late:
            await asyncio.sleep(self.late)
        return "250 OK"

    def message_ids(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.received)


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest) -> Iterator[tuple[Server, int]]:
    options: dict[str, float] = getattr(request, "param", {})
    server = Server(hang_up_on=int(options.get("hang_up_on", 0)), late=options.get("late", 0.0))
    with serving(server) as port:
        yield server, port


@pytest.fixture
def gateway() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.gate = None
    r.close()


def emailing_desk(clinic: Desk, settings: Settings, port: int, count: int) -> Desk:
    desk = Desk(clinic.store, clinic.clock, settings.with_overrides(
        smtp_url=f"smtp://127.0.0.1:{port}", mail_from="desk@riverside.example"))
    only_rule(desk, "gp-consult", "patient", 24 * 60, email=True)
    start = desk.clock.now() + timedelta(hours=8)
    for i in range(count):
        make_appointment(desk, start=start + timedelta(minutes=20 * i), patient_id=PATIENTS[i % 3],
                         doctor_id=DOCTORS[i % 3], minutes=15)
    return desk


def statuses(desk: Desk) -> Counter[MessageStatus]:
    return Counter(m.status for m in desk.webhooks.list_messages().items)


@pytest.mark.parametrize("smtp_server", [{"hang_up_on": 2}], indirect=True)
def test_an_email_whose_connection_drops_after_it_was_sent_is_unknown_and_never_sent_again(
        clinic: Desk, settings: Settings, smtp_server: tuple[Server, int], clock: FixedClock) -> None:
    server, port = smtp_server
    desk = emailing_desk(clinic, settings, port, 8)
    report = MaintenanceService(desk).tick()
    # Every email reached the server exactly once: the ones whose answer never came are unknown.
    assert len(server.received) == 8 and set(server.message_ids().values()) == {1}
    dropped = statuses(desk)[MessageStatus.unknown]
    assert dropped >= 1 and report.messages_unknown == dropped
    assert report.messages_sent + dropped == 8 and statuses(desk)[MessageStatus.sent] == report.messages_sent
    unknown = [m for m in desk.webhooks.list_messages().items if m.status is MessageStatus.unknown]
    assert all("closed the connection after it was sent the whole email" in m.last_error for m in unknown)
    for minutes in (1, 6, 40):  # retries, and leases that ran out
        clock.set(desk.clock.now() + timedelta(minutes=minutes))
        MaintenanceService(desk).tick()
    assert len(server.received) == 8 and set(server.message_ids().values()) == {1}


@pytest.mark.parametrize("smtp_server", [{"late": 2.0}], indirect=True)
def test_an_email_answered_after_the_deadline_is_unknown_and_never_sent_again(
        clinic: Desk, settings: Settings, smtp_server: tuple[Server, int], clock: FixedClock) -> None:
    server, port = smtp_server
    desk = emailing_desk(clinic, settings, port, 2)
    report = MaintenanceService(desk, attempt_seconds=0.5).tick()
    assert report.messages_unknown >= 1 and report.messages_sent == 0
    for minutes in (1, 6, 40):
        clock.set(desk.clock.now() + timedelta(minutes=minutes))
        MaintenanceService(desk, attempt_seconds=0.5).tick()
    assert len(server.received) == 2 and set(server.message_ids().values()) == {1}
    assert statuses(desk)[MessageStatus.pending] == 0


def hang_up(handler: BaseHTTPRequestHandler) -> None:
    """A gateway that read the whole request and closes the connection without an answer."""
    handler.close_connection = True


def texting_desk(clinic: Desk, settings: Settings, gateway: Receiver) -> Desk:
    desk = Desk(clinic.store, clinic.clock, settings.with_overrides(sms_url=gateway.url + "/sms"))
    only_rule(desk, "gp-consult", "patient", 60, sms=True)
    make_appointment(desk, start=desk.clock.now() + timedelta(minutes=30))
    return desk


def test_an_sms_the_gateway_took_without_answering_in_time_is_unknown_and_never_sent_again(
        clinic: Desk, settings: Settings, gateway: Receiver, clock: FixedClock, now: object) -> None:
    desk = texting_desk(clinic, settings, gateway)
    gateway.gate = threading.Event()  # the gateway reads the request, then holds its answer
    report = MaintenanceService(desk, attempt_seconds=0.5).tick()
    gateway.gate.set()
    assert report.messages_unknown == 1 and report.messages_sent == 0
    (message,) = desk.webhooks.list_messages().items
    assert message.status is MessageStatus.unknown and "was sent the SMS" in message.last_error
    for minutes in (1, 6, 20):
        clock.set(desk.clock.now() + timedelta(minutes=minutes))
        MaintenanceService(desk).tick()
    # The one request the gateway held is read by its own thread, which a busy machine may run
    # after the ticks: wait for it, then no other may have come.
    wait_until(lambda: len(gateway.received) >= 1, what="the held SMS read by the gateway")
    assert len(gateway.received) == 1


def test_an_sms_gateway_that_hangs_up_after_the_request_leaves_it_unknown(
        clinic: Desk, settings: Settings, gateway: Receiver, clock: FixedClock) -> None:
    desk = texting_desk(clinic, settings, gateway)
    gateway.answer = hang_up
    assert MaintenanceService(desk).tick().messages_unknown == 1
    gateway.answer = None
    clock.set(desk.clock.now() + timedelta(minutes=6))
    MaintenanceService(desk).tick()
    assert len(gateway.received) == 1
    (message,) = desk.webhooks.list_messages().items
    assert message.status is MessageStatus.unknown


def test_an_sms_gateway_that_answers_5xx_said_no_and_is_tried_again_with_the_same_key(
        clinic: Desk, settings: Settings, gateway: Receiver, clock: FixedClock) -> None:
    desk = texting_desk(clinic, settings, gateway)
    gateway.answers = [(503, {})]
    first = MaintenanceService(desk).tick()
    assert first.messages_unknown == 0 and first.messages_sent == 0
    clock.set(desk.clock.now() + timedelta(minutes=1))
    assert MaintenanceService(desk).tick().messages_sent == 1
    keys = {r.headers["idempotency-key"] for r in gateway.received}
    assert len(gateway.received) == 2 and len(keys) == 1


def test_a_gateway_that_cannot_be_reached_is_tried_again(clinic: Desk, settings: Settings, clock: FixedClock) -> None:
    closed = free_port("127.0.0.1")
    desk = Desk(clinic.store, clinic.clock, settings.with_overrides(sms_url=f"http://127.0.0.1:{closed}/sms"))
    only_rule(desk, "gp-consult", "patient", 60, sms=True)
    make_appointment(desk, start=desk.clock.now() + timedelta(minutes=30))
    report = MaintenanceService(desk).tick()
    assert report.messages_unknown == 0
    (message,) = desk.webhooks.list_messages().items
    assert message.status is MessageStatus.pending and message.attempts == 1


def test_an_email_carries_a_date_and_goes_to_its_one_address(
        clinic: Desk, settings: Settings, smtp_server: tuple[Server, int]) -> None:
    server, port = smtp_server
    desk = emailing_desk(clinic, settings, port, 1)
    assert MaintenanceService(desk).tick().messages_sent == 1
    (email,) = server.received
    assert email["Date"] is not None and email["Date"].datetime == desk.clock.now()
    assert server.envelopes == [["lena.fischer@mail.example"]]


@pytest.mark.parametrize("stored", ["sofia.rossi,attacker@evil.example", "sofia.rossi@mail.example\x1b[2J",
                                    "Sofia <sofia.rossi@mail.example>, attacker@evil.example"])
def test_a_stored_address_that_names_another_recipient_is_skipped_never_sent(
        clinic: Desk, settings: Settings, smtp_server: tuple[Server, int], stored: str) -> None:
    server, port = smtp_server
    with clinic.store.write() as view:  # as an older version took it
        patient = view.patients.require("pat-003")
        view.patients.put(patient.model_copy(update={"email": stored}))
    desk = emailing_desk(clinic, settings, port, 3)
    report = MaintenanceService(desk).tick()
    assert report.messages_sent == 2
    assert all(rcpt in (["lena.fischer@mail.example"], ["omar.haddad@mail.example"]) for rcpt in server.envelopes)
    assert not any("evil" in str(m["To"]) or "\x1b" in str(m["To"]) for m in server.received)
    uid = next(a.uid for a in desk.appointments.list_appointments().items if a.patient_id == "pat-003")
    (row,) = desk.appointments.show(uid).reminders_sent
    assert row.email_status == "skipped: not a valid email address"
    attention = desk.attention.items()
    assert any("Sofia Rossi has no email address reminders can go to" in item.title for item in attention)


@pytest.mark.parametrize("address", ["sofia.rossi,attacker@evil.example", "sofia.rossi@mail.example, a@evil.example",
                                     "Sofia <sofia.rossi@mail.example>", '"a,b"@mail.example', "sofia rossi@mail.example"])
def test_an_address_that_is_not_exactly_one_mailbox_is_refused_on_input(
        clinic: Desk, data_dir: Path, tmp_path: Path, address: str) -> None:
    before = fingerprint(data_dir)
    toml = tmp_path / "patient.toml"
    toml.write_text(f'[[patients]]\nid = "pat-009"\nname = "Eve"\nemail = \'{address}\'\n')  # a literal string
    with pytest.raises(ValidationFailed, match="patients\\[0\\].email: .* is not an email address"):
        clinic.provisioning.provision_file(toml, "setup")
    assert fingerprint(data_dir) == before


def test_a_message_a_worker_is_sending_shows_as_sending(
        clinic: Desk, settings: Settings, gateway: Receiver, cli: CliRunner) -> None:
    desk = texting_desk(clinic, settings, gateway)
    gateway.gate = threading.Event()
    ticking = threading.Thread(target=MaintenanceService(desk).tick)
    ticking.start()
    try:
        wait_until(lambda: any(m.lease_id for m in desk.webhooks.list_messages().items), what="a claimed SMS")
        listed = cli("outbox", "list")
        assert "sending" in listed.out and "queued" not in listed.out
    finally:
        gateway.gate.set()
        ticking.join(30)
    assert "sent" in cli("outbox", "list").out

