"""Shared test helpers: a CLI runner, data-dir fingerprints, appointment factories, waiting for
another thread or process, and the types of the shared fixtures."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pytest

from rxdesk.cli import main
from rxdesk.commands import CommandLine
from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.ids import new_appointment_uid
from rxdesk.domain.models import Appointment, AppointmentStatus
from rxdesk.services import Desk
from rxdesk.store.protocols import Store, StoreView

if TYPE_CHECKING:
    from rxdesk.store.tinystore import TinyView

REPO = Path(__file__).resolve().parent.parent
CLINIC_TOML = REPO / "examples" / "clinic.toml"


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        import json

        return json.loads(self.out)


class Cli(Protocol):
    """The `cli` fixture: `cli("appointments", "list", "--json")`."""

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> CliResult: ...


# Stores a test opened besides its own (another process's view, in this process): closed by
# an autouse fixture after each test.
OPENED_STORES: list[Store] = []


def another_store(desk: Desk) -> Store:
    """A second store on the same data (the data dir, or the database), as another process
    would open it."""
    from rxdesk.store import open_store

    settings = desk.settings
    store = open_store(settings) if settings.database_url else open_store(settings, fsync=False)
    OPENED_STORES.append(store)
    return store


def close_opened_stores() -> None:
    while OPENED_STORES:
        OPENED_STORES.pop().close()


def one_line_refusal(result: CliResult) -> str:
    """A command refused as the CLI contract says: exit 1 and one line on stderr, no traceback."""
    assert result.code == 1, (result.out, result.err)
    assert result.err.count("\n") == 1 and result.err.startswith("rxdesk: "), result.err
    assert "internal error" not in result.err and "Traceback" not in result.err, result.err
    return result.err


Failure = TypeVar("Failure", bound=RxdeskError)


def refused_unchanged(desk: Desk, action: Callable[[], object], error: type[Failure]) -> Failure:
    """The `error` that `action()` raises: one line, and nothing of the desk's data changed."""
    before = fingerprint(desk.settings.data_dir)
    with pytest.raises(error) as caught:
        action()
    assert fingerprint(desk.settings.data_dir) == before
    assert "\n" not in str(caught.value), str(caught.value)
    return caught.value


def view_of(source: Desk | Store) -> StoreView:
    """What the store holds now, read outside a `with` block: each store's `read()` is a view
    itself, each of whose statements sees the latest commit."""
    from rxdesk.store.postgres.store import PgReadView
    from rxdesk.store.tinystore import TinyView

    view = (source.store if isinstance(source, Desk) else source).read()
    assert isinstance(view, TinyView | PgReadView), f"a store whose read() is no view: {view!r}"
    return view


def database_url_of(desk: Desk) -> str:
    """The URL of the test's PostgreSQL database (a test on the pg backend only)."""
    url = desk.settings.database_url
    assert url, "a test of the PostgreSQL store ran on the data dir"
    return url


def tiny_view_of(desk: Desk) -> TinyView:
    """The data dir's own view (its segments and indexes), for tests of the data dir store."""
    from rxdesk.store.tinystore import TinyView

    view = view_of(desk)
    assert isinstance(view, TinyView), "a test of the data dir store ran on another store"
    return view


def assert_week_counts_exact(data_dir: Path) -> None:
    """Every week of the data dir has counts in its manifest, and they are those of its
    appointments counted one by one."""
    from collections import Counter

    from rxdesk.store import TinyStore
    from rxdesk.store.weeks import APPOINTMENTS, OTHER, STATUSES, stored_counts

    def recounted(docs: list[dict[str, Any]]) -> dict[str, int]:
        found = Counter(doc.get("status") for doc in docs)
        counts = {status: found.get(status, 0) for status in STATUSES}
        return {**counts, OTHER: len(docs) - sum(counts.values())}

    snap = TinyStore(data_dir).engine.snapshot()
    for name in snap.names("appt-"):
        week, docs = name.removeprefix("appt-"), list(snap.table(name, APPOINTMENTS).documents().values())
        assert stored_counts(snap, week) == recounted(docs), name
        for doctor in {*(doc["doctor_id"] for doc in docs), "dr-nobody"}:
            mine = [doc for doc in docs if doc["doctor_id"] == doctor]
            assert stored_counts(snap, week, doctor) == recounted(mine), (name, doctor)


def commits(store: Store) -> int:
    """How many writes the store has committed (this process's)."""
    from rxdesk.store.postgres.store import PgStore
    from rxdesk.store.tinystore import TinyStore

    assert isinstance(store, TinyStore | PgStore)
    return store.engine.commits if isinstance(store, TinyStore) else store.commits


# How long a wait may last before the test fails: only a test that would hang reaches it; a
# loaded machine takes as long as it takes below it.
WAIT_LIMIT = 60.0


def still_waiting(what: str | Callable[[], object], limit: float) -> AssertionError:
    """The failure of a wait, naming what was awaited (by default the condition's own source)."""
    if callable(what):
        import inspect

        try:
            what = " ".join(inspect.getsource(what).split())
        except (OSError, TypeError):
            what = repr(what)
    return AssertionError(f"still waiting after {limit:g} s for {what}")


def wait_until(condition: Callable[[], object], *, what: str = "", limit: float = WAIT_LIMIT,
               every: float = 0.01) -> None:
    """Block until `condition()` holds (another thread or process did its part), or fail naming
    what was awaited. The app's tests wait with `tests.tui.conftest.wait_until(pilot, ...)`."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise still_waiting(what or condition, limit)
        time.sleep(every)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (for a server a test starts on it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def run_cli(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run `rxdesk ARGS` in this process with `env` added to the environment."""
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    try:
        os.environ.update(env or {})
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return CliResult(code, out.getvalue(), err.getvalue())


# The PostgreSQL database of the running test, when it runs on that backend (set by the
# `database_url` fixture): `fingerprint` then covers its tables too.
CURRENT_DATABASE: dict[str, str] = {}


def fingerprint(data_dir: Path) -> dict[str, str]:
    """Every file under the data dir with a hash of its bytes, and on PostgreSQL every table
    with a hash of its rows (to prove nothing changed)."""
    result = {}
    if data_dir.exists():
        for path in sorted(data_dir.rglob("*")):
            if path.is_file() and path.name != ".lock" and "logs" not in path.parts:
                result[str(path.relative_to(data_dir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    if CURRENT_DATABASE.get("url"):
        result.update(database_fingerprint(CURRENT_DATABASE["url"]))
    return result


def database_fingerprint(url: str) -> dict[str, str]:
    import psycopg
    from psycopg import sql

    found = {}
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")]
        for table in tables:
            digest = conn.execute(sql.SQL("SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                                          "FROM {} t").format(sql.Identifier(table))).fetchone()
            found[f"table:{table}"] = digest[0] if digest else ""
    return found


def make_appointment(
    desk: Desk,
    *,
    start: datetime,
    doctor_id: str = "dr-weber",
    patient_id: str = "pat-001",
    type_key: str = "gp-consult",
    status: AppointmentStatus | str = AppointmentStatus.confirmed,
    minutes: int | None = None,
    length: timedelta | None = None,
    hold_minutes: int = 15,
    created_at: datetime | None = None,
    uid: str | None = None,
) -> Appointment:
    """Insert an appointment directly (bypassing booking rules) for a test's setup."""
    view = view_of(desk)
    appt_type = view.types.require(type_key)
    doctor = view.doctors.require(doctor_id)
    status = AppointmentStatus(status)
    now = desk.clock.now()
    created = created_at or min(now, start) - timedelta(days=1)
    appt = Appointment(
        uid=uid or new_appointment_uid(start),
        patient_id=patient_id,
        doctor_id=doctor_id,
        type_key=type_key,
        status=status,
        starts_at=start,
        ends_at=start + (length or timedelta(minutes=minutes or appt_type.duration_minutes)),
        created_at=created,
        hold_expires_at=(created + timedelta(minutes=hold_minutes)) if status in (AppointmentStatus.held, AppointmentStatus.expired) else None,
        confirmed_at=created + timedelta(minutes=1) if status not in (AppointmentStatus.held, AppointmentStatus.expired) else None,
        cancelled_at=now if status is AppointmentStatus.cancelled else None,
        cancel_reason="test setup" if status is AppointmentStatus.cancelled else None,
        cancelled_by="admin:setup" if status is AppointmentStatus.cancelled else None,
        room_url=doctor.room_url,
    )
    with desk.store.write() as w:
        w.appointments.put(appt)
    return appt


def book_with(desk: Desk, token: str) -> Appointment:
    """A partner's booking call with `token` (its `sub` names pat-001): the cancel of an
    appointment a month ahead, made for it."""
    appt = make_appointment(desk, start=desk.clock.now() + timedelta(days=30))
    return desk.booking.cancel(token, appt.uid)


def leaf_commands() -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command that takes no subcommand, with its path (`("appointments", "list")`)."""
    cli = CommandLine()
    cli.load_all()
    yield from cli.commands.items()


def options_of(parser: argparse.ArgumentParser) -> set[str]:
    """The options a command's usage line offers, as `--help` shows them to an agent."""
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", parser.format_usage()))
