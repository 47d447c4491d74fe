"""What the app needs of Textual that Textual has no public API for: one place, each with a
test (tests/tui/test_textual_gaps.py) that fails when a Textual upgrade changes it.

- `forget_clipboard`: `App.copy_to_clipboard("")` would also send the terminal an empty copy
  (OSC 52) and wipe the agent's system clipboard, which still holds the secret they are
  pasting into the partner's token minter. Only the app's own copy (`App.clipboard`) is
  dropped, by resetting the attribute that property reads.
"""

from __future__ import annotations

from typing import Any

from textual.app import App


def forget_clipboard(app: App[Any], value: str) -> None:
    """Drop the app's in-memory copy of the clipboard if it is `value` (a secret whose dialog
    closes); the terminal's clipboard keeps it."""
    if value and app.clipboard == value:
        app._clipboard = ""
