"""Booking secrets: create, list, reveal, revoke; encryption at rest; the master key."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import ConfigError, NotFound, Refused, ValidationFailed
from rxdesk.domain.models import AuditEntry, EventType, Subscription
from rxdesk.services import Desk
from rxdesk.services.crypto import SecretBox
from rxdesk.services.secrets import secret_target
from tests.helpers import another_store, book_with, commits, fingerprint, view_of
from tests.unit.test_tokens_minting import claims_at, mint

pytestmark = pytest.mark.backends


def every_file(data_dir: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}


def audit_of(desk: Desk, key_id: str) -> list[AuditEntry]:
    return view_of(desk).audit.for_target(secret_target(key_id))


def test_create_makes_an_active_secret_with_32_random_bytes(clinic: Desk, now: datetime) -> None:
    made = clinic.secrets.create_secret("  Shopify storefront ", "ops")
    s = made.secret
    assert s.key_id.startswith("bk_") and len(s.key_id) == 15
    assert s.label == "Shopify storefront"
    assert s.created_at == now and s.created_by == "admin:ops"
    assert s.active and s.last_used_at is None
    assert len(base64.urlsafe_b64decode(made.value + "=" * (-len(made.value) % 4))) >= 32
    assert made.value not in s.value_encrypted
    other = clinic.secrets.create_secret(None, "ops")
    assert other.value != made.value and other.secret.key_id != s.key_id
    data = made.to_json()
    assert data["key_id"] == s.key_id and data["secret"] == made.value and "value_encrypted" not in data


def test_create_is_audited_without_the_value(clinic: Desk) -> None:
    made = clinic.secrets.create_secret("shop", "ops")
    [entry] = audit_of(clinic, made.secret.key_id)
    assert (entry.actor, entry.action) == ("admin:ops", "secret.create")
    assert made.value not in str(entry.to_json())


@pytest.mark.parametrize("label", ["x" * 201, "two\nlines", "tab\there"])
def test_a_bad_label_is_refused_and_changes_nothing(clinic: Desk, label: str) -> None:
    before = fingerprint(clinic.settings.data_dir)
    with pytest.raises(ValidationFailed):
        clinic.secrets.create_secret(label, "ops")
    assert fingerprint(clinic.settings.data_dir) == before


def test_no_file_in_the_data_dir_holds_a_plain_value(clinic: Desk, now: datetime) -> None:
    values = [clinic.secrets.create_secret(f"partner {i}", "ops").value for i in range(3)]
    keys = [r.key_id for r in clinic.secrets.list_secrets()]
    clinic.secrets.reveal(keys[0], "ops")
    clinic.secrets.revoke(keys[1], "ops")
    # A booking call writes last_used_at: the secret's row is rewritten once more.
    secret = next(s for s in view_of(clinic).secrets.all() if s.key_id == keys[2])
    value = clinic.secrets.value_of(view_of(clinic), secret)
    book_with(clinic, mint(value, claims_at(now), kid=keys[2]))
    files = every_file(clinic.settings.data_dir)
    assert any(p.name == "master.key" for p in files)
    for path, raw in files.items():
        for v in values:
            assert v.encode() not in raw, f"{path} holds a plain secret value"
            assert base64.b64encode(v.encode()) not in raw, f"{path} holds a secret value in base64"


def test_master_key_file_is_private(clinic: Desk) -> None:
    clinic.secrets.create_secret("shop", "ops")
    path = clinic.settings.data_dir / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_list_never_carries_a_value(clinic: Desk) -> None:
    made = clinic.secrets.create_secret("shop", "ops")
    [row] = clinic.secrets.list_secrets()
    data = row.to_json()
    assert "value_encrypted" not in data and "secret" not in data
    assert made.value not in str(data)
    assert data["status"] == "active" and data["idle"] is False


def test_list_orders_active_first_then_newest(clinic: Desk, clock: FixedClock) -> None:
    a = clinic.secrets.create_secret("a", "ops").secret.key_id
    clock.advance(minutes=1)
    b = clinic.secrets.create_secret("b", "ops").secret.key_id
    clock.advance(minutes=1)
    c = clinic.secrets.create_secret("c", "ops").secret.key_id
    clinic.secrets.revoke(c, "ops")
    assert [r.key_id for r in clinic.secrets.list_secrets()] == [b, a, c]


def test_an_active_secret_unused_for_a_week_is_marked_idle(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    made = clinic.secrets.create_secret("shop", "ops")
    kid = made.secret.key_id
    clock.advance(days=6)
    assert not clinic.secrets.list_secrets()[0].idle
    book_with(clinic, mint(made.value, claims_at(clock.now()), kid=kid))
    clock.advance(days=6, hours=23)
    assert not clinic.secrets.list_secrets()[0].idle
    clock.advance(hours=1)
    row = clinic.secrets.list_secrets()[0]
    assert row.idle and row.idle_since == now + timedelta(days=6)
    clinic.secrets.revoke(kid, "ops")
    assert not clinic.secrets.list_secrets()[0].idle  # revoked keys are not "idle"


def test_reveal_decrypts_and_is_audited(clinic: Desk) -> None:
    made = clinic.secrets.create_secret("shop", "ops")
    shown = clinic.secrets.reveal(made.secret.key_id, "desk-anna")
    assert shown.value == made.value
    entries = audit_of(clinic, made.secret.key_id)
    assert [(e.actor, e.action) for e in entries] == [("admin:ops", "secret.create"), ("admin:desk-anna", "secret.reveal")]
    assert made.value not in str([e.to_json() for e in entries])


def test_reveal_refuses_unknown_and_revoked_and_changes_nothing(clinic: Desk) -> None:
    kid = clinic.secrets.create_secret("shop", "ops").secret.key_id
    clinic.secrets.revoke(kid, "ops")
    before = fingerprint(clinic.settings.data_dir)
    with pytest.raises(Refused, match="revoked"):
        clinic.secrets.reveal(kid, "ops")
    with pytest.raises(NotFound, match="no booking secret 'bk_nope'"):
        clinic.secrets.reveal("bk_nope", "ops")
    assert fingerprint(clinic.settings.data_dir) == before


def test_revoke_records_who_and_when(clinic: Desk, clock: FixedClock, now: datetime) -> None:
    kid = clinic.secrets.create_secret("shop", "ops").secret.key_id
    clock.advance(hours=2)
    revoked = clinic.secrets.revoke(f" {kid} ", "desk-omar")
    assert revoked.revoked_at == now + timedelta(hours=2) and revoked.revoked_by == "admin:desk-omar"
    assert clinic.secrets.get(kid).revoked_by == "admin:desk-omar"
    assert audit_of(clinic, kid)[-1].action == "secret.revoke"


def test_revoke_refusals_change_nothing(clinic: Desk) -> None:
    kid = clinic.secrets.create_secret("shop", "ops").secret.key_id
    before = fingerprint(clinic.settings.data_dir)
    with pytest.raises(Refused, match="does not match"):
        clinic.secrets.revoke(kid, "ops", confirm_key_id=kid[:-1])
    with pytest.raises(NotFound):
        clinic.secrets.revoke("bk_nope", "ops")
    with pytest.raises(ValidationFailed):
        clinic.secrets.revoke("  ", "ops")
    assert fingerprint(clinic.settings.data_dir) == before
    clinic.secrets.revoke(kid, "ops", confirm_key_id=kid)
    before = fingerprint(clinic.settings.data_dir)
    with pytest.raises(Refused, match="already revoked"):
        clinic.secrets.revoke(kid, "ops")
    assert fingerprint(clinic.settings.data_dir) == before


# -- the master key -------------------------------------------------------------------


def desk_with_key(clinic: Desk, key: str | None) -> Desk:
    settings = clinic.settings.with_overrides(master_key=key)
    return Desk(another_store(clinic), clinic.clock, settings)


def test_environment_key_is_used_and_no_file_is_made(clinic: Desk) -> None:
    key = Fernet.generate_key().decode()
    env_desk = desk_with_key(clinic, key)
    made = env_desk.secrets.create_secret("shop", "ops")
    assert not (clinic.settings.data_dir / "master.key").exists()
    assert Fernet(key.encode()).decrypt(made.secret.value_encrypted.encode()).decode() == made.value
    assert env_desk.secrets.reveal(made.secret.key_id, "ops").value == made.value


def test_a_wrong_key_is_a_clear_error_and_never_mixes_keys(clinic: Desk) -> None:
    made = clinic.secrets.create_secret("shop", "ops")
    wrong = desk_with_key(clinic, Fernet.generate_key().decode())
    before = fingerprint(clinic.settings.data_dir)
    with pytest.raises(ConfigError, match="does not match the stored secrets"):
        wrong.secrets.reveal(made.secret.key_id, "ops")
    with pytest.raises(ConfigError, match="does not match the stored secrets"):
        wrong.secrets.create_secret("second", "ops")
    assert fingerprint(clinic.settings.data_dir) == before


def test_a_missing_key_file_is_never_replaced_silently(clinic: Desk) -> None:
    made = clinic.secrets.create_secret("shop", "ops")
    (clinic.settings.data_dir / "master.key").unlink()
    actions: list[Callable[[], object]] = [lambda: clinic.secrets.create_secret("x", "ops"),
                                           lambda: clinic.secrets.reveal(made.secret.key_id, "ops")]
    for action in actions:
        with pytest.raises(ConfigError, match="master key is missing: 1 stored secret"):
            action()
    assert not (clinic.settings.data_dir / "master.key").exists()


def test_a_malformed_key_names_where_it_came_from(clinic: Desk) -> None:
    with pytest.raises(ConfigError, match="RXDESK_MASTER_KEY is not a master key"):
        desk_with_key(clinic, "not-a-key").secrets.create_secret("x", "ops")
    (clinic.settings.data_dir).mkdir(parents=True, exist_ok=True)
    (clinic.settings.data_dir / "master.key").write_text("garbage\n")
    with pytest.raises(ConfigError, match="master.key is not a master key"):
        clinic.secrets.create_secret("x", "ops")


# -- master-key rotation --------------------------------------------------------------


def add_subscription(desk: Desk, secret: str) -> None:
    """A webhook subscription as the webhook area stores it: its whsec_ value under the box."""
    view = view_of(desk)
    box = desk.secrets.box(view, create=True)
    with desk.store.write() as w:
        w.subscriptions.put(
            Subscription(id="sub-1", url="https://hooks.example/rx", events=[EventType.APPOINTMENT_CANCELLED],
                         secret_encrypted=box.encrypt(secret))
        )


def stored_values(desk: Desk) -> list[str]:
    view = view_of(desk)
    return [s.value_encrypted for s in view.secrets.all()] + [s.secret_encrypted for s in view.subscriptions.all()]


def test_rotation_reencrypts_everything_in_one_write(clinic: Desk, now: datetime) -> None:
    a = clinic.secrets.create_secret("a", "ops")
    b = clinic.secrets.create_secret("b", "ops")
    add_subscription(clinic, "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0")
    data_dir = clinic.settings.data_dir
    old_key = (data_dir / "master.key").read_text().strip()
    before = commits(clinic.store)
    result = clinic.secrets.rotate_master_key("ops")
    assert commits(clinic.store) == before + 1
    assert (result.booking_secrets, result.subscriptions) == (2, 1)
    assert "new_master_key" not in result.to_json()  # no key is ever printed
    new_key = (data_dir / "master.key").read_text().strip()
    assert new_key != old_key
    assert not (data_dir / "master.key.next").exists()
    assert stat.S_IMODE((data_dir / "master.key").stat().st_mode) == 0o600
    for token in stored_values(clinic):
        Fernet(new_key.encode()).decrypt(token.encode())
        with pytest.raises(InvalidToken):
            Fernet(old_key.encode()).decrypt(token.encode())
    assert clinic.secrets.reveal(a.secret.key_id, "ops").value == a.value
    box = SecretBox.load(data_dir, None, create=False)
    assert box.decrypt(view_of(clinic).subscriptions.require("sub-1").secret_encrypted).startswith("whsec_")
    # Partners notice nothing: their tokens keep verifying.
    clinic.tokens.verify(mint(b.value, claims_at(now), kid=b.secret.key_id))
    entry = view_of(clinic).audit.for_target("master_key")[-1]
    assert entry.action == "master_key.rotate" and entry.details["booking_secrets"] == 2
    assert old_key not in str(entry.to_json()) and new_key not in str(entry.to_json())


def test_rotation_with_the_key_in_the_environment_needs_the_new_key_first(clinic: Desk) -> None:
    old_key = Fernet.generate_key().decode()
    env_desk = desk_with_key(clinic, old_key)
    made = env_desk.secrets.create_secret("shop", "ops")
    before = fingerprint(clinic.settings.data_dir)
    with pytest.raises(Refused, match="RXDESK_MASTER_KEY=NEW,OLD"):
        env_desk.secrets.rotate_master_key("ops")
    assert fingerprint(clinic.settings.data_dir) == before
    new_key = Fernet.generate_key().decode()
    # NEW,OLD everywhere first: every process still reads every value, new ones go under NEW.
    both = desk_with_key(clinic, f"{new_key},{old_key}")
    second = both.secrets.create_secret("while both", "ops")
    result = both.secrets.rotate_master_key("ops")
    assert result.to_json() == {"booking_secrets": 2, "subscriptions": 0, "key_source": "RXDESK_MASTER_KEY"}
    assert not (clinic.settings.data_dir / "master.key").exists()
    with pytest.raises(ConfigError, match="does not match"):
        desk_with_key(clinic, old_key).secrets.reveal(made.secret.key_id, "ops")
    only_new = desk_with_key(clinic, new_key).secrets
    assert only_new.reveal(made.secret.key_id, "ops").value == made.value
    assert only_new.reveal(second.secret.key_id, "ops").value == second.value


def test_rotation_to_a_chosen_key(clinic: Desk) -> None:
    made = clinic.secrets.create_secret("shop", "ops")
    chosen = Fernet.generate_key().decode()
    clinic.secrets.rotate_master_key("ops", chosen)
    assert (clinic.settings.data_dir / "master.key").read_text().strip() == chosen
    assert clinic.secrets.reveal(made.secret.key_id, "ops").value == made.value
    before = fingerprint(clinic.settings.data_dir)
    with pytest.raises(ConfigError, match="new master key is not a master key"):
        clinic.secrets.rotate_master_key("ops", "too-short")
    assert fingerprint(clinic.settings.data_dir) == before


def test_rotation_with_a_wrong_key_changes_nothing(clinic: Desk) -> None:
    clinic.secrets.create_secret("shop", "ops")
    before = fingerprint(clinic.settings.data_dir)
    wrong = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    with pytest.raises(ConfigError):
        desk_with_key(clinic, wrong).secrets.rotate_master_key("ops")
    assert fingerprint(clinic.settings.data_dir) == before


@pytest.mark.parametrize("crash", ["before the store write", "after the store write"])
def test_an_interrupted_rotation_loses_nothing_and_finishes_on_rerun(
    clinic: Desk, now: datetime, monkeypatch: pytest.MonkeyPatch, crash: str
) -> None:
    from rxdesk.services import crypto

    made = clinic.secrets.create_secret("shop", "ops")
    add_subscription(clinic, "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0")
    key_file = clinic.settings.data_dir / "master.key"
    old_key = key_file.read_text().strip()

    class Crash(Exception):
        pass

    def boom(*args: object) -> None:
        raise Crash

    if crash == "before the store write":
        # The new key is stored (in front of the old one); the re-encryption never commits.
        monkeypatch.setattr(type(clinic.secrets), "_reencrypt", lambda *a: boom())
    else:
        monkeypatch.setattr(crypto, "finish_rotation", boom)
    with pytest.raises(Crash):
        clinic.secrets.rotate_master_key("ops")
    monkeypatch.undo()
    new_key, kept = key_file.read_text().split()
    assert kept == old_key and new_key != old_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Every value still opens, whichever key it is under now.
    assert clinic.secrets.reveal(made.secret.key_id, "ops").value == made.value
    clinic.tokens.verify(mint(made.value, claims_at(now), kid=made.secret.key_id))
    with pytest.raises(Refused, match="interrupted rotation"):
        clinic.secrets.rotate_master_key("ops", Fernet.generate_key().decode())
    clinic.secrets.rotate_master_key("ops")
    assert key_file.read_text().strip() == new_key
    for token in stored_values(clinic):
        Fernet(new_key.encode()).decrypt(token.encode())
    assert clinic.secrets.reveal(made.secret.key_id, "ops").value == made.value


def test_an_interrupted_rotation_of_an_older_version_is_finished(clinic: Desk) -> None:
    """rxdesk 0.1 kept the new key in master.key.next during a rotation."""
    made = clinic.secrets.create_secret("shop", "ops")
    pending = Fernet.generate_key().decode()
    (clinic.settings.data_dir / "master.key.next").write_text(pending + "\n")
    assert clinic.secrets.reveal(made.secret.key_id, "ops").value == made.value
    clinic.secrets.rotate_master_key("ops")
    assert (clinic.settings.data_dir / "master.key").read_text().strip() == pending
    assert not (clinic.settings.data_dir / "master.key.next").exists()
    assert clinic.secrets.reveal(made.secret.key_id, "ops").value == made.value


def test_rotation_on_an_empty_desk_just_changes_the_key(desk: Desk) -> None:
    result = desk.secrets.rotate_master_key("ops")
    assert (result.booking_secrets, result.subscriptions) == (0, 0)
    assert (desk.settings.data_dir / "master.key").exists()
    assert os.stat(desk.settings.data_dir / "master.key").st_mode & 0o077 == 0
