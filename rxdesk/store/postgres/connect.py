"""Reaching the server: the URL as an operator may see it, and failures as one line each.

The URL may carry a password (`postgresql://user:secret@host/db`). It is never printed: every
message names the server as `where()` shows it (user, host, port, database; no password, no
other parameter), and errors from the driver are reduced to their cause before they reach a
message, so a password cannot travel in one either.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rxdesk.domain.errors import ConfigError, StoreError, StoreUnavailable

APPLICATION_NAME = "rxdesk"
CONNECT_TIMEOUT = 10  # seconds, unless the URL sets connect_timeout


@dataclass(frozen=True)
class Target:
    """A database URL, parsed once; `where` is the form safe to show."""

    url: str
    params: dict[str, str]

    @property
    def where(self) -> str:
        host = self.params.get("host") or self.params.get("hostaddr") or "localhost"
        port = self.params.get("port") or "5432"
        user = self.params.get("user") or "(default user)"
        dbname = self.params.get("dbname") or user
        server = f"socket {host} port {port}" if host.startswith("/") else f"{host}:{port}"
        return f"database {dbname!r} on {server} as {user}"

    def connect_kwargs(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"application_name": APPLICATION_NAME}
        if "connect_timeout" not in self.params:
            extra["connect_timeout"] = CONNECT_TIMEOUT
        return extra


def parse_url(url: str) -> Target:
    """Check a `postgresql://` URL (or libpq key=value string) without connecting."""
    from psycopg.conninfo import conninfo_to_dict

    text = (url or "").strip()
    if not text:
        raise ConfigError("the database URL is empty")
    if "://" in text and not re.match(r"postgres(ql)?://", text):
        raise ConfigError("the database URL must start with postgresql:// (or postgres://)")
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(text).items() if v is not None}
    except Exception:  # noqa: BLE001 - the driver's message may quote the URL, password and all
        raise ConfigError("the database URL is not a valid postgresql:// URL") from None
    return Target(text, params)


def redact(url: str) -> str:
    """The URL with any password removed, for the rare place that must show the URL itself."""
    text = re.sub(r"(://[^:/@?#]*):[^@/?#]*@", r"\1:***@", url)
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", text)


# What the server or the network said, by SQLSTATE or by the text libpq gives.
_CAUSES: list[tuple[str, str]] = [
    (r"password authentication failed", "the password was refused"),
    (r"no password supplied", "the server asks for a password and none was given (use PGPASSFILE or PGPASSWORD)"),
    (r"role \".*\" does not exist", "that user does not exist on the server"),
    (r"database \".*\" does not exist", "that database does not exist (create it first: createdb)"),
    (r"no pg_hba.conf entry", "the server does not accept this user from this host (pg_hba.conf)"),
    (r"Connection refused", "connection refused: is PostgreSQL running there?"),
    (r"No such file or directory", "no server listens on that socket: is PostgreSQL running there?"),
    (r"timeout expired|timed out", "the server did not answer in time"),
    (r"could not translate host name", "the host name does not resolve"),
    (r"Network is unreachable|No route to host", "the network cannot reach the server"),
    (r"server does not support SSL|SSL", "TLS could not be set up (check sslmode and the server's certificate)"),
    (r"too many clients|remaining connection slots", "the server has no free connection slots"),
    (r"the database system is (starting up|shutting down)", "the server is starting up or shutting down"),
    (r"terminating connection|server closed the connection|connection (is )?lost|SSL SYSCALL|EOF detected"
     r"|consuming input failed|sending query failed|connection is closed|the connection is lost",
     "the connection to the server was lost"),
    (r"permission denied", "permission denied on the server"),
]


def cause(exc: BaseException) -> str:
    """A short, password-free reason for a driver error."""
    text = str(exc)
    for pattern, said in _CAUSES:
        if re.search(pattern, text):
            return said
    sqlstate = getattr(exc, "sqlstate", None)
    return f"the server refused it ({sqlstate})" if sqlstate else f"the driver failed ({type(exc).__name__})"


# Causes that may pass by themselves (the server restarts, the network comes back).
_PASSING = ("connection refused", "no server listens", "did not answer", "does not resolve", "cannot reach",
            "no free connection slots", "starting up or shutting down", "was lost")


def connection_failed(target: Target, exc: BaseException) -> StoreError:
    said = cause(exc)
    kind = StoreUnavailable if any(p in said for p in _PASSING) else StoreError
    return kind(f"cannot open the {target.where}: {said}")


def lost(target: Target, exc: BaseException, *, during_commit: bool = False) -> StoreUnavailable:
    """A failure while talking to the server: nothing was written, unless the commit itself was
    under way (then the server alone knows)."""
    if during_commit:
        return StoreUnavailable(
            f"the {target.where} failed while committing ({cause(exc)}); "
            "the change may or may not have been made: look before repeating it"
        )
    return StoreUnavailable(f"the {target.where} failed ({cause(exc)}); nothing was changed")


def connect(target: Target, *, autocommit: bool = True, configured: bool = True) -> Any:
    """One connection, outside any pool (schema work, LISTEN, a store's first connection).
    `configured=False`: the caller sets the time zone itself (`session_settings`), in a
    statement it sends anyway."""
    import psycopg

    try:
        conn = psycopg.connect(target.url, autocommit=autocommit, **target.connect_kwargs())
    except psycopg.Error as exc:
        raise connection_failed(target, exc) from None
    if configured:
        configure(conn)
    else:
        use_orjson(conn)
    return conn


def _dumps(obj: Any) -> bytes:
    import orjson

    return orjson.dumps(obj)


# What every connection sets: it speaks UTC. As a function call, so it can ride along in a
# statement sent anyway (the schema check of a store's first connection).
SESSION_SETTINGS = "set_config('TimeZone', 'UTC', false)"


def use_orjson(conn: Any) -> None:
    import orjson
    from psycopg.types.json import set_json_dumps, set_json_loads

    set_json_dumps(_dumps, conn)
    set_json_loads(orjson.loads, conn)


def configure(conn: Any) -> None:
    """Every connection speaks UTC and hands JSON to orjson."""
    use_orjson(conn)
    autocommit = conn.autocommit
    conn.autocommit = True
    conn.execute(f"SELECT {SESSION_SETTINGS}")
    conn.autocommit = autocommit


class _DriverLog(logging.Handler):
    """The driver's own warnings (the pool's "error connecting", "discarding closed
    connection: <psycopg.Connection [BAD]>"), written to `logs/errors.log` of the data dir."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(logging.WARNING)
        self.data_dir = data_dir

    def emit(self, record: logging.LogRecord) -> None:
        from rxdesk.crashlog import log_crash

        try:
            said = " ".join(redact(record.getMessage()).split())
            at = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            log_crash(self.data_dir, f"{at} database driver ({record.name}) {record.levelname.lower()}: {said}")
        except Exception:  # noqa: BLE001 - a line that cannot be logged must not reach stderr either
            pass


_routing = threading.Lock()


def route_driver_log(data_dir: Path) -> None:
    """Send the driver's log lines to the data dir's error log instead of stderr: the operator
    sees rxdesk's one line for a failure (a failed tick, a refused command), support the
    driver's detail. The newest store's data dir takes them."""
    logger = logging.getLogger("psycopg")
    with _routing:
        for handler in logger.handlers:
            if isinstance(handler, _DriverLog):
                handler.data_dir = data_dir
                return
        logger.addHandler(_DriverLog(data_dir))
        logger.propagate = False
