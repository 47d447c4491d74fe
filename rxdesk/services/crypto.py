"""Encryption at rest for secret values (booking secrets, webhook signing secrets).

Values are Fernet tokens (AES-128-CBC + HMAC-SHA256, from `cryptography`) under the master
key: `RXDESK_MASTER_KEY` when set, else `master.key` in the data dir (mode 0600), made on first
use. A missing or different key is a clear error; a new key is never made silently while
values encrypted under another one exist.

Master-key rotation (file mode) is crash-safe in three steps: the new key is written to
`master.key.next` first, then one store write re-encrypts every value under it, then it
replaces `master.key` and the `.next` file goes. `load` accepts both files, so a crash between
any two steps leaves every value readable; running the rotation again finishes the job.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from rxdesk.domain.errors import ConfigError
from rxdesk.fileio import ensure_private_dir, write_atomic

if TYPE_CHECKING:
    from rxdesk.store.protocols import StoreView

MASTER_KEY_FILE = "master.key"
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


def new_master_key() -> str:
    return Fernet.generate_key().decode()


def _read_key_file(path: Path) -> bytes | None:
    try:
        return _parse_key(path.read_text(), str(path))
    except FileNotFoundError:
        return None
    except PermissionError:
        raise ConfigError(f"master key {path} is not readable (permission denied)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a master key") from None


class SecretBox:
    """Encrypts and decrypts secret values with the master key."""

    def __init__(self, key: bytes, *, source: str, old_keys: list[bytes] | None = None) -> None:
        self.source = source
        self._keys = [key, *(old_keys or [])]
        self._fernet = MultiFernet([Fernet(k) for k in self._keys])

    @classmethod
    def load(
        cls, data_dir: Path, env_key: str | None, *, create: bool, encrypted_values: int = 0
    ) -> SecretBox:
        """The master key from the environment, else from `master.key`.

        With `create`, a missing `master.key` is made (0600) only when no value is encrypted
        yet (`encrypted_values == 0`); otherwise the missing key is an error.
        """
        if env_key:
            return cls(_parse_key(env_key, ENV_KEY), source=ENV_KEY)
        path = data_dir / MASTER_KEY_FILE
        pending = _read_key_file(data_dir / PENDING_KEY_FILE)
        key = _read_key_file(path)
        if key is not None:
            # A `.next` key means a rotation was interrupted: values may be under either key.
            return cls(key, source=str(path), old_keys=[pending] if pending else None)
        if pending is not None:
            return cls(pending, source=str(data_dir / PENDING_KEY_FILE))
        if encrypted_values:
            raise ConfigError(
                f"the master key is missing: {encrypted_values} stored secret(s) are encrypted, but "
                f"neither {ENV_KEY} nor {path} is there; restore the key"
            )
        if not create:
            raise ConfigError(f"no master key yet ({path}); it is made when the first secret is created")
        ensure_private_dir(data_dir)
        new = new_master_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return cls.load(data_dir, None, create=False)
        with os.fdopen(fd, "w") as fh:
            fh.write(new + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return cls(new.encode(), source=str(path))

    @property
    def from_environment(self) -> bool:
        return self.source == ENV_KEY

    def rotating_to(self, new_key: str, *, source: str) -> SecretBox:
        """A box that encrypts under `new_key` and still decrypts under every current key."""
        return SecretBox(_parse_key(new_key, "the new master key"), source=source, old_keys=self._keys)

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

    def rotate(self, token: str) -> str:
        """Re-encrypt `token` under the first (newest) key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, ValueError):
            raise ConfigError(f"a stored secret does not decrypt with the master key ({self.source})") from None


def encrypted_values(view: StoreView) -> list[str]:
    """Every value stored under the master key: booking secrets, then webhook secrets."""
    return [s.value_encrypted for s in view.secrets.all()] + [
        s.secret_encrypted for s in view.subscriptions.all()
    ]


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


def write_master_key(data_dir: Path, key: str) -> None:
    """Replace `master.key` (used by key rotation, after every value is re-encrypted)."""
    ensure_private_dir(data_dir)
    write_atomic(data_dir / MASTER_KEY_FILE, (key.strip() + "\n").encode())


def read_pending_key(data_dir: Path) -> str | None:
    """The new key of an interrupted rotation, if any."""
    key = _read_key_file(data_dir / PENDING_KEY_FILE)
    return key.decode() if key else None


def write_pending_key(data_dir: Path, key: str) -> None:
    """Keep the rotation's new key beside the old one until the rotation has finished."""
    ensure_private_dir(data_dir)
    write_atomic(data_dir / PENDING_KEY_FILE, (key.strip() + "\n").encode())


def finish_rotation(data_dir: Path, key: str) -> None:
    """The values are re-encrypted: the new key becomes `master.key`, `.next` goes."""
    write_master_key(data_dir, key)
    try:
        os.unlink(data_dir / PENDING_KEY_FILE)
    except FileNotFoundError:
        pass
