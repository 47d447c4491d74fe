"""Identifiers.

An appointment uid starts with its start month (`yymm`), then ten random characters:
`2611k7qm2xz4ab`. The store keeps appointments in monthly partitions, and the prefix lets it
find the one partition that holds a uid without any index. A start never changes (a rebook makes
a new appointment), so neither does the prefix.
"""

from __future__ import annotations

import random
import re
import secrets
from datetime import datetime

from rxdesk.domain.times import to_utc

# Crockford's base32 without i, l, o, u: nothing an agent can misread when typing a uid.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_UID_RE = re.compile(r"(\d{2})(0[1-9]|1[0-2])[" + ALPHABET + r"]{10}")


def random_token(length: int, rng: random.Random | None = None) -> str:
    if rng is None:
        return "".join(secrets.choice(ALPHABET) for _ in range(length))
    return "".join(rng.choices(ALPHABET, k=length))


def new_appointment_uid(starts_at: datetime, rng: random.Random | None = None) -> str:
    start = to_utc(starts_at)
    return f"{start.year % 100:02d}{start.month:02d}{random_token(10, rng)}"


def uid_month(uid: str) -> str | None:
    """`YYYY-MM` of the partition that holds `uid`, or None when `uid` is not one of ours."""
    if not isinstance(uid, str):
        return None
    match = _UID_RE.fullmatch(uid.strip().lower())
    if not match:
        return None
    return f"20{match.group(1)}-{match.group(2)}"


def normalize_uid(uid: str) -> str:
    return uid.strip().lower()
