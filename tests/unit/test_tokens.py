"""Booking-token verification: acceptance, and each refusal with its own reason.

Tokens are minted by the PyJWT-free minter in test_tokens_minting.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rxdesk.domain.clock import FixedClock
from rxdesk.domain.errors import ConfigError
from rxdesk.services import Desk
from rxdesk.services.secrets import SecretService
from rxdesk.services.tokens import TokenRefused
from tests.helpers import Cli, book_with, fingerprint
from tests.unit.test_tokens_minting import b64url, claims_at, mint

pytestmark = pytest.mark.backends


@pytest.fixture
def partner(clinic: Desk) -> tuple[str, str]:
    """An active booking secret: (key_id, value)."""
    made = clinic.secrets.create_secret("Shopify storefront", "ops")
    return made.secret.key_id, made.value


def refused(desk: Desk, token: str) -> TokenRefused:
    before = fingerprint(desk.settings.data_dir)
    with pytest.raises(TokenRefused) as info:
        desk.tokens.verify(token)
    assert fingerprint(desk.settings.data_dir) == before, "a refused token changed the data dir"
    message = str(info.value)
    assert "\n" not in message
    assert token.strip() == "" or token not in message
    for part in token.split("."):
        if len(part) > 12:
            assert part not in message, "a part of the token leaked into the error"
    return info.value


# -- acceptance -----------------------------------------------------------------------


def test_a_token_naming_the_patient_by_external_id_is_accepted(clinic: Desk, partner: tuple[str, str], now: datetime) -> None:
    kid, value = partner
    claims = claims_at(now, "shop-10001", jti="abc")
    verified = clinic.tokens.verify(mint(value, claims, kid=kid))
    assert verified.patient.id == "pat-001"
    assert verified.kid == kid
    assert verified.claims == claims
    assert verified.actor == "patient:pat-001"
    assert verified.expires_at == now + timedelta(minutes=10)


def test_sub_may_name_the_patient_by_id(clinic: Desk, partner: tuple[str, str], now: datetime) -> None:
    kid, value = partner
    assert clinic.tokens.verify(mint(value, claims_at(now, "pat-003"), kid=kid)).patient.id == "pat-003"


def test_the_hmac_key_is_the_value_exactly_as_shown(clinic: Desk, partner: tuple[str, str], now: datetime) -> None:
    kid, value = partner
    assert clinic.tokens.verify(mint(value.encode("utf-8"), claims_at(now), kid=kid))
    # Decoding the base64 text first (a common partner mistake) is a different key.
    import base64

    decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    assert refused(clinic, mint(decoded, claims_at(now), kid=kid)).reason == "bad_signature"


def test_a_booking_call_updates_last_used_at(clinic: Desk, partner: tuple[str, str], now: datetime, clock: FixedClock) -> None:
    kid, value = partner
    assert clinic.secrets.get(kid).last_used_at is None
    clock.advance(minutes=3)
    book_with(clinic, mint(value, claims_at(clock.now()), kid=kid))
    assert clinic.secrets.get(kid).last_used_at == now + timedelta(minutes=3)


def test_verifying_a_token_changes_nothing_last_used_at_included(clinic: Desk, partner: tuple[str, str], now: datetime,
                                                                 clock: FixedClock, cli: Cli) -> None:
    """`token verify` is an agent's diagnostic: it must not look like a partner still using
    the secret (rotation waits for last_used_at to stop moving)."""
    kid, value = partner
    book_with(clinic, mint(value, claims_at(now), kid=kid))
    before = fingerprint(clinic.settings.data_dir)
    clock.advance(minutes=5)
    assert clinic.tokens.verify(mint(value, claims_at(clock.now()), kid=kid)).kid == kid
    token = mint(value, claims_at(now + timedelta(minutes=5)), kid=kid)
    assert cli("token", "verify", token, env={"RXDESK_NOW": "2026-11-23T08:05:00Z"}).code == 0
    assert clinic.secrets.get(kid).last_used_at == now
    assert fingerprint(clinic.settings.data_dir) == before


@pytest.mark.parametrize(
    ("issued", "lifetime"),
    [
        (0, 900),  # the longest lifetime
        (30, 60),  # iat at the edge of the leeway
        (-629, 600),  # expired 29 s ago: inside the leeway
        (-899, 900),
    ],
)
def test_edges_that_pass(clinic: Desk, partner: tuple[str, str], now: datetime, issued: int, lifetime: int) -> None:
    kid, value = partner
    clinic.tokens.verify(mint(value, claims_at(now, issued=issued, lifetime=lifetime), kid=kid))


def test_two_active_secrets_both_verify(clinic: Desk, partner: tuple[str, str], now: datetime) -> None:
    kid, value = partner
    other = clinic.secrets.create_secret("new storefront key", "ops")
    assert clinic.tokens.verify(mint(value, claims_at(now), kid=kid)).kid == kid
    assert clinic.tokens.verify(mint(other.value, claims_at(now), kid=other.secret.key_id)).kid == other.secret.key_id
    # Each kid routes to its own secret: the right key under the wrong kid fails.
    assert refused(clinic, mint(other.value, claims_at(now), kid=kid)).reason == "bad_signature"


def test_revoke_is_immediate(clinic: Desk, partner: tuple[str, str], now: datetime) -> None:
    kid, value = partner
    other = clinic.secrets.create_secret("next", "ops")
    token, other_token = mint(value, claims_at(now), kid=kid), mint(other.value, claims_at(now), kid=other.secret.key_id)
    clinic.tokens.verify(token)
    clinic.secrets.revoke(kid, "ops")
    assert refused(clinic, token).reason == "revoked_kid"
    clinic.tokens.verify(other_token)


# -- refusals -------------------------------------------------------------------------


def _cases(kid: str, value: str, now: datetime) -> dict[str, tuple[str, str]]:
    good = claims_at(now)
    valid = mint(value, good, kid=kid)
    head, body, sig = valid.split(".")
    other_patient = b64url(b'{"sub":"shop-10002","iat":%d,"exp":%d}' % (good["iat"], good["exp"]))
    return {
        # name: (token, reason)
        "alg none, unsigned": (mint(value, good, kid=kid, alg="none"), "wrong_algorithm"),
        "alg none, with the HS256 signature": (mint(value, good, kid=kid, alg="none", sign_with="HS256"), "wrong_algorithm"),
        "alg NONE": (mint(value, good, kid=kid, alg="NONE", sign_with="none"), "wrong_algorithm"),
        "HS512 with the secret": (mint(value, good, kid=kid, alg="HS512"), "wrong_algorithm"),
        "HS384 with the secret": (mint(value, good, kid=kid, alg="HS384"), "wrong_algorithm"),
        "RS256 whose key is the secret": (mint(value, good, kid=kid, alg="RS256"), "wrong_algorithm"),
        "lower-case hs256": (mint(value, good, kid=kid, alg="hs256", sign_with="HS256"), "wrong_algorithm"),
        "no alg": (mint(value, good, kid=kid, header={"alg": None}, sign_with="HS256"), "wrong_algorithm"),
        "missing kid": (mint(value, good), "missing_kid"),
        "empty kid": (mint(value, good, kid=""), "missing_kid"),
        "kid not text": (mint(value, good, header={"kid": 7}), "malformed"),
        "unknown kid": (mint(value, good, kid="bk_nosuchkey00"), "unknown_kid"),
        "signed with another key": (mint("x" * 43, good, kid=kid), "bad_signature"),
        "tampered payload": (f"{head}.{other_patient}.{sig}", "bad_signature"),
        "signature stripped": (f"{head}.{body}.", "bad_signature"),
        "garbage": ("garbage", "malformed"),
        "three garbage parts": ("abc.def.ghi", "malformed"),
        "four parts": (valid + ".x", "malformed"),
        "empty": ("", "malformed"),
        "header not json": (f"{b64url(b'not json')}.{body}.{sig}", "malformed"),
        "payload not json": (mint(value, b"not json", kid=kid), "malformed"),
        "payload a list": (mint(value, b"[1,2]", kid=kid), "malformed"),
        "missing exp": (mint(value, {"sub": "shop-10001", "iat": good["iat"]}, kid=kid), "missing_exp"),
        "missing iat": (mint(value, {"sub": "shop-10001", "exp": good["exp"]}, kid=kid), "missing_iat"),
        "missing sub": (mint(value, {"iat": good["iat"], "exp": good["exp"]}, kid=kid), "missing_sub"),
        "exp as text": (mint(value, {**good, "exp": str(good["exp"])}, kid=kid), "malformed"),
        "exp true": (mint(value, {**good, "exp": True}, kid=kid), "malformed"),
        "sub a number": (mint(value, {**good, "sub": 10001}, kid=kid), "malformed"),
        "expired": (mint(value, claims_at(now, issued=-630, lifetime=600), kid=kid), "expired"),
        "long expired": (mint(value, claims_at(now - timedelta(days=2)), kid=kid), "expired"),
        "iat in the future": (mint(value, claims_at(now, issued=31, lifetime=60), kid=kid), "iat_in_future"),
        "lifetime too long": (mint(value, claims_at(now, lifetime=901), kid=kid), "lifetime_too_long"),
        "a day-long token": (mint(value, claims_at(now, lifetime=86400), kid=kid), "lifetime_too_long"),
        "exp before iat": (mint(value, claims_at(now, lifetime=-5), kid=kid), "malformed"),
        "nbf in the future": (mint(value, claims_at(now, nbf=int(now.timestamp()) + 120), kid=kid), "not_yet_valid"),
        "unknown patient": (mint(value, claims_at(now, "shop-99999"), kid=kid), "unknown_patient"),
        "too long": (mint(value, {**good, "pad": "x" * 9000}, kid=kid), "malformed"),
    }


CASE_NAMES = list(_cases("k", "v", datetime.fromisoformat("2026-11-23T08:00:00+00:00")))


@pytest.mark.parametrize("name", CASE_NAMES)
def test_each_refusal_has_its_own_reason(clinic: Desk, partner: tuple[str, str], now: datetime, name: str) -> None:
    kid, value = partner
    token, reason = _cases(kid, value, now)[name]
    err = refused(clinic, token)
    assert err.reason == reason, str(err)
    assert str(err).startswith("token refused: ")


def test_reasons_read_differently(clinic: Desk, partner: tuple[str, str], now: datetime) -> None:
    kid, value = partner
    messages: dict[str, set[str]] = {}
    for token, reason in _cases(kid, value, now).values():
        messages.setdefault(reason, set()).add(str(refused(clinic, token)))
    firsts = {reason: sorted(texts)[0] for reason, texts in messages.items()}
    assert len(set(firsts.values())) == len(firsts)
    assert "revoked" not in " ".join(firsts.values())


def test_revoked_kid_is_its_own_reason(clinic: Desk, partner: tuple[str, str], now: datetime) -> None:
    kid, value = partner
    clinic.secrets.revoke(kid, "ops")
    err = refused(clinic, mint(value, claims_at(now), kid=kid))
    assert err.reason == "revoked_kid"
    assert kid in str(err)


def test_kid_is_looked_up_before_any_hmac_work(clinic: Desk, partner: tuple[str, str], now: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    kid, value = partner

    def no_key(*args: object) -> str:
        raise AssertionError("the secret was decrypted for an unknown or revoked kid")

    monkeypatch.setattr(SecretService, "value_of", no_key)
    assert refused(clinic, mint(value, claims_at(now), kid="bk_unknown")).reason == "unknown_kid"
    assert refused(clinic, mint(value, claims_at(now), kid=kid, alg="HS512")).reason == "wrong_algorithm"
    monkeypatch.undo()
    clinic.secrets.revoke(kid, "ops")
    monkeypatch.setattr(SecretService, "value_of", no_key)
    assert refused(clinic, mint(value, claims_at(now), kid=kid)).reason == "revoked_kid"


def test_unknown_kid_needs_no_master_key(desk: Desk, now: datetime) -> None:
    # Nothing provisioned, no master.key: the kid is refused before the key is looked for.
    assert refused(desk, mint("v" * 43, claims_at(now), kid="bk_any")).reason == "unknown_kid"
    assert not (desk.settings.data_dir / "master.key").exists()


def test_a_missing_master_key_is_a_clear_error(clinic: Desk, partner: tuple[str, str], now: datetime) -> None:
    kid, value = partner
    (clinic.settings.data_dir / "master.key").unlink()
    with pytest.raises(ConfigError, match="master key is missing"):
        clinic.tokens.verify(mint(value, claims_at(now), kid=kid))


def test_time_comes_from_the_service_clock(clinic: Desk, partner: tuple[str, str], now: datetime, clock: FixedClock) -> None:
    kid, value = partner
    token = mint(value, claims_at(now), kid=kid)
    clock.advance(minutes=10, seconds=29)
    clinic.tokens.verify(token)
    clock.advance(seconds=1)
    assert refused(clinic, token).reason == "expired"
    clock.set(now - timedelta(seconds=31))
    assert refused(clinic, token).reason == "iat_in_future"


def test_a_token_verified_in_a_refused_write_leaves_last_used_at(clinic: Desk, partner: tuple[str, str], now: datetime) -> None:
    kid, value = partner
    # A booking call refused after the token passed changes nothing, last_used_at included.
    from rxdesk.domain.errors import NotFound

    with pytest.raises(NotFound):
        clinic.booking.confirm(mint(value, claims_at(now), kid=kid), "0000000000000a")
    assert clinic.secrets.get(kid).last_used_at is None
