"""One settings object: the environment (`RXDESK_*`), overridden by command-line flags."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from rxdesk.domain.clock import Clock, FixedClock, SystemClock
from rxdesk.domain.errors import ConfigError, RxdeskError
from rxdesk.domain.times import format_utc, parse_instant

_AGENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def _data_dir_path(raw: str) -> Path:
    if "\x00" in raw:
        raise ConfigError("data dir must not contain a NUL character")
    try:
        return Path(raw).expanduser()
    except RuntimeError:  # `~name` for a user this machine does not know
        raise ConfigError(f"data dir {raw[:80]!r}: cannot find that home directory") from None


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("rxdesk", appauthor=False))


def _default_agent() -> str:
    import getpass

    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        name = "agent"
    return name if _AGENT_RE.fullmatch(name or "") else "agent"


def validate_agent(name: str) -> str:
    if not _AGENT_RE.fullmatch(name or ""):
        raise ConfigError(
            f"agent name {name!r} must be 1-64 letters, digits or . _ @ - (it goes into the audit log)"
        )
    return name


@dataclass(frozen=True)
class Settings:
    """Secrets (the master key, the SMTP URL with its password, the SMS token, a database URL
    that may carry a password) are left out of `repr()`, so no log line, crash report or
    f-string of the settings shows them."""

    data_dir: Path
    agent: str
    now: datetime | None = None
    master_key: str | None = field(default=None, repr=False)
    smtp_url: str | None = field(default=None, repr=False)
    mail_from: str = "rxdesk@localhost"
    sms_url: str | None = None
    sms_token: str | None = field(default=None, repr=False)
    # A PostgreSQL URL: the store lives there instead of the data dir (which then keeps only
    # master.key and logs/).
    database_url: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        data_dir: str | Path | None = None,
        agent: str | None = None,
        database_url: str | None = None,
    ) -> Settings:
        env = os.environ if env is None else env
        raw_dir = data_dir or env.get("RXDESK_DATA_DIR") or None
        path = _data_dir_path(str(raw_dir)) if raw_dir else default_data_dir()
        name = validate_agent(agent or env.get("RXDESK_AGENT") or _default_agent())
        now = None
        if env.get("RXDESK_NOW"):
            try:
                now = parse_instant(env["RXDESK_NOW"], what="RXDESK_NOW")
            except RxdeskError as exc:
                raise ConfigError(str(exc)) from None
        return cls(
            data_dir=path,
            agent=name,
            now=now,
            master_key=env.get("RXDESK_MASTER_KEY") or None,
            smtp_url=env.get("RXDESK_SMTP_URL") or None,
            mail_from=env.get("RXDESK_MAIL_FROM") or "rxdesk@localhost",
            sms_url=env.get("RXDESK_SMS_URL") or None,
            sms_token=env.get("RXDESK_SMS_TOKEN") or None,
            database_url=(database_url or env.get("RXDESK_DATABASE_URL") or "").strip() or None,
        )

    def to_env(self, *, now: datetime | None = None) -> dict[str, str]:
        """These settings as the environment of a child rxdesk process (`from_env` reads it
        back). `now` pins the child's clock, as RXDESK_NOW does."""
        env = {"RXDESK_DATA_DIR": str(self.data_dir), "RXDESK_AGENT": self.agent,
               "RXDESK_MAIL_FROM": self.mail_from}
        pinned = now or self.now
        optional = {"RXDESK_NOW": format_utc(pinned) if pinned else None, "RXDESK_MASTER_KEY": self.master_key,
                    "RXDESK_SMTP_URL": self.smtp_url, "RXDESK_SMS_URL": self.sms_url,
                    "RXDESK_SMS_TOKEN": self.sms_token, "RXDESK_DATABASE_URL": self.database_url}
        env.update({key: value for key, value in optional.items() if value})
        return env

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def clock(self) -> Clock:
        return FixedClock(self.now) if self.now is not None else SystemClock()
