"""What the app needs of Textual that Textual has no public API for: one place, each with a
test that fails when a Textual upgrade changes it (named below).

- `forget_clipboard`: `App.copy_to_clipboard("")` would also send the terminal an empty copy
  (OSC 52) and wipe the agent's system clipboard, which still holds the secret they are
  pasting into the partner's token minter. Only the app's own copy (`App.clipboard`) is
  dropped, by resetting the attribute that property reads (tests/tui/test_app_core.py fails
  if Textual keeps it elsewhere).
- `crash_report`: on an unhandled error Textual prints a traceback with every frame's local
  variables (`App._fatal_error`, `show_locals=True`, no setting): a decrypted booking secret or
  the settings' master key would be on the agent's screen and in their scrollback. The app
  overrides that hook with this report: the traceback, without locals, goes to the support log
  and the agent gets one line naming it (tests/tui/test_crash_report.py fails if Textual stops
  calling the hook).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from textual.app import App

from rxdesk.crashlog import log_crash


def crash_report(app: App[Any], data_dir: Path | None) -> str:
    """What `App._fatal_error` does, for an agent: ring, log the traceback of the error being
    handled (no locals) for support, and close the app; returns the one line to print once the
    terminal is the shell's again (Textual's exit report would cut it at the terminal's width)."""
    error = sys.exc_info()[1]
    where = log_crash(data_dir)
    app.bell()
    app.panic()
    return (f"rxdesk closed after an internal error ({type(error).__name__}); what was saved is kept. "
            f"Details for support: {where}")


def forget_clipboard(app: App[Any], value: str) -> None:
    """Drop the app's in-memory copy of the clipboard if it is `value` (a secret whose dialog
    closes); the terminal's clipboard keeps it."""
    if value and app.clipboard == value:
        app._clipboard = ""
