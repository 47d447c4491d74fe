"""Webhook subscriptions, deliveries and the event log, and how one delivery is sent.

Deliveries follow the Standard Webhooks specification: `webhook-id` (the event id, the same
on every retry), `webhook-timestamp` and `webhook-signature` (`v1,` + base64 HMAC-SHA256 over
`id.timestamp.body` with the decoded `whsec_` secret), made afresh for each attempt; body
`{"type", "timestamp", "data"}`. This module holds one signed attempt and the agent's
actions; the maintenance tick makes, claims and retries deliveries (`deliveries`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as random_source
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from rxdesk.domain import lifecycle
from rxdesk.domain.errors import ConfigError, NotFound, Refused, ValidationFailed
from rxdesk.domain.ids import random_token
from rxdesk.domain.models import (
    AppointmentStatus,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    MessageChannel,
    MessageStatus,
    OutboxMessage,
    Subscription,
)
from rxdesk.domain.queries import Page
from rxdesk.domain.sending import SKIPPED, message_state, skip_reason
from rxdesk.domain.storable import decoded, storable
from rxdesk.domain.times import format_utc
from rxdesk.domain.urls import check_http_url
from rxdesk.services import crypto, deadline, egress
from rxdesk.services.base import Service, admin_actor, record
from rxdesk.store.protocols import StoreView

TIMEOUT_SECONDS = deadline.ATTEMPT_SECONDS  # for connect, send and the whole answer together
# The longest wait a receiver's Retry-After header may ask for.
MAX_RETRY_AFTER = timedelta(hours=24)
EXCERPT = 2000  # characters of a receiver's answer kept on the delivery
EXCERPT_BYTES = 4 * EXCERPT


def subscription_target(sub_id: str) -> str:
    return f"subscription:{sub_id}"


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(random_source.token_bytes(32)).decode()


def _secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one attempt."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def payload(event: Event) -> bytes:
    body = {"type": event.type.value, "timestamp": format_utc(event.created_at), "data": event.data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def check_url(url: object) -> str:
    """A receiver's URL by the rule of every URL rxdesk takes (`domain.urls`)."""
    text = check_http_url(url)
    try:
        httpx.URL(text)
    except (httpx.InvalidURL, ValueError):
        raise ValidationFailed(f"url {text[:60]!r} is not a valid URL") from None
    return text


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Custom headers by the rules of `egress` (DESIGN: Events and webhooks)."""
    return egress.check_headers(headers)


def parse_header_args(items: list[str]) -> dict[str, str]:
    """`K=V` (or `K: V`) pairs from the command line."""
    headers: dict[str, str] = {}
    for item in items:
        sep = "=" if "=" in item else ":" if ":" in item else None
        if sep is None:
            raise ValidationFailed(f"header {item[:40]!r} is not NAME=VALUE")
        name, value = item.split(sep, 1)
        headers[name.strip()] = value.strip()
    return check_headers(headers)


def check_events(events: list[str]) -> list[EventType]:
    if not events:
        raise ValidationFailed("name at least one event type")
    valid = {e.value for e in EventType}
    picked: list[EventType] = []
    for name in events:
        for part in str(name).replace(",", " ").split():
            key = part.strip().upper()
            if key not in valid:
                raise ValidationFailed(f"event {part[:40]!r} is not one of {', '.join(sorted(valid))}")
            if EventType(key) not in picked:
                picked.append(EventType(key))
    if not picked:
        raise ValidationFailed("name at least one event type")
    return picked


@dataclass(frozen=True)
class AttemptResult:
    """One attempt's outcome. Its texts may quote the receiver: they are made storable here,
    the one way into a delivery, so one odd answer can never fail the tick's results write."""

    ok: bool
    status_code: int | None = None
    error: str = ""
    retry_after: timedelta | None = None
    excerpt: str = ""
    gone: bool = False  # 410: the receiver asks us to stop

    def __post_init__(self) -> None:
        object.__setattr__(self, "error", storable(self.error))
        object.__setattr__(self, "excerpt", storable(self.excerpt))


def _retry_after(value: str | None, now: float) -> timedelta | None:
    if not value:
        return None
    value = value.strip()
    cap = MAX_RETRY_AFTER.total_seconds()
    if value.isascii() and value.isdigit():  # any length: capped before it becomes a number
        return timedelta(seconds=cap if len(value) > 9 else min(int(value), cap))
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return timedelta(seconds=min(max(0.0, when - now), cap))


def post_signed(client: httpx.Client, url: str, headers: dict[str, str], secret: str, msg_id: str, body: bytes,
                *, seconds: float = TIMEOUT_SECONDS) -> AttemptResult:
    """One attempt: sign with the wall clock's time (receivers check it), POST, classify.
    The attempt ends within `seconds` whatever the receiver does (connect, send, answer)."""
    for name, value in headers.items():  # stored before the header rules: checked again
        why = egress.header_refusal(name, value)
        if why:
            return AttemptResult(False, None, f"not sent: {why}")
    now = time.time()
    timestamp = int(now)
    sent = dict(headers)
    sent.update({
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    })
    code: int | None = None
    retry_header, raw = None, b""
    try:
        # Only the start of the answer is kept: a huge or endless body must not fill memory.
        with deadline.attempt(seconds), client.stream("POST", url, content=body, headers=sent) as response:
            code, retry_header = response.status_code, response.headers.get("retry-after")
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) >= EXCERPT_BYTES:
                    break
    except httpx.TimeoutException:
        if code is None:
            return AttemptResult(False, None, f"no complete answer within {seconds:g} s")
    except httpx.HTTPError as exc:
        if code is None:
            said = egress.failure_reason(exc)
            return AttemptResult(False, None, said or f"cannot connect ({type(exc).__name__})")
    # The status line counts even when the body that followed it broke off or stalled.
    excerpt = decoded(raw[:EXCERPT_BYTES])[:EXCERPT]
    if 200 <= code < 300:
        return AttemptResult(True, code, "", None, excerpt)
    retry = _retry_after(retry_header, now) if code in (429, 503) else None
    return AttemptResult(False, code, f"answered {code}", retry, excerpt, gone=code == 410)


def http_client(allow_private: bool = False) -> httpx.Client:
    """The client deliveries go out on: only to addresses the destination policy allows."""
    return egress.outbound_client(allow_private=allow_private)


@dataclass(frozen=True)
class NewSubscription:
    subscription: Subscription
    secret: str = field(repr=False)  # shown once

    def to_json(self) -> dict[str, Any]:
        return {**self.subscription.public(), "secret": self.secret}


@dataclass(frozen=True)
class DeliveryDetail:
    delivery: Delivery
    event: Event | None
    body: str  # the JSON that is (or was) sent

    def to_json(self) -> dict[str, Any]:
        return {**self.delivery.to_json(), "payload": json.loads(self.body) if self.body else None}


class WebhookService(Service):
    def _box(self, view: StoreView, *, create: bool = False) -> crypto.SecretBox:
        return crypto.open_box(view, self.settings.data_dir, self.settings.master_key, create=create)

    def secret_of(self, view: StoreView, sub: Subscription) -> str:
        """The signing secret. A read without the lock may hold a value from before a
        master-key rotation while the old key is already gone: it is then read again, once
        (under a write, the newest read is what the write started from: nothing changes)."""
        try:
            return self._box(view).decrypt(sub.secret_encrypted)
        except ConfigError:
            with self.store.read() as fresh:
                again = fresh.subscriptions.get(sub.id)
                if again is None or again.secret_encrypted == sub.secret_encrypted:
                    raise
                return self._box(fresh).decrypt(again.secret_encrypted)

    def headers_of(self, view: StoreView, sub: Subscription) -> dict[str, str]:
        """The custom headers to send, their values decrypted (one stored in the clear by an
        older version as it is, and first); a value that does not open raises ConfigError, as
        the signing secret does."""
        if not sub.sealed_headers:
            return dict(sub.headers)
        box = self._box(view)
        try:
            opened = {name: box.decrypt(value) for name, value in sub.sealed_headers.items()}
        except ConfigError:
            with self.store.read() as fresh:  # re-encrypted by a rotation a moment ago: read again once
                again = fresh.subscriptions.get(sub.id)
                if again is None or again.sealed_headers == sub.sealed_headers:
                    raise
                return self.headers_of(fresh, again)
        return {**opened, **sub.headers}

    # -- subscriptions ------------------------------------------------------------------

    def add_subscription(self, url: str, events: list[str], headers: dict[str, str], agent: str, *,
                         allow_private_network: bool = False) -> NewSubscription:
        """A new active subscription with a fresh `whsec_` secret (returned once, stored
        encrypted) and its custom headers' values encrypted too. It receives events created
        from now on. Its deliveries go to public
        addresses only, unless `allow_private_network` (audited) lets them reach loopback and
        private ranges too (see `egress`)."""
        clean_url = check_url(url)
        egress.check_url_destination(clean_url, allow_private=allow_private_network)
        types = check_events(events)
        clean_headers = check_headers(headers)
        actor = admin_actor(agent)
        secret = new_signing_secret()
        with self.store.write() as view:
            now = self.now()
            box = self._box(view, create=True)
            sub_id = "sub_" + random_token(10)
            while view.subscriptions.get(sub_id) is not None:
                sub_id = "sub_" + random_token(10)
            if not any(s.active for s in view.subscriptions.all()):
                # Nobody was listening: start the fan-out at the newest event, not at the start.
                view.cursors.set(FANOUT_CURSOR, view.events.last_seq())
            sub = Subscription(id=sub_id, url=clean_url, events=types, secret_encrypted=box.encrypt(secret),
                               sealed_headers={name: box.encrypt(value) for name, value in clean_headers.items()},
                               active=True, created_at=now, created_by=actor,
                               allow_private_network=allow_private_network)
            view.subscriptions.put(sub)
            record(view, at=now, actor=actor, action="subscription.add", target=subscription_target(sub_id),
                   details={"url": clean_url, "events": [t.value for t in types], "headers": sorted(clean_headers),
                            "allow_private_network": allow_private_network})
        return NewSubscription(sub, secret)

    def reveal_headers(self, sub_id: str, agent: str) -> dict[str, str]:
        """A subscription's custom headers with their values, for an agent who asks: the only
        place they are shown, written to the audit log (names only) like a secret's reveal."""
        actor = admin_actor(agent)
        with self.store.write() as view:
            sub = view.subscriptions.require(str(sub_id).strip())
            headers = self.headers_of(view, sub)
            record(view, at=self.now(), actor=actor, action="subscription.reveal_headers",
                   target=subscription_target(sub.id), details={"headers": sorted(headers)})
        return headers

    def list_subscriptions(self) -> list[Subscription]:
        with self.store.read() as view:
            subs = view.subscriptions.all()
        return sorted(subs, key=lambda s: (not s.active, s.created_at or datetime.min.astimezone(), s.id))

    def remove_subscription(self, sub_id: str, agent: str) -> Subscription:
        """Remove it; its pending deliveries end as dead at their next attempt."""
        actor = admin_actor(agent)
        with self.store.write() as view:
            sub = view.subscriptions.require(str(sub_id).strip())
            view.subscriptions.delete(sub.id)
            record(view, at=self.now(), actor=actor, action="subscription.remove",
                   target=subscription_target(sub.id), details={"url": sub.url})
        return sub

    def send_test(self, sub_id: str, agent: str) -> AttemptResult:
        """Send a signed test event to the subscription now (not queued, not retried)."""
        with self.store.read() as view:
            sub = view.subscriptions.require(str(sub_id).strip())
            secret = self.secret_of(view, sub)
            headers = self.headers_of(view, sub)
        msg_id = "evt_test_" + random_token(12)
        body = json.dumps({"type": "rxdesk.test", "timestamp": format_utc(self.now()),
                           "data": {"subscription_id": sub.id, "message": "a test event from rxdesk"}},
                          separators=(",", ":")).encode()
        with http_client(sub.allow_private_network) as client:
            result = post_signed(client, sub.url, headers, secret, msg_id, body)
        with self.store.write() as w:
            record(w, at=self.now(), actor=admin_actor(agent), action="subscription.test",
                   target=subscription_target(sub.id),
                   details={"ok": result.ok, "status_code": result.status_code, "error": result.error})
        return result

    # -- deliveries and events -----------------------------------------------------------

    def list_deliveries(self, status: str | None = None, *, offset: int = 0, limit: int | None = 100) -> Page[Delivery]:
        wanted = None
        if status:
            try:
                wanted = DeliveryStatus(status.strip().lower())
            except ValueError:
                raise ValidationFailed(
                    f"status {status[:40]!r} is not one of {', '.join(s.value for s in DeliveryStatus)}") from None
        with self.store.read() as view:
            return view.deliveries.newest(status=wanted, offset=offset, limit=limit)

    def show_delivery(self, delivery_id: str) -> DeliveryDetail:
        with self.store.read() as view:
            delivery = view.deliveries.get(str(delivery_id).strip())
            if delivery is None:
                raise NotFound(f"no delivery {str(delivery_id)[:40]!r}")
            event = view.events.get(delivery.event_id)
            return DeliveryDetail(delivery, event, payload(event).decode() if event else "")

    def replay(self, delivery_id: str, agent: str) -> Delivery:
        """Send a dead (or delivered) delivery again from the next tick, with the same id."""
        actor = admin_actor(agent)
        with self.store.write() as view:
            delivery = view.deliveries.get(str(delivery_id).strip())
            if delivery is None:
                raise NotFound(f"no delivery {str(delivery_id)[:40]!r}")
            if delivery.status == DeliveryStatus.pending:
                raise Refused(f"delivery {delivery.id} is still pending: it is retried by itself")
            if view.subscriptions.get(delivery.subscription_id) is None:
                raise Refused(f"delivery {delivery.id}: its subscription was removed")
            now = self.now()
            again = delivery.model_copy(update={
                "status": DeliveryStatus.pending, "attempts": 0, "next_attempt_at": now,
                "lease_id": "", "lease_until": None, "last_error": "",
            })
            view.deliveries.put(again)
            record(view, at=now, actor=actor, action="delivery.replay", target=f"delivery:{delivery.id}",
                   details={"event_id": delivery.event_id, "subscription_id": delivery.subscription_id})
        return again

    def list_events(self, type: str | None = None, *, offset: int = 0, limit: int | None = 100) -> Page[Event]:
        wanted = check_events([type])[0] if type else None
        with self.store.read() as view:
            return view.events.newest(type=wanted, offset=offset, limit=limit)

    def resend_message(self, message_id: str, agent: str) -> OutboxMessage:
        """Queue an `unknown` or `failed` email or SMS again, for the next tick (audited): an
        agent's decision, after asking the recipient. It keeps its id, so its Message-ID and
        Idempotency-Key: a mail system or gateway that did get it can drop the copy. Refused
        when its appointment is no longer confirmed or has started, or nothing could send it."""
        actor = admin_actor(agent)
        with self.store.write() as view:
            wanted = str(message_id).strip()
            message = view.messages.get(wanted)
            if message is None:
                raise NotFound(f"no email or SMS {wanted[:40]!r}")
            if message.status not in (MessageStatus.unknown, MessageStatus.failed):
                raise Refused(f"{message.channel.value} {message.id} is {message_state(message)}: only an unknown "
                              "or failed one is sent again by hand")
            now = self.now()
            appointment = view.appointments.get(message.appointment_uid) if message.appointment_uid else None
            why_not = skip_reason(lifecycle.as_of(appointment, now), now) if appointment is not None else None
            if why_not:
                said = why_not.removeprefix(SKIPPED)
                raise Refused(f"{message.channel.value} {message.id} is not sent again: {said}")
            from rxdesk.services.notify import Notifier

            notifier = Notifier(self.settings)
            if not (notifier.email_configured if message.channel is MessageChannel.email
                    else notifier.sms_configured):
                raise Refused(f"nothing sends {message.channel.value} here (no RXDESK_SMTP_URL or RXDESK_SMS_URL)")
            again = message.model_copy(update={
                "status": MessageStatus.pending, "attempts": 0, "next_attempt_at": now, "lease_id": "",
                "lease_until": None, "last_error": ""})
            view.messages.put(again)
            record(view, at=now, actor=actor, action="message.resend", target=f"message:{message.id}",
                   details={"from_status": message.status.value, "last_error": message.last_error,
                            "appointment_uid": message.appointment_uid})
        return again

    def list_messages(self, *, offset: int = 0, limit: int | None = 100) -> Page[OutboxMessage]:
        """Emails and SMS, newest first: the local outbox and what was sent."""
        with self.store.read() as view:
            return view.messages.newest(offset=offset, limit=limit)

    def appointment_gone(self, messages: list[OutboxMessage]) -> dict[str, str]:
        """Message id -> `appointment cancelled` (or its status, or `appointment not found`) for
        each message not sent yet (queued, retrying, in the local outbox) whose appointment no
        longer takes place: the worker skips it (`skip_reason`); the outbox would mislead."""
        waiting = [m for m in messages if m.appointment_uid
                   and m.status in (MessageStatus.pending, MessageStatus.outbox)]
        if not waiting:
            return {}
        now = self.now()
        gone: dict[str, str] = {}
        with self.store.read() as view:
            for m in waiting:
                appointment = view.appointments.get(m.appointment_uid)
                if appointment is not None and appointment.status is AppointmentStatus.confirmed:
                    continue  # still on (a start passed is the worker's to say, as it sends)
                reason = skip_reason(appointment, now)
                if reason is not None:
                    gone[m.id] = reason.removeprefix(SKIPPED)
        return gone


FANOUT_CURSOR = "webhooks.cursor"
