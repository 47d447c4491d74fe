"""The command line of this area: `secrets ...`, `token verify`, `booking ...`; and rotation
without downtime across processes (a revoke in one process is seen by the very next
verification in another)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from rxdesk.services import Desk
from rxdesk.services.tokens import TokenRefused
from tests.helpers import REPO, Cli, CliResult, fingerprint, make_appointment, one_line_refusal, view_of
from tests.unit.test_tokens_minting import claims_at, mint

pytestmark = pytest.mark.backends


@pytest.fixture
def provisioned(cli: Cli, clinic: Desk) -> Cli:
    return cli


def with_env(cli: Cli, extra: dict[str, str]) -> Cli:
    """`cli` with `extra` in the environment of every run."""

    def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        return cli(*args, env={**extra, **(env or {})})

    return run


def create(cli: Cli, label: str = "shop") -> tuple[str, str]:
    result = cli("secrets", "create", "--label", label, "--json")
    assert result.code == 0, result.err
    data = result.json()
    return data["key_id"], data["secret"]


# -- secrets --------------------------------------------------------------------------


def test_create_prints_key_id_and_secret(provisioned: Cli, data_dir: Path) -> None:
    result = provisioned("secrets", "create", "--label", "Shopify storefront", "--json")
    data = result.json()
    assert data["key_id"].startswith("bk_") and len(data["secret"]) >= 43
    assert data["label"] == "Shopify storefront" and data["status"] == "active"
    assert data["created_by"] == "admin:tester"
    assert "value_encrypted" not in data
    assert "store the secret now" in result.err
    text = provisioned("secrets", "create")
    assert text.code == 0 and "secret" in text.out and "key_id" in text.out


def test_list_shows_no_values(provisioned: Cli) -> None:
    kid, value = create(provisioned)
    listed = provisioned("secrets", "list", "--json")
    assert [row["key_id"] for row in listed.json()] == [kid]
    assert value not in listed.out and "secret" not in listed.json()[0]
    table = provisioned("secrets", "list")
    assert kid in table.out and "never" in table.out and value not in table.out


def test_reveal_prints_the_value_and_is_audited(provisioned: Cli, clinic: Desk) -> None:
    kid, value = create(provisioned)
    assert provisioned("secrets", "reveal", kid).out.strip() == value
    data = provisioned("secrets", "reveal", kid, "--json").json()
    assert (data["key_id"], data["secret"]) == (kid, value)
    actions = [e.action for e in view_of(clinic).audit.for_target(f"booking_secret:{kid}")]
    assert actions == ["secret.create", "secret.reveal", "secret.reveal"]


def test_revoke_and_refusals(provisioned: Cli, data_dir: Path) -> None:
    kid, _ = create(provisioned)
    assert "revoked" in provisioned("secrets", "revoke", kid).out
    before = fingerprint(data_dir)
    assert "already revoked" in one_line_refusal(provisioned("secrets", "revoke", kid))
    assert "no booking secret" in one_line_refusal(provisioned("secrets", "revoke", "bk_nope"))
    assert "revoked" in one_line_refusal(provisioned("secrets", "reveal", kid))
    assert fingerprint(data_dir) == before
    assert provisioned("secrets", "revoke").code == 2  # usage: KEY_ID missing


def test_rotate_master_key_with_the_key_file(provisioned: Cli, data_dir: Path) -> None:
    kid, value = create(provisioned)
    old = (data_dir / "master.key").read_text()
    result = provisioned("secrets", "rotate-master-key", "--json")
    assert result.code == 0, result.err
    assert result.json() == {"booking_secrets": 1, "subscriptions": 0, "key_source": str(data_dir / "master.key")}
    assert (data_dir / "master.key").read_text() != old
    assert provisioned("secrets", "reveal", kid).out.strip() == value


def test_rotate_master_key_in_the_environment(provisioned: Cli, data_dir: Path) -> None:
    old = Fernet.generate_key().decode()
    kid, value = create(with_env(provisioned, {"RXDESK_MASTER_KEY": old}))
    before = fingerprint(data_dir)
    refused = provisioned("secrets", "rotate-master-key", env={"RXDESK_MASTER_KEY": old})
    assert "RXDESK_MASTER_KEY=NEW,OLD" in one_line_refusal(refused)
    assert fingerprint(data_dir) == before
    new = provisioned("secrets", "new-master-key").out.strip()
    result = provisioned("secrets", "rotate-master-key", "--json", env={"RXDESK_MASTER_KEY": f"{new},{old}"})
    assert result.code == 0, result.err
    assert result.json() == {"booking_secrets": 1, "subscriptions": 0, "key_source": "RXDESK_MASTER_KEY"}
    assert new not in result.out and old not in result.out and "remove the old key" in result.err
    assert "does not match" in one_line_refusal(provisioned("secrets", "reveal", kid, env={"RXDESK_MASTER_KEY": old}))
    assert provisioned("secrets", "reveal", kid, env={"RXDESK_MASTER_KEY": new}).out.strip() == value
    stale = provisioned("secrets", "rotate-master-key", env={"RXDESK_MASTER_KEY": f"{new},{old}",
                                                            "RXDESK_NEW_MASTER_KEY": old})
    assert "no longer read" in one_line_refusal(stale)


def rotate_in_a_process(cli_env: dict[str, str], stdout: int | str, **env: str) -> subprocess.CompletedProcess[str]:
    """`rxdesk secrets rotate-master-key` with its output going to `stdout`: a pipe nobody
    reads (`| true`) or /dev/full."""
    if stdout == "closed":
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            return subprocess.run([sys.executable, "-m", "rxdesk", "secrets", "rotate-master-key"],
                                  env={**os.environ, **cli_env, **env, "PYTHONPATH": str(REPO)}, stdout=write_end,
                                  stderr=subprocess.PIPE, text=True, timeout=60, check=False)
        finally:
            os.close(write_end)
    with open(stdout, "w") as sink:
        return subprocess.run([sys.executable, "-m", "rxdesk", "secrets", "rotate-master-key"],
                              env={**os.environ, **cli_env, **env, "PYTHONPATH": str(REPO)}, stdout=sink,
                              stderr=subprocess.PIPE, text=True, timeout=60, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("stdout", ["closed", "/dev/full"])
def test_a_rotation_whose_output_cannot_be_written_loses_nothing(clinic: Desk, cli: Cli, cli_env: dict[str, str], stdout: str) -> None:
    """`rotate-master-key | true` used to commit and then fail to print the only copy of the new
    key: every secret was lost, with exit 0."""
    old = Fernet.generate_key().decode()
    kid, value = create(with_env(cli, {"RXDESK_MASTER_KEY": old}))
    new = Fernet.generate_key().decode()
    done = rotate_in_a_process(cli_env, stdout, RXDESK_MASTER_KEY=f"{new},{old}")
    assert "Traceback" not in done.stderr
    assert cli("secrets", "reveal", kid, env={"RXDESK_MASTER_KEY": new}).out.strip() == value
    # With master.key: the new key is in the file before the rotation commits.
    file_kid, file_value = create(with_env(cli, {"RXDESK_MASTER_KEY": new}))
    assert file_kid  # (made under the environment key; now move the data dir to a key file)
    clinic.settings.data_dir.mkdir(mode=0o700, exist_ok=True)  # with a database it holds nothing yet
    (clinic.settings.data_dir / "master.key").write_text(new + "\n")
    done = rotate_in_a_process(cli_env, stdout)
    assert "Traceback" not in done.stderr
    assert cli("secrets", "reveal", kid).out.strip() == value
    assert cli("secrets", "reveal", file_kid).out.strip() == file_value
    assert (clinic.settings.data_dir / "master.key").read_text().strip() != new


# -- token verify ---------------------------------------------------------------------


def test_verify_prints_the_claims(provisioned: Cli, now: datetime) -> None:
    kid, value = create(provisioned)
    claims = claims_at(now, "shop-10002", jti="j-1")
    result = provisioned("token", "verify", mint(value, claims, kid=kid), "--json")
    assert result.code == 0, result.err
    assert result.json() == claims
    text = provisioned("token", "verify", mint(value, claims, kid=kid))
    assert "Omar Haddad (pat-002)" in text.out and kid in text.out


def test_verify_refusals_are_one_line_without_the_token(provisioned: Cli, now: datetime) -> None:
    kid, value = create(provisioned)
    cases = {
        mint(value, claims_at(now), kid=kid, alg="none"): "algorithm 'none' is not accepted",
        mint(value, claims_at(now), kid=kid, alg="HS512"): "algorithm 'HS512'",
        mint(value, claims_at(now)): "no kid",
        mint("y" * 43, claims_at(now), kid=kid): "bad signature",
        mint(value, claims_at(now, lifetime=3600), kid=kid): "too long",
        mint(value, claims_at(now, "nobody"), kid=kid): "names no patient",
        "not-a-token": "not a JWT",
    }
    for token, reason in cases.items():
        err = one_line_refusal(provisioned("token", "verify", token, "--json"))
        assert reason in err and "token refused" in err
        assert token not in err


def test_verify_uses_rxdesk_now(provisioned: Cli, now: datetime) -> None:
    kid, value = create(provisioned)
    token = mint(value, claims_at(now), kid=kid)
    later = (now + timedelta(minutes=11)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "expired" in one_line_refusal(provisioned("token", "verify", token, env={"RXDESK_NOW": later}))
    earlier = (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "future" in one_line_refusal(provisioned("token", "verify", token, env={"RXDESK_NOW": earlier}))
    assert provisioned("token", "verify", token).code == 0


def test_a_token_can_come_from_stdin(provisioned: Cli, now: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    kid, value = create(provisioned)
    monkeypatch.setattr(sys, "stdin", io.StringIO(mint(value, claims_at(now), kid=kid) + "\n"))
    assert provisioned("token", "verify", "-", "--json").json()["sub"] == "shop-10001"


# -- booking --------------------------------------------------------------------------


def test_hold_confirm_cancel(provisioned: Cli, now: datetime, clinic: Desk) -> None:
    kid, value = create(provisioned)
    token = mint(value, claims_at(now), kid=kid)
    held = provisioned("booking", "hold", "--token", token, "--doctor", "dr-weber", "--type", "gp-consult",
                       "--start", "2026-11-25T10:00:00+01:00", "--json")
    assert held.code == 0, held.err
    appt = held.json()
    assert appt["status"] == "held" and appt["starts_at"] == "2026-11-25T09:00:00Z"
    assert appt["hold_expires_at"] == "2026-11-23T08:15:00Z" and appt["patient_id"] == "pat-001"
    confirmed = provisioned("booking", "confirm", appt["uid"], "--token", token, "--json").json()
    assert confirmed["status"] == "confirmed"
    text = provisioned("booking", "cancel", appt["uid"], "--token", token)
    assert text.code == 0 and text.out.startswith(f"cancelled {appt['uid']}")
    assert clinic.appointments.get(appt["uid"]).cancelled_by == "patient:pat-001"


def test_booking_refusals(provisioned: Cli, now: datetime, data_dir: Path) -> None:
    kid, value = create(provisioned)
    token = mint(value, claims_at(now), kid=kid)
    before = fingerprint(data_dir)
    args = ["booking", "hold", "--token", token, "--doctor", "dr-weber", "--type", "gp-consult"]
    assert "not a GP video consultation slot" in one_line_refusal(provisioned(*args, "--start", "2026-11-25T09:10:00Z"))
    assert "--start" in one_line_refusal(provisioned(*args, "--start", "tomorrow"))
    assert "no kid" in one_line_refusal(provisioned("booking", "confirm", "0000000000000a", "--token", mint(value, claims_at(now))))
    assert "of patient pat-001" in one_line_refusal(provisioned("booking", "cancel", "0000000000000a", "--token", token))
    assert fingerprint(data_dir) == before
    assert provisioned("booking", "hold", "--token", token).code == 2


# -- rotation without downtime, across processes ----------------------------------------


def rxdesk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """rxdesk in a process of its own, on the same data dir."""
    return subprocess.run(
        [sys.executable, "-m", "rxdesk", *args],
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.slow
def test_rotation_without_downtime_across_processes(clinic: Desk, cli_env: dict[str, str], now: datetime) -> None:
    old = clinic.secrets.create_secret("storefront 2025", "ops")
    new = clinic.secrets.create_secret("storefront 2026", "ops")
    old_token = mint(old.value, claims_at(now), kid=old.secret.key_id)
    new_token = mint(new.value, claims_at(now), kid=new.secret.key_id)
    # Both active: both verify, here and in another process.
    clinic.tokens.verify(old_token)
    clinic.tokens.verify(new_token)
    assert rxdesk(cli_env, "token", "verify", old_token).returncode == 0

    # Another process revokes the old key; this process refuses it on the very next call.
    revoked = rxdesk(cli_env, "secrets", "revoke", old.secret.key_id)
    assert revoked.returncode == 0, revoked.stderr
    with pytest.raises(TokenRefused) as info:
        clinic.tokens.verify(old_token)
    assert info.value.reason == "revoked_kid"
    assert clinic.tokens.verify(new_token).kid == new.secret.key_id

    # And the other way round: this process revokes, another process refuses at once.
    third = clinic.secrets.create_secret("storefront 2027", "ops")
    third_token = mint(third.value, claims_at(now), kid=third.secret.key_id)
    assert rxdesk(cli_env, "token", "verify", new_token).returncode == 0
    clinic.secrets.revoke(new.secret.key_id, "ops")
    refused = rxdesk(cli_env, "token", "verify", new_token)
    assert refused.returncode == 1 and "was revoked" in refused.stderr and new_token not in refused.stderr
    passed = rxdesk(cli_env, "token", "verify", third_token, "--json")
    assert passed.returncode == 0, passed.stderr
    # A verification is a diagnostic: last_used_at does not move; another process's booking
    # call moves it, and this process sees it.
    assert clinic.secrets.get(third.secret.key_id).last_used_at is None
    uid = make_appointment(clinic, start=now + timedelta(days=30)).uid
    booked = rxdesk(cli_env, "booking", "cancel", uid, "--token", third_token)
    assert booked.returncode == 0, booked.stderr
    assert clinic.secrets.get(third.secret.key_id).last_used_at == now
