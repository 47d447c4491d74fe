"""What an operator does to the database itself: create or upgrade the schema, import a data
dir, compare the two. Each opens its own connections and closes them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from rxdesk.domain.errors import Refused, StoreError
from rxdesk.domain.times import format_utc
from rxdesk.store.postgres import connect as pgconnect
from rxdesk.store.postgres import schema
from rxdesk.store.postgres.store import PgStore
from rxdesk.store.postgres.transfer import Comparison, Counts, compare, import_data_dir


@dataclass(frozen=True)
class SchemaResult:
    where: str
    found: int | None
    applied: list[str]
    version: int


def init_schema(url: str) -> SchemaResult:
    """Create the schema, or bring it up to this rxdesk's version."""
    target = pgconnect.parse_url(url)
    conn = pgconnect.connect(target)
    try:
        found, applied = schema.migrate(conn)
    except Exception as exc:  # noqa: BLE001 - translated: a one-line reason, or re-raised as it is
        from rxdesk.store.postgres.session import translate

        raise _already_there(target, exc) or translate(target, exc) from None
    finally:
        conn.close()
    return SchemaResult(target.where, found, [f"{m.version} {m.name}" for m in applied], schema.latest())


def _already_there(target: pgconnect.Target, exc: BaseException) -> StoreError | None:
    """A migration met a table (or another object) of the same name that rxdesk's record of
    its schema does not account for: another application's, or rxdesk's own with the record
    lost. Nothing is created over it."""
    from psycopg import errors

    if not isinstance(exc, errors.DuplicateTable | errors.DuplicateObject):
        return None
    named = re.search(r'"([^"]+)"', getattr(exc.diag, "message_primary", None) or str(exc))
    what = f"a table or object {named.group(1)!r}" if named else "tables or objects"
    return StoreError(f"the {target.where} already holds {what} that its record of rxdesk's schema "
                      f"({schema.VERSION_TABLE}) does not account for: another application's data, or a "
                      "schema whose record was lost; nothing was changed: give rxdesk a database of its own "
                      "(createdb) or restore the database from a backup")


def _data_dir_store(source: Path):  # type: ignore[no-untyped-def]
    from rxdesk.store.tinystore import TinyStore

    if not (source / "rxdesk.json").is_file():
        raise Refused(f"{source} holds no rxdesk data (no rxdesk.json): name the data dir to copy from")
    return TinyStore(source)


T = TypeVar("T")


def _between(url: str, data_dir: Path, source: Path, do: Callable[[PgStore, Any], T]) -> tuple[str, T]:
    pg = PgStore(url, data_dir)
    try:
        return pg.where, do(pg, _data_dir_store(source))
    finally:
        pg.close()


# A worker that ticked this recently is taken for running: the import is refused.
RUNNING_WORKER = timedelta(minutes=2)


def import_into(url: str, data_dir: Path, source: Path, *, now: datetime) -> tuple[str, Counts, bool]:
    """Import, then mark the data dir as moved, both under its write lock: no process commits
    to the data dir between the copy and the mark, and every write after it (an app or a
    worker still running on the data dir) is refused. Refused while a worker ticked on the
    data dir in the last RUNNING_WORKER. Returns whether the mark could be left."""
    from rxdesk.fileio import write_atomic
    from rxdesk.store.layout import MOVED_MARK

    tiny = _data_dir_store(source)
    with tiny.write():
        _refuse_running_worker(tiny, source, now)
        pg = PgStore(url, data_dir)
        try:
            where, counts = pg.where, import_data_dir(pg, tiny)
            _settle(pg)
        finally:
            pg.close()
        try:
            write_atomic(source / MOVED_MARK,
                         f"into the {where} by `rxdesk store import` at {format_utc(now)}\n".encode())
        except OSError:
            return where, counts, False
    return where, counts, True


def _settle(pg: PgStore) -> None:
    """Vacuum and analyse the freshly filled database: the planner learns its sizes (it would
    otherwise plan the default view for one row) and the visibility map lets the count of
    upcoming appointments come from the index alone, before autovacuum would get to it."""
    import psycopg

    try:
        with pgconnect.connect(pg.target, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
    except (psycopg.Error, StoreError):  # the data is in; autovacuum gets to it later
        pass


def _refuse_running_worker(tiny: Any, source: Path, now: datetime) -> None:
    tick = tiny.last_tick()
    if tick is None or now - tick.at >= RUNNING_WORKER:
        return
    ago = max(0, int((now - tick.at).total_seconds()))
    raise Refused(f"a maintenance worker ({tick.owner}) ticked on {source} {ago} s ago: it would go on sending "
                  "from the data dir; stop it first (ctrl+c or SIGTERM for `rxdesk worker`, `systemctl stop` for "
                  "a service, or quit the app that runs it), then import once it has not ticked for "
                  f"{RUNNING_WORKER.seconds // 60} minutes; nothing was imported")


def compare_with(url: str, data_dir: Path, source: Path) -> tuple[str, Comparison]:
    return _between(url, data_dir, source, compare)
