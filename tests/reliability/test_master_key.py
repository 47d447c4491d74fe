"""The master key under a concurrent writer and a crashing disk: a secret created during a
rotation is never written under a key the rotation drops, and `master.key` is never left
empty or short."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken

from rxdesk.domain.errors import StoreError
from rxdesk.services import Desk, crypto
from rxdesk.services.secrets import NewSecret, SecretService
from rxdesk.store import TinyStore
from tests.helpers import REPO, Cli, view_of


def other_process(clinic: Desk, **engine_options: float) -> Desk:
    """A second desk on the same data dir with its own store and lock handle, as another
    rxdesk process has."""
    return Desk(TinyStore(clinic.settings.data_dir, **engine_options), clinic.clock, clinic.settings)


def only_key(clinic: Desk) -> bytes:
    (key,) = (clinic.settings.data_dir / "master.key").read_text().split()
    return key.encode()


def every_value_opens_under(clinic: Desk, key: bytes) -> bool:
    view = view_of(clinic)
    values = [s.value_encrypted for s in view.secrets.all()] + [s.secret_encrypted for s in view.subscriptions.all()]
    try:
        for value in values:
            Fernet(key).decrypt(value.encode())
    except InvalidToken:
        return False
    return True


def test_a_secret_created_while_the_old_key_is_dropped_is_never_lost(clinic: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rotation used to swap master.key after its commit, outside the lock: a secret created
    by another process at that moment was encrypted under the old key, then unreadable, and
    blocked every later rotation. Now the swap is under the write lock: the other writer waits."""
    first = clinic.secrets.create_secret("before", "ops")
    finish = crypto.finish_rotation
    made: list[NewSecret] = []

    def another_writer_then_finish(*args: Any) -> None:
        try:
            made.append(other_process(clinic, lock_timeout=0.5).secrets.create_secret("during", "ops"))
        except StoreError as exc:
            assert "busy" in str(exc)
        finish(*args)

    monkeypatch.setattr(crypto, "finish_rotation", another_writer_then_finish)
    clinic.secrets.rotate_master_key("ops")
    monkeypatch.undo()
    assert every_value_opens_under(clinic, only_key(clinic))
    for secret in [first, *made]:
        assert clinic.secrets.reveal(secret.secret.key_id, "ops").value == secret.value
    clinic.secrets.rotate_master_key("ops")  # and the next rotation is not blocked
    assert every_value_opens_under(clinic, only_key(clinic))


def test_a_secret_created_while_a_rotation_is_paused_after_its_commit_is_kept(clinic: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between the store write and dropping the old key no lock is held: a secret created then
    is encrypted under the new key, first in master.key, so dropping the old key loses nothing."""
    first = clinic.secrets.create_secret("before", "ops")
    paused, resume = threading.Event(), threading.Event()
    drop = type(clinic.secrets)._drop_old_keys

    def pause_then_drop(self: SecretService, target: bytes) -> None:
        paused.set()
        assert resume.wait(30)
        drop(self, target)

    monkeypatch.setattr(type(clinic.secrets), "_drop_old_keys", pause_then_drop)
    failure: list[BaseException] = []

    def rotate() -> None:
        try:
            clinic.secrets.rotate_master_key("ops")
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failure.append(exc)
            paused.set()

    rotation = threading.Thread(target=rotate)
    rotation.start()
    try:
        assert paused.wait(30) and not failure
        during = other_process(clinic).secrets.create_secret("during", "ops")
    finally:
        resume.set()
        rotation.join(30)
    assert not failure and not rotation.is_alive()
    monkeypatch.undo()
    assert every_value_opens_under(clinic, only_key(clinic))
    assert clinic.secrets.reveal(during.secret.key_id, "ops").value == during.value
    assert clinic.secrets.reveal(first.secret.key_id, "ops").value == first.value


def test_the_new_key_is_stored_under_the_write_lock_before_the_values_move(clinic: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    clinic.secrets.create_secret("before", "ops")
    write = crypto.write_master_keys
    seen: list[str] = []

    def write_then_try_a_writer(data_dir: Path, keys: list[bytes]) -> None:
        write(data_dir, keys)
        if len(keys) == 1:  # the end of the rotation: the old key dropped
            return
        # The new key in front of the old one, before the store write, under the lock.
        with pytest.raises(StoreError, match="busy"):  # another writer waits for the lock
            other_process(clinic, lock_timeout=0.2).secrets.create_secret("blocked", "ops")
        seen.append("checked")

    monkeypatch.setattr(crypto, "write_master_keys", write_then_try_a_writer)
    clinic.secrets.rotate_master_key("ops")
    assert seen == ["checked"]
    assert every_value_opens_under(clinic, only_key(clinic))


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (20, 20))  # the disk fills after 20 bytes


@pytest.mark.slow
def test_a_full_disk_while_the_master_key_is_made_leaves_no_broken_key(clinic: Desk, cli: Cli, cli_env: dict[str, str]) -> None:
    """The first secret makes master.key; a disk that fills mid-write used to leave an empty or
    short key file that blocked every secret until someone deleted it by hand."""
    key_file = clinic.settings.data_dir / "master.key"
    assert not key_file.exists()
    crashed = subprocess.run([sys.executable, "-m", "rxdesk", "secrets", "create"], preexec_fn=_limit_file_size,
                             env={**os.environ, **cli_env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                             timeout=60, check=False)
    assert crashed.returncode == 1 and "Traceback" not in crashed.stderr
    assert not key_file.exists()  # never a partial one
    made = cli("secrets", "create", "--json")
    assert made.code == 0, made.err
    Fernet(key_file.read_text().strip().encode())
    assert cli("secrets", "reveal", made.json()["key_id"]).out.strip() == made.json()["secret"]


def test_an_empty_key_file_with_nothing_encrypted_is_replaced(clinic: Desk) -> None:
    """An empty master.key left by an older version guards nothing while no secret exists."""
    key_file = clinic.settings.data_dir / "master.key"
    key_file.write_bytes(b"")
    made = clinic.secrets.create_secret("shop", "ops")
    assert clinic.secrets.reveal(made.secret.key_id, "ops").value == made.value
    assert len(key_file.read_text().strip()) == 44


def test_a_read_from_just_before_a_rotation_still_opens(clinic: Desk, now: datetime) -> None:
    """A verification reads without the lock: the value it read may be under the key the
    rotation has just dropped. It reads the value again instead of refusing a good token."""
    made = clinic.secrets.create_secret("shop", "ops")
    stale = view_of(clinic)
    clinic.secrets.rotate_master_key("ops")
    assert clinic.secrets.value_of(stale, stale.secrets.require(made.secret.key_id)) == made.value
