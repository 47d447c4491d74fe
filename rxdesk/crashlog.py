"""Where unexpected errors go: a private log file for support, never the agent's screen."""

from __future__ import annotations

import os
import stat
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from rxdesk.fileio import make_private_dirs

# Past this size errors.log becomes errors.log.1 (replacing the one before) and a new one
# starts: the log of a desk that fails the same way all day stays within two of these.
MAX_LOG_BYTES = 1 << 20


def _owned_by_us(st: os.stat_result) -> bool:
    return st.st_uid == os.getuid()


def _private_folder(folder: Path) -> None:
    """Make `folder` 0700, or tighten one that is there; refuse one that is not ours (in the
    shared temp dir another user could have made it first, to read or swap the log)."""
    make_private_dirs(folder)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or not _owned_by_us(st):
        raise PermissionError(f"{folder} is not a folder of this user")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(folder, 0o700)


def _make_room(path: Path) -> None:
    """A log that reached MAX_LOG_BYTES moves to `errors.log.1`: only the newest two are kept."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode) and _owned_by_us(st) and st.st_size >= MAX_LOG_BYTES:
        os.replace(path, path.with_name(path.name + ".1"))


def log_crash(data_dir: Path | None, text: str | None = None) -> str:
    """Append the current traceback, after a line with the time (UTC), or `text`, to
    `<data dir>/logs/errors.log`; return the path.

    Falls back to a per-user folder in the temp dir when the data dir is not writable. Folder
    and file are made (or tightened to) 0700 and 0600; a full log moves to `errors.log.1`.
    """
    if text is None:  # a traceback: when it happened goes first, as on the driver's own lines
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = f"{at} unexpected error\n{traceback.format_exc()}"
    candidates = [data_dir / "logs"] if data_dir is not None else []
    candidates.append(Path(tempfile.gettempdir()) / f"rxdesk-{os.getuid()}")
    for folder in candidates:
        try:
            _private_folder(folder)
            path = folder / "errors.log"
            _make_room(path)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "a") as fh:
                st = os.fstat(fd)
                if not _owned_by_us(st):
                    raise PermissionError(f"{path} is not a file of this user")
                if stat.S_IMODE(st.st_mode) != 0o600:
                    os.fchmod(fd, 0o600)
                fh.write(text.rstrip("\n") + "\n")
            return str(path)
        except OSError:
            continue
    return "(no writable log location)"
