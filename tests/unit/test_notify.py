"""Email over a real SMTP server (aiosmtpd): STARTTLS when offered, a password never sent in
the clear over the network, and errors that never carry credentials."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.services.notify import Notifier, SendFailed
from tests.helpers import free_port

pytestmark = pytest.mark.backends

PASSWORD = "s3cret-pa55"


class Mailbox:
    """Records each message with whether its session was encrypted and who logged in."""

    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append({"to": envelope.rcpt_tos, "tls": session.ssl is not None,
                              "login": session.login_data, "content": envelope.content})
        return "250 OK"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     auth_data: object) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append(auth_data.login.decode())
        ok = auth_data.login == b"desk" and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # unhandled: the server answers 535 itself


def self_signed(tmp: Path, host: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp / "smtp.crt", tmp / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def notifier(tmp: Path, url: str) -> Notifier:
    return Notifier(Settings(data_dir=tmp / "data", agent="tester", smtp_url=url, mail_from="desk@riverside.example"))


def start(mailbox: Mailbox, host: str, port: int | None = None, **options: Any) -> tuple[Controller, int]:
    port = port or free_port(host)
    server = Controller(mailbox, hostname=host, port=port, authenticator=mailbox.authenticate, **options)
    server.start()
    return server, port


def test_starttls_is_used_when_offered_before_logging_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = self_signed(tmp_path, "127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client verifies the server against it
    mailbox = Mailbox()
    server, port = start(mailbox, "127.0.0.1", tls_context=context, require_starttls=True, auth_required=True)
    try:
        notifier(tmp_path, f"smtp://desk:{PASSWORD}@127.0.0.1:{port}").send_email(
            "lena.fischer@mail.example", "Reminder", "See you tomorrow.")
    finally:
        server.stop()
    (message,) = mailbox.messages
    assert message["tls"] is True and message["to"] == ["lena.fischer@mail.example"]
    assert mailbox.logins == ["desk"]


def test_a_server_whose_certificate_does_not_verify_gets_no_password(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    server, port = start(mailbox, "127.0.0.1", tls_context=context, require_starttls=True)
    try:
        with pytest.raises(SendFailed) as failed:
            notifier(tmp_path, f"smtp://desk:{PASSWORD}@127.0.0.1:{port}").send_email("a@b.example", "s", "b")
    finally:
        server.stop()
    assert PASSWORD not in str(failed.value) and "\n" not in str(failed.value)
    assert mailbox.logins == [] and mailbox.messages == []


def outward_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route
            host = probe.getsockname()[0]
    except OSError:
        return None
    return None if ipaddress.ip_address(host).is_loopback else host


def test_a_password_is_never_sent_unencrypted_across_the_network(tmp_path: Path) -> None:
    host = outward_address()
    if host is None:
        pytest.skip("this machine has no address besides loopback")
    mailbox = Mailbox()
    server, port = start(mailbox, host, auth_require_tls=False)  # a server that would take it in the clear
    try:
        with pytest.raises(SendFailed) as failed:
            notifier(tmp_path, f"smtp://desk:{PASSWORD}@{host}:{port}").send_email("a@b.example", "s", "b")
        # Without credentials there is nothing to protect: plain SMTP is fine.
        notifier(tmp_path, f"smtp://{host}:{port}").send_email("a@b.example", "s", "b")
    finally:
        server.stop()
    assert "STARTTLS" in str(failed.value) and PASSWORD not in str(failed.value)
    assert mailbox.logins == [] and len(mailbox.messages) == 1


def test_a_relay_on_this_machine_may_take_the_password_in_plain_smtp(tmp_path: Path) -> None:
    mailbox = Mailbox()
    server, port = start(mailbox, "127.0.0.1", auth_require_tls=False)
    try:
        notifier(tmp_path, f"smtp://desk:{PASSWORD}@127.0.0.1:{port}").send_email("a@b.example", "s", "b")
    finally:
        server.stop()
    assert mailbox.logins == ["desk"] and len(mailbox.messages) == 1


def test_failures_are_one_line_without_credentials(tmp_path: Path) -> None:
    mailbox = Mailbox()
    server, port = start(mailbox, "127.0.0.1", auth_require_tls=False)
    try:
        with pytest.raises(SendFailed) as refused:
            notifier(tmp_path, f"smtp://desk:wrong-{PASSWORD}@127.0.0.1:{port}").send_email("a@b.example", "s", "b")
    finally:
        server.stop()
    closed = free_port("127.0.0.1")
    with pytest.raises(SendFailed) as unreachable:
        notifier(tmp_path, f"smtp://desk:{PASSWORD}@127.0.0.1:{closed}").send_email("a@b.example", "s", "b")
    bad_url = notifier(tmp_path, f"smtp://desk:{PASSWORD}@mail.example:notaport")
    with pytest.raises(SendFailed) as misconfigured:
        bad_url.send_email("a@b.example", "s", "b")
    for failure in (refused, unreachable, misconfigured):
        text = str(failure.value)
        assert PASSWORD not in text and "\n" not in text and text
    assert "refused the login" in str(refused.value)


class Relay(Mailbox):
    """Records which connection carried each message, and refuses one address."""

    def __init__(self, refuse: str = "") -> None:
        super().__init__()
        self.refuse = refuse

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address == self.refuse:
            return "550 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append({"to": envelope.rcpt_tos, "peer": session.peer, "content": envelope.content})
        return "250 OK"


def reminder_emails(clinic: Desk, settings: Settings, url: str, now: datetime, count: int) -> Desk:
    from rxdesk.services import Desk
    from tests.helpers import make_appointment
    from tests.unit.test_worker import only_rule

    desk = Desk(clinic.store, clinic.clock, settings.with_overrides(smtp_url=url))
    only_rule(desk, "gp-consult", "patient", 120, email=True)
    for i in range(count):
        make_appointment(desk, start=now + dt.timedelta(minutes=30 + i * 5), patient_id=f"pat-00{1 + i % 3}",
                         minutes=5)
    return desk


def test_a_tick_sends_its_emails_over_a_few_shared_connections(clinic: Desk, settings: Settings, now: datetime) -> None:
    from rxdesk.domain.models import MessageStatus
    from rxdesk.services.maintenance import MaintenanceService
    from rxdesk.services.messages import MAIL_CONNECTIONS

    relay = Relay(refuse="sofia.rossi@mail.example")
    server, port = start(relay, "127.0.0.1")
    try:
        desk = reminder_emails(clinic, settings, f"smtp://127.0.0.1:{port}", now, 15)
        report = MaintenanceService(desk).tick()
    finally:
        server.stop()
    # The refused address fails alone; the connection it was on carries on with the rest.
    assert report.reminders == 15 and report.messages_sent == 10
    assert len(relay.messages) == 10 and len({m["peer"] for m in relay.messages}) <= MAIL_CONNECTIONS
    refused = [m for m in desk.webhooks.list_messages().items if m.status is MessageStatus.pending]
    assert len(refused) == 5 and all(m.to == relay.refuse and "refused the recipient" in m.last_error for m in refused)


def test_an_unreachable_server_fails_the_tick_s_emails_at_once_and_they_retry(clinic: Desk, settings: Settings, now: datetime, clock: FixedClock) -> None:
    from rxdesk.domain.models import MessageStatus
    from rxdesk.services.maintenance import MaintenanceService

    port = free_port("127.0.0.1")
    desk = reminder_emails(clinic, settings, f"smtp://127.0.0.1:{port}", now, 9)
    report = MaintenanceService(desk).tick()
    assert report.reminders == 9 and report.messages_sent == 0
    messages = desk.webhooks.list_messages().items
    assert all(m.status is MessageStatus.pending and m.attempts == 1 and "cannot reach" in m.last_error for m in messages)

    relay = Relay()  # the server is back
    server, _ = start(relay, "127.0.0.1", port=port)
    try:
        clock.set(now + dt.timedelta(minutes=1))
        assert MaintenanceService(desk).tick().messages_sent == 9
    finally:
        server.stop()
