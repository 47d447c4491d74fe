"""Email over SMTP and SMS over an HTTP gateway, for reminders that ask for them.

Unconfigured, messages stay in the local outbox (the `messages` log) for the app to show.
Errors come back as one line that never carries a password or token. Every send has one
deadline for the whole attempt (`rxdesk.services.deadline`): connect, greeting, login and the
message over SMTP; connect, request and answer at the SMS gateway. Credentials travel only
encrypted, except to this machine: the SMTP password over TLS, the SMS token over https.
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Self
from urllib.parse import unquote, urlsplit

import httpx

from rxdesk.config import Settings
from rxdesk.domain.errors import ConfigError, ValidationFailed
from rxdesk.domain.terminal import has_control
from rxdesk.domain.urls import check_http_url
from rxdesk.services import deadline, egress
from rxdesk.services.smtplib_gaps import AbortableSMTP, AbortableSMTPSSL

TIMEOUT_SECONDS = deadline.ATTEMPT_SECONDS


class SendFailed(Exception):
    """One attempt failed; `str()` is a one-line reason without credentials."""


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

    def __init__(self, settings: Settings | None, *, attempt_seconds: float = TIMEOUT_SECONDS) -> None:
        self.attempt_seconds = attempt_seconds
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
        try:
            with deadline.attempt(self.attempt_seconds):
                if client is None:
                    with self.sms_client() as own:
                        status = _post_status(own, url, {"to": to, "body": body}, headers)
                else:
                    status = _post_status(client, url, {"to": to, "body": body}, headers)
        except httpx.TimeoutException:
            raise SendFailed(f"{host} gave no complete answer within {self.attempt_seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise SendFailed(f"cannot reach {host} ({type(exc).__name__})") from None
        if not 200 <= status < 300:
            raise SendFailed(f"{host} answered {status}")

    @staticmethod
    def sms_client() -> httpx.Client:
        # The gateway is the operator's own setting: any address, but the attempt's deadline.
        return egress.outbound_client(allow_private=None, limits=httpx.Limits(max_connections=16))


def _post_status(client: httpx.Client, url: httpx.URL, payload: dict[str, str], headers: dict[str, str]) -> int:
    """POST and return the status; the gateway's answer body is never read (no size to trust)."""
    with client.stream("POST", url, json=payload, headers=headers) as response:
        return response.status_code


class MailSession:
    """One SMTP connection for many emails: opened at the first, reopened after the server
    drops it. Once the server cannot be reached or refuses the login, the remaining emails of
    this session fail at once with that reason instead of each waiting for a timeout."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.client: smtplib.SMTP | None = None
        self.broken = ""
        self.timed_out = False

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

    def _connect(self, target: SmtpTarget) -> smtplib.SMTP:
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
        """One email: plain text, with `html` as its alternative when given; `message_id` is
        the same on every retry of one message, so the recipient's mail system can tell."""
        notifier, target = self.notifier, self.notifier.smtp
        if target is None:
            raise SendFailed(notifier.smtp_problem or "no SMTP server configured")
        if self.broken:
            raise SendFailed(self.broken)
        message = EmailMessage()
        message["From"] = notifier.mail_from
        message["To"] = to
        message["Subject"] = subject
        if message_id:
            message["Message-ID"] = message_id
        message.set_content(body)
        if html:
            message.add_alternative(html, subtype="html")
        self.timed_out = False
        with deadline.watch(self.notifier.attempt_seconds, self._abort):
            try:
                self._send(target, message)
                return  # accepted, even if the deadline came right after
            except SendFailed:
                if not self.timed_out:
                    raise
            if self.timed_out:  # the deadline shut the socket: that is the reason, whatever broke
                self.close()
                self.broken = (f"SMTP server {target.host}:{target.port} did not finish within "
                               f"{self.notifier.attempt_seconds:g} s")
                raise SendFailed(self.broken)

    def _abort(self) -> None:
        self.timed_out = True
        if isinstance(self.client, AbortableSMTP):
            self.client.abort()

    def _send(self, target: SmtpTarget, message: EmailMessage) -> None:
        for fresh in (False, True):
            try:
                if self.client is None:
                    fresh = True
                    self.client = self._connect(target)
                self.client.send_message(message)
                return
            except smtplib.SMTPServerDisconnected:
                self.close()
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
            except smtplib.SMTPException as exc:
                self._reset()
                raise SendFailed(f"SMTP error from {target.host}: {type(exc).__name__}") from None
            except (TimeoutError, OSError) as exc:
                self.close()
                self.broken = f"cannot reach SMTP server {target.host}:{target.port} ({type(exc).__name__})"
                raise SendFailed(self.broken) from None

    def _reset(self) -> None:
        """After a refused message, the next one starts a clean transaction."""
        if self.client is not None:
            try:
                self.client.rset()
            except (smtplib.SMTPException, OSError):
                self.close()
