"""Which hosts a meeting room may name: a link patients open must reach the same place for
every reader. A public DNS name, or a public IP address in the one form everyone reads alike
(IPv4 as four decimal numbers); never a number a browser reads differently (`0x7f.1` opens
127.0.0.1), never loopback, private or link-local, and no invisible format character anywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.urls import check_http_url, check_room_url
from rxdesk.services import Desk
from tests.helpers import CLINIC_TOML, CliResult, fingerprint

pytestmark = pytest.mark.backends

CliRunner = Callable[..., CliResult]

REFUSED_ROOMS = [
    "https://0x7f.1/room", "https://0x7f000001/room", "https://2130706433/room", "https://127.1/room",
    "https://256.1.1.1/room", "https://1.2.3.4.5/room", "https://01.2.3.4/room",
    "https://127.0.0.1/room", "https://[::1]/room", "https://10.1.2.3/room", "https://192.168.0.5/room",
    "https://169.254.169.254/room", "https://[fe80::1]/room", "https://[::ffff:127.0.0.1]/room",
    "https://localhost/room", "https://meet.localhost/room", "https://meet/room", "https://meet.internal/room",
    "https://meet.example/a\u200eb", "https://meet.example/\ufeffroom", "https://meet.example/r?x=\u200b",
]


@pytest.mark.data_dir_only
@pytest.mark.parametrize("url", REFUSED_ROOMS)
def test_the_room_rule_refuses_in_one_line(url: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_room_url(url)
    assert "\n" not in str(refused.value)


@pytest.mark.data_dir_only
@pytest.mark.parametrize("url", ["https://meet.jit.si/dr-weber-x1", "https://8.8.8.8/room",
                                 "https://[2001:4860:4860::8888]:8443/room", "https://meet.example./r",
                                 "http://video.riverside.example/rooms/a"])
def test_the_room_rule_takes_public_names_and_addresses(url: str) -> None:
    assert check_room_url(url) == url


@pytest.mark.data_dir_only
def test_no_url_may_hold_an_invisible_format_character() -> None:
    for url in ("https://hooks.example/\u200e", "https://hooks.example/?\ufeff=1", "https://hooks.example/\u2060"):
        with pytest.raises(ValidationFailed, match="invisible"):
            check_http_url(url)


@pytest.mark.parametrize("url", ["https://0x7f.1/", "https://256.1.1.1/", "https://1.2.3.4.5/", "https://127.0.0.1/",
                                 "https://[::1]/", "https://meet.example/\u200eroom", "https://meet.example/\ufeff"])
def test_set_room_and_provisioning_refuse_such_a_room_and_change_nothing(
        cli: CliRunner, clinic: Desk, data_dir: Path, tmp_path: Path, url: str) -> None:
    before = fingerprint(data_dir)
    results = [cli("doctors", "set-room", "dr-weber", "--url", url)]
    for key, line in (("jitsi_base_url", 'jitsi_base_url = "https://meet.jit.si"'), ("room_url", 'id = "dr-sato"')):
        toml = tmp_path / f"{key}.toml"
        replaced = f'jitsi_base_url = "{url}"' if key == "jitsi_base_url" else f'{line}\nroom_url = "{url}"'
        toml.write_text(CLINIC_TOML.read_text().replace(line, replaced))
        results.append(cli("provision", str(toml)))
    for result in results:
        assert result.code == 1 and result.err.count("\n") == 1, result.err
        assert "internal error" not in result.err
    assert fingerprint(data_dir) == before


def test_a_room_stored_before_this_rule_is_kept_by_a_provisioning_run(cli: CliRunner, clinic: Desk) -> None:
    with clinic.store.write() as view:  # as an older version took it
        doctor = view.doctors.require("dr-weber")
        view.doctors.put(doctor.model_copy(update={"room_url": "http://127.0.0.1:8000/weber"}))
    result = cli("provision", str(CLINIC_TOML))
    assert result.code == 0, result.err
    assert clinic.doctors.get("dr-weber").room_url == "http://127.0.0.1:8000/weber"
