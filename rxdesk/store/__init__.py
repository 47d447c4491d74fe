"""Storage: repository Protocols and their TinyDB implementation."""

from rxdesk.store.tinystore import TinyStore, TinyView

__all__ = ["TinyStore", "TinyView", "open_store"]


def open_store(data_dir, **options) -> TinyStore:  # type: ignore[no-untyped-def]
    return TinyStore(data_dir, **options)
