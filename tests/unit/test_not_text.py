"""Input that is not text: a lone surrogate (a JSON `\\ud800` in a partner's token) or an
argument of invalid UTF-8 (which Python hands over as lone surrogates).

No store can hold either (PostgreSQL cannot even be sent one; the data dir's JSON writer
refuses it at the commit): the control-character rule refuses them on input, a lookup by
such a key names nothing, and the command line refuses an undecodable argument in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.models import Patient
from rxdesk.domain.terminal import has_control, json_safe, terminal_safe
from rxdesk.services import Desk
from tests.helpers import CliResult, fingerprint, make_appointment
from tests.unit.test_tokens_minting import claims_at, mint

pytestmark = pytest.mark.backends

CliRunner = Callable[..., CliResult]


def one_line_refusal(result: CliResult) -> str:
    assert result.code == 1, (result.code, result.err)
    assert result.err.count("\n") == 1 and "internal error" not in result.err
    return result.err


@pytest.mark.parametrize(("header", "claims", "said"), [
    ({"kid": "\ud800"}, {}, "kid"),
    ({}, {"sub": "\udfff"}, "patient"),
    ({"kid": "a\udcffb"}, {"sub": "shop-\ud83d"}, "kid"),
])
def test_a_token_whose_kid_or_sub_is_not_text_names_nothing(
        clinic: Desk, cli: CliRunner, now: datetime, header: dict[str, str], claims: dict[str, str], said: str) -> None:
    created = clinic.secrets.create_secret("partner shop", "tester")
    kid = header.get("kid", created.secret.key_id)
    token = mint(created.value, {**claims_at(now), **claims}, kid=kid)
    uid = make_appointment(clinic, start=now + timedelta(days=3)).uid
    for args in (("token", "verify", token), ("booking", "confirm", uid, "--token", token),
                 ("booking", "hold", "--token", token, "--doctor", "dr-weber", "--type", "gp-consult",
                  "--start", "2026-11-30T09:00:00Z")):
        assert said in one_line_refusal(cli(*args))


@pytest.mark.parametrize("args", [
    ("patients", "show", "x\udcffy"), ("patients", "list", "--search", "x\udcffy"),
    ("appointments", "show", "x\udcffy"), ("appointments", "list", "--patient", "x\udcffy"),
    ("appointments", "cancel", "x\udcffy", "--reason", "sick"), ("doctors", "show", "x\udcffy"),
    ("deliveries", "show", "x\udcffy"), ("secrets", "reveal", "x\udcffy"), ("reminders", "list", "--type", "x\udcffy"),
    ("subscriptions", "test", "x\udcffy"), ("secrets", "create", "--label", "x\udcffy"),
])
def test_an_argument_of_invalid_utf8_is_refused_in_one_line_and_changes_nothing(
        clinic: Desk, cli: CliRunner, data_dir: Path, args: tuple[str, ...]) -> None:
    before = fingerprint(data_dir)
    assert "not valid UTF-8" in one_line_refusal(cli(*args))
    assert fingerprint(data_dir) == before


def test_a_reason_or_label_with_a_lone_surrogate_is_refused_and_changes_nothing(clinic: Desk, now: datetime) -> None:
    uid = make_appointment(clinic, start=now + timedelta(days=3)).uid
    generation = clinic.generation()
    with pytest.raises(RxdeskError, match="control characters"):
        clinic.appointments.cancel_appointment(uid, "x\udcffy", "tester")
    with pytest.raises(RxdeskError, match="control characters"):
        clinic.secrets.create_secret("x\ud800y", "tester")
    assert clinic.generation() == generation
    assert clinic.appointments.get(uid).status.value == "confirmed"


def test_the_one_character_rule_takes_surrogates_in_and_out() -> None:
    assert has_control("x\udcffy") and has_control("\ud800")
    with pytest.raises(ValueError, match="string"):  # pydantic's own str check refuses it first
        Patient(id="pat-9", name="Lena \udcff", email="", phone="", external_id="")
    assert terminal_safe("x\udcffy") == "x\\udcffy"
    assert json_safe('"x\udcffy"') == '"x\\udcffy"'
    assert terminal_safe("x\udcffy").encode("utf-8")  # printable as it is
