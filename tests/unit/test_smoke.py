"""The README's promises at their smallest: the CLI answers, provisioning and listing work."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import CLINIC_TOML, Cli


def test_help_exits_zero(cli: Cli) -> None:
    result = cli("--help")
    assert result.code == 0


def test_provision_then_list_doctors(cli: Cli) -> None:
    assert cli("provision", str(CLINIC_TOML)).code == 0
    doctors = cli("doctors", "list", "--json").json()
    assert [d["id"] for d in doctors] == ["dr-weber", "dr-sato", "dr-osei"]


def test_validators_are_built_by_the_apps_warm_up_not_by_a_listing(tmp_path: Path) -> None:
    """A command pays only for the validators it uses; the app builds all of them after its
    first paint, so no agent action waits for one. Run in a fresh interpreter: validators are
    built once per process."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        from rxdesk.config import Settings
        from rxdesk.domain import models
        from rxdesk.services import Desk
        desk = Desk.open(Settings.from_env(data_dir={str(tmp_path)!r}))
        desk.appointments.list_appointments()
        print(models.Appointment.__pydantic_complete__, models.Doctor.__pydantic_complete__)
        desk.warm_up()
        print(models.Appointment.__pydantic_complete__, models.Doctor.__pydantic_complete__)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["False False", "True True"]
