"""Input rules: what a field accepts from agents, partners' calls and provisioning files.

The rules hold where input enters: building an entity (`Doctor(...)`, `model_validate`), which
the command line, the app, provisioning, booking and every service's write path do. They never
hold on a read: the store builds what it read with `Entity.from_stored`, which validates in
the STORED context, and every rule here steps aside for it. What an older version stored (a
name with an escape sequence, a URL today's check refuses) is read as it is, worked with, and
shown escaped (`domain.terminal`). A read still checks the shape (types, enums, instants,
required and unknown fields): a record of another shape cannot be worked with at all.

One mechanism, pydantic's validation context, for both stores: the rules stay declared on
the fields they guard, and no second set of "stored" models can drift from the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Final

from pydantic import AfterValidator, Field, ValidationInfo

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.terminal import has_control
from rxdesk.domain.times import zone
from rxdesk.domain.urls import check_http_url, check_room_url


class _Stored:
    """The validation context of a read from the store (`Entity.from_stored`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "STORED"


STORED: Final = _Stored()


def is_stored(info: ValidationInfo) -> bool:
    """True when the value being validated was read from the store: no input rule applies."""
    return info.context is STORED


def input_rule(check: Callable[[Any], Any]) -> AfterValidator:
    """`check` (which raises ValueError with the reason, or returns the value to keep) as a
    field's validator that holds on input and steps aside on a read from the store."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        return value if info.context is STORED else check(value)

    return AfterValidator(validate)


def one_line_text(low: int, high: int) -> Callable[[str], str]:
    """Text of `low`..`high` characters without control characters or bidi overrides."""

    def check(value: str) -> str:
        if len(value) < low:
            raise ValueError("is required" if low == 1 else f"must be at least {low} characters")
        if len(value) > high:
            raise ValueError(f"must be at most {high} characters")
        if has_control(value):
            raise ValueError("must not contain control characters (newlines, tabs, escapes, bidi overrides)")
        return value

    return check


def between(low: int, high: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return check


# Letters, digits and a few separators: ids are typed by agents and appear in URLs and keys.
_IDENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,63}")
_E164_RE = re.compile(r"\+[1-9]\d{6,14}")


def _ident(value: str) -> str:
    if not _IDENT_RE.fullmatch(value):
        raise ValueError("must be 1-64 letters, digits or . _ : @ + - and start with a letter or digit")
    return value


def email_refusal(value: str) -> str:
    """"" when `value` is exactly one email address a message may go to (a local part without
    quotes, commas or spaces, an `@`, a domain of valid labels under a public top-level
    domain; no display name, no second address); else why not, as "... is not an email
    address". The syntax is email-validator's (the library pydantic's EmailStr uses), without
    a DNS lookup: a header or an SMTP envelope built from a passing address names that one
    recipient and nothing else."""
    if has_control(value):
        return "must not contain control characters (newlines, tabs, escapes, bidi overrides)"
    if len(value) > 320:
        return f"{value[:80]!r}… is not an email address (longer than 320 characters)"
    from email_validator import EmailNotValidError, validate_email  # loaded when an address is checked

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"{value[:80]!r} is not an email address ({str(exc).rstrip('.')[:120]})"
    return ""


def _email(value: str) -> str:
    refused = email_refusal(value) if value else ""
    if refused:
        raise ValueError(refused)
    return value


def _zone_name(value: str) -> str:
    try:
        zone(value)
    except RxdeskError as exc:  # pydantic reports ValueErrors with the field's path
        raise ValueError(str(exc)) from None
    return value


def _http_url(value: str) -> str:
    if not value:
        return value
    try:
        return check_http_url(value)
    except RxdeskError as exc:
        raise ValueError(str(exc)) from None


def _room_url(value: str) -> str:
    if not value:
        return value
    try:
        return check_room_url(value)
    except RxdeskError as exc:
        raise ValueError(str(exc)) from None


def _e164(value: str) -> str:
    if value and not _E164_RE.fullmatch(value):
        raise ValueError(f"{value[:40]!r} is not an E.164 number such as +4915112345678")
    return value


Ident = Annotated[str, input_rule(_ident)]
Text = Annotated[str, input_rule(one_line_text(1, 200))]
OptText = Annotated[str, input_rule(one_line_text(0, 200))]
Email = Annotated[str, input_rule(_email)]
ZoneName = Annotated[str, input_rule(_zone_name)]
# An http(s) URL (`domain.urls`), its host stored in its ASCII form; empty means none.
HttpUrl = Annotated[str, input_rule(_http_url)]
# A link patients open (a meeting room, the Jitsi base of new rooms): a public host (`check_room_url`).
RoomUrl = Annotated[str, input_rule(_room_url)]
E164 = Annotated[str, input_rule(_e164)]
ExternalId = Annotated[str, input_rule(one_line_text(0, 128))]


def Bounded(low: int, high: int) -> Any:  # noqa: N802 - used as a type, like pydantic's conint
    """An int of `low`..`high` on input (the schema still says so: `ge`/`le` are documentation
    only here, never checked on a read)."""
    return Annotated[int, Field(json_schema_extra={"minimum": low, "maximum": high}), input_rule(between(low, high))]
