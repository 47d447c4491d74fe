"""Booking secrets: the shared keys partner backends sign patient booking tokens with.

A secret is a `key_id` (the JWT `kid`) and a random value, stored only encrypted under the
master key (see `crypto`). The value is shown when it is created and when an agent reveals it
(audited); listings never carry it. Several secrets may be active at once, so a partner can
switch to a new one before the old one is revoked.
"""

from __future__ import annotations

import secrets as random_source
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rxdesk.domain.errors import ConfigError, NotFound, Refused, ValidationFailed
from rxdesk.domain.ids import random_token
from rxdesk.domain.models import BookingSecret
from rxdesk.domain.terminal import has_control
from rxdesk.domain.times import format_utc
from rxdesk.services import crypto
from rxdesk.services.base import Service, admin_actor, record
from rxdesk.store.protocols import StoreView, UnitOfWork

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
    if has_control(text):
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
    value: str = field(repr=False)

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
    """What a master-key rotation did. No key is ever part of it: the new key was stored (or
    given in the environment) before the rotation committed."""

    booking_secrets: int
    subscriptions: int
    key_source: str

    def to_json(self) -> dict[str, Any]:
        return {"booking_secrets": self.booking_secrets, "subscriptions": self.subscriptions,
                "key_source": self.key_source}


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
        """The plain value (for token verification and reveal; never logged or audited).

        A read without the lock may hold a value from before a master-key rotation while the
        old key is already gone: the value is then read again from the store, once."""
        box = crypto.SecretBox.load(self.data_dir, self.env_key, create=False, encrypted_values=1)
        try:
            return box.decrypt(secret.value_encrypted)
        except ConfigError:
            with self.store.read() as newest:  # under a write, this is what the write started from
                fresh = newest.secrets.get(secret.key_id)
            if fresh is None or fresh.value_encrypted == secret.value_encrypted:
                raise
            return crypto.SecretBox.load(self.data_dir, self.env_key, create=False,
                                         encrypted_values=1).decrypt(fresh.value_encrypted)

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
        """Re-encrypt every stored value (booking secrets, webhook signing secrets and the
        values of webhook custom headers, sealing those an older version stored in the clear)
        under a new master key in one store write: all or nothing, and never before the new key is
        stored where the next process finds it.

        With RXDESK_MASTER_KEY the new key must already be there, first: `NEW,OLD` (set in
        every process before the rotation, so none of them stops reading the values). With
        `master.key` the new key (`new_key`, or a fresh one) is written in front of the old one
        under the write lock before the store write; once every stored value opens under it
        alone, the old key is dropped, again under the lock. A crash at any point leaves every
        value readable, and running the rotation again finishes it.
        """
        actor = admin_actor(agent)
        if self.env_key:
            return self._rotate_in_environment(actor, new_key)
        with self.store.write() as view:
            keys = crypto.file_keys(self.data_dir)
            if len(keys) > 1:  # an interrupted rotation: finish it with the key it began
                if new_key and crypto.parse_keys(new_key, "the new master key")[0] != keys[0]:
                    raise Refused(f"an interrupted rotation to the first key in "
                                  f"{self.data_dir / crypto.MASTER_KEY_FILE} is not finished; run the "
                                  "rotation again without a new key to finish it first")
                target = keys[0]
            else:
                target = (crypto.parse_keys(new_key, "the new master key")[0] if new_key
                          else crypto.new_master_key().encode())
            box = self._box_opening_everything(view, keys)
            if not keys or target != keys[0]:
                crypto.write_master_keys(self.data_dir, [target, *box.keys])
            counts = self._reencrypt(view, box, target, actor, crypto.MASTER_KEY_FILE)
        self._drop_old_keys(target)
        return MasterKeyRotation(*counts, key_source=str(self.data_dir / crypto.MASTER_KEY_FILE))

    def _box_opening_everything(self, view: StoreView, keys: list[bytes]) -> crypto.SecretBox:
        """The current keys, checked to open every stored value before anything changes."""
        box = crypto.SecretBox.load(self.data_dir, self.env_key, create=True,
                                    encrypted_values=len(crypto.encrypted_values(view)))
        for value in crypto.encrypted_values(view):
            box.decrypt(value)
        return box

    def _reencrypt(self, view: UnitOfWork, box: crypto.SecretBox, target: bytes, actor: str,
                   source: str) -> tuple[int, int]:
        booking = view.secrets.all()
        for s in booking:
            view.secrets.put(s.model_copy(update={"value_encrypted": box.rotate(s.value_encrypted, target)}))
        subscriptions = view.subscriptions.all()
        for sub in subscriptions:
            rotated = box.rotate(sub.secret_encrypted, target)
            # Header values stored in the clear by an older version are sealed on the way.
            sealed = {**{name: box.rotate(value, target) for name, value in sub.sealed_headers.items()},
                      **{name: box.encrypt_under(value, target) for name, value in sub.headers.items()}}
            view.subscriptions.put(sub.model_copy(update={"secret_encrypted": rotated, "headers": {},
                                                          "sealed_headers": sealed}))
        record(view, at=self.now(), actor=actor, action="master_key.rotate", target="master_key",
               details={"booking_secrets": len(booking), "subscriptions": len(subscriptions), "key_source": source})
        return len(booking), len(subscriptions)

    def _drop_old_keys(self, target: bytes) -> None:
        """Under the write lock: once every stored value opens under `target` alone (a
        secret created meanwhile was encrypted under it too: it is first in the file), the
        other keys leave `master.key`."""
        with self.store.write() as view:
            stale = [v for v in crypto.encrypted_values(view) if not crypto.opens_under(v, target)]
            if stale:
                raise ConfigError(f"{len(stale)} stored secret(s) do not open under the new master key; "
                                  f"{self.data_dir / crypto.MASTER_KEY_FILE} keeps every key: run the rotation again")
            crypto.finish_rotation(self.data_dir, target)

    def _rotate_in_environment(self, actor: str, new_key: str | None) -> MasterKeyRotation:
        keys = crypto.parse_keys(self.env_key or "", crypto.ENV_KEY)
        if len(keys) < 2:
            raise Refused(
                f"with {crypto.ENV_KEY} the new key comes first: make one with `rxdesk secrets new-master-key`, "
                f"set {crypto.ENV_KEY}=NEW,OLD wherever rxdesk runs on this data dir, run the rotation, then "
                "remove OLD; nothing was changed"
            )
        if new_key and crypto.parse_keys(new_key, "the new master key")[0] != keys[0]:
            raise Refused(f"the new key must be the first key of {crypto.ENV_KEY}; nothing was changed")
        with self.store.write() as view:
            box = self._box_opening_everything(view, keys)
            counts = self._reencrypt(view, box, keys[0], actor, "environment")
        return MasterKeyRotation(*counts, key_source=crypto.ENV_KEY)
