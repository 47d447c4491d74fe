"""The store on PostgreSQL (psycopg 3): the same repositories as the TinyDB store, for desks
whose agents and workers run on more than one host."""

from rxdesk.store.postgres.store import PgStore, PgView

__all__ = ["PgStore", "PgView"]
