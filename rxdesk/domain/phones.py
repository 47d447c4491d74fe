"""Phone numbers, parsed by `phonenumbers` (libphonenumber's metadata) and kept as E.164."""

from __future__ import annotations

import functools
import zoneinfo
from pathlib import Path

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.terminal import has_control

_HINT = "give it with its country code, e.g. +49 151 23456789"
_NOT_MOBILE = {PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE,
               PhoneNumberType.SHARED_COST, PhoneNumberType.VOIP, PhoneNumberType.UAN,
               PhoneNumberType.VOICEMAIL, PhoneNumberType.PAGER}


@functools.cache
def _zone_countries() -> dict[str, str]:
    """IANA zone -> ISO country, from the tz database's own zone.tab (next to the zone files)."""
    places = [Path(p) / "zone.tab" for p in zoneinfo.TZPATH]
    try:
        import importlib.resources

        places.append(Path(str(importlib.resources.files("tzdata").joinpath("zoneinfo", "zone.tab"))))
    except (ImportError, ModuleNotFoundError):
        pass
    for place in places:
        try:
            lines = place.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        result = {}
        for line in lines:
            fields = line.split("\t")
            if len(fields) >= 3 and not line.startswith("#"):
                result[fields[2]] = fields[0]
        return result
    return {}


def region_for_zone(tz_name: str) -> str | None:
    """The country of an IANA zone (`Europe/Berlin` -> `DE`), or None when it has none (`UTC`)."""
    return _zone_countries().get(tz_name)


def normalize_mobile(text: str, region: str | None = None, *, allow_empty: bool = True) -> str:
    """A mobile number in E.164 (`+4915123456789`), or "" to clear it (when allowed).

    A number typed without `+` or `00` is read as a number of `region` (e.g. the country of the
    doctor's zone); without a region it is refused. Refuses what is not a valid number for its
    country, and numbers that are certainly not mobile (landlines, toll-free...): SMS
    reminders go to this number.
    """
    if not isinstance(text, str):
        raise ValidationFailed(f"a phone number must be text; {_HINT}")
    raw = text.strip()
    if not raw:
        if allow_empty:
            return ""
        raise ValidationFailed(f"a phone number is required; {_HINT}")
    if len(raw) > 40 or has_control(raw):
        raise ValidationFailed(f"{raw[:40]!r} is not a phone number; {_HINT}")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    home = None if raw.startswith("+") else (region or None)
    where = f" in {home}" if home else ""
    try:
        number = phonenumbers.parse(raw, home)
    except NumberParseException:
        raise ValidationFailed(f"{raw!r} is not a phone number{where}; {_HINT}") from None
    if number.extension:  # E.164 has no extension: it would be dropped without a word
        raise ValidationFailed(f"{raw!r} has an extension ({number.extension}); an SMS goes to a mobile number "
                               "without one")
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(f"{raw!r} is not a valid phone number{where}; {_HINT}")
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
