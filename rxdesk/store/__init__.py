"""Storage: repository Protocols, the TinyDB implementation (the default) and the PostgreSQL one
(`rxdesk.store.postgres`, loaded only when a database URL is given)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rxdesk.store.tinystore import TinyStore, TinyView

__all__ = ["TinyStore", "TinyView", "open_store"]


def open_store(data_dir: str | Path, database_url: str | None = None, **options: Any) -> Any:
    """The store for these settings: PostgreSQL when a database URL is given, else the data dir."""
    if database_url:
        from rxdesk.store.postgres import PgStore

        return PgStore(database_url, data_dir, **options)
    return TinyStore(data_dir, **options)
