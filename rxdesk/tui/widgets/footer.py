"""The footer every desk screen shows: Textual's, rebuilt only when its keys change.

Textual's footer rebuilds itself (and so lays out the whole screen again) whenever the
screen's bindings are refreshed, which happens on every focus change: opening a dialog over
a table, and closing it, laid the screen behind out again for keys that had not changed.

It overrides `Footer.bindings_changed`, the footer's public hook for a change of bindings.
Should a Textual upgrade stop calling it, the footer would still work, rebuilding as before:
tests/tui/test_virtual_table.py counts the layouts a dialog causes and fails loudly then.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class DeskFooter(Footer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple[Any, ...] | None = None

    def _keys(self) -> tuple[Any, ...]:
        return tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_node, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if not self.is_attached or not self.screen.is_current:
            return  # a screen under a dialog: its keys are looked at again when it is back
        keys = self._keys()
        if keys == self._shown:
            return
        self._shown = keys
        super().bindings_changed(screen)
