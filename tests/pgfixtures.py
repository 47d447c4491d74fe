"""PostgreSQL for the tests: one server per test session, one fresh database per test.

The server is the one `RXDESK_TEST_DATABASE_URL` names (a superuser URL; `.ci/run` starts one
and sets it), or else a throwaway cluster this session starts (tests/pgcluster.py) and stops at
the end. A template database gets the schema once. Each test process then has one database
made from it, emptied before every test (its other connections ended, every row deleted,
every sequence reset: a millisecond, where a new database takes a third of a second); tests of
the schema itself ask for databases of their own (`PgServer.create`).

Modules whose tests must hold on both backends say so with `pytestmark = pytest.mark.backends`;
their tests then run twice, as `[tiny]` and `[pg]`. `RXDESK_TEST_BACKENDS=tiny` leaves the
PostgreSQL half out (a machine without the server); CI never sets it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

ENV_URL = "RXDESK_TEST_DATABASE_URL"
ENV_BACKENDS = "RXDESK_TEST_BACKENDS"


def backends_wanted() -> list[str]:
    raw = os.environ.get(ENV_BACKENDS, "tiny,pg")
    wanted = [b.strip() for b in raw.split(",") if b.strip()]
    unknown = set(wanted) - {"tiny", "pg"}
    if unknown or not wanted:
        raise pytest.UsageError(f"{ENV_BACKENDS} takes tiny, pg or both, not {raw!r}")
    return wanted


def with_database(url: str, dbname: str) -> str:
    """`url` (a postgresql:// URL of this module's making) pointed at another database."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo("", **params)


@dataclass
class PgServer:
    """A running server this session may create databases on."""

    admin_url: str
    worker: str
    cluster: Any = None
    template: str = ""
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True)

    def prepare_template(self) -> None:
        from psycopg import sql

        from rxdesk.store.postgres import connect as pgconnect
        from rxdesk.store.postgres import schema

        self.template = f"rxdesk_tpl_{self.worker}_{os.getpid()}"
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.template)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.template)))
        target = pgconnect.parse_url(with_database(self.admin_url, self.template))
        conn = pgconnect.connect(target)
        try:
            schema.migrate(conn)
        finally:
            conn.close()

    def create(self, *, migrated: bool = True) -> str:
        """A new database (with the schema, or empty); returns its name."""
        from psycopg import sql

        name = f"rxdesk_t_{self.worker}_{os.getpid()}_{next(self._names)}"
        with self.admin() as conn:
            if migrated:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY file_copy").format(
                    sql.Identifier(name), sql.Identifier(self.template)))
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def fresh(self) -> str:
        """The URL of this process's test database, emptied of everything a test left."""
        from psycopg import sql

        if not getattr(self, "_mine", None):
            self._mine = self.create()
        url = self.url(self._mine)
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'rxdesk_schema'")]
            sequences = [r[0] for r in conn.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")]
            with conn.transaction():
                for table in tables:
                    conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
                for sequence in sequences:
                    conn.execute("SELECT setval(%s, 1, false)", (sequence,))
        return url

    def url(self, dbname: str) -> str:
        return with_database(self.admin_url, dbname)

    def drop(self, name: str) -> None:
        from psycopg import sql

        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def close(self) -> None:
        if getattr(self, "_mine", None):
            with contextlib.suppress(Exception):
                self.drop(self._mine)
        if self.template:
            with contextlib.suppress(Exception):
                self.drop(self.template)
        if self.cluster is not None:
            self.cluster.remove()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    worker_id = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = os.environ.get(ENV_URL)
    cluster = None
    if not url:
        from tests.pgcluster import start_cluster

        cluster = start_cluster()
        url = cluster.url()
    server = PgServer(url, worker_id, cluster)
    try:
        server.prepare_template()
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of an empty database with the schema."""
    return pg_server.fresh()
