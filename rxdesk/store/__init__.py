"""Storage: the contract services are typed against (`protocols`), the TinyDB segment store
behind it (the default) and the PostgreSQL one (`rxdesk.store.postgres`, loaded only when a
database URL is given). `open_store` is the one place that picks the implementation."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rxdesk.config import Settings
from rxdesk.store.layout import MOVED_MARK, refuse_if_moved
from rxdesk.store.protocols import Store

if TYPE_CHECKING:
    from rxdesk.store.tinystore import TinyStore

__all__ = ["MOVED_MARK", "Store", "TinyStore", "compare_with_database", "import_into_database", "init_database",
           "open_store"]


def open_store(settings: Settings, *, long_running: bool = False, short_lived: bool = False,
               **options: Any) -> Store:
    """The store for these settings: PostgreSQL when they name a database, else the segment
    store in the data dir (refused when its data was moved into a database). `long_running`:
    a worker that ticks until stopped keeps a larger cache of the data dir (what every tick reads);
    `short_lived`: a command that answers and exits (the data dir's `Engine`, `PgStore`)."""
    short_lived = short_lived and not long_running
    if settings.database_url:
        if short_lived:
            _import_driver_held()
        from rxdesk.store.postgres import PgStore

        return PgStore(settings.database_url, settings.data_dir, short_lived=short_lived, **options)
    refuse_if_moved(Path(settings.data_dir))
    from rxdesk.store.tinystore import TinyStore

    if long_running:
        from rxdesk.store.engine import WORKER_CACHE_BYTES

        options.setdefault("cache_bytes", WORKER_CACHE_BYTES)
    return TinyStore(settings.data_dir, short_lived=short_lived, **options)


def _import_driver_held() -> None:
    """Load the PostgreSQL store and its driver with the cyclic collector held, then keep what
    the loading made out of its passes (`gc.freeze`), for a command that answers and exits:
    modules hold no garbage, and the passes over the driver's took 5-7 ms of every command."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import rxdesk.store.postgres  # noqa: F401 - loaded here, under the held collector
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def __getattr__(name: str) -> Any:
    # The segment store is loaded when first used: a process on PostgreSQL never loads it.
    if name == "TinyStore":
        from rxdesk.store.tinystore import TinyStore

        return TinyStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# What an operator does to a PostgreSQL store itself (`rxdesk store ...`), for the services.


def init_database(url: str) -> Any:
    """Create the schema in the database at `url`, or upgrade it (`SchemaResult`)."""
    from rxdesk.store.postgres.admin import init_schema

    return init_schema(url)


def import_into_database(url: str, data_dir: Path, source: Path, *, now: datetime) -> tuple[str, dict[str, int], bool]:
    """Copy the data dir `source` into the empty database, in one transaction, and mark it as
    moved, under its write lock (refused while a worker ticks on it): the database's name,
    the counts, and whether the mark could be left."""
    from rxdesk.store.postgres.admin import import_into

    where, counts, marked = import_into(url, data_dir, source, now=now)
    return where, dict(counts.by_kind), marked


def compare_with_database(url: str, data_dir: Path, source: Path) -> tuple[str, Any]:
    """Counts of every kind and a checksum of every appointment, data dir against database
    (`Comparison`)."""
    from rxdesk.store.postgres.admin import compare_with

    return compare_with(url, data_dir, source)
