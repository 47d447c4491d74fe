"""A JWT minter built from `hmac`, `hashlib` and `base64` alone, independent of PyJWT.

The booking-token tests mint with it, so a bug shared by PyJWT's encoder and decoder cannot
make them pass. The tests here prove the minter against a published HS256 example.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any, Protocol

DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512, "RS256": hashlib.sha256}


class TokenFor(Protocol):
    """A partner's fresh booking token for a patient (`sub`), minted at the clock's now."""

    def __call__(self, sub: str = "shop-10001") -> str: ...


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(value: dict[str, Any] | bytes) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return b64url(raw)


def mint(
    key: str | bytes,
    claims: dict[str, Any] | bytes,
    *,
    kid: str | None = None,
    alg: str = "HS256",
    sign_with: str | None = None,
    header: dict[str, Any] | None = None,
) -> str:
    """A compact JWT: header `{"alg": alg, "typ": "JWT", "kid": kid}` (+ `header`), signed
    with HMAC over `key` using `sign_with` (default: `alg`'s hash; "none" leaves it empty).

    `alg="RS256"` with the default `sign_with` makes the classic key-confusion token: an
    RS256 header whose "signature" is an HMAC with the secret as the key.
    """
    head: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        head["kid"] = kid
    head.update(header or {})
    signing_input = f"{_segment(head)}.{_segment(claims)}"
    how = sign_with or alg
    if how == "none":
        return signing_input + "."
    secret = key.encode("utf-8") if isinstance(key, str) else key
    digest = hmac.new(secret, signing_input.encode("ascii"), DIGESTS[how]).digest()
    return f"{signing_input}.{b64url(digest)}"


def claims_at(now: datetime, sub: str = "shop-10001", *, lifetime: int = 600, issued: int = 0, **extra: Any) -> dict[str, Any]:
    """Claims issued `issued` seconds after `now` (negative: before), valid for `lifetime`."""
    iat = int(now.timestamp()) + issued
    return {"sub": sub, "iat": iat, "exp": iat + lifetime, **extra}


def test_minter_matches_the_published_hs256_example() -> None:
    token = mint(
        "your-256-bit-secret",
        {"sub": "1234567890", "name": "John Doe", "iat": 1516239022},
    )
    assert token == (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    )


def test_minter_signs_the_header_and_payload_it_writes() -> None:
    token = mint("k" * 32, {"a": 1}, kid="bk_x", alg="HS512")
    head, body, sig = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(head + "==")) == {"alg": "HS512", "typ": "JWT", "kid": "bk_x"}
    expected = hmac.new(b"k" * 32, f"{head}.{body}".encode(), hashlib.sha512).digest()
    assert base64.urlsafe_b64decode(sig + "==") == expected
    assert mint("k", {"a": 1}, alg="none").endswith(".")
