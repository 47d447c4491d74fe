"""Storage: repository Protocols, the TinyDB implementation (the default) and the PostgreSQL one
(`rxdesk.store.postgres`, loaded only when a database URL is given)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rxdesk.domain.errors import StoreError, short_path
from rxdesk.store.tinystore import TinyStore, TinyView

__all__ = ["MOVED_MARK", "TinyStore", "TinyView", "open_store"]

# Left in a data dir once `rxdesk store import` has copied it into a database: from then on the
# database is the desk, and a process still pointed at the data dir would work on a copy.
MOVED_MARK = "moved-to-postgresql"


def open_store(data_dir: str | Path, database_url: str | None = None, **options: Any) -> Any:
    """The store for these settings: PostgreSQL when a database URL is given, else the data dir
    (refused when its data was moved into a database)."""
    if database_url:
        from rxdesk.store.postgres import PgStore

        return PgStore(database_url, data_dir, **options)
    mark = Path(data_dir) / MOVED_MARK
    if mark.is_file():
        moved = " ".join(mark.read_text(errors="replace").split())[:300]
        raise StoreError(f"the data in {short_path(data_dir)} was moved to PostgreSQL ({moved}): set "
                         f"RXDESK_DATABASE_URL; to work on the data dir again, delete {short_path(mark)}")
    return TinyStore(data_dir, **options)
