"""Where a view's statements run, and what a failing statement means to an operator.

A write view runs every statement in one transaction on one connection (the unit of work: all
of it commits, or none). Its transaction runs in psycopg's pipeline mode: a statement whose
answer nobody reads (an INSERT, an UPDATE) is sent without waiting for it, and goes to the
server with the next statement that is read, so a unit of work waits once per read instead of
once per statement. A statement the server refuses is raised at the next read, or before the
COMMIT is sent; either way nothing of the unit of work is committed. Rows no other writer
waits for (events, audit entries, fired reminders, a rebooked appointment's link to its
successor) wait in the session and go out as one multi-row statement per kind before the next
statement that may depend on them (a read, any write but an appointment's, the COMMIT), each
kind in the order it was written. A read view used as a
`with` block is one REPEATABLE READ transaction, pipelined the same way; used without one, each
statement borrows a connection on its own, in autocommit.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from rxdesk.domain.errors import Conflict, StoreError, StoreUnavailable
from rxdesk.store.postgres.connect import Target, cause, lost

T = TypeVar("T")

# The channel every committed write announces itself on (the app's live refresh).
CHANGES_CHANNEL = "rxdesk_changes"

_RACE_STATES = {
    "40001": "another change to the same data got in the way",  # serialization failure
    "40P01": "another change to the same data got in the way",  # deadlock
    "55P03": "the data is locked by another change",  # lock not available
}


def translate(target: Target, exc: BaseException) -> BaseException:
    """A driver error as the error an agent or operator sees; programming errors stay as they
    are (they are bugs, and go to the crash log)."""
    import psycopg
    from psycopg import errors

    if isinstance(exc, errors.ExclusionViolation):
        return Conflict("that time is taken: the doctor has another active appointment overlapping it")
    if isinstance(exc, errors.UniqueViolation):
        return Conflict(f"that was recorded by another process a moment ago ({_constraint(exc)}); nothing was changed")
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate in _RACE_STATES:
        return Conflict(f"{_RACE_STATES[sqlstate]}; nothing was changed: try again")
    if isinstance(exc, errors.QueryCanceled):
        return StoreError(f"the {target.where} cancelled a statement (statement_timeout?); nothing was changed")
    if isinstance(exc, errors.InsufficientPrivilege):
        return StoreError(f"the {target.where} refused: {cause(exc)}; grant this user rights on rxdesk's tables")
    if isinstance(exc, errors.ReadOnlySqlTransaction):
        return StoreError(f"the {target.where} is read-only (a standby?); point RXDESK_DATABASE_URL at the primary")
    if isinstance(exc, errors.DiskFull):
        return StoreError(f"the {target.where} is out of disk space; nothing was changed")
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)) and (
        sqlstate is None or sqlstate.startswith(("08", "57P"))
    ):
        return lost(target, exc)
    return exc


# Rows of one kind sent in one statement at most (PostgreSQL takes 65,535 parameters).
BATCH_ROWS = 1000
# Sequence numbers a unit of work takes at first, and at most, in one read (`next_number`).
ID_BLOCK = 64
ID_BLOCK_MOST = 1024


def numbered_rows(width: int, rows: int) -> str:
    """`rows` tuples of `width` placeholders in the server's own numbering (`($1, $2), ($3,
    $4)`). A statement of thousands of rows is sent as written (`Session.execute(...,
    numbered=True)`): the driver would otherwise parse every `%s` of it at each execution
    (psycopg caches only short statements), some milliseconds per thousand rows."""
    return ", ".join("(" + ", ".join(f"${row * width + i}" for i in range(1, width + 1)) + ")"
                     for row in range(rows))


@dataclass(frozen=True)
class RowStatement:
    """A statement written for any number of rows: `head`, then `VALUES` and one placeholder
    tuple of `width` per row (numbered: `numbered_rows`), then `tail` (`ON CONFLICT ...`, or
    what an UPDATE joins on). `last`: it changes rows others insert, so it is sent after the
    inserts waiting with it."""

    head: str
    width: int
    tail: str = ""
    last: bool = False

    def text(self, rows: int) -> str:
        return _row_statement(self, rows)


@lru_cache(maxsize=256)
def _row_statement(statement: RowStatement, rows: int) -> str:
    return f"{statement.head} VALUES {numbered_rows(statement.width, rows)}{statement.tail}"


@dataclass
class _Waiting:
    statement: RowStatement
    rows: list[Sequence[Any] | None] = field(default_factory=list)  # None: taken back (`take_row`)
    keys: dict[str, int] = field(default_factory=dict)  # a row's identity -> where it is in `rows`


def _constraint(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    name = getattr(diag, "constraint_name", None) if diag is not None else None
    return str(name or "a unique key")


class Session:
    """Runs statements for one view; `writable` sessions are inside one transaction."""

    def __init__(self, store: Any, conn: Any = None, *, writable: bool = False) -> None:
        self.store = store
        self.conn = conn
        self.writable = writable
        self._pipeline: Any = None  # the open pipeline of the transaction, when pipelined
        self._held: set[int] = set()
        self._waiting: dict[RowStatement, _Waiting] = {}  # rows written, not sent yet (`add_row`)
        self.wrote = False  # a change was made (a write that only read commits nothing)
        self.spare_ids: dict[str, list[int]] = {}  # sequence -> numbers taken, not yet used (last first)
        self._blocks: dict[str, int] = {}  # sequence -> blocks taken by this unit of work
        self._locked: dict[tuple[str, str], Any] = {}
        # Appointments one question returned (the tick's confirmed ones, by uid), and what is
        # read for them next in one statement instead of one each: the reminders they had
        # (uids read, and the keys found), the patients of those still to be reminded.
        self.scope: dict[str, Any] = {}
        self.sent_read: set[str] = set()
        self.sent: set[tuple[str, str, str, str]] = set()
        self.likely_patients: set[str] = set()
        self.listed_patients: set[str] | None = None  # the patients of this view's last listing
        self.lock_ahead: frozenset[str] = frozenset()  # a write's last search: locked together when one is read
        # Active appointments of every doctor over a span (`active_for_doctor`), by the span,
        # and the doctors asked about each span so far.
        self.busy: dict[tuple[Any, ...], Any] = {}
        self.busy_asked: dict[tuple[Any, ...], set[str]] = {}

    @contextmanager
    def cursor(self, *, keep_waiting: bool = False, numbered: bool = False) -> Iterator[Any]:
        """`numbered`: for a statement whose placeholders are the server's own (`$1`)."""
        if not keep_waiting:
            self.send_waiting()
        if self.store.short_lived:  # what the last reads made is kept out of the collector's passes
            gc.freeze()
        try:
            if self.conn is not None:
                with _cursor(self.conn, numbered) as cur:
                    yield cur
            else:
                with self.store.connection() as conn, _cursor(conn, numbered) as cur:
                    yield cur
        except Exception as exc:  # noqa: BLE001 - translated, or re-raised as it is
            raise _translated(self.store.target, exc) from None

    # rows, dicts, one and value are for statements that return rows (SELECT, ... RETURNING).

    def rows(self, query: Any, params: Any = None) -> list[tuple[Any, ...]]:
        with self.cursor() as cur:
            cur.execute(query, params)
            return list(cur.fetchall())

    def dicts(self, query: Any, params: Any = None) -> list[dict[str, Any]]:
        with self.cursor() as cur:
            cur.execute(query, params)
            rows = cur.fetchall()
            names = [column.name for column in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def one(self, query: Any, params: Any = None) -> tuple[Any, ...] | None:
        with self.cursor() as cur:
            cur.execute(query, params)
            row = cur.fetchone()
            return tuple(row) if row is not None else None

    def value(self, query: Any, params: Any = None) -> Any:
        row = self.one(query, params)
        return row[0] if row else None

    def execute(self, query: Any, params: Any = None, *, keep_waiting: bool = False, numbered: bool = False) -> None:
        """A statement whose answer is not read: in a pipelined transaction it is sent
        without waiting (a refusal is raised at the next read, or before the commit).
        `keep_waiting`: it depends on no row `add_row` keeps, which may go after it.
        `numbered`: its placeholders are the server's own (`numbered_rows`)."""
        if self._pipeline is not None:
            if not keep_waiting:
                self.send_waiting()
            self._send(query, params, numbered=numbered)
            return
        with self.cursor(numbered=numbered) as cur:
            cur.execute(query, params)

    def _send(self, query: Any, params: Any, *, numbered: bool = False) -> None:
        try:
            if numbered:
                _cursor(self.conn, numbered).execute(query, params)
            else:
                self.conn.execute(query, params)
        except Exception as exc:  # noqa: BLE001 - translated, or re-raised as it is
            raise _translated(self.store.target, exc) from None

    def add_row(self, statement: RowStatement, row: Sequence[Any], key: str | None = None) -> None:
        """One row of `statement`, sent with the other rows of the same statement in one
        multi-row statement before anything else is (in a pipelined transaction; otherwise at
        once). `key`: the row's identity, when a second row with it must wait for the first to
        be sent (an upsert cannot change one row twice in a statement)."""
        if self._pipeline is None:
            self.execute(statement.text(1), row, numbered=True)
            return
        waiting = self._waiting.get(statement)
        if waiting is not None and key is not None and key in waiting.keys:
            self.send_waiting()
            waiting = None
        if waiting is None:
            waiting = self._waiting[statement] = _Waiting(statement)
        if key is not None:
            waiting.keys[key] = len(waiting.rows)
        waiting.rows.append(row)

    def take_row(self, statement: RowStatement, key: str) -> Sequence[Any] | None:
        """The row of `statement` kept under `key` (`add_row`), taken back unsent: the caller
        writes its change in a statement it sends anyway. None when no such row waits."""
        waiting = self._waiting.get(statement)
        at = waiting.keys.pop(key, None) if waiting is not None else None
        if waiting is None or at is None:
            return None
        row, waiting.rows[at] = waiting.rows[at], None
        return row

    def send_waiting(self) -> None:
        """Send the rows `add_row` keeps, a statement per kind (and per `BATCH_ROWS`), in the
        order each kind was first written (an update of rows after the inserts): each kind is
        kept in its order, and no insert depends on a row of another kind."""
        if not self._waiting:
            return
        waiting, self._waiting = self._waiting, {}
        for kind in sorted(waiting.values(), key=lambda k: k.statement.last):
            rows = [row for row in kind.rows if row is not None]
            for start in range(0, len(rows), BATCH_ROWS):
                chunk = rows[start:start + BATCH_ROWS]
                self._send(kind.statement.text(len(chunk)), [value for row in chunk for value in row], numbered=True)

    def next_number(self, sequence: str) -> int:
        """The next number of `sequence` for this unit of work. Numbers are taken a block at a
        time, each block twice the last (up to `ID_BLOCK_MOST`): taking a block is a read, which
        waits for every statement sent before it, so a tick that makes a thousand rows reads
        five times, not sixteen. A number taken but not used is only a gap."""
        spare = self.spare_ids.setdefault(sequence, [])
        if not spare:
            taken = self._blocks.get(sequence, 0)
            self._blocks[sequence] = taken + 1
            size = min(ID_BLOCK << taken, ID_BLOCK_MOST)
            found = self.rows("SELECT nextval(%s) FROM generate_series(1, %s)", (sequence, size))
            spare.extend(int(row[0]) for row in reversed(found))
        return spare.pop()

    def many(self, query: Any, params_seq: list[Any], *, keep_waiting: bool = False) -> None:
        """One statement for each parameter set, sent together (pipelined)."""
        if len(params_seq) == 1:
            self.execute(query, params_seq[0], keep_waiting=keep_waiting)
        elif params_seq:
            with self.cursor(keep_waiting=keep_waiting) as cur:
                cur.executemany(query, params_seq)

    # -- the transaction's pipeline ----------------------------------------------------

    def start_pipeline(self) -> None:
        self._pipeline = self.conn.pipeline()
        self._pipeline.__enter__()

    def settle(self) -> None:
        """Send what waits in the pipeline and leave it: a statement the server refused is
        raised here (translated), before anything is committed."""
        if self._pipeline is not None:
            self.send_waiting()
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is None:
            return
        try:
            pipeline.__exit__(None, None, None)
        except Exception as exc:  # noqa: BLE001 - translated, or re-raised as it is
            raise _translated(self.store.target, exc) from None

    def abandon(self) -> bool:
        """Leave the pipeline of a unit of work that failed: what it still holds is dropped
        with the transaction (errors of its statements were raised already, or no longer
        matter). True when the server refused something it still held."""
        self._waiting.clear()  # rows never sent: rolled back with the rest
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is None:
            return False
        try:
            pipeline.__exit__(None, None, None)  # the results it still waits for, read and dropped
        except Exception:  # noqa: BLE001 - the unit of work is rolled back whatever it was
            return True
        return False

    @contextmanager
    def outside_pipeline(self) -> Iterator[None]:
        """For what pipeline mode cannot carry (COPY): the queued statements are sent and
        answered first, then the pipeline resumes."""
        if self._pipeline is None:
            yield
            return
        self.settle()
        try:
            yield
        finally:
            self.start_pipeline()

    # Inside a write, a row read by its key is locked until commit (FOR SHARE or FOR UPDATE):
    # nobody else can change it meanwhile, so the unit of work reads it once (a tick asks for
    # the same doctor, patient or subscription hundreds of times); the organisation, which is
    # not locked, is read once too, as a snapshot would, and an event, which never changes.
    # Models are immutable: sharing is safe.

    def locked_row(self, table: str, key: str, fetch: Callable[[str], T]) -> T:
        if not self.writable:
            return fetch(key)
        if (table, key) not in self._locked:
            self._locked[(table, key)] = fetch(key)
        return self._locked[(table, key)]  # type: ignore[no-any-return]

    def remember(self, table: str, key: str, row: Any) -> None:
        """What this unit of work wrote is what it reads back (None: deleted)."""
        if self.writable:
            self._locked[(table, key)] = row

    def holds(self, table: str, key: str) -> bool:
        return (table, key) in self._locked

    def take_turn(self, key: int) -> None:
        """Inside a write: wait for, then hold until commit, the transaction lock `key`
        (writers that take the same key run one after another)."""
        if self.writable and key not in self._held:
            self.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
            self._held.add(key)

    def require_writable(self) -> None:
        """Called by every method that changes data, before it does."""
        if not self.writable:
            raise RuntimeError("this view is read-only; change data inside Store.write()")
        self.wrote = True


def _cursor(conn: Any, numbered: bool) -> Any:
    if not numbered:
        return conn.cursor()
    from psycopg import RawCursor

    return RawCursor(conn)


def _translated(target: Target, exc: BaseException) -> BaseException:
    if isinstance(exc, (StoreError, Conflict)):
        return exc
    from psycopg_pool import PoolTimeout

    if isinstance(exc, PoolTimeout):
        return StoreUnavailable(f"no connection to the {target.where} could be had in time: "
                                "is the server up and reachable?")
    return translate(target, exc)
