"""One rule for control characters, one for URLs, used by every input; `--json` escapes
what a terminal would act on.

The control-character rule (`domain.terminal.has_control`) is the one the output side escapes:
C0 and C1 controls, DEL, the bidi embeddings, overrides and isolates. The URL rule
(`domain.urls`) guards room links that go to patients and every other URL rxdesk takes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from rxdesk.domain.errors import RxdeskError, ValidationFailed
from rxdesk.domain.lifecycle import normalize_reason
from rxdesk.domain.models import Admin, Delivery, DeliveryStatus, Doctor, EventType, Org, Patient
from rxdesk.domain.urls import check_http_url
from rxdesk.services import Desk
from tests.helpers import CLINIC_TOML, Cli, fingerprint, make_appointment
from tests.receiver import Receiver

pytestmark = pytest.mark.backends

# An escape, DEL, a C1 control (NEL), CSI as one C1 byte, a bidi override, a bidi isolate.
CONTROLS = ["\x1b", "\x7f", "\x85", "\x9b", "\u202e", "\u2066"]


def raw_in(text: str) -> list[str]:
    return [ch for ch in text if (ord(ch) < 32 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F
            or 0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069]


@pytest.mark.data_dir_only
@pytest.mark.parametrize("ch", CONTROLS, ids=ascii)
def test_every_text_field_refuses_each_kind_of_control_character(ch: str) -> None:
    makers: list[Callable[[], object]] = [
        lambda: Patient(id="p", name=f"Le{ch}na"),
        lambda: Patient(id="p", name="Lena", email=f"lena{ch}@mail.example"),
        lambda: Patient(id="p", name="Lena", external_id=f"shop{ch}1"),
        lambda: Patient(id="p", name="Lena", phone=f"+49{ch}30"),
        lambda: Doctor(id="d", name=f"Dr{ch}Weber"),
        lambda: Doctor(id="d", name="Dr Weber", prescription_phone=f"+49{ch}30"),
        lambda: Doctor(id="d", name="Dr Weber", room_url=f"https://meet.example/{ch}evil"),
        lambda: Admin(id="a", name=f"De{ch}sk"),
        lambda: Org(name=f"River{ch}side"),
        lambda: Org(name="Riverside", jitsi_base_url=f"https://meet{ch}.example"),
    ]
    for make in makers:
        with pytest.raises(ValidationError):
            make()
    for check in (normalize_reason, check_http_url):
        with pytest.raises(ValidationFailed):
            check(f"https://meet.example/a{ch}b")


@pytest.mark.parametrize("ch", CONTROLS, ids=ascii)
def test_the_services_refuse_each_kind_and_change_nothing(clinic: Desk, data_dir: Path, now: datetime, ch: str) -> None:
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    before = fingerprint(data_dir)
    actions: list[Callable[[], object]] = [
        lambda: clinic.doctors.set_room("dr-weber", url=f"https://meet.example/{ch}evil", agent="tester"),
        lambda: clinic.secrets.create_secret(f"sh{ch}op", "tester"),
        lambda: clinic.appointments.cancel_appointment(appt.uid, f"wh{ch}y", "tester"),
        lambda: clinic.webhooks.add_subscription(f"https://hooks.example/a{ch}b", ["APPOINTMENT_CANCELLED"], {},
                                                 "tester"),
    ]
    for action in actions:
        with pytest.raises(RxdeskError):
            action()
    assert fingerprint(data_dir) == before


def test_set_room_refuses_a_bidi_override_in_one_line(cli: Cli, clinic: Desk, data_dir: Path) -> None:
    before = fingerprint(data_dir)
    result = cli("doctors", "set-room", "dr-weber", "--url", "https://meet.example/\u202eevil")
    assert result.code == 1 and result.err.count("\n") == 1 and raw_in(result.err) == []
    assert "bidi" in result.err
    assert fingerprint(data_dir) == before


# -- URLs --------------------------------------------------------------------------------

REFUSED_URLS = [
    "https://user:secret@meet.example/room",  # userinfo: reads as meet.example, goes elsewhere
    "https://meet.example@evil.example/room",
    "https://evil.example\\@meet.example/room",  # a backslash in the authority
    "https://meet.example\\room",
    "https://meet.example:0/room",
    "https://meet.example:65536/room",
    "https://meet.example:99999999/room",
    "https://meet.example:-1/room",
    "https://meet.example:/room",
    "https://a..b/room",
    "https://-bad-.example/room",
    "https://bad-.example/room",
    "https://under_score.example/room",
    "https://_/room",
    "https://xn--zz.example/room",  # not punycode of anything
    "https://[::1/room",
    "https:///room",
    "ftp://meet.example/room",
    "https://meet example/room",
    "https://meet.example/a b",
    "https://meet.example/\u00a0x",
]


@pytest.mark.data_dir_only
@pytest.mark.parametrize("url", REFUSED_URLS)
def test_the_url_rule_refuses(url: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_http_url(url)
    assert "\n" not in str(refused.value)


@pytest.mark.data_dir_only
@pytest.mark.parametrize(("url", "kept"), [
    ("https://meet.jit.si/dr-anna-weber-x1", None),
    ("http://meet.example:8443/rooms?x=1#top", None),
    ("https://meet.example.:443/r", None),
    ("http://[::1]:8080/x", None),
    ("http://127.1/", None),  # numeric spellings are names here; the egress check judges them
    ("http://0x7f000001/", None),
    ("https://xn--mnchen-3ya.example/r", None),
    ("https://münchen.example/r", "https://xn--mnchen-3ya.example/r"),
    ("https://MÜNCHEN.example:8443/r?ä=1", "https://xn--mnchen-3ya.example:8443/r?ä=1"),
    # A Cyrillic "а" in place of a Latin "a": the homograph is visible in its ASCII form.
    ("https://p\u0430ypal.example/login", "https://xn--pypal-4ve.example/login"),
])
def test_the_url_rule_accepts_and_shows_a_host_in_another_script_in_ascii(url: str, kept: str | None) -> None:
    assert check_http_url(url) == (kept or url)


@pytest.mark.parametrize("url", ["https://user:pw@meet.example/r", "https://meet.example:0/r", "https://a..b/r",
                                 "https://evil.example\\@meet.example/r", "https://_.example/r"])
def test_every_command_that_takes_a_url_refuses_it(cli: Cli, clinic: Desk, data_dir: Path, tmp_path: Path,
                                                   url: str) -> None:
    before = fingerprint(data_dir)
    attempts = [
        cli("doctors", "set-room", "dr-weber", "--url", url),
        cli("subscriptions", "add", "--url", url, "--event", "APPOINTMENT_CANCELLED"),
    ]
    for key, line in (("jitsi_base_url", 'jitsi_base_url = "https://meet.jit.si"'),
                      ("room_url", 'id = "dr-sato"')):
        toml = tmp_path / f"{key}.toml"
        text = CLINIC_TOML.read_text()
        replaced = f'jitsi_base_url = "{url}"' if key == "jitsi_base_url" else f'{line}\nroom_url = "{url}"'
        toml.write_text(text.replace(line, replaced.replace("\\", "\\\\")))
        attempts.append(cli("provision", str(toml)))
    for result in attempts:
        assert result.code == 1 and result.err.count("\n") == 1, result.err
        assert "internal error" not in result.err
    assert fingerprint(data_dir) == before


def test_a_room_on_an_international_host_is_stored_and_shown_in_ascii(cli: Cli, clinic: Desk) -> None:
    result = cli("doctors", "set-room", "dr-weber", "--url", "https://p\u0430ypal.example/room")
    assert result.code == 0, result.err
    assert clinic.doctors.get("dr-weber").room_url == "https://xn--pypal-4ve.example/room"
    shown = cli("doctors", "show", "dr-weber")
    assert "https://xn--pypal-4ve.example/room" in shown.out and "\u0430" not in shown.out


# -- --json ------------------------------------------------------------------------------

HOSTILE = "oops \u202egnp.exe \x85next \x7fdel \x1b[2J"


def test_deliveries_show_json_escapes_bidi_c1_and_del(cli: Cli, clinic: Desk, now: datetime) -> None:
    with clinic.store.write() as w:
        delivery = Delivery(id=w.deliveries.new_id(), event_id="evt_000000000001abcdef",
                            event_type=EventType.APPOINTMENT_CANCELLED, subscription_id="sub_x",
                            url="https://hooks.example/rx", status=DeliveryStatus.dead, attempts=8, created_at=now,
                            last_status_code=500, last_error="answered 500", response_excerpt=HOSTILE)
        w.deliveries.put(delivery)
    for args in (("deliveries", "show", delivery.id, "--json"), ("deliveries", "list", "--json")):
        result = cli(*args)
        assert result.code == 0, result.err
        assert raw_in(result.out) == []
        assert "\\u202e" in result.out and "\\u0085" in result.out and "\\u007f" in result.out
    assert cli("deliveries", "show", delivery.id, "--json").json()["response_excerpt"] == HOSTILE


def test_subscriptions_test_json_escapes_a_receivers_answer(cli: Cli, clinic: Desk, receiver: Receiver) -> None:
    made = clinic.webhooks.add_subscription(receiver.url, ["APPOINTMENT_CANCELLED"], {}, "tester",
                                            allow_private_network=True)
    receiver.body = HOSTILE.encode()
    receiver.default = (500, {})
    result = cli("subscriptions", "test", made.subscription.id, "--json")
    assert result.code == 1 and raw_in(result.out) == [] and raw_in(result.err) == []
    assert "\\u202e" in result.out and "\\u0085" in result.out
    assert result.json()["response_excerpt"].startswith("oops \u202e")


@pytest.mark.data_dir_only
def test_the_sms_gateway_url_follows_the_same_rule_and_is_never_echoed(tmp_path: Path) -> None:
    from rxdesk.config import Settings
    from rxdesk.services.notify import Notifier, SendFailed

    url = "https://desk:s3cret@sms.example/send"
    notifier = Notifier(Settings(data_dir=tmp_path, agent="tester", sms_url=url))
    with pytest.raises(SendFailed) as failed:
        notifier.send_sms("+4915112345678", "Reminder")
    assert "user name or password" in str(failed.value) and "s3cret" not in str(failed.value)
