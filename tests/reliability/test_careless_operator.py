"""What a careless operator does to a data dir or a shell: a deleted manifest, rxdesk started
from cron, folders made world-writable. Each is refused in one line, or tightened, and nothing
is lost."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rxdesk.services import Desk
from tests.helpers import CLINIC_TOML, REPO, Cli, fingerprint


def segment_files(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "segments").iterdir()}


def age(data_dir: Path, seconds: float = 3600) -> None:
    """Make every file look old, as on a data dir nobody touched for an hour (the engine's
    sweep removes uncommitted segment files older than a minute)."""
    then = time.time() - seconds
    for path in data_dir.rglob("*"):
        os.utime(path, (then, then))


@pytest.mark.parametrize("keep_previous", [False, True])
def test_segments_without_the_manifest_are_a_damaged_data_dir_never_an_empty_one(
    clinic: Desk, cli: Cli, data_dir: Path, keep_previous: bool
) -> None:
    clinic.secrets.create_secret("shop", "ops")  # a second commit: rxdesk.previous.json exists
    files = segment_files(data_dir)
    (data_dir / "rxdesk.json").unlink()
    if not keep_previous:
        (data_dir / "rxdesk.previous.json").unlink()
    age(data_dir)
    before = fingerprint(data_dir)
    for command in (("provision", str(CLINIC_TOML)), ("appointments", "list"), ("secrets", "create"),
                    ("demo", "--appointments", "10"), ("worker", "--once")):
        result = cli(*command)
        assert result.code == 1 and result.err.count("\n") == 1, (command, result.err)
        assert f"data dir {data_dir} is damaged" in result.err and "nothing was read or written" in result.err
        if keep_previous:
            assert "cp rxdesk.previous.json rxdesk.json" in result.err
        else:
            assert "restore a backup" in result.err
    assert fingerprint(data_dir) == before and segment_files(data_dir) == files
    if keep_previous:  # the advice works: the store is back as it was before the last write
        shutil.copy(data_dir / "rxdesk.previous.json", data_dir / "rxdesk.json")
        assert cli("patients", "list").code == 0
        assert cli("secrets", "list", "--json").json() == []


def test_a_previous_manifest_alone_is_damaged_too(clinic: Desk, cli: Cli, data_dir: Path) -> None:
    clinic.secrets.create_secret("shop", "ops")
    (data_dir / "rxdesk.json").unlink()
    shutil.rmtree(data_dir / "segments")
    result = cli("provision", str(CLINIC_TOML))
    assert result.code == 1 and "rxdesk.previous.json is there" in result.err
    assert not (data_dir / "rxdesk.json").exists()


def test_bare_rxdesk_without_a_terminal_refuses_and_points_to_the_worker(clinic: Desk, cli_env: dict[str, str]) -> None:
    """From cron or a pipe the app ran forever at ~90 % CPU writing escape codes."""
    result = subprocess.run([sys.executable, "-m", "rxdesk"], env={**os.environ, **cli_env, "PYTHONPATH": str(REPO)},
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "rxdesk worker" in result.stderr and "terminal" in result.stderr


def test_an_open_log_folder_and_file_are_tightened(clinic: Desk, data_dir: Path) -> None:
    from rxdesk.crashlog import log_crash

    logs = data_dir / "logs"
    logs.mkdir(mode=0o777)
    os.chmod(logs, 0o777)
    (logs / "errors.log").write_text("old\n")
    os.chmod(logs / "errors.log", 0o666)
    where = log_crash(data_dir, "boom")
    assert where == str(logs / "errors.log")
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    assert stat.S_IMODE((logs / "errors.log").stat().st_mode) == 0o600
    assert (logs / "errors.log").read_text() == "old\nboom\n"


def test_a_fallback_log_folder_made_by_someone_else_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from rxdesk import crashlog

    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    planted = tmp_path / f"rxdesk-{os.getuid()}"
    planted.mkdir(mode=0o777)
    os.chmod(planted, 0o777)  # open to everyone: its owner could read or swap the log
    if os.geteuid() == 0:
        os.chown(planted, 65534, 65534)  # made by another user (nobody) before us
    else:
        monkeypatch.setattr(crashlog, "_owned_by_us", lambda st: False)
    assert crashlog.log_crash(None, "a traceback") == "(no writable log location)"
    assert list(planted.iterdir()) == []
    monkeypatch.undo()
    shutil.rmtree(planted)
    planted.mkdir(mode=0o777)
    os.chmod(planted, 0o777)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    where = crashlog.log_crash(None, "traceback")  # our own folder, opened up: tightened and used
    assert where == str(planted / "errors.log") and stat.S_IMODE(planted.stat().st_mode) == 0o700


def test_a_reader_during_the_very_first_write_sees_an_empty_data_dir_not_a_damaged_one(desk: Desk, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first write puts its segments down before its manifest; a reader in between (the
    app waiting for `rxdesk demo`) must not call that damaged."""
    from rxdesk import fileio
    from rxdesk.store import TinyStore, engine

    seen: list[bool] = []
    write = fileio.write_atomic  # what the engine writes with

    def read_before_the_manifest(path: Path, data: bytes, **options: Any) -> None:
        if path.name == "rxdesk.json" and not seen:
            assert list((data_dir / "segments").glob("*.json"))
            seen.append(TinyStore(data_dir).is_empty())
        write(path, data, **options)

    monkeypatch.setattr(engine, "write_atomic", read_before_the_manifest)
    desk.provisioning.provision_file(CLINIC_TOML, "setup")
    assert seen == [True] and not desk.is_empty()
