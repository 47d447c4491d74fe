"""The store's own upkeep, for operators: `rxdesk store init|import|check`.

A desk moves from its data dir to PostgreSQL in three steps: `init` creates the schema,
`import` copies the data dir into the (empty) database in one transaction, `check` compares
the two (counts, and a checksum of every appointment). The master key does not go into the
database: `import` copies the data dir's `master.key` beside the new setup when it has none.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rxdesk.config import Settings
from rxdesk.domain.errors import ConfigError, Refused, short_path


@dataclass(frozen=True)
class ImportResult:
    where: str
    counts: dict[str, int]
    notes: list[str]


def _url(settings: Settings) -> str:
    if not settings.database_url:
        raise ConfigError("this needs a PostgreSQL database: set RXDESK_DATABASE_URL or pass --database-url")
    return settings.database_url


def _source(raw: str | Path) -> Path:
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise Refused(f"{short_path(path)} is not a directory: name the data dir to copy from")
    return path


class StoreAdmin:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def init(self) -> Any:
        """Create the schema in the database, or upgrade it to this rxdesk's version."""
        from rxdesk.store import init_database

        return init_database(_url(self.settings))

    def import_data_dir(self, source: str | Path) -> ImportResult:
        """Copy a data dir into the empty database, in one transaction; the master key stays
        out of the database (it goes to this desk's data dir, unless RXDESK_MASTER_KEY is set).
        Refused while a worker runs on the data dir; every write to it after the import is."""
        from rxdesk.store import import_into_database

        url, src = _url(self.settings), _source(source)
        self._check_master_key(src)
        self._check_nothing_unrecorded(src)
        where, counts, marked = import_into_database(url, self.settings.data_dir, src,
                                                     now=self.settings.clock().now())
        notes = [note for note in (self._place_master_key(src),) if note]
        if marked:
            notes.append(f"{short_path(src)} is marked as moved: rxdesk refuses it without RXDESK_DATABASE_URL "
                         "from now on, so nobody works on a stale copy")
        else:
            notes.append(f"{short_path(src)} could not be marked as moved: make sure no rxdesk uses it any more")
        return ImportResult(where, counts, notes)

    def check(self, source: str | Path) -> tuple[str, Any]:
        """Counts of every kind and a checksum of every appointment, data dir beside database."""
        from rxdesk.store import compare_with_database

        return compare_with_database(_url(self.settings), self.settings.data_dir, _source(source))

    @staticmethod
    def _check_nothing_unrecorded(src: Path) -> None:
        """Results a tick sent but could not write down yet belong in the data dir's store
        before it is copied: else their emails and SMS would later count as unknown."""
        from rxdesk.services.journal import Journal

        waiting = Journal(src).waiting()
        if waiting:
            raise Refused(f"{len(waiting)} tick(s) on {short_path(src)} sent messages or webhooks whose results are "
                          f"not written down yet ({short_path(Journal(src).folder)}): run `rxdesk worker --once` on "
                          "the data dir to write them, then import; nothing was imported")

    # The secrets are copied encrypted: the key that opens them must come along, and must not
    # clash with one already in place.
    def _keys(self, src: Path) -> tuple[Path, Path]:
        from rxdesk.services.crypto import MASTER_KEY_FILE

        return src / MASTER_KEY_FILE, self.settings.data_dir / MASTER_KEY_FILE

    def _check_master_key(self, src: Path) -> None:
        theirs, ours = self._keys(src)
        if self.settings.master_key or not theirs.is_file() or not ours.is_file():
            return
        if os.path.samefile(theirs, ours) or theirs.read_bytes().strip() == ours.read_bytes().strip():
            return
        raise Refused(f"{short_path(ours)} is another master key than {short_path(theirs)}: the imported "
                      "secrets could not be read; move it away or set RXDESK_MASTER_KEY to the data dir's key")

    def _place_master_key(self, src: Path) -> str:
        theirs, ours = self._keys(src)
        if self.settings.master_key:
            return "the master key comes from RXDESK_MASTER_KEY: it must be the data dir's key"
        if not theirs.is_file() or ours.exists():
            return ""
        from rxdesk.fileio import ensure_private_dir

        ensure_private_dir(ours.parent)
        shutil.copyfile(theirs, ours)
        os.chmod(ours, 0o600)
        return (f"copied the master key to {short_path(ours)}; every host needs this key "
                "(or RXDESK_MASTER_KEY with its value)")
