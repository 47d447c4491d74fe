"""The store on a PostgreSQL server: several hosts, one database.

`PgStore(url, data_dir)` checks the server and the schema once, on first use, then works from a
small connection pool. `write()` is one transaction (the unit of work: everything in it commits
together or not at all, and announces itself on the `rxdesk_changes` channel when it does);
`read()` gives one consistent state for its `with` block.
The data dir keeps only what must not go into the database: the master key and the logs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from rxdesk.domain.errors import RxdeskError, StoreError
from rxdesk.domain.ids import random_token
from rxdesk.domain.queries import WorkerTick
from rxdesk.store.postgres import appointments, logs, patients, repos, schema
from rxdesk.store.postgres import connect as pgconnect
from rxdesk.store.postgres.bulk import PgBulkLoad, holds_nothing
from rxdesk.store.postgres.session import CHANGES_CHANNEL, Session, _translated

POOL_TIMEOUT = 15.0  # seconds to wait for a free connection before giving up with one line
OWN_CHANGE_WAIT = 0.5  # seconds a write waits to hear its own announcement (when listening)
LISTEN_START_WAIT = 10.0
SETTLE_CHANNEL = "rxdesk_settle"  # a reader's own notes, heard after every change announced before them
TICK_PREFIX = "tick:"  # counters named for the workers' owners: when each last ticked
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PgView:
    """Every repository over one session: a transaction (`write()`, or a `read()` used as a
    `with` block), or statements on their own (a `read()` used without one)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.org = repos.OrgRepo(session)
        docs = repos.documents(session)
        self.admins = docs["admins"]
        self.types = docs["types"]
        self.doctors = docs["doctors"]
        self.secrets = docs["secrets"]
        self.subscriptions = docs["subscriptions"]
        self.patients = patients.PatientRepo(session)
        self.events = logs.EventRepo(session)
        self.audit = logs.AuditRepo(session)
        self.appointments = appointments.AppointmentRepo(session)
        self.reminders_sent = appointments.ReminderSentRepo(session)
        self.deliveries = logs.DeliveryRepo(session)
        self.messages = logs.MessageRepo(session)
        self.cursors = logs.CursorRepo(session)
        self.bulk = PgBulkLoad(session)


class PgReadView(PgView):
    """`Store.read()`: as a `with` block, one consistent state (a REPEATABLE READ, read-only
    transaction on one connection, given back when the block ends); used without one, each
    statement on its own."""

    def __init__(self, store: PgStore) -> None:
        super().__init__(Session(store))
        self._store = store
        self._open: Any = None

    def __enter__(self) -> PgReadView:
        self._open = self._store._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", writable=False)
        self.session.conn = self._open.__enter__().conn
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        opened, self._open = self._open, None
        self.session.conn = None
        if opened is not None:
            opened.__exit__(kind, exc, tb)


class Listener:
    """A thread with one connection LISTENing on the changes channel: counts the committed
    writes it hears (of every process) and wakes whoever waits for the next one, but for a
    write of its own store (`expect`): that one wakes only its writer, which tells its caller
    itself (an app that reloaded for it twice, once as its own and once as heard, did both
    while the row it had just cancelled waited to be painted). A lost connection is made again
    every few seconds; it counts as a change (some may have been missed meanwhile)."""

    RETRY_SECONDS = 2.0

    def __init__(self, target: pgconnect.Target) -> None:
        self.target = target
        self.heard = 0
        self.failures = 0
        self.error: BaseException | None = None
        self._tokens: dict[str, None] = {}
        self._own: dict[str, None] = {}  # tokens of this store's writes not heard yet
        lock = threading.Lock()
        self._changed = threading.Condition(lock)  # waiters for a change (`wait`)
        self._token_heard = threading.Condition(lock)  # writers waiting for their own (`wait_for_token`)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rxdesk-changes", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            conn = None
            try:
                conn = pgconnect.connect(self.target, autocommit=True)
                conn.execute(f"LISTEN {CHANGES_CHANNEL}")
                conn.execute(f"LISTEN {SETTLE_CHANNEL}")
                self._heard(None)
                while not self._stop.is_set():
                    for note in conn.notifies(timeout=1.0):
                        self._heard(note.payload, counts=note.channel == CHANGES_CHANNEL)
                        if self._stop.is_set():  # woken by its store's closing note
                            break
            except Exception as exc:  # noqa: BLE001 - kept for the waiters; retried below
                with self._changed:
                    self.error = _translated(self.target, exc)
                    self.failures += 1
                    self._changed.notify_all()
                    self._token_heard.notify_all()
                self._stop.wait(self.RETRY_SECONDS)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()

    def _heard(self, token: str | None, *, counts: bool = True) -> None:
        with self._changed:
            self.heard += counts
            self.error = None
            own = False
            if token:
                self._tokens[token] = None
                while len(self._tokens) > 1000:
                    self._tokens.pop(next(iter(self._tokens)))
                own = token in self._own
                self._own.pop(token, None)
            self._token_heard.notify_all()
            if not own:
                self._changed.notify_all()

    def expect(self, token: str) -> None:
        """A write of this store will announce itself with `token`: hearing it wakes no waiter
        for a change (`forget` it once the write is over)."""
        with self._changed:
            self._own[token] = None
            while len(self._own) > 1000:
                self._own.pop(next(iter(self._own)))

    def forget(self, token: str) -> None:
        with self._changed:
            self._own.pop(token, None)

    def wait(self, known: int, timeout: float) -> int:
        """Wait up to `timeout` seconds for the count to move from `known` (or for the
        connection to fail); returns the count."""
        with self._changed:
            failures = self.failures
            self._changed.wait_for(
                lambda: self.heard != known or self.failures != failures or self._stop.is_set(), timeout)
            return self.heard

    def wait_for_token(self, token: str, timeout: float) -> bool:
        with self._token_heard:
            return bool(self._token_heard.wait_for(lambda: token in self._tokens or self._stop.is_set(), timeout)
                        and token in self._tokens)

    def stop(self) -> None:
        """Ask the thread to end: at its next note (its store sends one as it closes), or
        within a second."""
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
            self._token_heard.notify_all()
        self._thread.join(timeout=2.0)


class PgStore:
    """The PostgreSQL store. Thread-safe: the app calls it from several workers at once."""

    def __init__(self, url: str, data_dir: str | Path, *, pool_size: int = 4,
                 check_schema: bool = True, short_lived: bool = False) -> None:
        """`short_lived`: a command that answers and exits; what each read makes is kept out
        of the cyclic collector's passes (`gc.freeze`), as the data dir's engine keeps what it
        parses: rows and the models made of them hold no cycle, and the passes over an away
        week's took 10-15% of it. A cycle made meanwhile stays until the exit; so the app and
        a running worker never freeze."""
        self.target = pgconnect.parse_url(url)
        self.short_lived = short_lived
        self.data_dir = Path(data_dir)
        pgconnect.route_driver_log(self.data_dir)
        self.pool_size = pool_size
        self.check_schema = check_schema
        self._pool: Any = None
        self._own: Any = None  # the first connection, kept (see `_open`)
        self._own_busy = False
        self._own_fresh = False
        self._opened = False
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        self.commits = 0  # write transactions this store has committed

    @property
    def where(self) -> str:
        return self.target.where

    # -- connections -------------------------------------------------------------------

    def _open(self) -> None:
        """The first connection, made on first use: the time zone set and the schema checked
        in one round trip. It is kept and lent to one unit of work at a time; the pool is
        built only when a second is wanted at once (the app's workers), so a one-shot command
        makes one connection and no pool."""
        with self._lock:
            if self._opened:
                return
            conn = pgconnect.connect(self.target, configured=False)  # one line for every way this can fail
            try:
                schema.configure_and_check(conn, self.target.where, check=self.check_schema)
            except Exception as exc:
                conn.close()
                if isinstance(exc, RxdeskError):
                    raise
                raise _translated(self.target, exc) from None
            self._own, self._own_fresh, self._opened = conn, True, True

    def _open_pool(self) -> Any:
        self._open()
        with self._lock:
            if self._pool is not None:
                return self._pool
            from psycopg_pool import ConnectionPool

            # Each connection is checked as it is taken (one empty query): after a server
            # restart, a stale one is replaced there and then instead of failing an action.
            pool = ConnectionPool(
                self.target.url, min_size=1, max_size=max(1, self.pool_size), open=False,
                kwargs={"autocommit": True, **self.target.connect_kwargs()},
                configure=pgconnect.configure, check=ConnectionPool.check_connection, timeout=POOL_TIMEOUT,
                name="rxdesk", reconnect_timeout=60.0,
            )
            pool.open(wait=False)
            self._pool = pool
            return pool

    def _take(self) -> tuple[Any, bool]:
        """A connection for one unit of work (or one statement), and whether it is the kept
        one: that one when it is free, checked as the pool checks its own (but not when just
        made), else one of the pool's."""
        self._open()
        with self._lock:
            own = self._own if self._own is not None and not self._own_busy else None
            fresh = self._own_fresh
            if own is not None:
                self._own_busy, self._own_fresh = True, False
        if own is not None:
            if fresh or self._alive(own):
                return own, True
            with self._lock:
                self._own, self._own_busy = None, False  # lost (a server restart): the pool from now on
            with suppress(Exception):
                own.close()
        pool = self._open_pool()
        try:
            return pool.getconn(), False
        except Exception as exc:  # noqa: BLE001 - translated, or re-raised as it is
            raise _translated(self.target, exc) from None

    @staticmethod
    def _alive(conn: Any) -> bool:
        if conn.broken or conn.closed:
            return False
        try:
            conn.execute("")
        except Exception:  # noqa: BLE001 - a connection that cannot answer is not used
            return False
        return True

    def _give_back(self, conn: Any, own: bool, *, spoilt: bool = False) -> None:
        if spoilt:
            with suppress(Exception):
                conn.close()  # the pool drops a closed connection it is given back
        if own:
            from psycopg.pq import TransactionStatus

            with self._lock:
                self._own_busy = False
                if not (conn.broken or conn.closed) and conn.info.transaction_status == TransactionStatus.IDLE:
                    return
                if self._own is conn:
                    self._own = None
            with suppress(Exception):
                conn.close()
            return
        with self._lock:
            pool = self._pool
        if pool is not None:
            pool.putconn(conn)
        else:
            with suppress(Exception):
                conn.close()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        conn, own = self._take()
        try:
            yield conn
        finally:
            self._give_back(conn, own)

    def close(self) -> None:
        listener = self._listener
        if listener is not None and listener.heard:
            listener.stop()
            with suppress(Exception):  # unheard, the listener still ends within a second
                Session(self).execute("SELECT pg_notify(%s, '')", (SETTLE_CHANNEL,))
        with self._lock:
            pool, self._pool = self._pool, None
            own, self._own = self._own, None
            self._opened = False
        if own is not None:
            with suppress(Exception):
                own.close()
        if pool is not None:
            pool.close()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    # -- the store ---------------------------------------------------------------------

    @property
    def location(self) -> str:
        return self.target.where

    def read(self) -> PgReadView:
        return PgReadView(self)

    def warm_up(self) -> None:
        """Connect (and check the schema) before the first action needs it."""
        self._open()

    def read_ahead(self, since: datetime) -> None:
        """Nothing: the database server keeps what it reads."""

    @contextmanager
    def write(self, *, pipelined: bool = True) -> Iterator[PgView]:
        """One transaction: what the block writes commits together, or nothing does. A commit
        is announced on the changes channel; when this store listens there itself, it returns
        once it has heard its own announcement, so `generation()` already counts it.
        `pipelined=False` (`store import`): each statement waits for its answer, so a refusal
        is raised by the statement that caused it."""
        token = random_token(16)
        listener = self._listener
        if listener is not None:
            listener.expect(token)
        try:
            with self._transaction("BEGIN", writable=True, pipelined=pipelined) as session:
                yield PgView(session)
                if session.wrote:
                    session.execute("SELECT pg_notify(%s, %s)", (CHANGES_CHANNEL, token))
            if listener is not None and session.wrote:
                listener.wait_for_token(token, OWN_CHANGE_WAIT)
        finally:
            if listener is not None:
                listener.forget(token)

    @contextmanager
    def _transaction(self, begin: str, *, writable: bool, pipelined: bool = True) -> Iterator[Session]:
        conn, own = self._take()
        spoilt = False
        try:
            session = Session(self, conn, writable=writable)
            try:
                if pipelined:
                    session.start_pipeline()
                session.execute(begin)
                yield session
                session.settle()  # a refused statement is raised here: nothing is committed
            except BaseException as exc:
                # A pipeline the server cut short leaves the driver believing statements it
                # queued behind the refusal were prepared ("prepared statement does not exist"
                # in the next unit of work): such a connection is not lent again.
                spoilt = session.abandon() or (pipelined and _from_server(exc))
                if not conn.broken:
                    with suppress(Exception):
                        conn.execute("ROLLBACK")
                raise
            try:
                done = conn.execute("COMMIT").statusmessage
                if session.wrote:
                    self.commits += 1
            except Exception as exc:  # noqa: BLE001 - translated, or re-raised as it is
                if isinstance(_translated(self.target, exc), StoreError):
                    raise pgconnect.lost(self.target, exc, during_commit=True) from None
                raise _translated(self.target, exc) from None
            if done != "COMMIT":  # the server rolled the transaction back instead
                spoilt = True
                raise StoreError(f"{self.target.where}: the server rolled the write back ({done}); nothing was kept")
        finally:
            self._give_back(conn, own, spoilt=spoilt)

    def generation(self) -> int:
        """A number that changes after every committed write of any process: the count of
        changes this store has heard on the database's changes channel (it starts listening on
        the first call)."""
        return self._listen().heard

    def wait_for_change(self, known: int, timeout: float) -> int:
        """Block until a write of any process commits (or `timeout` seconds pass) while the
        generation is still `known`; returns the generation. A write of this store wakes no
        waiter (its caller knows of it, and the generation counts it once the write returns):
        it is seen at the next change or timeout. Raises the listener's error when the server
        cannot be reached."""
        listener = self._listen()
        heard = listener.wait(known, timeout)
        if heard == known and listener.error is not None:
            raise listener.error
        return heard

    def settled_generation(self) -> int | None:
        """The count of changes heard once this store hears a note of its own sent now: the
        server delivers notifications in the order their transactions committed, so every
        write committed before the call is counted. None when the note was not heard in time
        (the listener's connection is being made again). The first ask starts listening and
        waits for it, so a running worker's second tick already knows whether anything was
        written since its first (a runner that ticks once, `worker --once`, never asks)."""
        listener = self._listener
        if listener is None:
            try:
                listener = self._listen()
            except RxdeskError:  # the tick looks at everything; the listener keeps trying
                return None
        if listener.heard == 0:
            return None
        token = random_token(16)
        Session(self).execute("SELECT pg_notify(%s, %s)", (SETTLE_CHANNEL, token))
        return listener.heard if listener.wait_for_token(token, OWN_CHANGE_WAIT) else None

    def _listen(self) -> Listener:
        self._open()  # the schema check first: a listener on a wrong database helps nobody
        with self._lock:
            if self._listener is None:
                self._listener = Listener(self.target)
        listener = self._listener
        if listener.wait(0, LISTEN_START_WAIT) == 0:  # listening before the caller reads anything
            raise listener.error or StoreError(f"the {self.target.where} did not let rxdesk listen for changes")
        return listener

    def record_tick(self, owner: str, at: datetime) -> None:
        """Note that a maintenance tick by `owner` ran at `at`: a counter per owner (its
        microseconds since the epoch), written on its own, outside every unit of work and
        without an announcement: an idle tick changes nothing an open app shows."""
        micros = (at - EPOCH) // timedelta(microseconds=1)
        Session(self).execute("INSERT INTO counters (name, value) VALUES (%s, %s) "
                              "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value", (TICK_PREFIX + owner, micros))

    def last_tick(self) -> WorkerTick | None:
        """The newest tick any worker recorded (None before the first)."""
        row = Session(self).one("SELECT name, value FROM counters WHERE starts_with(name, %s) "
                                "ORDER BY value DESC LIMIT 1", (TICK_PREFIX,))
        if row is None:
            return None
        return WorkerTick(str(row[0])[len(TICK_PREFIX):], EPOCH + timedelta(microseconds=int(row[1])))

    announces_changes = True

    def is_empty(self) -> bool:
        """True before anything was provisioned, imported or made by `demo`."""
        return holds_nothing(Session(self))


def _from_server(exc: BaseException) -> bool:
    """Whether `exc` is, or was raised while handling, an error the server answered."""
    import psycopg

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, psycopg.Error):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
