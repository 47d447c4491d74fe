"""Fixtures every test may use.

`now` is Monday 2026-11-23 08:00 UTC (09:00 in Berlin, the example clinic's zone). Time never
comes from the wall clock: services get a FixedClock, the CLI gets RXDESK_NOW.

`backend` is "tiny" (the data dir) unless the module is marked `backends`: then each of its
tests runs on TinyDB and on PostgreSQL (tests/pgfixtures.py). `store`, `settings`, `cli_env`
and `open_store` follow it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.store import TinyStore
from rxdesk.store import open_store as open_any_store
from rxdesk.store.protocols import Store
from tests.helpers import CLINIC_TOML, CURRENT_DATABASE, Cli, CliResult, close_opened_stores, run_cli
from tests.mailserver import Inbox, serving
from tests.pgfixtures import backends_wanted, pg_server, pg_url  # noqa: F401 - fixtures
from tests.receiver import Receiver

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
# Set by .ci/run where the permission tests run: there a skipped one is a failure.
REQUIRE_FILE_MODES = "RXDESK_TEST_REQUIRE_FILE_MODES"

# Property tests judge what is answered, never how fast: Hypothesis's per-example deadline and
# its slow-generation check are timings, which a busy machine (CI's two cores under -n 2) fails.
hypothesis_settings.register_profile("rxdesk", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("rxdesk")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends: run each test on TinyDB and on PostgreSQL")
    config.addinivalue_line("markers", "data_dir_only: about the data dir store alone (in a `backends` module)")
    config.addinivalue_line("markers", "database_only: about the PostgreSQL store alone")
    config.addinivalue_line("markers", "permissions: needs a process that file modes hold (not root); "
                                       ".ci/run runs these as an unprivileged user")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("permissions") and not file_modes_hold():
        if os.environ.get(REQUIRE_FILE_MODES) == "1":
            pytest.fail("this process writes where file modes forbid it: run it as an unprivileged user")
        pytest.skip("this process writes where file modes forbid it (root): .ci/run runs it as an unprivileged user")


def file_modes_hold() -> bool:
    """Whether this process is refused a write that a directory's mode forbids (root is not)."""
    with tempfile.TemporaryDirectory() as scratch:
        read_only = Path(scratch) / "read-only"
        read_only.mkdir(mode=0o500)
        try:
            (read_only / "probe").touch()
        except PermissionError:
            return True
        finally:
            read_only.chmod(0o700)
        return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    marked = metafunc.definition.get_closest_marker
    if marked("database_only"):
        metafunc.parametrize("backend", [b for b in backends_wanted() if b == "pg"], indirect=True)
    elif marked("backends") and not marked("data_dir_only"):
        metafunc.parametrize("backend", backends_wanted(), indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "tiny"))


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The test's own PostgreSQL database on the pg backend; None on TinyDB."""
    if backend != "pg":
        yield None
        return
    url = str(request.getfixturevalue("pg_url"))
    CURRENT_DATABASE["url"] = url
    yield url
    CURRENT_DATABASE.clear()


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
def settings(data_dir: Path, now: datetime, database_url: str | None) -> Settings:
    return Settings(data_dir=data_dir, agent="tester", now=now, master_key=None, database_url=database_url)


@pytest.fixture
def open_store(settings: Settings) -> Iterator[Callable[[], Store]]:
    """`open_store()`: a new store on the test's data (another process's view of it); each is
    closed after the test. In-process tests do not flush a data dir to the disk: a process crash
    loses nothing without it, and the crash tests run real rxdesk processes, which always do."""
    opened: list[Store] = []

    def make() -> Store:
        store = open_any_store(settings) if settings.database_url else TinyStore(settings.data_dir, fsync=False)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    return open_store()


@pytest.fixture
def desk(store: Store, clock: FixedClock, settings: Settings) -> Desk:
    return Desk(store, clock, settings)


@pytest.fixture
def clinic(desk: Desk) -> Desk:
    """The desk with examples/clinic.toml provisioned: 3 doctors, 3 types, 3 patients; its
    reminder rules in place for weeks already (a rule reminds only from its creation on)."""
    desk.provisioning.provision_file(CLINIC_TOML, "setup")
    with desk.store.write() as view:
        for appt_type in view.types.all():
            weeks_ago = [r.model_copy(update={"created_at": NOW - timedelta(weeks=8)}) for r in appt_type.reminders]
            view.types.put(appt_type.model_copy(update={"reminders": weeks_ago}))
    return desk


@pytest.fixture
def cli_env(data_dir: Path, now: datetime, database_url: str | None) -> dict[str, str]:
    env = {
        "RXDESK_DATA_DIR": str(data_dir),
        "RXDESK_AGENT": "tester",
        "RXDESK_NOW": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if database_url:
        env["RXDESK_DATABASE_URL"] = database_url
    return env


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Cli:
    """`cli("appointments", "list", "--json")` runs rxdesk in-process on the test data dir."""

    def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        return run_cli(*args, env={**cli_env, **(env or {})})

    return run


@pytest.fixture(autouse=True)
def _only_the_tests_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A URL in the developer's environment must never send a test to a real database."""
    monkeypatch.delenv("RXDESK_DATABASE_URL", raising=False)
    yield
    close_opened_stores()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 that records what it receives: a webhook receiver
    (subscriptions to it need allow_private_network) or the SMS gateway. Tell it how to answer
    through its fields (`default`, `answers`, `answer`, `gate`)."""
    with Receiver() as r:
        yield r


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    """A real SMTP server on a free port and its mailbox (`inbox.port`)."""
    box = Inbox()
    with serving(box) as box.port:
        yield box
