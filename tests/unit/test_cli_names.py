"""The command line takes what the app takes: a doctor or patient by name wherever one is named,
days as the filters read them (`--from -14d` too), a time without a zone in the organisation's
zone (and the answer says which), and `no-show` for `no_show`."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rxdesk.services import Desk
from tests.helpers import fingerprint, make_appointment, run_cli

pytestmark = pytest.mark.backends


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and err.startswith("rxdesk: ")


def test_doctors_and_patients_by_name_in_every_command(clinic: Desk, cli_env: dict[str, str], now: datetime) -> None:
    appt = make_appointment(clinic, start=now + timedelta(days=1, hours=2), doctor_id="dr-weber")
    shown = run_cli("doctors", "show", "Emi Sato", env=cli_env)
    assert shown.code == 0 and "dr-sato" in shown.out
    assert run_cli("doctors", "slots", "weber", "--type", "gp-consult", env=cli_env).code == 0
    assert run_cli("patients", "show", "Lena", "--json", env=cli_env).json()["id"] == "pat-001"
    slots = run_cli("appointments", "slots", appt.uid, "--doctor", "Sato", "--json", env=cli_env)
    assert slots.code == 0 and {s["doctor_id"] for s in slots.json()} == {"dr-sato"}
    away = run_cli("doctors", "away", "Anna Weber", "--from", "now", "--to", "+2d", "--reason", "sick",
                   "--dry-run", "--json", env=cli_env)
    assert away.code == 0 and away.json()["doctor_id"] == "dr-weber"
    assert [item["uid"] for item in away.json()["items"]] == [appt.uid]
    phone = run_cli("doctors", "set-phone", "Kwame", "+1 202 555 0123", "--json", env=cli_env)
    assert phone.code == 0 and phone.json()["mobile_phone"] == "+12025550123"


def test_a_name_that_several_share_or_none_has_is_refused_naming_them(clinic: Desk, cli_env: dict[str, str]) -> None:
    before = fingerprint(clinic.settings.data_dir)
    several = run_cli("doctors", "set-phone", "Dr", "+4915111223399", env=cli_env)
    assert several.code == 1 and one_line(several.err)
    assert "3 doctors match 'Dr'" in several.err and "dr-weber" in several.err and "name one by its id" in several.err
    nobody = run_cli("doctors", "away", "Victor Kim", "--from", "now", "--to", "today", "--reason", "x", env=cli_env)
    assert nobody.code == 1 and one_line(nobody.err) and "no doctor matches 'Victor Kim'" in nobody.err
    assert fingerprint(clinic.settings.data_dir) == before


def test_a_day_before_today_is_a_value_not_an_option(clinic: Desk, cli_env: dict[str, str], now: datetime) -> None:
    past = make_appointment(clinic, start=now - timedelta(days=10), status="completed")
    listed = run_cli("appointments", "list", "--from", "-14d", "--to", "-1d", "--status", "completed", "--json",
                     env=cli_env)
    assert listed.code == 0, listed.err
    assert [row["uid"] for row in listed.json()] == [past.uid]
    from rxdesk.commands import joined_values

    assert joined_values(["list", "--from", "-2w", "--limit", "5"]) == ["list", "--from=-2w", "--limit", "5"]
    assert joined_values(["--", "-3d"]) == ["--", "-3d"]


def test_the_date_error_names_every_form_that_works(clinic: Desk, cli_env: dict[str, str]) -> None:
    refused = run_cli("appointments", "list", "--from", "last monday", env=cli_env)
    assert refused.code == 1 and one_line(refused.err)
    for form in ("YYYY-MM-DD", "today", "tomorrow", "yesterday", "+7d", "-14d", "+2w"):
        assert form in refused.err


def test_a_time_without_a_zone_is_the_organisations_and_the_answer_says_so(clinic: Desk, cli_env: dict[str, str], now: datetime) -> None:
    appt = make_appointment(clinic, start=now + timedelta(days=1, hours=2), doctor_id="dr-weber")
    moved = run_cli("appointments", "rebook", appt.uid, "--start", "2026-11-25T10:00", env=cli_env)
    assert moved.code == 0, moved.err
    assert "Wed 2026-11-25 10:00 Europe/Berlin" in moved.out
    new_uid = moved.out.split(" to ")[1].split()[0]
    assert clinic.appointments.get(new_uid).starts_at.isoformat() == "2026-11-25T09:00:00+00:00"
    gap = run_cli("appointments", "rebook", new_uid, "--start", "2026-03-29T02:30", env=cli_env)
    assert gap.code == 1 and one_line(gap.err) and "does not exist in Europe/Berlin" in gap.err


def test_no_show_is_no_show(clinic: Desk, cli_env: dict[str, str], now: datetime) -> None:
    started = make_appointment(clinic, start=now - timedelta(minutes=10))
    marked = run_cli("appointments", "mark", started.uid, "--status", "no-show", "--reason", "never joined",
                     "--json", env=cli_env)
    assert marked.code == 0, marked.err
    assert marked.json()["status"] == "no_show"
    listed = run_cli("appointments", "list", "--status", "no-show", "--all", "--json", env=cli_env)
    assert [row["uid"] for row in listed.json()] == [started.uid]


def test_a_type_by_its_name_or_key_and_a_miss_lists_every_type(clinic: Desk, cli_env: dict[str, str]) -> None:
    by_name = run_cli("appointments", "book", "--patient", "Lena", "--type", "GP video consultation", "--days", "1",
                      "--json", env=cli_env)
    by_key = run_cli("appointments", "book", "--patient", "Lena", "--type", "gp-consult", "--days", "1", "--json",
                     env=cli_env)
    assert by_name.code == 0 and by_name.json() == by_key.json() != []
    folded = run_cli("doctors", "slots", "Weber", "--type", "  gp VIDEO consultation ", "--json", env=cli_env)
    assert folded.code == 0 and folded.json() == run_cli(
        "doctors", "slots", "Weber", "--type", "gp-consult", "--json", env=cli_env).json()
    before = fingerprint(clinic.settings.data_dir)
    miss = run_cli("appointments", "book", "--patient", "Lena", "--type", "GP video", "--start", "2026-11-23T11:00",
                   env=cli_env)
    assert miss.code == 1 and one_line(miss.err) and "no appointment type 'GP video'" in miss.err
    assert "gp-consult (GP video consultation), prescription (Prescription review), therapy (Therapy session)" \
        in miss.err
    assert fingerprint(clinic.settings.data_dir) == before
    assert run_cli("doctors", "slots", "Weber", "--type", "massage", env=cli_env).err.count("gp-consult") == 1


def test_book_answers_with_the_names_and_the_time_in_the_organisations_zone(
        clinic: Desk, cli_env: dict[str, str]) -> None:
    booked = run_cli("appointments", "book", "--patient", "Lena", "--type", "GP video consultation",
                     "--start", "2026-11-23T11:00", "--doctor", "Weber", env=cli_env)
    assert booked.code == 0, booked.err
    first = booked.out.splitlines()[0]
    assert first.startswith("confirmed ") and first.endswith(
        ": Lena Fischer (pat-001) with Dr Anna Weber (dr-weber), GP video consultation (gp-consult), "
        "Mon 2026-11-23 11:00 (Europe/Berlin)")


def test_slot_answers_name_the_doctor_and_the_type(clinic: Desk, cli_env: dict[str, str], now: datetime) -> None:
    why = run_cli("doctors", "slots", "Osei", "--type", "Therapy session", env=cli_env)
    assert why.code == 0, why.err
    assert [" ".join(line.split()) for line in why.out.splitlines()[:2]] == [
        "doctor Dr Kwame Osei (dr-osei)", "type Therapy session (therapy)"]
    appt = make_appointment(clinic, start=now + timedelta(days=1, hours=2), doctor_id="dr-weber")
    rebook = run_cli("appointments", "slots", appt.uid, env=cli_env)
    assert rebook.code == 0, rebook.err
    assert rebook.out.splitlines()[0].startswith(
        f"open slots for {appt.uid} (Lena Fischer with Dr Anna Weber, GP video consultation (gp-consult), any doctor)")


def test_version(clinic: Desk) -> None:
    from importlib.metadata import version

    shown = run_cli("--version")
    assert shown.code == 0 and shown.out == f"rxdesk {version('rxdesk')}\n"
