"""The results journal: what a tick sent, kept outside the store until the store has it.

A tick sends (phase two) and then records the results in the store (phase three). When that
write fails (a full disk, a lost database) or the process ends before it (`worker --once`
from cron or the app, a kill), what went out would be forgotten: a delivery would be sent
again once its lease ran out, a message marked `unknown`. So before the results write, the
tick writes them here: one small file per runner (named by its lease id) in the data dir's
`unrecorded/`, atomically (write, fsync, rename; 0600). The file goes once the store has every
result; the first tick of any runner on this data dir writes what a file still holds, under
the lease id that sent it (`maintenance`), and removes it.

A file holds ids and outcomes only: never a signing secret, a header value or a message body.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rxdesk.domain.errors import RxdeskError
from rxdesk.fileio import ensure_private_dir, write_atomic
from rxdesk.services.webhooks import AttemptResult

FOLDER = "unrecorded"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class Results:
    """What one tick's sends came to, by row id, and the lease they were sent under. A
    delivery's result is None (and a message's error None) when its send never started."""

    at: datetime
    lease_id: str
    deliveries: list[tuple[str, AttemptResult | None]] = field(default_factory=list)
    messages: list[tuple[str, str | None]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.deliveries or self.messages)

    def went_out(self) -> tuple[int, int]:
        """(messages, deliveries) whose send was attempted."""
        return (sum(1 for _, error in self.messages if error is not None),
                sum(1 for _, result in self.deliveries if result is not None))

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "lease_id": self.lease_id,
                "deliveries": [[i, _result_json(r)] for i, r in self.deliveries],
                "messages": [[i, error] for i, error in self.messages]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        return cls(datetime.fromisoformat(data["at"]), str(data["lease_id"]),
                   [(str(i), _result(r)) for i, r in data["deliveries"]],
                   [(str(i), None if error is None else str(error)) for i, error in data["messages"]])


def _result_json(result: AttemptResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    wait = result.retry_after.total_seconds() if result.retry_after is not None else None
    return {"ok": result.ok, "status_code": result.status_code, "error": result.error, "retry_after": wait,
            "excerpt": result.excerpt, "gone": result.gone}


def _result(data: dict[str, Any] | None) -> AttemptResult | None:
    if data is None:
        return None
    wait = data.get("retry_after")
    return AttemptResult(bool(data["ok"]), data.get("status_code"), str(data.get("error", "")),
                         timedelta(seconds=wait) if wait is not None else None, str(data.get("excerpt", "")),
                         bool(data.get("gone", False)))


class Journal:
    """The `unrecorded/` folder of one data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = Path(data_dir) / FOLDER

    def _file(self, lease_id: str) -> Path:
        return self.folder / f"{_SAFE.sub('_', lease_id)}.json"

    def keep(self, results: Results) -> str:
        """Write `results` for the next tick of any runner; "" when written, else why not."""
        try:
            ensure_private_dir(self.folder)
            write_atomic(self._file(results.lease_id), json.dumps(results.to_json()).encode())
        except RxdeskError as exc:
            return str(exc)
        except OSError as exc:
            return exc.strerror or type(exc).__name__
        return ""

    def drop(self, lease_id: str) -> None:
        """The store has them all: the file goes."""
        try:
            self._file(lease_id).unlink()
        except OSError:
            pass  # gone already (another runner wrote and removed it), or never written

    def waiting(self) -> list[Results]:
        """The results other runs kept, oldest first; an unreadable file is left as it is."""
        try:
            files = list(self.folder.glob("*.json"))
        except OSError:
            return []
        found = []
        for path in files:
            try:  # a file another runner removes meanwhile is simply gone
                found.append((path.stat().st_mtime, Results.from_json(json.loads(path.read_bytes()))))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return [results for _, results in sorted(found, key=lambda pair: pair[0])]

    def where(self, lease_id: str) -> str:
        return str(self._file(lease_id))
