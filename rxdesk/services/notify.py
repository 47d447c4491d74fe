"""Email over SMTP and SMS over an HTTP gateway, for reminders that ask for them.

Unconfigured, messages stay in the local outbox (the `messages` log) for the app to show.
Errors come back as one line that never carries a password or token.
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Self
from urllib.parse import unquote, urlsplit

import httpx

from rxdesk.config import Settings
from rxdesk.domain.errors import ConfigError
from rxdesk.domain.terminal import has_control

TIMEOUT_SECONDS = 15.0


class SendFailed(Exception):
    """One attempt failed; `str()` is a one-line reason without credentials."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    user: str
    password: str
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

    def __init__(self, settings: Settings | None) -> None:
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

    def send_email(self, to: str, subject: str, body: str) -> None:
        """One email over its own connection (a tick uses `mail_session` to share one)."""
        with self.mail_session() as session:
            session.send(to, subject, body)

    def mail_session(self) -> MailSession:
        return MailSession(self)

    def send_sms(self, to: str, body: str, client: httpx.Client | None = None) -> None:
        if not self.sms_url:
            raise SendFailed("no SMS gateway configured")
        headers = {"Authorization": f"Bearer {self.sms_token}"} if self.sms_token else {}
        host = urlsplit(self.sms_url).hostname or "the SMS gateway"
        try:
            if client is None:
                response = httpx.post(self.sms_url, json={"to": to, "body": body}, headers=headers,
                                      timeout=TIMEOUT_SECONDS, follow_redirects=False)
            else:
                response = client.post(self.sms_url, json={"to": to, "body": body}, headers=headers)
        except httpx.HTTPError as exc:
            raise SendFailed(f"cannot reach {host} ({type(exc).__name__})") from None
        if not 200 <= response.status_code < 300:
            raise SendFailed(f"{host} answered {response.status_code}")

    @staticmethod
    def sms_client() -> httpx.Client:
        return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)


class MailSession:
    """One SMTP connection for many emails: opened at the first, reopened after the server
    drops it. Once the server cannot be reached or refuses the login, the remaining emails of
    this session fail at once with that reason instead of each waiting for a timeout."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.client: smtplib.SMTP | None = None
        self.broken = ""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (smtplib.SMTPException, OSError):
                self.client.close()
            self.client = None

    def _connect(self, target: SmtpTarget) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if target.implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(target.host, target.port, timeout=TIMEOUT_SECONDS, context=context)
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=TIMEOUT_SECONDS)
        try:
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
            client.close()
            raise
        return client

    def send(self, to: str, subject: str, body: str) -> None:
        notifier, target = self.notifier, self.notifier.smtp
        if target is None:
            raise SendFailed(notifier.smtp_problem or "no SMTP server configured")
        if self.broken:
            raise SendFailed(self.broken)
        message = EmailMessage()
        message["From"] = notifier.mail_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
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
