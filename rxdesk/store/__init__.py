"""Storage: the contract services are typed against (`protocols`) and the TinyDB segment
store behind it. `open_store` is the one place that picks the implementation."""

from __future__ import annotations

from typing import Any

from rxdesk.config import Settings
from rxdesk.store.protocols import Store
from rxdesk.store.tinystore import TinyStore

__all__ = ["Store", "TinyStore", "open_store"]


def open_store(settings: Settings, **options: Any) -> Store:
    """The store for these settings: the segment store in the data dir."""
    return TinyStore(settings.data_dir, **options)
