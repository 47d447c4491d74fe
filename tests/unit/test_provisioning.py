"""Provisioning: a good file upserts everything; each kind of bad file writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from rxdesk.domain.errors import ValidationFailed
from rxdesk.services import Desk
from tests.helpers import CLINIC_TOML, Cli, fingerprint, view_of

pytestmark = pytest.mark.backends


def test_good_file_creates_everything(desk: Desk) -> None:
    result = desk.provisioning.provision_file(CLINIC_TOML, "setup")
    assert result.count("doctors") == (3, 0)
    view = view_of(desk)
    org = view.org.get()
    assert org is not None and org.timezone == "Europe/Berlin"
    assert [a.id for a in view.admins.all()] == ["adm-desk", "adm-mara"]
    gp = view.types.require("gp-consult")
    assert [r.id for r in gp.reminders] == ["day-before", "hour-before", "doctor-heads-up"]
    weber = view.doctors.require("dr-weber")
    assert weber.mobile_phone == "+4915111223344"  # normalised to E.164
    assert weber.prescription_phone == "+49 30 901820-11"
    assert weber.room_url.startswith("https://meet.jit.si/dr-anna-weber-")
    assert len(weber.availability) == 4
    assert view.patients.require("pat-002").external_id == "shop-10002"
    audit = view.audit.newest().items
    assert audit[0].action == "provision" and audit[0].actor == "admin:setup"


def test_same_file_twice_changes_nothing(desk: Desk, data_dir: Path) -> None:
    desk.provisioning.provision_file(CLINIC_TOML, "setup")
    before = fingerprint(data_dir)
    result = desk.provisioning.provision_file(CLINIC_TOML, "setup")
    assert not result.changed and result.unchanged["patients"] == ["pat-001", "pat-002", "pat-003"]
    assert fingerprint(data_dir) == before


def test_second_run_upserts_and_keeps_rooms(desk: Desk, tmp_path: Path) -> None:
    desk.provisioning.provision_file(CLINIC_TOML, "setup")
    room = view_of(desk).doctors.require("dr-weber").room_url
    changed = CLINIC_TOML.read_text().replace('name = "Dr Anna Weber"', 'name = "Dr Anna Weber-Lang"')
    changed = changed.replace('jitsi_base_url = "https://meet.jit.si"', 'jitsi_base_url = "https://video.example"')
    path = tmp_path / "changed.toml"
    path.write_text(changed)
    result = desk.provisioning.provision_file(path, "setup")
    assert result.count("doctors")[0] == 0
    weber = view_of(desk).doctors.require("dr-weber")
    assert weber.name == "Dr Anna Weber-Lang"
    assert weber.room_url == room  # rooms never change on later provisioning


def test_new_doctor_gets_room_from_current_base(desk: Desk, tmp_path: Path) -> None:
    desk.provisioning.provision_file(CLINIC_TOML, "setup")
    path = tmp_path / "more.toml"
    path.write_text(
        '[org]\nname = "Riverside"\ntimezone = "Europe/Berlin"\njitsi_base_url = "https://video.example/rooms/"\n'
        '[[doctors]]\nid = "dr-new"\nname = "Dr Zoë Núñez"\ntimezone = "Europe/Madrid"\nappointment_types = ["therapy"]\n'
    )
    desk.provisioning.provision_file(path, "setup")
    assert view_of(desk).doctors.require("dr-new").room_url.startswith("https://video.example/rooms/dr-zoe-nunez-")


BAD_FILES = [
    ("[org\nname = 'x'", "not valid TOML"),
    ("[[doctors]]\nid = 'd'\nname = 'D'\n", "org: is required the first time"),
    ("[org]\nname = 'x'\ntimezone = 'Mars/Olympus'\n", "org.timezone"),
    ("[org]\nname = 'x'\n[[appointment_types]]\nkey = 't'\nname = 'T'\nduration_minutes = 0\n", "appointment_types[0].duration_minutes"),
    ("[org]\nname = 'x'\n[[appointment_types]]\nkey = 't'\nname = 'T'\nduration_minutes = 30\n[[appointment_types.reminders]]\nid = 'r'\nrecipient = 'nurse'\nminutes_before = 10\n", "appointment_types[0].reminders[0].recipient"),
    ("[org]\nname = 'x'\n[[appointment_types]]\nkey = 't'\nname = 'T'\nduration_minutes = 30\n[[appointment_types.reminders]]\nid = 'r'\nrecipient = 'patient'\nminutes_before = 50000\n", "minutes_before"),
    ("[org]\nname = 'x'\n[[doctors]]\nid = 'd'\nname = 'D'\n[[doctors.availability]]\nweekday = 0\nstart = '09:00'\nend = '25:00'\n", "doctors[0].availability[0].end"),
    ("[org]\nname = 'x'\n[[doctors]]\nid = 'd'\nname = 'D'\n[[doctors.availability]]\nweekday = 7\nstart = '09:00'\nend = '10:00'\n", "doctors[0].availability[0].weekday"),
    ("[org]\nname = 'x'\n[[doctors]]\nid = 'd'\nname = 'D'\nappointment_types = ['nope']\n", "doctors[0].appointment_types[0]: unknown appointment type 'nope'"),
    ("[org]\nname = 'x'\n[[doctors]]\nid = 'd'\nname = 'D'\nmobile_phone = '12345'\n", "doctors[0].mobile_phone"),
    ("[org]\nname = 'x'\n[[doctors]]\nid = 'd'\nname = 'D'\nspeciality = 'GP'\n", "doctors[0].speciality: is not a known field"),
    ("[org]\nname = 'x'\n[[patients]]\nid = 'p'\n", "patients[0].name: is required"),
    ("[org]\nname = 'x'\n[[patients]]\nid = 'p'\nname = 'P'\n[[patients]]\nid = 'p'\nname = 'Q'\n", "patients[1].id: 'p' appears twice"),
    ("[org]\nname = 'x'\n[[patients]]\nid = 'has space'\nname = 'P'\n", "patients[0].id"),
    ("[org]\nname = 'x'\n[[patients]]\nid = 'p'\nname = 'P'\nemail = 'not-an-email'\n", "patients[0].email"),
    ("[org]\nname = 'x'\n[clinics]\nname = 'y'\n", "clinics: is not a known section"),
    ("[org]\nname = 'x'\npatients = 'everyone'\n", "org.patients"),
    ("patients = 'everyone'\n[org]\nname = 'x'\n", "patients: must be an array of tables"),
]


@pytest.mark.parametrize(("content", "message"), BAD_FILES)
def test_bad_file_names_the_field_and_writes_nothing(desk: Desk, tmp_path: Path, data_dir: Path, content: str, message: str) -> None:
    desk.provisioning.provision_file(CLINIC_TOML, "setup") if "org: is required" not in message else None
    path = tmp_path / "bad.toml"
    path.write_text(content)
    before = fingerprint(data_dir)
    with pytest.raises(ValidationFailed) as err:
        desk.provisioning.provision_file(path, "setup")
    text = str(err.value)
    assert message in text and str(path) in text
    assert "\n" not in text
    assert fingerprint(data_dir) == before


def test_bad_file_from_the_cli(cli: Cli, tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(b"\xff\xfe not utf-8")
    result = cli("provision", str(path))
    assert result.code == 1 and "not UTF-8" in result.err and len(result.err.splitlines()) == 1
    assert not data_dir.exists()


def test_example_file_is_documented_in_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "examples/clinic.toml" in readme
