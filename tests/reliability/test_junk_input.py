"""Junk on the command line: every argument of every command, never a traceback.

Random strings, huge strings, unicode and control characters, wrong types and dates out of
range go into every command's positionals and options. The answer is always exit 0, 1 or 2;
a refusal is one line on stderr and leaves the data dir byte-for-byte as it was.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxdesk.services import Desk
from tests.helpers import fingerprint, leaf_commands, make_appointment, options_of, run_cli

# Commands that start long-running work when given a large valid number; tested on their own.
LONG_RUNNING = {("demo",), ("worker",)}


COMMANDS = sorted((path, p) for path, p in leaf_commands() if path not in LONG_RUNNING)


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(options_of(parser) - {"-h", "--help"})


JUNK = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.sampled_from([
        "", " ", "\n", "\t\r", "\x00", "\x1b[31m", "-1", "0", "99999999999999999999", "1e309", "nan",
        "0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "+99999d", "-99999w", "today",
        "1970-01-01T00:00:00Z", "2026-11-24T09:00:00+14:00", "pat-001", "dr-weber", "gp-consult",
        "'; DROP TABLE appointments; --", "../../etc/passwd", "🙂" * 30, "x" * 100_000,
        "https://", "ftp://example.com", "whsec_", "eyJhbGciOiJub25lIn0.e30.",
    ]),
)


def argv_for(path: tuple[str, ...], parser: argparse.ArgumentParser) -> st.SearchStrategy[list[str]]:
    token = st.one_of(JUNK, st.sampled_from(option_strings(parser) or ["--json"]))
    return st.lists(token, max_size=6).map(lambda rest: [*path, *rest])


@pytest.fixture
def busy_clinic(clinic: Desk, now: datetime) -> Desk:
    make_appointment(clinic, start=now + timedelta(days=1))
    make_appointment(clinic, start=now + timedelta(days=2), status="held", hold_minutes=60 * 72)
    return clinic


@pytest.mark.parametrize("path,parser", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_junk_arguments_never_raise(path: tuple[str, ...], parser: argparse.ArgumentParser, busy_clinic: Desk, cli_env: dict[str, str], data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**cli_env, "RXDESK_MASTER_KEY": ""}
    monkeypatch.chdir(tmp_path)  # a junk --data-dir is a relative path: keep it in here

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(argv=argv_for(path, parser))
    def run(argv: list[str]) -> None:
        before = fingerprint(data_dir)
        result = run_cli(*argv, env=env)
        assert result.code in (0, 1, 2), (argv, result)
        assert "Traceback" not in result.err + result.out, argv
        assert "internal error" not in result.err, (argv, result.err)
        if result.code != 0:
            lines = result.err.strip().splitlines()
            assert len(lines) == 1 and lines[0], (argv, result.err)
            assert fingerprint(data_dir) == before, argv

    run()


@given(value=JUNK)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_demo_refuses_junk_sizes(value: str, cli_env: dict[str, str], data_dir: Path) -> None:
    if value.strip().isascii() and value.strip().isdigit() and int(value.strip()) < 10**7:
        return  # a real size: building it is the demo test's business
    before = fingerprint(data_dir)
    result = run_cli("demo", "--appointments", value, env=cli_env)
    assert result.code in (1, 2) and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert fingerprint(data_dir) == before
