"""Where a figure is measured: a private copy of the data set in a data dir (TinyDB, the
default), or in a PostgreSQL database made from the same data set with `rxdesk store import`.

    PgServer()              RXDESK_BENCH_DATABASE_URL (a superuser URL), or a throwaway
                            PostgreSQL 15 cluster with the server's durable defaults (fsync on)
    server.load(built)      one database per data set: `store init`, `store import`, ANALYZE
    DatabasePlaces(...)     each measurement gets its own copy (CREATE DATABASE ... TEMPLATE)
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.datasets import NOW, Built
from bench.measure import bench_env, rxdesk_cmd, snapshot_dir


@dataclass
class Place:
    """One private copy of a data set."""

    data_dir: Path  # the data dir; with a database it keeps only logs/ (and a master key)
    database_url: str | None = None

    def env(self) -> dict[str, str]:
        env = bench_env(self.data_dir)
        env.pop("RXDESK_DATABASE_URL", None)
        if self.database_url:
            env["RXDESK_DATABASE_URL"] = self.database_url
        return env

    def desk(self) -> Any:
        from rxdesk.config import Settings
        from rxdesk.domain.clock import FixedClock
        from rxdesk.services import Desk
        from rxdesk.store import open_store

        settings = Settings(data_dir=self.data_dir, agent="bench", now=NOW, database_url=self.database_url)
        return Desk(open_store(settings), FixedClock(NOW), settings)


def commits(store: Any) -> int:
    """Writes committed by this process's store."""
    return int(store.commits) if hasattr(store, "commits") else int(store.engine.commits)


class DataDirPlaces:
    backend = "rxdesk"

    @staticmethod
    def key(what: str) -> str:
        """The key of a figure's detail (`note`, `writes`) for this kind of store."""
        return what

    def __init__(self, built: Built, work: Path) -> None:
        self.built, self.work = built, work

    def new(self, name: str) -> Place:
        return Place(snapshot_dir(self.built.data_dir, self.work / name))


class PgServer:
    """The PostgreSQL server the benchmark's databases live on."""

    def __init__(self) -> None:
        self.cluster: Any = None
        url = os.environ.get("RXDESK_BENCH_DATABASE_URL")
        if not url:
            from tests.pgcluster import start_cluster

            self.cluster = start_cluster(durable=True)
            url = self.cluster.url()
        self.admin_url = url

    def _admin(self, statement: Any) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement)

    def url(self, dbname: str) -> str:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = conninfo_to_dict(self.admin_url)
        params["dbname"] = dbname
        return make_conninfo("", **params)

    def load(self, built: Built, work: Path) -> tuple[str, float]:
        """The data set as a database (made once per run): returns its name and how long
        `rxdesk store import` took."""
        from psycopg import sql

        name = f"bench_{built.spec.name.lower()}_{os.getpid()}"  # runs of others on one server never meet
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        env = Place(work / "pg-import", self.url(name)).env()
        subprocess.run([*rxdesk_cmd(), "store", "init"], env=env, check=True, capture_output=True)
        work.mkdir(parents=True, exist_ok=True)
        source = snapshot_dir(built.data_dir, work / "pg-source")  # the import marks it as moved
        started = time.perf_counter()
        subprocess.run([*rxdesk_cmd(), "store", "import", str(source)], env=env, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        import psycopg

        with psycopg.connect(self.url(name), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # what autovacuum does soon after a bulk load
        return name, seconds

    def copy(self, template: str, name: str) -> str:
        from psycopg import sql

        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        # FILE_COPY copies the files and checkpoints: the default (WAL_LOG) would leave the whole
        # database as WAL and dirty buffers that the next checkpoint writes during a measurement.
        self._admin(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
            sql.Identifier(name), sql.Identifier(template)))
        return self.url(name)

    def drop(self, dbname: str) -> None:
        from psycopg import sql

        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))

    def size(self, dbname: str) -> int:
        import psycopg

        with psycopg.connect(self.admin_url) as conn:
            row = conn.execute("SELECT pg_database_size(%s)", (dbname,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.remove()


class DatabasePlaces:
    backend = "pg"

    @staticmethod
    def key(what: str) -> str:
        return f"pg_{what}"

    def __init__(self, server: PgServer, template: str, work: Path) -> None:
        self.server, self.template, self.work = server, template, work
        self.made: list[str] = []

    def new(self, name: str) -> Place:
        dbname = f"{self.template}_{len(self.made)}"
        self.made.append(dbname)
        home = self.work / name
        home.mkdir(parents=True, exist_ok=True)
        return Place(home, self.server.copy(self.template, dbname))

    def drop_all(self) -> None:
        for dbname in self.made:
            self.server.drop(dbname)
        self.made.clear()
