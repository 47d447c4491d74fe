"""Phone numbers, parsed by `phonenumbers` (libphonenumber's metadata) and kept as E.164."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from rxdesk.domain.errors import ValidationFailed

_HINT = "give it with its country code, e.g. +49 151 23456789"
_NOT_MOBILE = {PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE,
               PhoneNumberType.SHARED_COST, PhoneNumberType.VOIP, PhoneNumberType.UAN,
               PhoneNumberType.VOICEMAIL, PhoneNumberType.PAGER}


def normalize_mobile(text: str, region: str | None = None, *, allow_empty: bool = True) -> str:
    """A mobile number in E.164 (`+4915123456789`), or "" to clear it (when allowed).

    Refuses what is not a valid number for its country, and numbers that are certainly not
    mobile (landlines, toll-free...): SMS reminders go to this number.
    """
    if not isinstance(text, str):
        raise ValidationFailed(f"a phone number must be text; {_HINT}")
    raw = text.strip()
    if not raw:
        if allow_empty:
            return ""
        raise ValidationFailed(f"a phone number is required; {_HINT}")
    if len(raw) > 40 or any(ord(ch) < 32 for ch in raw):
        raise ValidationFailed(f"{raw[:40]!r} is not a phone number; {_HINT}")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, None if raw.startswith("+") else (region or None))
    except NumberParseException:
        raise ValidationFailed(f"{raw!r} is not a phone number; {_HINT}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(f"{raw!r} is not a valid phone number; {_HINT}")
    if phonenumbers.number_type(number) in _NOT_MOBILE:
        raise ValidationFailed(f"{raw!r} is not a mobile number; SMS reminders need a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    """An E.164 number in international format for reading (`+49 151 23456789`)."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
