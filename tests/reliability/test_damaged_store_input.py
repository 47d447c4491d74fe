"""`rxdesk store import` and `rxdesk store init` on damaged input: one line that names the data
dir and the record, or the database and the table, never an internal error; nothing changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rxdesk.config import Settings
from rxdesk.domain.clock import FixedClock
from rxdesk.domain.ids import new_appointment_uid
from rxdesk.services import Desk
from rxdesk.store import TinyStore
from tests.helpers import CLINIC_TOML, database_fingerprint, run_cli
from tests.pgfixtures import PgServer

pytestmark = pytest.mark.database_only


@pytest.fixture
def empty_database(pg_server: PgServer, backend: str) -> Iterator[str]:
    """The URL of a new database with the schema and nothing in it."""
    name = pg_server.create()
    yield pg_server.url(name)
    pg_server.drop(name)


def data_dir_with(tmp_path: Path, now: datetime, damage: dict[str, Any]) -> tuple[Path, str]:
    """A provisioned data dir holding one appointment whose stored form has `damage` in it (as
    an older version, or a hand edit, may leave it); returns the dir and the appointment's uid."""
    source = tmp_path / "source"
    settings = Settings(data_dir=source, agent="tester", now=now, master_key=None, database_url=None)
    store = TinyStore(source, fsync=False)
    desk = Desk(store, FixedClock(now), settings)
    desk.provisioning.provision_file(CLINIC_TOML, "setup")
    start = now + timedelta(days=2)
    uid = new_appointment_uid(start)
    doc = {"uid": uid, "patient_id": "pat-001", "doctor_id": "dr-weber", "type_key": "gp-consult",
           "status": "confirmed", "starts_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "ends_at": (start + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "confirmed_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "room_url": "https://meet.example/room", **damage}
    with store.write() as view:
        view.bulk.add_appointments([doc])
    store.close()
    return source, uid


@pytest.mark.parametrize("damage, said", [
    ({"ends_at": "not a time"}, "ends_at"),  # read by rxdesk first: the database would take `yesterday`
    ({"confirmed_at": "2026-13-45T99:00:00Z"}, "confirmed_at"),
    ({"cancel_reason": "a\u0000b"}, "cancel_reason holds a NUL character"),
    ({"ends_at": "2026-11-24T08:00:00Z"}, "appointments_ends_after_start"),  # ends before it starts
])
def test_store_import_names_the_file_and_the_appointment_it_cannot_copy(
        empty_database: str, tmp_path: Path, now: datetime, cli_env: dict[str, str], damage: dict[str, str], said: str) -> None:
    source, uid = data_dir_with(tmp_path, now, damage)
    before = database_fingerprint(empty_database)
    result = run_cli("store", "import", str(source), env={**cli_env, "RXDESK_DATABASE_URL": empty_database})
    assert result.code == 1 and result.err.count("\n") == 1, result.err
    assert "internal error" not in result.err
    assert f"cannot import {source}/segments/appt-" in result.err and f"appointment {uid!r}" in result.err
    assert said in result.err and "nothing was imported" in result.err
    assert database_fingerprint(empty_database) == before
    assert not (source / "moved-to-postgresql").exists()


@pytest.mark.parametrize("kind, table", [("appointments", "appointments"), ("rxdesk_schema_missing", "org")])
def test_store_init_on_a_database_with_tables_of_another_origin_names_the_table(
        empty_db_of_another_app: Callable[[str], str], cli_env: dict[str, str], kind: str, table: str) -> None:
    url = empty_db_of_another_app(kind)
    before = database_fingerprint(url)
    result = run_cli("store", "init", env={**cli_env, "RXDESK_DATABASE_URL": url})
    assert result.code == 1 and result.err.count("\n") == 1, result.err
    assert "internal error" not in result.err and "DuplicateTable" not in result.err
    assert f"already holds a table or object {table!r}" in result.err and "nothing was changed" in result.err
    assert database_fingerprint(url) == before


@pytest.fixture
def empty_db_of_another_app(pg_server: PgServer, backend: str) -> Iterator[Callable[[str], str]]:
    """A database that already holds a table named like one of rxdesk's: another application's
    (`appointments`), or rxdesk's own tables whose `rxdesk_schema` record was dropped."""
    made: list[str] = []

    def make(kind: str) -> str:
        name = pg_server.create(migrated=kind != "appointments")
        made.append(name)
        url = pg_server.url(name)
        with psycopg.connect(url, autocommit=True) as conn:
            if kind == "appointments":
                conn.execute("CREATE TABLE appointments (id serial PRIMARY KEY, what text)")
            else:
                conn.execute("DROP TABLE rxdesk_schema")
        return url

    yield make
    for name in made:
        pg_server.drop(name)
