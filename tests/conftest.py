"""Fixtures every test may use.

`now` is Monday 2026-11-23 08:00 UTC (09:00 in Berlin, the example clinic's zone). Time never
comes from the wall clock: services get a FixedClock, the CLI gets RXDESK_NOW.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.store import TinyStore
from tests.helpers import CLINIC_TOML, CliResult, run_cli

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def clock(now: datetime) -> FixedClock:
    return FixedClock(now)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path, now: datetime) -> Settings:
    return Settings(data_dir=data_dir, agent="tester", now=now, master_key=None)


@pytest.fixture
def store(data_dir: Path) -> TinyStore:
    # In-process tests do not flush to the disk: a process crash loses nothing without it, and
    # the crash tests run real rxdesk processes, which always do.
    return TinyStore(data_dir, fsync=False)


@pytest.fixture
def desk(store: TinyStore, clock: FixedClock, settings: Settings) -> Desk:
    return Desk(store, clock, settings)


@pytest.fixture
def clinic(desk: Desk) -> Desk:
    """The desk with examples/clinic.toml provisioned: 3 doctors, 3 types, 3 patients."""
    desk.provisioning.provision_file(CLINIC_TOML, "setup")
    return desk


@pytest.fixture
def cli_env(data_dir: Path, now: datetime) -> dict[str, str]:
    return {
        "RXDESK_DATA_DIR": str(data_dir),
        "RXDESK_AGENT": "tester",
        "RXDESK_NOW": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@pytest.fixture
def cli(cli_env: dict[str, str]):  # type: ignore[no-untyped-def]
    """`cli("appointments", "list", "--json")` runs rxdesk in-process on the test data dir."""

    def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        return run_cli(*args, env={**cli_env, **(env or {})})

    return run


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    """A real webhook receiver on 127.0.0.1 (subscriptions to it need allow_private_network)."""
    from tests.receiver import Receiver

    r = Receiver()
    yield r
    r.close()
