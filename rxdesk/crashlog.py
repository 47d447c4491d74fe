"""Where unexpected errors go: a private log file for support, never the agent's screen."""

from __future__ import annotations

import os
import tempfile
import traceback
from pathlib import Path


def log_crash(data_dir: Path | None, text: str | None = None) -> str:
    """Append the current traceback (or `text`) to `<data dir>/logs/errors.log`; return the path.

    Falls back to a per-user folder in the temp dir when the data dir is not writable.
    """
    text = text if text is not None else traceback.format_exc()
    candidates = [data_dir / "logs"] if data_dir is not None else []
    candidates.append(Path(tempfile.gettempdir()) / f"rxdesk-{os.getuid()}")
    for folder in candidates:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = folder / "errors.log"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(text.rstrip("\n") + "\n")
            return str(path)
        except OSError:
            continue
    return "(no writable log location)"
