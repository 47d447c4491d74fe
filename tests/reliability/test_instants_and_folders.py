"""Instants at the ends of the calendar are refused in one line, wherever one is typed; the
folders rxdesk creates are private whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rxdesk.domain.errors import ValidationFailed
from rxdesk.domain.times import parse_instant
from rxdesk.services import Desk
from tests.helpers import CLINIC_TOML, REPO, Cli, fingerprint, one_line_refusal

ABSURD = ["9999-12-01T00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00Z", "1899-12-31T23:59:59Z",
          "0001-01-01T00:00:00+01:00"]


@pytest.mark.parametrize("text", ABSURD)
def test_the_one_parser_bounds_instants_like_days(text: str) -> None:
    with pytest.raises(ValidationFailed, match="out of range"):
        parse_instant(text, what="--start")
    assert parse_instant("1900-01-01T00:00Z").year == 1900 and parse_instant("9998-12-31T23:59:59Z").year == 9998


@pytest.mark.parametrize("text", ABSURD)
def test_rxdesk_now_at_the_ends_of_the_calendar_is_refused(cli: Cli, clinic: Desk, text: str) -> None:
    for command in (("appointments", "list"), ("doctors", "slots", "dr-weber", "--type", "gp-consult"),
                    ("attention",), ("worker", "--once")):
        err = one_line_refusal(cli(*command, env={"RXDESK_NOW": text}))
        assert "RXDESK_NOW" in err and "out of range" in err


@pytest.mark.parametrize(("start", "end"), [
    ("9999-12-01T00:00Z", "9999-12-02T00:00Z"),
    ("2026-11-24T00:00Z", "9999-12-31T23:00Z"),
    ("0001-01-01T00:00Z", "2026-11-24T00:00Z"),
    ("9999-12-01 00:00", "9999-12-02 00:00"),  # in the organisation's zone
    ("0001-01-01 00:00", "2026-11-24 00:00"),
])
def test_doctors_away_refuses_absurd_instants_and_changes_nothing(cli: Cli, clinic: Desk, data_dir: Path,
                                                                  start: str, end: str) -> None:
    before = fingerprint(data_dir)
    for extra in ((), ("--rebook",), ("--dry-run",)):
        err = one_line_refusal(cli("doctors", "away", "dr-weber", "--from", start, "--to", end, "--reason", "x",
                                   *extra))
        assert "out of range" in err
    assert fingerprint(data_dir) == before


@pytest.mark.parametrize("command", [
    ("appointments", "book", "--patient", "pat-001", "--type", "gp-consult", "--start", "9999-12-01T10:00Z"),
    ("booking", "hold", "--token", "x.y.z", "--doctor", "dr-weber", "--type", "gp-consult", "--start",
     "9999-12-01T10:00Z"),
])
def test_commands_taking_a_start_refuse_absurd_instants(cli: Cli, clinic: Desk, data_dir: Path, command: tuple[str, ...]) -> None:
    before = fingerprint(data_dir)
    result = cli(*command)
    assert "out of range" in one_line_refusal(result)
    assert fingerprint(data_dir) == before


def run_with_umask(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """rxdesk in a process of its own whose umask lets everyone write what it creates."""
    return subprocess.run([sys.executable, "-m", "rxdesk", *args], env={**os.environ, **env, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.umask(0))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_folders_rxdesk_creates_are_private_under_umask_000(tmp_path: Path) -> None:
    """Under umask 000, `mkdir -p` made the missing parents of the data dir 0777: any local
    user could have moved the data dir aside and put their own in its place."""
    data_dir = tmp_path / "srv" / "rxdesk" / "data"
    made = run_with_umask(["provision", str(CLINIC_TOML)], {"RXDESK_DATA_DIR": str(data_dir), "RXDESK_AGENT": "tester"})
    assert made.returncode == 0, made.stderr
    secret = run_with_umask(["secrets", "create", "--label", "shop"], {"RXDESK_DATA_DIR": str(data_dir),
                                                                       "RXDESK_AGENT": "tester"})
    assert secret.returncode == 0, secret.stderr
    for folder in (tmp_path / "srv", tmp_path / "srv" / "rxdesk", data_dir):
        assert mode(folder) == 0o700, (folder, oct(mode(folder)))
    for path in data_dir.rglob("*"):
        assert mode(path) == (0o700 if path.is_dir() else 0o600), (path, oct(mode(path)))


def test_the_crash_log_folder_is_private_under_umask_000(tmp_path: Path) -> None:
    """The error log goes to `logs/` in the data dir, made with its missing parents 0700."""
    data_dir = tmp_path / "srv" / "data"
    code = ("import os, sys\nos.umask(0)\nfrom pathlib import Path\nfrom rxdesk.crashlog import log_crash\n"
            f"print(log_crash(Path({str(data_dir)!r}), 'boom'))\n")
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    log = Path(result.stdout.strip())
    assert log == data_dir / "logs" / "errors.log" and mode(log) == 0o600
    for folder in (tmp_path / "srv", data_dir, log.parent):
        assert mode(folder) == 0o700, (folder, oct(mode(folder)))
