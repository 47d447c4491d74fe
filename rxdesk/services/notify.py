"""Email over SMTP and SMS over an HTTP gateway, for reminders that ask for them.

Unconfigured, messages stay in the local outbox (the `messages` log) for the app to show.
Errors come back as one line that never carries a password or token. Every send has one
deadline for the whole attempt (`rxdesk.services.deadline`): connect, greeting, login and the
message over SMTP; connect, request and answer at the SMS gateway. Credentials travel only
encrypted, except to this machine: the SMTP password over TLS, the SMS token over https.

Handed over: an email once its whole content and the closing `.` of DATA went out on the
connection, an SMS once the gateway was sent the whole request. A failure before that point
(`SendFailed`) may be tried again; so may a refusal the other side answered (an SMTP 4xx/5xx
to DATA, an HTTP status that is not 2xx): it said it did not take the message. After it, no
complete answer (a timeout, a dropped connection) leaves the outcome unknown (`SendUnknown`):
the message may have gone out, so it is never sent again by itself.
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import httpx

from rxdesk.config import Settings
from rxdesk.domain.clock import Clock, SystemClock
from rxdesk.domain.errors import ConfigError, ValidationFailed
from rxdesk.domain.rules import email_refusal
from rxdesk.domain.terminal import has_control
from rxdesk.domain.urls import check_http_url
from rxdesk.services import deadline, egress
from rxdesk.services.smtplib_gaps import AbortableSMTP, AbortableSMTPSSL

TIMEOUT_SECONDS = deadline.ATTEMPT_SECONDS


class SendFailed(Exception):
    """One attempt failed before the message was handed over, or the other side answered that
    it did not take it: it may be tried again. `str()` is a one-line reason without credentials."""


class SendUnknown(Exception):
    """The message was handed over and no complete answer came (a timeout, a dropped
    connection): it may have gone out, so it must not be sent again. `str()` says why, in one
    line without credentials."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    implicit_tls: bool  # smtps://

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:  # an unclosed '[' of an IPv6 address, ...
            raise ConfigError("RXDESK_SMTP_URL is not a URL; it must look like smtp://user:pass@host:587") from None
        if parts.scheme not in ("smtp", "smtps") or not host or has_control(url):
            raise ConfigError("RXDESK_SMTP_URL must look like smtp://user:pass@host:587 (or smtps://)")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 587)
        except ValueError:
            raise ConfigError("RXDESK_SMTP_URL has a port that is not a number") from None
        return cls(host, port, unquote(parts.username or ""), unquote(parts.password or ""),
                   parts.scheme == "smtps")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Notifier:
    """Sends one message per call. Build one per tick; it holds no connection between ticks."""

    def __init__(self, settings: Settings | None, *, attempt_seconds: float = TIMEOUT_SECONDS,
                 clock: Clock | None = None) -> None:
        self.attempt_seconds = attempt_seconds
        self.clock = clock or (settings.clock() if settings else SystemClock())  # an email's Date
        self.smtp: SmtpTarget | None = None
        self.smtp_problem = ""  # a bad RXDESK_SMTP_URL fails each email, not the whole tick
        if settings and settings.smtp_url:
            try:
                self.smtp = SmtpTarget.parse(settings.smtp_url)
            except ConfigError as exc:
                self.smtp_problem = str(exc)
        self.mail_from = settings.mail_from if settings else "rxdesk@localhost"
        self.sms_url = settings.sms_url if settings else None
        self.sms_token = settings.sms_token if settings else None

    @property
    def email_configured(self) -> bool:
        return self.smtp is not None or bool(self.smtp_problem)

    @property
    def sms_configured(self) -> bool:
        return bool(self.sms_url)

    def send_email(self, to: str, subject: str, body: str, *, html: str = "", message_id: str = "") -> None:
        """One email over its own connection (a tick uses `mail_session` to share one)."""
        with self.mail_session() as session:
            session.send(to, subject, body, html=html, message_id=message_id)

    def mail_session(self) -> MailSession:
        return MailSession(self)

    def send_sms(self, to: str, body: str, client: httpx.Client | None = None, *, idempotency_key: str = "") -> None:
        """POST `{"to", "body"}` to the gateway; `idempotency_key` (the same on every retry of
        one message) goes in the `Idempotency-Key` header."""
        if not self.sms_url:
            raise SendFailed("no SMS gateway configured")
        try:
            url = httpx.URL(check_http_url(self.sms_url))
        except ValidationFailed as exc:  # one URL rule for every URL rxdesk takes
            raise SendFailed(f"RXDESK_SMS_URL: {exc}") from None
        except (httpx.InvalidURL, ValueError):
            raise SendFailed("RXDESK_SMS_URL is not a URL") from None
        host = url.host or "the SMS gateway"
        if url.scheme not in ("http", "https"):
            raise SendFailed("RXDESK_SMS_URL must be an http:// or https:// URL")
        if self.sms_token and url.scheme != "https" and not _is_loopback(host):
            # A relay on this machine may speak plain HTTP; the network never sees the token.
            raise SendFailed(f"the SMS gateway {host} is not https; the token is not sent unencrypted")
        headers = {"Authorization": f"Bearer {self.sms_token}"} if self.sms_token else {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        sent = _RequestSent()
        try:
            with deadline.attempt(self.attempt_seconds):
                if client is None:
                    with self.sms_client() as own:
                        status = _post_status(own, url, {"to": to, "body": body}, headers, sent)
                else:
                    status = _post_status(client, url, {"to": to, "body": body}, headers, sent)
        except httpx.TimeoutException:
            if sent.whole:
                raise SendUnknown(f"{host} was sent the SMS and gave no complete answer within "
                                  f"{self.attempt_seconds:g} s; not sent again") from None
            raise SendFailed(f"{host} gave no complete answer within {self.attempt_seconds:g} s") from None
        except httpx.HTTPError as exc:
            if sent.whole:
                raise SendUnknown(f"{host} was sent the SMS and the connection broke before its answer "
                                  f"({type(exc).__name__}); not sent again") from None
            raise SendFailed(f"cannot reach {host} ({type(exc).__name__})") from None
        if not 200 <= status < 300:  # an answer: the gateway did not take it (same key on the retry)
            raise SendFailed(f"{host} answered {status}")

    @staticmethod
    def sms_client() -> httpx.Client:
        # The gateway is the operator's own setting: any address, but the attempt's deadline.
        return egress.outbound_client(allow_private=None, limits=httpx.Limits(max_connections=16))


class _RequestSent:
    """httpcore's `trace` extension (a documented httpx request extension): `whole` once the
    last byte of the request went out on the connection."""

    def __init__(self) -> None:
        self.whole = False

    def __call__(self, name: str, info: dict[str, Any]) -> None:
        if name.endswith(".send_request_body.complete"):
            self.whole = True


def _post_status(client: httpx.Client, url: httpx.URL, payload: dict[str, str], headers: dict[str, str],
                 sent: _RequestSent) -> int:
    """POST and return the status; the gateway's answer body is never read (no size to trust)."""
    with client.stream("POST", url, json=payload, headers=headers, extensions={"trace": sent}) as response:
        return response.status_code


class MailSession:
    """One SMTP connection for many emails: opened at the first, reopened after the server
    drops it. Once the server cannot be reached or refuses the login, the remaining emails of
    this session fail at once with that reason instead of each waiting for a timeout."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.client: AbortableSMTP | None = None
        self.broken = ""
        self.timed_out = False
        self._handed_over = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.client is not None:
            try:
                if self.timed_out:  # no goodbye to a server that ran out the deadline
                    raise OSError
                self.client.quit()
            except (smtplib.SMTPException, OSError):
                self.client.close()
            self.client = None

    def _connect(self, target: SmtpTarget) -> AbortableSMTP:
        context = ssl.create_default_context()
        seconds = self.notifier.attempt_seconds
        client: AbortableSMTP = (AbortableSMTPSSL(timeout=seconds, context=context) if target.implicit_tls
                                 else AbortableSMTP(timeout=seconds))
        self.client = client  # from here on the deadline can shut its socket
        try:
            client.connect(target.host, target.port)
            client.ehlo()
            encrypted = target.implicit_tls
            if not encrypted and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
                encrypted = True
            if target.user and not encrypted and not _is_loopback(target.host):
                # A relay on this machine may speak plain SMTP; the network never sees the password.
                raise SendFailed(f"SMTP server {target.host} does not offer STARTTLS; "
                                 "the password is not sent unencrypted")
            if target.user:
                client.login(target.user, target.password)
        except BaseException:
            self.client = None
            client.close()
            raise
        return client

    def send(self, to: str, subject: str, body: str, *, html: str = "", message_id: str = "") -> None:
        """One email to the one address `to` (the envelope names it alone, whatever the
        headers say): plain text, with `html` as its alternative when given; `message_id` is
        the same on every retry of one message, so the recipient's mail system can tell. An
        address that fails the input rule is refused before anything is sent."""
        notifier, target = self.notifier, self.notifier.smtp
        if target is None:
            raise SendFailed(notifier.smtp_problem or "no SMTP server configured")
        if self.broken:
            raise SendFailed(self.broken)
        refused = email_refusal(to)
        if refused:
            raise SendFailed(f"not sent: the recipient's address {refused}")
        message = EmailMessage()
        message["From"] = notifier.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(notifier.clock.now())
        if message_id:
            message["Message-ID"] = message_id
        message.set_content(body)
        if html:
            message.add_alternative(html, subtype="html")
        self.timed_out = False
        with deadline.watch(self.notifier.attempt_seconds, self._abort):
            try:
                self._send(target, message, to)
                return  # accepted, even if the deadline came right after
            except (SendFailed, SendUnknown):
                if not self.timed_out:
                    raise
            # The deadline shut the socket: that is the reason, whatever broke.
            self.close()
            took = self.handed_over
            self.broken = (f"SMTP server {target.host}:{target.port} did not finish within "
                           f"{self.notifier.attempt_seconds:g} s")
            if took:
                raise SendUnknown(f"{self.broken} after it was sent the whole email; not sent again")
            raise SendFailed(self.broken)

    @property
    def handed_over(self) -> bool:
        """The email of the running attempt went out whole on the connection."""
        return self._handed_over

    def _abort(self) -> None:
        self.timed_out = True
        if isinstance(self.client, AbortableSMTP):
            self.client.abort()

    def _send(self, target: SmtpTarget, message: EmailMessage, to: str) -> None:
        self._handed_over = False
        for fresh in (False, True):
            client: AbortableSMTP | None = None
            try:
                if self.client is None:
                    fresh = True
                    self.client = self._connect(target)
                client = self.client
                client.handed_over = False  # of this email, not the one before on this connection
                client.send_message(message, to_addrs=[to])
                return
            except smtplib.SMTPServerDisconnected:
                self._note_handover(client)
                self.close()
                if self._handed_over:
                    raise SendUnknown(f"SMTP server {target.host} closed the connection after it was sent the "
                                      "whole email, before answering; not sent again") from None
                if fresh:
                    self.broken = f"SMTP server {target.host} closed the connection"
                    raise SendFailed(self.broken) from None
            except SendFailed as exc:
                self.broken = str(exc)
                raise
            except smtplib.SMTPAuthenticationError:
                self.broken = f"SMTP server {target.host} refused the login"
                raise SendFailed(self.broken) from None
            except smtplib.SMTPRecipientsRefused:
                self._reset()
                raise SendFailed(f"SMTP server {target.host} refused the recipient") from None
            except smtplib.SMTPException as exc:  # an answer (4xx/5xx to DATA included): not taken
                self._reset()
                raise SendFailed(f"SMTP error from {target.host}: {type(exc).__name__}") from None
            except (TimeoutError, OSError) as exc:
                self._note_handover(client)
                self.close()
                if self._handed_over:
                    raise SendUnknown(f"SMTP server {target.host}:{target.port} was sent the whole email and the "
                                      f"connection broke before its answer ({type(exc).__name__}); "
                                      "not sent again") from None
                self.broken = f"cannot reach SMTP server {target.host}:{target.port} ({type(exc).__name__})"
                raise SendFailed(self.broken) from None

    def _note_handover(self, client: AbortableSMTP | None) -> None:
        if client is not None and client.handed_over:
            self._handed_over = True

    def _reset(self) -> None:
        """After a refused message, the next one starts a clean transaction."""
        if self.client is not None:
            try:
                self.client.rset()
            except (smtplib.SMTPException, OSError):
                self.close()
