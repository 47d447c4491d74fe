"""Provisioning again on a clinic agents have worked in: what agents own is kept, an absent key
keeps the stored value, `--dry-run` writes nothing; and what the file itself may not say
(shared external ids, overlapping windows, zones that are not IANA, lax types)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rxdesk.domain.errors import ValidationFailed
from rxdesk.services import Desk
from tests.helpers import CLINIC_TOML, Cli, fingerprint, view_of

pytestmark = pytest.mark.backends


def write(tmp_path: Path, text: str, name: str = "file.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_running_the_file_again_keeps_what_agents_changed(clinic: Desk, cli: Cli) -> None:
    """Running examples/clinic.toml again used to put a type's rules back (rules added with
    `reminders add` were gone) and clear a number set with `set-phone`."""
    added = clinic.reminders.add_rule("gp-consult", "doctor", 5, email=True, agent="ops")
    clinic.reminders.remove_rule("gp-consult", "hour-before", agent="ops")
    clinic.doctors.set_phone("dr-weber", "+49 151 99887766", "ops")
    clinic.doctors.set_phone("dr-sato", "", "ops")
    rules = view_of(clinic).types.require("gp-consult").reminders
    result = cli("provision", str(CLINIC_TOML))
    assert result.code == 0, result.err
    view = view_of(clinic)
    assert view.types.require("gp-consult").reminders == rules and added.rule in rules
    assert view.doctors.require("dr-weber").mobile_phone == "+4915199887766"
    assert view.doctors.require("dr-sato").mobile_phone == ""
    # The run says what it kept.
    assert "appointment type gp-consult: kept its 3 reminder rule(s)" in result.out
    assert "doctor dr-weber: kept the mobile phone +4915199887766" in result.out
    assert "doctor dr-sato: kept the mobile phone (none)" in result.out


def test_a_new_entry_takes_its_rules_and_number_from_the_file(clinic: Desk, tmp_path: Path) -> None:
    path = write(tmp_path, '[[appointment_types]]\nkey = "follow-up"\nname = "Follow-up"\nduration_minutes = 20\n'
                           '  [[appointment_types.reminders]]\n  id = "r1"\n  recipient = "patient"\n  minutes_before = 30\n'
                           '[[doctors]]\nid = "dr-new"\nname = "Dr New"\ntimezone = "Europe/Berlin"\n'
                           'mobile_phone = "+49 151 12345678"\nappointment_types = ["follow-up"]\n')
    clinic.provisioning.provision_file(path, "setup")
    view = view_of(clinic)
    assert [r.id for r in view.types.require("follow-up").reminders] == ["r1"]
    assert view.doctors.require("dr-new").mobile_phone == "+4915112345678"


def test_a_partial_file_changes_only_the_keys_it_names(clinic: Desk, tmp_path: Path) -> None:
    """A partial file used to clear availability and the prescription phone."""
    before = view_of(clinic).doctors.require("dr-weber")
    path = write(tmp_path, '[[doctors]]\nid = "dr-weber"\nname = "Dr Anna Weber-Lang"\n'
                           '[[patients]]\nid = "pat-002"\nemail = "omar@new.example"\n'
                           '[org]\nname = "Riverside Health"\n')
    result = clinic.provisioning.provision_file(path, "setup")
    view = view_of(clinic)
    after = view.doctors.require("dr-weber")
    assert after.name == "Dr Anna Weber-Lang"
    assert after.model_copy(update={"name": before.name}) == before  # availability, phones, types, room kept
    omar = view.patients.require("pat-002")
    assert (omar.email, omar.name, omar.external_id) == ("omar@new.example", "Omar Haddad", "shop-10002")
    org = view.org.get()
    assert org is not None
    assert (org.name, org.timezone) == ("Riverside Health", "Europe/Berlin")
    assert result.changes["doctors"] == {"dr-weber": ["name"]}


def test_a_present_list_replaces_the_stored_one_whole(clinic: Desk, tmp_path: Path) -> None:
    path = write(tmp_path, '[[doctors]]\nid = "dr-weber"\nname = "Dr Anna Weber"\n'
                           '  [[doctors.availability]]\n  weekday = 3\n  start = "10:00"\n  end = "11:00"\n')
    clinic.provisioning.provision_file(path, "setup")
    windows = view_of(clinic).doctors.require("dr-weber").availability
    assert [(w.weekday, w.start, w.end) for w in windows] == [(3, "10:00", "11:00")]


def test_dry_run_prints_the_plan_and_writes_nothing(clinic: Desk, cli: Cli, data_dir: Path, tmp_path: Path) -> None:
    clinic.doctors.set_phone("dr-weber", "+49 151 99887766", "ops")
    path = write(tmp_path, CLINIC_TOML.read_text().replace('name = "Dr Emi Sato"', 'name = "Dr Emi Sato-Berg"')
                 + '[[patients]]\nid = "pat-004"\nname = "New Patient"\n')
    before = fingerprint(data_dir)
    result = cli("provision", str(path), "--dry-run")
    assert result.code == 0, result.err
    assert fingerprint(data_dir) == before
    assert "nothing was written" in result.out
    assert "would add patient pat-004" in result.out and "would change doctor dr-sato: name" in result.out
    assert "kept the mobile phone +4915199887766" in result.out
    plan = cli("provision", str(path), "--dry-run", "--json").json()
    assert plan["dry_run"] is True and plan["created"] == {"patients": ["pat-004"]}
    assert fingerprint(data_dir) == before
    assert cli("provision", str(path)).code == 0 and fingerprint(data_dir) != before


def test_dry_run_on_an_empty_data_dir_creates_nothing(cli: Cli, data_dir: Path) -> None:
    result = cli("provision", str(CLINIC_TOML), "--dry-run")
    assert result.code == 0 and "would add doctor dr-weber" in result.out
    assert not data_dir.exists()


@pytest.mark.parametrize("patients, message", [
    ('[[patients]]\nid = "pat-009"\nname = "Copy"\nexternal_id = "shop-10001"\n',
     "patients[0].external_id: 'shop-10001' is also the external_id of patient pat-001"),
    ('[[patients]]\nid = "pat-009"\nname = "Copy"\nexternal_id = "pat-002"\n',
     "patients[0].external_id: 'pat-002' is the id of patient pat-002"),
    ('[[patients]]\nid = "shop-10002"\nname = "Named like an external id"\n',
     "'shop-10002' is the id of a patient in the file and the external_id of patient pat-002"),
    ('[[patients]]\nid = "pat-008"\nname = "A"\nexternal_id = "x-1"\n[[patients]]\nid = "pat-009"\nname = "B"\n'
     'external_id = "x-1"\n', "is also the external_id of patient"),
])
def test_a_token_sub_always_names_one_patient(clinic: Desk, tmp_path: Path, data_dir: Path, patients: str, message: str) -> None:
    before = fingerprint(data_dir)
    with pytest.raises(ValidationFailed, match=message.replace("[", r"\[").replace("]", r"\]")):
        clinic.provisioning.provision_file(write(tmp_path, patients), "setup")
    assert fingerprint(data_dir) == before


DOCTOR = '[[doctors]]\nid = "dr-new"\nname = "Dr New"\ntimezone = "{zone}"\nappointment_types = ["gp-consult"]\n'
WINDOW = '  [[doctors.availability]]\n  weekday = {weekday}\n  start = "{start}"\n  end = "{end}"\n'


@pytest.mark.parametrize("text, field", [
    (DOCTOR.format(zone="Europe/Berlin") + WINDOW.format(weekday="true", start="09:00", end="12:00"),
     "doctors[0].availability[0].weekday"),
    ('[[appointment_types]]\nkey = "x"\nname = "X"\nduration_minutes = "30"\n', "appointment_types[0].duration_minutes"),
    ('[[appointment_types]]\nkey = "x"\nname = "X"\nduration_minutes = 30.0\n', "appointment_types[0].duration_minutes"),
    (DOCTOR.format(zone="localtime"), "doctors[0].timezone"),
    ('[org]\nname = "R"\ntimezone = "posixrules"\n', "org.timezone"),
    (DOCTOR.format(zone="Europe/Berlin") + WINDOW.format(weekday=0, start="09:00", end="12:00")
     + WINDOW.format(weekday=0, start="11:00", end="13:00"), "doctors[0].availability[1]: overlaps availability[0]"),
    (DOCTOR.format(zone="Europe/Berlin") + WINDOW.format(weekday=2, start="09:00", end="12:00")
     + WINDOW.format(weekday=2, start="09:00", end="12:00"), "doctors[0].availability[1]: overlaps availability[0]"),
    ('[[patients]]\nid = "pat-009"\nname = "Eve"\nemail = "eve\\u001b]52;c;eA==\\u0007@x.example"\n',
     "patients[0].email: must not contain control characters"),
    ('[[patients]]\nid = "pat-009"\nname = "Eve \\u202etxt.exe"\n', "patients[0].name: must not contain control"),
])
def test_a_lax_or_contradictory_file_is_refused_with_the_field_named(clinic: Desk, tmp_path: Path, data_dir: Path,
                                                                      text: str, field: str) -> None:
    """`weekday = true`, `duration_minutes = "30"`, `timezone = "localtime"` and overlapping
    windows (which double-counted slots) used to be accepted."""
    before = fingerprint(data_dir)
    with pytest.raises(ValidationFailed) as info:
        clinic.provisioning.provision_file(write(tmp_path, text), "setup")
    assert field in str(info.value)
    assert fingerprint(data_dir) == before


def test_windows_that_touch_do_not_overlap(clinic: Desk, tmp_path: Path) -> None:
    text = (DOCTOR.format(zone="Europe/Berlin") + WINDOW.format(weekday=0, start="09:00", end="12:00")
            + WINDOW.format(weekday=0, start="12:00", end="13:00") + WINDOW.format(weekday=1, start="09:00", end="12:00"))
    clinic.provisioning.provision_file(write(tmp_path, text), "setup")
    assert len(view_of(clinic).doctors.require("dr-new").availability) == 3
