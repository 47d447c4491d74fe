"""Patient booking tokens: short-lived JWTs a partner backend signs with a booking secret.

The rules (DESIGN: Booking tokens and secrets) are checked in this order, each refusal with
its own reason: the token's shape; `alg` is exactly HS256 (hard-coded, never taken from the
token); a `kid` naming an active secret, looked up before any HMAC work; the HS256 signature
under the secret value's UTF-8 bytes; `exp` and `iat` present, `iat` not in the future,
lifetime (exp - iat) at most 15 minutes, not expired (30 s leeway), `nbf` if present; and `sub`
naming a patient (external id first, then id). Times come from the service clock, so
RXDESK_NOW applies. A token's text never appears in an error, a log or the audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import jwt

from rxdesk.domain.errors import Refused
from rxdesk.domain.models import BookingSecret, Patient
from rxdesk.services.base import Service
from rxdesk.services.secrets import SecretService
from rxdesk.store.protocols import StoreView, UnitOfWork

ALGORITHM = "HS256"
MAX_LIFETIME_SECONDS = 15 * 60
LEEWAY_SECONDS = 30
MAX_TOKEN_CHARS = 8192
# Time claims beyond the year 9999 (or before year 1) are not times; NaN fails the range check.
MAX_CLAIM_SECONDS = 253402300799


class TokenRefused(Refused):
    """A booking token was refused. `reason` is a stable code; the message says it for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"token refused: {message}")
        self.reason = reason


def _shown(value: object, limit: int = 40) -> str:
    """A value from the token, safe to put in a one-line message (quoted, escaped, short)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class VerifiedToken:
    kid: str
    patient: Patient
    claims: dict[str, Any]
    issued_at: datetime
    expires_at: datetime

    @property
    def actor(self) -> str:
        """Who acts with this token: the patient it names (the `kid` goes in the details)."""
        return f"patient:{self.patient.id}"


def _instant(claims: dict[str, Any], name: str) -> float:
    if name not in claims:
        raise TokenRefused(f"missing_{name}", f"the {name} claim is missing (it is required)")
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRefused("malformed", f"the {name} claim is not a number of seconds")
    # JSON allows Infinity, NaN and integers of any length: none of them is a time.
    if not -MAX_CLAIM_SECONDS <= value <= MAX_CLAIM_SECONDS:
        raise TokenRefused("malformed", f"the {name} claim is not a time (out of range or not a finite number)")
    return float(value)


def _as_datetime(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC).replace(microsecond=0)
    except (OverflowError, OSError, ValueError):
        raise TokenRefused("malformed", "a time claim is out of range") from None


def read_header(token: object) -> dict[str, Any]:
    """The unverified header, after the checks that need no key: shape, alg, kid."""
    if not isinstance(token, str) or not token.strip():
        raise TokenRefused("malformed", "no token given")
    text = token.strip()
    if len(text) > MAX_TOKEN_CHARS:
        raise TokenRefused("malformed", f"the token is longer than {MAX_TOKEN_CHARS} characters")
    if text.count(".") != 2:
        raise TokenRefused("malformed", "not a JWT (three base64url parts joined by dots)")
    try:
        header = jwt.get_unverified_header(text)
    except jwt.InvalidTokenError:
        raise TokenRefused("malformed", "not a JWT (its header does not decode)") from None
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise TokenRefused("wrong_algorithm", f"algorithm {_shown(alg)} is not accepted; only {ALGORITHM} is")
    kid = header.get("kid")
    if kid is None or kid == "":
        raise TokenRefused("missing_kid", "the header has no kid (it names the booking secret)")
    if not isinstance(kid, str):
        raise TokenRefused("malformed", "the kid header is not text")
    return header


class TokenService(Service):
    @cached_property
    def _secrets(self) -> SecretService:
        return SecretService(self.store, self.clock, self.settings)

    def check(self, view: StoreView, token: str) -> VerifiedToken:
        """Verify `token` against `view` without changing anything (see the module rules)."""
        header = read_header(token)
        kid: str = header["kid"]
        secret = view.secrets.get(kid)
        if secret is None:
            raise TokenRefused("unknown_kid", f"unknown kid {_shown(kid)}")
        if not secret.active:
            raise TokenRefused("revoked_kid", f"kid {_shown(kid)} was revoked")
        key = self._secrets.value_of(view, secret).encode("utf-8")
        try:
            claims = jwt.decode(
                token.strip(),
                key,
                algorithms=[ALGORITHM],
                # Time claims are checked below against the service clock, not the wall clock.
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise TokenRefused("bad_signature", f"bad signature (not signed with the secret {kid})") from None
        except jwt.InvalidAlgorithmError:
            raise TokenRefused("wrong_algorithm", f"only {ALGORITHM} is accepted") from None
        except jwt.InvalidTokenError:
            raise TokenRefused("malformed", "not a JWT (its payload does not decode)") from None
        return self._check_claims(view, kid, claims)

    def precheck(self, token: str) -> VerifiedToken:
        """`check` on a read of its own: a refused token never takes the write lock (the
        write checks again, so a secret revoked in between is refused too)."""
        with self.store.read() as view:
            return self.check(view, token)

    def _check_claims(self, view: StoreView, kid: str, claims: dict[str, Any]) -> VerifiedToken:
        now = self.now().timestamp()
        exp = _instant(claims, "exp")
        iat = _instant(claims, "iat")
        if iat > now + LEEWAY_SECONDS:
            raise TokenRefused("iat_in_future", "issued in the future (iat is after now; check the minter's clock)")
        if exp <= iat:
            raise TokenRefused("malformed", "exp is not after iat")
        if exp - iat > MAX_LIFETIME_SECONDS:
            raise TokenRefused(
                "lifetime_too_long",
                f"lifetime {int(exp - iat)} s is too long (exp - iat may be at most {MAX_LIFETIME_SECONDS} s)",
            )
        if exp <= now - LEEWAY_SECONDS:
            raise TokenRefused("expired", f"expired {int(now - exp)} s ago")
        if "nbf" in claims and _instant(claims, "nbf") > now + LEEWAY_SECONDS:
            raise TokenRefused("not_yet_valid", "not valid yet (nbf is after now)")
        sub = claims.get("sub")
        if sub is None or sub == "":
            raise TokenRefused("missing_sub", "the sub claim is missing (it names the patient)")
        if not isinstance(sub, str):
            raise TokenRefused("malformed", "the sub claim is not text")
        patient = view.patients.by_external_id(sub) or view.patients.get(sub)
        if patient is None:
            raise TokenRefused("unknown_patient", f"sub {_shown(sub)} names no patient (external id or id)")
        return VerifiedToken(kid, patient, claims, _as_datetime(iat), _as_datetime(exp))

    def mark_used(self, view: UnitOfWork, verified: VerifiedToken) -> BookingSecret:
        """Record a booking call's use of the secret (`last_used_at`), inside the call's write:
        only booking calls (hold, confirm, cancel by token) count as a partner's use."""
        secret = view.secrets.require(verified.kid)
        used = secret.model_copy(update={"last_used_at": self.now()})
        view.secrets.put(used)
        return used

    def verify(self, token: str) -> VerifiedToken:
        """Verify a booking token for an agent (`rxdesk token verify`): a diagnostic, so it
        changes nothing. The secret's `last_used_at` stays as it is: an agent rotating keys
        waits for it to stop moving, and only partners' booking calls may move it."""
        return self.precheck(token)
