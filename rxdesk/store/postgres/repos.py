"""The repositories of `store/protocols.py` on PostgreSQL: what they share, and reference data.

The aggregates have a module each, as on the data-dir side: `patients`, `appointments` (with
the reminders fired for them) and `logs` (events, audit, deliveries, messages, cursors).

Every value travels as a query parameter; identifiers come from this module's own constants,
composed with `psycopg.sql`. Inside a unit of work, a row read by its key is locked until
commit, the way the TinyDB store repeats such reads under its write lock: an appointment (or a
delivery, a message) `FOR UPDATE`, so two agents changing one appointment take turns and the
second sees the first's change; reference data (doctors, types, patients...) `FOR SHARE`, so
readers do not wait for each other and two writers of one row are refused one of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from psycopg import sql
from psycopg.types.json import Jsonb

from rxdesk.domain.errors import found
from rxdesk.domain.queries import OrgBasics, entity, org_basics, org_from_json
from rxdesk.store.postgres.session import Session, numbered_rows

if TYPE_CHECKING:  # the models are imported where a row is made one (`queries.entity`): a listing reads names
    from rxdesk.domain.models import Entity, Org

M = TypeVar("M", bound="Entity")
_SURROGATE = re.compile("[\ud800-\udfff]")


def can_name_a_row(key: object) -> bool:
    """Whether `key` could be a stored key: text without NUL or a lone surrogate. PostgreSQL
    text cannot hold either (a surrogate cannot even be sent as UTF-8), so a key with one (a
    token's `kid` or `sub`) names no row, as in the data dir, rather than failing the statement."""
    if not isinstance(key, str) or "\x00" in key:
        return False
    return key.isascii() or _SURROGATE.search(key) is None


def text(statement: sql.Composable) -> str:
    """A statement composed once, as the text the driver sends: composing it again for each
    execution costs more than a round trip on a unix socket."""
    return statement.as_string(None)


def upsert(table: str, columns: Sequence[str], key: str, rows: int = 1, *, numbered: bool = False,
           kept_if_null: Sequence[str] = ()) -> str:
    """INSERT of `rows` rows of `columns`, each replacing the row with the same `key` (the
    rows of one statement must have different keys). `numbered`: with the server's own
    placeholders (`session.numbered_rows`), for `Session.execute(..., numbered=True)`.
    `kept_if_null`: columns a row given null there does not change (the row keeps its value)."""
    return _upsert(table, tuple(columns), key, rows, numbered, tuple(kept_if_null))


@lru_cache(maxsize=64)
def _upsert(table: str, columns: tuple[str, ...], key: str, rows: int, numbered: bool,
            kept_if_null: tuple[str, ...]) -> str:
    row = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * len(columns)))
    values = sql.SQL(numbered_rows(len(columns), rows)) if numbered else sql.SQL(", ").join([row] * rows)
    t = sql.Identifier(table)
    sets = (sql.SQL("{c} = coalesce(EXCLUDED.{c}, {t}.{c})" if c in kept_if_null else "{c} = EXCLUDED.{c}").format(
        c=sql.Identifier(c), t=t) for c in columns if c != key)
    return text(sql.SQL("INSERT INTO {t} ({cols}) VALUES {vals} ON CONFLICT ({k}) DO UPDATE SET {sets}").format(
        t=t,
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        vals=values,
        k=sql.Identifier(key),
        sets=sql.SQL(", ").join(sets),
    ))


def for_share(session: Session) -> str:
    """Inside a write, a reference row read by its key is locked against change until commit,
    but not against other readers (every booking reads its doctor and type): two writers that
    both change it are refused one of them, never merged into a lost update."""
    return " FOR SHARE" if session.writable else ""


def for_update(session: Session) -> str:
    return " FOR UPDATE" if session.writable else ""


# Writers that touch values encrypted under the master key (booking secrets, webhook signing
# secrets) take turns: a master-key rotation reads every value and writes each back under the
# new key, and no value may be added under the old key meanwhile.
SECRETS_LOCK = 0x72787365  # "rxse"


@lru_cache(maxsize=16)
def _document_statements(table: str, key: str) -> dict[str, str]:
    t, k = sql.Identifier(table), sql.Identifier(key)
    return {name: text(sql.SQL(statement).format(t=t, k=k)) for name, statement in {
        "get": "SELECT doc FROM {t} WHERE {k} = %s",
        "get_locked": "SELECT doc FROM {t} WHERE {k} = %s FOR SHARE",
        "all": 'SELECT doc FROM {t} ORDER BY {k} COLLATE "C"',
        "count": "SELECT count(*) FROM {t}",
        "names": "SELECT {k}, coalesce(doc->>'name', {k}) FROM {t}",
        "put": "INSERT INTO {t} ({k}, doc) VALUES (%s, %s) ON CONFLICT ({k}) DO UPDATE SET doc = EXCLUDED.doc",
        "delete": "DELETE FROM {t} WHERE {k} = %s",
    }.items()}


class Documents(Generic[M]):
    """Reference data: one JSON document a row, keyed by its natural id."""

    def __init__(self, session: Session, table: str, key: str, model: str, what: str,
                 turn: int | None = None) -> None:
        self._s = session
        self._table_name = table
        self._sql = _document_statements(table, key)
        self._key_field = key
        self._model_of = entity(model)
        self._model_class: type[M] | None = None
        self._what = what
        self._turn = turn

    @property
    def _model(self) -> type[M]:
        if self._model_class is None:
            self._model_class = cast("type[M]", self._model_of())
        return self._model_class

    def _take_turn(self) -> None:
        if self._turn is not None:
            self._s.take_turn(self._turn)

    def get(self, key: str) -> M | None:
        if not can_name_a_row(key):
            return None
        self._take_turn()
        return self._s.locked_row(self._table_name, key, self._fetch)

    def _fetch(self, key: str) -> M | None:
        doc = self._s.value(self._sql["get_locked" if self._s.writable else "get"], (key,))
        return self._model.from_stored(doc) if doc is not None else None

    def require(self, key: str) -> M:
        return found(self.get(key), self._what, key)

    def all(self) -> list[M]:
        self._take_turn()
        return [self._model.from_stored(doc) for (doc,) in self._s.rows(self._sql["all"])]

    def count(self) -> int:
        return int(self._s.value(self._sql["count"]))

    def names(self) -> Mapping[str, str]:
        """key -> name of every row (read-only: the caller's to read, not to change)."""
        return MappingProxyType(dict(self._s.rows(self._sql["names"])))

    def put(self, item: M) -> None:
        self._s.require_writable()
        self._take_turn()
        key = getattr(item, self._key_field)
        self._s.execute(self._sql["put"], (key, Jsonb(item.to_json())))
        self._s.remember(self._table_name, key, item)

    def delete(self, key: str) -> None:
        self._s.require_writable()
        self._take_turn()
        self._s.execute(self._sql["delete"], (key,))
        self._s.remember(self._table_name, key, None)


class OrgRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self) -> Org | None:
        return self._s.locked_row("org", "org", self._fetch)

    def _fetch(self, _key: str) -> Org | None:
        doc = self._doc()
        # As the data dir reads it: validated only when of another shape than validation leaves
        # (building the model's validator costs a one-shot command more than the rest of its reads).
        return org_from_json(doc) if doc is not None else None

    def _doc(self) -> dict[str, Any] | None:
        doc = self._s.value("SELECT doc FROM org")  # not locked: every write reads it
        return dict(doc) if doc is not None else None

    def basics(self) -> OrgBasics | None:
        if self._s.holds("org", "org"):
            org = self.get()
            return OrgBasics(org.name, org.timezone) if org is not None else None
        doc = self._doc()
        return org_basics(doc) if doc is not None else None

    def put(self, org: Org) -> None:
        self._s.require_writable()
        self._s.remember("org", "org", org)
        self._s.execute(
            "INSERT INTO org (singleton, doc) VALUES (true, %s) "
            "ON CONFLICT (singleton) DO UPDATE SET doc = EXCLUDED.doc",
            (Jsonb(org.to_json()),),
        )


def documents(session: Session) -> dict[str, Documents[Any]]:
    return {
        "admins": Documents(session, "admins", "id", "Admin", "admin"),
        "types": Documents(session, "appointment_types", "key", "AppointmentType", "appointment type"),
        "doctors": Documents(session, "doctors", "id", "Doctor", "doctor"),
        "secrets": Documents(session, "booking_secrets", "key_id", "BookingSecret", "booking secret", SECRETS_LOCK),
        "subscriptions": Documents(session, "subscriptions", "id", "Subscription", "subscription", SECRETS_LOCK),
    }
