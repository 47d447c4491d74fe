"""The README's promises at their smallest: the CLI answers, provisioning and listing work."""

from __future__ import annotations

from tests.helpers import CLINIC_TOML


def test_help_exits_zero(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("--help")
    assert result.code == 0


def test_provision_then_list_doctors(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("provision", str(CLINIC_TOML)).code == 0
    doctors = cli("doctors", "list", "--json").json()
    assert [d["id"] for d in doctors] == ["dr-weber", "dr-sato", "dr-osei"]
