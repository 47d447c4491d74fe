"""Booking secrets: the shared keys partner backends sign patient booking tokens with.

A secret is a `key_id` (the JWT `kid`) and a random value, stored only encrypted under the
master key (see `crypto`). The value is shown when it is created and when an agent reveals it
(audited); listings never carry it. Several secrets may be active at once, so a partner can
switch to a new one before the old one is revoked.
"""

from __future__ import annotations

import secrets as random_source
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rxdesk.domain.errors import NotFound, Refused, ValidationFailed
from rxdesk.domain.ids import random_token
from rxdesk.domain.models import BookingSecret
from rxdesk.domain.times import format_utc
from rxdesk.services import crypto
from rxdesk.services.base import Service, admin_actor, record
from rxdesk.store.protocols import StoreView

KEY_ID_PREFIX = "bk_"
VALUE_BYTES = 32
LABEL_MAX = 200
# An active secret no token has used for this long is marked: likely safe to revoke.
IDLE_AFTER = timedelta(days=7)


def secret_target(key_id: str) -> str:
    return f"booking_secret:{key_id}"


def normalize_label(label: object) -> str:
    """A label: optional, trimmed, one line of at most 200 characters."""
    if label is None:
        return ""
    if not isinstance(label, str):
        raise ValidationFailed("the label must be text")
    text = label.strip()
    if len(text) > LABEL_MAX:
        raise ValidationFailed(f"the label is {len(text)} characters; at most {LABEL_MAX} fit")
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in text):
        raise ValidationFailed("the label must be one line without control characters")
    return text


def normalize_key_id(key_id: object) -> str:
    if not isinstance(key_id, str) or not key_id.strip():
        raise ValidationFailed("a key_id is required")
    return key_id.strip()


@dataclass(frozen=True)
class NewSecret:
    """A secret just created, with its value: shown to the agent once, never stored plain."""

    secret: BookingSecret
    value: str

    def to_json(self) -> dict[str, Any]:
        return {"key_id": self.secret.key_id, "secret": self.value, **self.secret.public()}


@dataclass(frozen=True)
class SecretRow:
    """One line of the secrets listing: the secret without its value, and whether it idles."""

    secret: BookingSecret
    idle: bool  # active, and unused (or never used) for at least IDLE_AFTER
    idle_since: datetime | None  # last use, or creation when never used

    @property
    def key_id(self) -> str:
        return self.secret.key_id

    @property
    def status(self) -> str:
        return "active" if self.secret.active else "revoked"

    def to_json(self) -> dict[str, Any]:
        return {**self.secret.public(), "idle": self.idle}


@dataclass(frozen=True)
class MasterKeyRotation:
    """What a master-key rotation did. `new_key` is set only when the key lives in the
    environment: the operator must put it in RXDESK_MASTER_KEY themselves."""

    booking_secrets: int
    subscriptions: int
    key_source: str
    new_key: str | None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "booking_secrets": self.booking_secrets,
            "subscriptions": self.subscriptions,
            "key_source": self.key_source,
        }
        if self.new_key is not None:
            data["new_master_key"] = self.new_key
        return data


class SecretService(Service):
    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    @property
    def env_key(self) -> str | None:
        return self.settings.master_key

    def box(self, view: StoreView, *, create: bool = False) -> crypto.SecretBox:
        """The master-key box, checked against the values already stored."""
        return crypto.open_box(view, self.data_dir, self.env_key, create=create)

    def value_of(self, view: StoreView, secret: BookingSecret) -> str:
        """The plain value (for token verification and reveal; never logged or audited)."""
        box = crypto.SecretBox.load(self.data_dir, self.env_key, create=False, encrypted_values=1)
        return box.decrypt(secret.value_encrypted)

    # -- queries -----------------------------------------------------------------------

    def list_secrets(self) -> list[SecretRow]:
        """Every secret, active ones first, newest first; never a value."""
        now = self.now()
        rows = []
        with self.store.read() as view:
            secrets = view.secrets.all()
        for s in secrets:
            since = s.last_used_at or s.created_at
            rows.append(SecretRow(s, idle=s.active and now - since >= IDLE_AFTER, idle_since=since))
        rows.sort(key=lambda r: (not r.secret.active, -r.secret.created_at.timestamp(), r.key_id))
        return rows

    def get(self, key_id: str) -> BookingSecret:
        with self.store.read() as view:
            return view.secrets.require(normalize_key_id(key_id))

    # -- changes -----------------------------------------------------------------------

    def create_secret(self, label: str | None, agent: str) -> NewSecret:
        """A new active secret: a `bk_` key_id and 32 random bytes (url-safe base64), stored
        encrypted under the master key. The value is returned here and nowhere else."""
        text = normalize_label(label)
        actor = admin_actor(agent)
        value = random_source.token_urlsafe(VALUE_BYTES)
        with self.store.write() as view:
            now = self.now()
            box = self.box(view, create=True)
            key_id = KEY_ID_PREFIX + random_token(12)
            while view.secrets.get(key_id) is not None:
                key_id = KEY_ID_PREFIX + random_token(12)
            secret = BookingSecret(
                key_id=key_id,
                label=text,
                value_encrypted=box.encrypt(value),
                created_at=now,
                created_by=actor,
            )
            view.secrets.put(secret)
            record(view, at=now, actor=actor, action="secret.create", target=secret_target(key_id),
                   details={"label": text})
        return NewSecret(secret, value)

    def reveal(self, key_id: str, agent: str) -> NewSecret:
        """Decrypt an active secret's value for the agent, and audit that it was shown."""
        key = normalize_key_id(key_id)
        actor = admin_actor(agent)
        with self.store.write() as view:
            now = self.now()
            secret = view.secrets.require(key)
            if secret.revoked_at is not None:
                raise Refused(f"booking secret {key} was revoked at {format_utc(secret.revoked_at)}; "
                              "its value is no longer shown")
            value = self.value_of(view, secret)
            record(view, at=now, actor=actor, action="secret.reveal", target=secret_target(key))
        return NewSecret(secret, value)

    def revoke(self, key_id: str, agent: str, *, confirm_key_id: str | None = None) -> BookingSecret:
        """Revoke a secret at once: the next token with its `kid` is refused, in every
        process. With `confirm_key_id` (what the agent typed) the two must match exactly."""
        key = normalize_key_id(key_id)
        if confirm_key_id is not None and confirm_key_id.strip() != key:
            raise Refused(f"the typed key_id does not match {key}; nothing was revoked")
        actor = admin_actor(agent)
        with self.store.write() as view:
            now = self.now()
            secret = view.secrets.get(key)
            if secret is None:
                raise NotFound(f"no booking secret {key!r}")
            if secret.revoked_at is not None:
                raise Refused(f"booking secret {key} is already revoked "
                              f"(at {format_utc(secret.revoked_at)} by {secret.revoked_by})")
            revoked = secret.model_copy(update={"revoked_at": now, "revoked_by": actor})
            view.secrets.put(revoked)
            record(view, at=now, actor=actor, action="secret.revoke", target=secret_target(key),
                   details={"label": secret.label,
                            "last_used_at": format_utc(secret.last_used_at) if secret.last_used_at else None})
        return revoked

    def rotate_master_key(self, agent: str, new_key: str | None = None) -> MasterKeyRotation:
        """Re-encrypt every stored value (booking secrets and webhook signing secrets) under a
        new master key in one store write: all or nothing.

        With `master.key`, the new key replaces the file (crash-safe: see `crypto`). With
        RXDESK_MASTER_KEY the data is re-encrypted and the new key is returned: from then on
        only the new key opens the values, so the operator must set it in the environment.
        """
        actor = admin_actor(agent)
        from_env = bool(self.env_key)
        pending = None if from_env else crypto.read_pending_key(self.data_dir)
        if pending and new_key and new_key.strip() != pending:
            raise Refused(
                f"an interrupted rotation to the key in {self.data_dir / crypto.PENDING_KEY_FILE} "
                "is not finished; run the rotation again without a new key to finish it first"
            )
        # Finishing an interrupted rotation reuses its key: values may already be under it.
        key = pending or (new_key.strip() if new_key else crypto.new_master_key())
        with self.store.read() as view:
            current = self.box(view, create=False) if crypto.encrypted_values(view) else None
        if current is None:
            current = crypto.SecretBox.load(self.data_dir, self.env_key, create=True)
        rotating = current.rotating_to(key, source=current.source)
        if not from_env:
            crypto.write_pending_key(self.data_dir, key)
        with self.store.write() as view:
            now = self.now()
            self.box(view)  # the values may have changed since: check the key again
            booking = view.secrets.all()
            for s in booking:
                view.secrets.put(s.model_copy(update={"value_encrypted": rotating.rotate(s.value_encrypted)}))
            subscriptions = view.subscriptions.all()
            for sub in subscriptions:
                view.subscriptions.put(
                    sub.model_copy(update={"secret_encrypted": rotating.rotate(sub.secret_encrypted)})
                )
            record(view, at=now, actor=actor, action="master_key.rotate", target="master_key",
                   details={"booking_secrets": len(booking), "subscriptions": len(subscriptions),
                            "key_source": "environment" if from_env else crypto.MASTER_KEY_FILE})
        if not from_env:
            crypto.finish_rotation(self.data_dir, key)
        return MasterKeyRotation(
            booking_secrets=len(booking),
            subscriptions=len(subscriptions),
            key_source=crypto.ENV_KEY if from_env else str(self.data_dir / crypto.MASTER_KEY_FILE),
            new_key=key if from_env else None,
        )
