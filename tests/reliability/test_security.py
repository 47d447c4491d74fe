"""Data at rest and what leaves the process: private files, no secret in any file or log,
audited reveals and revokes, one clear line for a wrong master key or a damaged file."""

from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from rxdesk.services import Desk
from tests.helpers import Cli, fingerprint, make_appointment, view_of
from tests.receiver import Receiver
from tests.unit.test_tokens_minting import claims_at, mint


def every_byte_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_no_secret_or_token_is_stored_or_logged_in_the_clear(clinic: Desk, cli: Cli, data_dir: Path, now: datetime) -> None:
    created = cli("secrets", "create", "--label", "Shopify storefront", "--json")
    assert created.code == 0, created.err
    key_id, secret = created.json()["key_id"], created.json()["secret"]
    good = mint(secret, claims_at(now, sub="pat-001"), kid=key_id)
    forged = mint(secret + "x", claims_at(now, sub="pat-001"), kid=key_id)
    assert cli("token", "verify", good).code == 0
    refused = cli("token", "verify", forged)
    assert refused.code == 1 and forged not in refused.err and secret not in refused.err
    assert cli("secrets", "reveal", key_id, "--json").json()["secret"] == secret
    assert cli("secrets", "revoke", key_id).code == 0
    stored = every_byte_under(data_dir)
    for needle in (secret, good, forged, good.split(".")[2]):
        assert needle.encode() not in stored
    audit = view_of(clinic).audit.for_target(f"booking_secret:{key_id}")
    assert [(e.action, e.actor) for e in audit] == [
        ("secret.create", "admin:tester"), ("secret.reveal", "admin:tester"), ("secret.revoke", "admin:tester")]
    for entry in audit:
        assert secret not in json.dumps(entry.to_json())


def test_files_and_folders_are_private(clinic: Desk, cli: Cli, data_dir: Path, now: datetime) -> None:
    make_appointment(clinic, start=now + timedelta(days=1))
    assert cli("secrets", "create", "--json").code == 0
    assert cli("appointments", "list").code == 0
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_a_master_key_that_does_not_match_is_one_line_and_changes_nothing(clinic: Desk, cli: Cli, data_dir: Path) -> None:
    key_id = cli("secrets", "create", "--json").json()["key_id"]
    before = fingerprint(data_dir)
    other = Fernet.generate_key().decode()
    for argv in (("secrets", "reveal", key_id), ("secrets", "create")):
        result = cli(*argv, env={"RXDESK_MASTER_KEY": other})
        assert result.code == 1, argv
        assert len(result.err.strip().splitlines()) == 1 and "master key" in result.err
        assert other not in result.err
    assert fingerprint(data_dir) == before


@pytest.mark.parametrize("damage", ["truncated", "emptied", "not json", "json but not tinydb"])
@pytest.mark.parametrize("which", ["segment", "manifest"])
def test_a_damaged_file_is_named_and_left_byte_for_byte(clinic: Desk, cli: Cli, data_dir: Path, now: datetime, damage: str, which: str) -> None:
    make_appointment(clinic, start=now + timedelta(days=1))
    if which == "manifest":
        target = data_dir / "rxdesk.json"
    else:
        manifest = json.loads((data_dir / "rxdesk.json").read_text())
        target = data_dir / "segments" / manifest["segments"]["core"]["file"]
    raw = target.read_bytes()
    target.write_bytes({"truncated": raw[: len(raw) // 2], "emptied": b"", "not json": b"\x00\xffnope",
                        "json but not tinydb": b"[1, 2, 3]"}[damage])
    before = fingerprint(data_dir)
    for argv in (("appointments", "list"), ("patients", "list"), ("secrets", "create")):
        result = cli(*argv)
        assert result.code == 1, (argv, result.out)
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and target.name in lines[0], result.err
    assert fingerprint(data_dir) == before


def test_a_write_whose_answer_needs_a_damaged_file_is_refused_before_it_changes_anything(
        clinic: Desk, cli: Cli, data_dir: Path, now: datetime) -> None:
    """A cancel or an attendance mark changes one week; its answer shows the start in the
    organisation's zone, from `core`. With `core` damaged (its size intact, so only its checksum
    tells), the command is refused in one line and nothing is written, not written and then
    reported as refused."""
    upcoming = make_appointment(clinic, start=now + timedelta(days=1)).uid
    ended = make_appointment(clinic, start=now - timedelta(hours=3)).uid
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    core = data_dir / "segments" / manifest["segments"]["core"]["file"]
    raw = bytearray(core.read_bytes())
    middle = raw.index(b'"', len(raw) // 2) + 1  # a character inside a string: still JSON, another text
    raw[middle] = ord("#") if raw[middle] != ord("#") else ord("%")
    core.write_bytes(bytes(raw))
    before = fingerprint(data_dir)
    for argv in (("appointments", "cancel", upcoming, "--reason", "x"),
                 ("appointments", "mark", ended, "--status", "completed", "--reason", "x")):
        result = cli(*argv)
        assert result.code == 1, (argv, result.out)
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and core.name in lines[0] and "corrupt" in lines[0], result.err
        assert fingerprint(data_dir) == before, argv


def test_a_worker_tick_that_fails_says_why_in_one_line_on_stderr(clinic: Desk, cli: Cli, data_dir: Path,
                                                                 now: datetime) -> None:
    """`worker --once` whose tick fails (a damaged file only its checksum tells) exits 1 with the
    reason in one line on stderr, as every refused command does; its log stays on stdout."""
    make_appointment(clinic, start=now - timedelta(hours=3))  # ended: the tick has work
    manifest = json.loads((data_dir / "rxdesk.json").read_text())
    core = data_dir / "segments" / manifest["segments"]["core"]["file"]
    raw = bytearray(core.read_bytes())
    middle = raw.index(b'"', len(raw) // 2) + 1
    raw[middle] = ord("#") if raw[middle] != ord("#") else ord("%")
    core.write_bytes(bytes(raw))
    before = fingerprint(data_dir)
    result = cli("worker", "--once")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and core.name in lines[0] and "tick failed" in lines[0], result.err
    assert "tick failed" in result.out
    assert fingerprint(data_dir) == before


@pytest.mark.permissions
def test_a_data_dir_that_is_not_writable_is_one_line(clinic: Desk, cli: Cli, data_dir: Path, now: datetime) -> None:
    uid = make_appointment(clinic, start=now + timedelta(days=1)).uid
    before = fingerprint(data_dir)
    data_dir.chmod(0o500)
    try:
        result = cli("appointments", "cancel", uid, "--reason", "x")
    finally:
        data_dir.chmod(0o700)
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1
    assert fingerprint(data_dir) == before


def test_a_data_dir_that_is_a_file_is_one_line_and_left_alone(tmp_path: Path, cli: Cli) -> None:
    not_a_dir = tmp_path / "notes.txt"
    not_a_dir.write_text("someone's notes\n")
    for argv in (("appointments", "list"), ("secrets", "create"), ("demo", "--appointments", "10")):
        result = cli("--data-dir", str(not_a_dir), *argv)
        assert result.code == 1 and len(result.err.strip().splitlines()) == 1, (argv, result.err)
        assert "notes.txt" in result.err
    assert not_a_dir.read_text() == "someone's notes\n"


def test_a_webhook_signing_secret_never_lands_in_a_file_log_or_outbox(clinic: Desk, cli: Cli, data_dir: Path, now: datetime, receiver: Receiver) -> None:

    receiver.default = (500, {})
    made = cli("subscriptions", "add", "--url", receiver.url, "--event", "APPOINTMENT_CANCELLED",
               "--allow-private-network", "--json")
    secret = made.json()["secret"]
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    assert cli("appointments", "cancel", appt.uid, "--reason", "x").code == 0
    assert cli("worker", "--once").code == 0
    assert receiver.received  # it was used to sign
    stored = every_byte_under(data_dir)
    raw = secret.removeprefix("whsec_")
    assert secret.encode() not in stored and raw.encode() not in stored
    assert secret not in cli("subscriptions", "list", "--json").out
    assert secret not in cli("deliveries", "list", "--json").out
