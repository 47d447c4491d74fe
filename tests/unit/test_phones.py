"""Doctors' mobile numbers: parsed with phonenumbers, stored as E.164, refused when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.phones import normalize_mobile
from rxdesk.services import Desk
from tests.helpers import Cli, fingerprint, view_of


@pytest.mark.parametrize("typed,stored", [
    ("+49 151 23456789", "+4915123456789"),
    ("0049 151 23456789", "+4915123456789"),
    ("+44 7911 123456", "+447911123456"),
    ("+1 (212) 555-0199", "+12125550199"),
    ("+33 6 12 34 56 78", "+33612345678"),
    ("+81 90-1234-5678", "+819012345678"),
    ("+61 412 345 678", "+61412345678"),
    ("  +34 612 345 678 ", "+34612345678"),
])
def test_numbers_of_several_countries_become_e164(typed: str, stored: str) -> None:
    assert normalize_mobile(typed) == stored


@pytest.mark.parametrize("typed", [
    "+49 30 901820",       # a Berlin landline: SMS cannot reach it
    "+44 20 7946 0958",    # a London landline
    "+800 1234 5678",      # toll-free
    "12345", "0151 23456789",  # no country code
    "abc", "+49 151", "+999 1234567", "+49 151 2345678901234567", "+49\n151 23456789",
])
def test_numbers_that_cannot_take_an_sms_are_refused(typed: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalize_mobile(typed)
    assert "\n" not in str(caught.value)


def test_set_phone_stores_e164_audits_and_leaves_the_prescription_phone(clinic: Desk, cli: Cli, data_dir: Path) -> None:
    before = clinic.doctors.get("dr-weber")
    result = cli("doctors", "set-phone", "dr-weber", "+49 160 98765432")
    assert result.code == 0, result.err
    after = clinic.doctors.get("dr-weber")
    assert after.mobile_phone == "+4916098765432" and after.prescription_phone == before.prescription_phone
    audit = view_of(clinic).audit.for_target("doctor:dr-weber")
    assert [(e.action, e.actor, e.details["after"]) for e in audit] == [("doctor.set_phone", "admin:tester", "+4916098765432")]
    unchanged = fingerprint(data_dir)
    for bad in ("+49 30 901820", "not a number", "\x00"):
        refused = cli("doctors", "set-phone", "dr-weber", bad)
        assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1
    assert cli("doctors", "set-phone", "dr-nobody", "+49 160 98765432").code == 1
    assert fingerprint(data_dir) == unchanged
    assert cli("doctors", "set-phone", "dr-weber", "").code == 0
    assert clinic.doctors.get("dr-weber").mobile_phone == ""
