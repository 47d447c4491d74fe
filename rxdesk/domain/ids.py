"""Identifiers.

An appointment uid is 14 characters: three that encode the week of its start (weeks since
Monday 2000-01-03, UTC, in base 32), then eleven random ones: `0x9k7qm2xz4abc`. The store
keeps appointments in weekly partitions, and the prefix lets it find the one partition that
holds a uid without an index. A start never changes (a rebook makes a new appointment), so
neither does the prefix.
"""

from __future__ import annotations

import random
import re
import secrets
from datetime import UTC, date, datetime, time, timedelta

from rxdesk.domain.times import to_utc

# Crockford's base32 without i, l, o, u: nothing an agent can misread when typing a uid.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_UID_RE = re.compile(f"[{ALPHABET}]{{14}}")
EPOCH_MONDAY = date(2000, 1, 3)
MAX_WEEK = 32**3 - 1
# The starts a uid can encode: an appointment starts in [FIRST_START, STARTS_BEFORE).
FIRST_START = datetime.combine(EPOCH_MONDAY, time(), UTC)
STARTS_BEFORE = FIRST_START + timedelta(weeks=MAX_WEEK + 1)


def random_token(length: int, rng: random.Random | None = None) -> str:
    if rng is None:
        return "".join(secrets.choice(ALPHABET) for _ in range(length))
    return "".join(rng.choices(ALPHABET, k=length))


def week_index(day: date) -> int:
    """Weeks from Monday 2000-01-03 to the week holding `day`."""
    return (day - EPOCH_MONDAY).days // 7


def week_prefix(index: int) -> str:
    if not 0 <= index <= MAX_WEEK:
        raise ValueError("appointments must start between 2000 and 2600")
    return ALPHABET[index // 1024] + ALPHABET[(index // 32) % 32] + ALPHABET[index % 32]


def new_appointment_uid(starts_at: datetime, rng: random.Random | None = None) -> str:
    return week_prefix(week_index(to_utc(starts_at).date())) + random_token(11, rng)


def uid_partition(uid: str) -> str | None:
    """The Monday (`YYYY-MM-DD`) of the week partition that holds `uid`, or None when `uid`
    is not one of ours."""
    if not isinstance(uid, str):
        return None
    text = uid.strip().lower()
    if not _UID_RE.fullmatch(text):
        return None
    index = _VALUE[text[0]] * 1024 + _VALUE[text[1]] * 32 + _VALUE[text[2]]
    return (EPOCH_MONDAY + timedelta(weeks=index)).isoformat()


def normalize_uid(uid: str) -> str:
    return uid.strip().lower()
