"""Encryption at rest for secret values (booking secrets, webhook signing secrets).

Values are Fernet tokens (AES-128-CBC + HMAC-SHA256, from `cryptography`) under the master
key: `RXDESK_MASTER_KEY` when set, else `master.key` in the data dir (mode 0600), made on first
use. A missing or different key is a clear error; a new key is never made silently while
values encrypted under another one exist.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from rxdesk.domain.errors import ConfigError
from rxdesk.store.files import ensure_private_dir, write_atomic

MASTER_KEY_FILE = "master.key"


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


class SecretBox:
    """Encrypts and decrypts secret values with the master key."""

    def __init__(self, key: bytes, *, source: str, old_keys: list[bytes] | None = None) -> None:
        self.source = source
        self._fernet = MultiFernet([Fernet(k) for k in [key, *(old_keys or [])]])

    @classmethod
    def load(
        cls, data_dir: Path, env_key: str | None, *, create: bool, encrypted_values: int = 0
    ) -> SecretBox:
        """The master key from the environment, else from `master.key`.

        With `create`, a missing `master.key` is made (0600) only when no value is encrypted
        yet (`encrypted_values == 0`); otherwise the missing key is an error.
        """
        if env_key:
            return cls(_parse_key(env_key, "RXDESK_MASTER_KEY"), source="RXDESK_MASTER_KEY")
        path = data_dir / MASTER_KEY_FILE
        try:
            return cls(_parse_key(path.read_text(), str(path)), source=str(path))
        except FileNotFoundError:
            pass
        except PermissionError:
            raise ConfigError(f"master key {path} is not readable (permission denied)") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path} is not a master key") from None
        if encrypted_values:
            raise ConfigError(
                f"the master key is missing: {encrypted_values} stored secret(s) are encrypted, but "
                f"neither RXDESK_MASTER_KEY nor {path} is there; restore the key"
            )
        if not create:
            raise ConfigError(f"no master key yet ({path}); it is made when the first secret is created")
        ensure_private_dir(data_dir)
        key = new_master_key()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return cls.load(data_dir, None, create=False)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return cls(key.encode(), source=str(path))

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


def write_master_key(data_dir: Path, key: str) -> None:
    """Replace `master.key` (used by key rotation, after every value is re-encrypted)."""
    ensure_private_dir(data_dir)
    write_atomic(data_dir / MASTER_KEY_FILE, (key.strip() + "\n").encode())
