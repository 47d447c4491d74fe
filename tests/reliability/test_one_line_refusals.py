"""Input at the edges of what a date, a slot or a URL can be: one line, exit 1, nothing changed
(an internal error used to reach the agent for each of these)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import Cli, fingerprint, make_appointment, one_line_refusal, view_of
from tests.receiver import Receiver
from tests.unit.test_tokens_minting import claims_at, mint
from tests.unit.test_worker import only_rule

STARTS_BEFORE = datetime(2628, 1, 7, tzinfo=UTC)  # the first start a uid cannot encode


@pytest.mark.parametrize("args", [
    ("--from", "9999-12-31"),
    ("--from", "0001-01-01"),
    ("--to", "9999-12-31"),
    ("--from=-9999w", "--to", "today"),
])
def test_dates_at_the_ends_of_the_calendar_are_one_line(cli: Cli, clinic: Desk, data_dir: Path, args: tuple[str, ...]) -> None:
    before = fingerprint(data_dir)
    assert "out of range" in one_line_refusal(cli("appointments", "list", *args))
    assert fingerprint(data_dir) == before


def test_a_start_no_appointment_can_have_is_refused_in_one_line(cli: Cli, clinic: Desk, data_dir: Path, now: datetime) -> None:
    made = clinic.secrets.create_secret("shop", "ops")
    token = mint(made.value, claims_at(now), kid=made.secret.key_id)
    before = fingerprint(data_dir)
    for start, reason in (("9999-12-31T23:30:00Z", "out of range"),  # no instant rxdesk takes
                          ("2650-01-05T08:00:00Z", "not a time appointments can start at"),
                          ("1999-12-27T08:00:00Z", "not a time appointments can start at")):
        err = one_line_refusal(cli("booking", "hold", "--token", token, "--doctor", "dr-weber", "--type", "gp-consult",
                           "--start", start))
        assert reason in err
    assert fingerprint(data_dir) == before


def test_every_slot_the_generator_offers_can_be_held(clinic: Desk) -> None:
    # Near the last week a uid can encode: slots stop there, and the last one offered holds.
    near_end = STARTS_BEFORE - timedelta(days=10)
    desk = Desk(clinic.store, FixedClock(near_end), clinic.settings.with_overrides(now=near_end))
    offered = desk.rebooking.preview("dr-weber", days=30)["gp-consult"]
    assert offered and all(slot.starts_at < STARTS_BEFORE for slot in offered)
    made = desk.secrets.create_secret("shop", "ops")
    token = mint(made.value, claims_at(near_end), kid=made.secret.key_id)
    held = desk.booking.hold(token, "dr-weber", "gp-consult", offered[-1].starts_at)
    assert held.starts_at == offered[-1].starts_at
    # Past it, the generator offers nothing at all (it used to offer slots hold then refused).
    later = datetime(2650, 1, 3, 8, tzinfo=UTC)
    beyond = Desk(clinic.store, FixedClock(later), clinic.settings.with_overrides(now=later))
    assert beyond.rebooking.preview("dr-weber", days=14)["gp-consult"] == []


def test_a_bad_smtp_url_fails_only_the_emails(clinic: Desk, settings: Settings, now: datetime, receiver: Receiver) -> None:
    bad = Desk(clinic.store, clinic.clock, settings.with_overrides(smtp_url="smtp://u:p@[::1:25"))
    bad.webhooks.add_subscription(receiver.url, ["APPOINTMENT_REMINDER_DUE", "APPOINTMENT_HOLD_EXPIRED"], {}, "tester",
                                  allow_private_network=True)
    only_rule(clinic, "gp-consult", "patient", 60, email=True)
    make_appointment(clinic, start=now + timedelta(minutes=30))
    held = make_appointment(clinic, start=now + timedelta(days=2), status="held", hold_minutes=1,
                            created_at=now - timedelta(minutes=5))
    report = MaintenanceService(bad).tick()
    assert report.expired == 1 and report.reminders == 1 and report.delivered == 2
    assert view_of(bad).appointments.require(held.uid).status.value == "expired"
    (message,) = bad.webhooks.list_messages().items
    assert message.status.value == "pending" and "RXDESK_SMTP_URL is not a URL" in message.last_error


@pytest.mark.parametrize("number", ["+49 151 11223344 ext 99", "+49 151 11223344 ext. 7", "0151 11223344 x12"])
def test_a_phone_number_with_an_extension_is_refused_not_cut(cli: Cli, clinic: Desk, data_dir: Path, number: str) -> None:
    """`set-phone '… ext 99'` stored the number without its extension, silently."""
    before = fingerprint(data_dir)
    assert "extension" in one_line_refusal(cli("doctors", "set-phone", "dr-weber", number))
    assert fingerprint(data_dir) == before


@pytest.mark.parametrize("minutes", ["٣٠", "³⁰", "30.0", "3e1", "-30", "99999999999"])
def test_minutes_before_takes_ascii_digits_only(cli: Cli, clinic: Desk, data_dir: Path, minutes: str) -> None:
    before = fingerprint(data_dir)
    result = cli("reminders", "add", "--type", "gp-consult", "--recipient", "patient", f"--minutes-before={minutes}")
    # A number the option cannot take is a usage error, before anything runs.
    assert result.code == 2 and result.err.count("\n") == 1 and "--minutes-before" in result.err
    assert fingerprint(data_dir) == before
    assert cli("reminders", "add", "--type", "gp-consult", "--recipient", "patient", "--minutes-before", "30").code == 0
