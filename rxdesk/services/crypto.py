"""Encryption at rest for secret values (booking secrets, webhook signing secrets).

Values are Fernet tokens (AES-128-CBC + HMAC-SHA256, from `cryptography`) under the master
key: `RXDESK_MASTER_KEY` when set, else `master.key` in the data dir (mode 0600), made on first
use. A missing or different key is a clear error; a new key is never made silently while
values encrypted under another one exist.

The master key setting may hold several keys, newest first (comma-separated in
RXDESK_MASTER_KEY, one per line in `master.key`): values are encrypted under the first and
decrypted under any, as `MultiFernet` does. That is how a rotation never loses a value: the new
key is first stored where every process finds it (in front of the old one), then the values are
re-encrypted under it in one store write, and only when every stored value opens under the new
key alone is the old one dropped (see `SecretService.rotate_master_key`).

`master.key` is always replaced whole (temp file, fsync, rename, 0600): a crash or a full disk
leaves the old file or the new one, never an empty or short one.
"""

from __future__ import annotations

import os
import secrets as random_source
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from rxdesk.domain.errors import ConfigError, StoreError
from rxdesk.fileio import ensure_private_dir, fsync_dir, write_atomic

if TYPE_CHECKING:
    from rxdesk.store.protocols import StoreView

MASTER_KEY_FILE = "master.key"
# Left by an interrupted rotation of rxdesk 0.1: the new key, beside `master.key`.
PENDING_KEY_FILE = "master.key.next"
ENV_KEY = "RXDESK_MASTER_KEY"


def _parse_key(text: str, where: str) -> bytes:
    key = text.strip().encode()
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{where} is not a master key (expected 32 url-safe base64 bytes, "
            "as made by `rxdesk secrets new-master-key`)"
        ) from None
    return key


def parse_keys(text: str, where: str) -> list[bytes]:
    """One key, or several newest first (separated by commas or lines)."""
    parts = [p for p in text.replace(",", "\n").split() if p]
    if not parts:
        raise ConfigError(f"{where} is empty; it should hold a master key")
    keys: list[bytes] = []
    for part in parts:
        key = _parse_key(part, where)
        if key not in keys:
            keys.append(key)
    return keys


def new_master_key() -> str:
    return Fernet.generate_key().decode()


def _read_key_file(path: Path) -> list[bytes] | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except PermissionError:
        raise ConfigError(f"master key {path} is not readable (permission denied)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a master key") from None
    return parse_keys(text, str(path))


def file_keys(data_dir: Path) -> list[bytes]:
    """The keys of `master.key`, newest first (an interrupted 0.1 rotation's `.next` key in
    front); [] when there is no key file."""
    pending = _read_key_file(data_dir / PENDING_KEY_FILE) or []
    stored = _read_key_file(data_dir / MASTER_KEY_FILE) or []
    return list(dict.fromkeys(pending + stored))


def write_master_keys(data_dir: Path, keys: list[bytes]) -> None:
    """Replace `master.key` with `keys`, newest first: temp file, fsync, rename, 0600."""
    ensure_private_dir(data_dir)
    write_atomic(data_dir / MASTER_KEY_FILE, b"".join(k + b"\n" for k in keys))


def _create_key_file(path: Path) -> bool:
    """Put a fresh key at `path` unless a key file is there already (another process made it
    first). The key is written whole to a temp file and linked into place, so no process
    ever sees an empty or partial `master.key`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{random_source.token_hex(4)}.tmp")
    write_atomic(tmp, (new_master_key() + "\n").encode(), sync_dir=False)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)
    return True


class SecretBox:
    """Encrypts under the first master key, decrypts under any of them."""

    def __init__(self, keys: list[bytes], *, source: str) -> None:
        self.source = source
        self.keys = list(keys)
        self._fernet = MultiFernet([Fernet(k) for k in self.keys])

    def __repr__(self) -> str:  # the keys never: a crash report or a log line may show the box
        return f"SecretBox(source={self.source!r}, keys={len(self.keys)})"

    @classmethod
    def load(
        cls, data_dir: Path, env_key: str | None, *, create: bool, encrypted_values: int = 0
    ) -> SecretBox:
        """The master key(s) from the environment, else from `master.key`.

        With `create`, a missing `master.key` is made (0600) only when no value is encrypted
        yet (`encrypted_values == 0`); otherwise the missing key is an error.
        """
        if env_key:
            return cls(parse_keys(env_key, ENV_KEY), source=ENV_KEY)
        path = data_dir / MASTER_KEY_FILE
        try:
            keys = file_keys(data_dir)
        except ConfigError:
            # An empty key file (left by a crash of rxdesk 0.1) guards nothing when nothing
            # is encrypted yet: replace it. Otherwise it is the operator's to restore.
            if not (create and not encrypted_values and _is_blank(path)):
                raise
            write_master_keys(data_dir, [new_master_key().encode()])
            return cls.load(data_dir, None, create=False)
        if keys:
            return cls(keys, source=str(path))
        if encrypted_values:
            raise ConfigError(
                f"the master key is missing: {encrypted_values} stored secret(s) are encrypted, but "
                f"neither {ENV_KEY} nor {path} is there; restore the key"
            )
        if not create:
            raise ConfigError(f"no master key yet ({path}); it is made when the first secret is created")
        ensure_private_dir(data_dir)
        _create_key_file(path)  # or another process made it first: use theirs
        return cls.load(data_dir, None, create=False)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError):
            raise ConfigError(
                f"the master key ({self.source}) does not match the stored secrets; "
                "use the key they were encrypted with"
            ) from None

    def rotate(self, token: str, to: bytes) -> str:
        """`token` re-encrypted under `to`, checked to open under `to` alone."""
        return self.encrypt_under(self.decrypt(token), to)

    @staticmethod
    def encrypt_under(plain: str, to: bytes) -> str:
        """`plain` encrypted under `to`, checked to open under `to` alone."""
        fresh = Fernet(to)
        rotated = fresh.encrypt(plain.encode("utf-8")).decode("ascii")
        if fresh.decrypt(rotated.encode("ascii")).decode("utf-8") != plain:  # pragma: no cover - a broken cipher
            raise ConfigError("a re-encrypted secret does not read back; nothing was changed")
        return rotated


def opens_under(token: str, key: bytes) -> bool:
    """True when `token` decrypts under `key` alone."""
    try:
        Fernet(key).decrypt(token.encode("ascii"))
    except (InvalidToken, ValueError):
        return False
    return True


def _is_blank(path: Path) -> bool:
    try:
        return path.read_bytes().strip() == b""
    except OSError:
        return False


def encrypted_values(view: StoreView) -> list[str]:
    """Every value stored under the master key: booking secrets, then webhook signing secrets
    and the values of webhook custom headers."""
    subscriptions = view.subscriptions.all()
    return ([s.value_encrypted for s in view.secrets.all()] + [s.secret_encrypted for s in subscriptions]
            + [v for s in subscriptions for v in s.sealed_headers.values()])


def open_box(view: StoreView, data_dir: Path, env_key: str | None, *, create: bool) -> SecretBox:
    """The box for the values in `view`, checked against one of them.

    Before anything new is encrypted, the key must open what is already stored: a wrong
    `RXDESK_MASTER_KEY` never leaves values under two keys.
    """
    stored = encrypted_values(view)
    box = SecretBox.load(data_dir, env_key, create=create, encrypted_values=len(stored))
    if stored:
        box.decrypt(stored[0])
    return box


def finish_rotation(data_dir: Path, key: bytes) -> None:
    """Every stored value opens under `key`: it becomes the only key in `master.key`, and the
    `.next` file of an interrupted 0.1 rotation goes."""
    write_master_keys(data_dir, [key])
    try:
        os.unlink(data_dir / PENDING_KEY_FILE)
    except FileNotFoundError:
        pass

