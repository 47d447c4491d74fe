"""The footer every desk screen shows: Textual's, rebuilt only when its keys change, and with
help and quit in front when not every key fits.

Textual's footer rebuilds itself (and so lays out the whole screen again) whenever the
screen's bindings are refreshed, which happens on every focus change: opening a dialog over
a table, and closing it, laid the screen behind out again for keys that had not changed.

It overrides `Footer.bindings_changed`, the footer's public hook for a change of bindings.
Should a Textual upgrade stop calling it, the footer would still work, rebuilding as before:
tests/tui/test_virtual_table.py counts the layouts a dialog causes and fails loudly then.

A footer wider than the terminal is cut at its right end, where the app's own keys come last:
at 80 columns `?` and `q` were never shown. When the keys do not fit, help and quit go first,
then the keys the screen names in `FOOTER_FIRST`, and the screen's least important keys (its last)
are the ones cut.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

# The app's keys that stay on screen however narrow it is (the actions of `RxdeskApp`).
ALWAYS_SHOWN = ("help", "quit")
# Below this width the palette's key is not in the footer (styles/app.tcss).
PALETTE_SHOWN_FROM = 100


def action_of(widget: Widget) -> str | None:
    """The action of a key the footer shows (None for anything else it holds). Read by name:
    Textual exports no type for a footer's key; tests/tui/test_day_details.py fails when this
    stops finding help and quit."""
    action = getattr(widget, "action", None)
    return action if isinstance(action, str) else None


def key_width(key: Widget) -> int:
    """Cells a key takes in the footer: its key and description, padded (the footer's CSS)."""
    return len(str(getattr(key, "key_display", ""))) + len(str(getattr(key, "description", ""))) + 3


class DeskFooter(Footer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple[Any, ...] | None = None
        self._help_first = False

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

    def _crowded(self, keys: list[Widget]) -> bool:
        width = self.size.width or self.app.size.width
        palette = width >= PALETTE_SHOWN_FROM
        used = sum(key_width(key) for key in keys if action_of(key) is not None
                   and (palette or not key.has_class("-command-palette")))
        return used > width

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        self._help_first = self._crowded(keys)
        if self._help_first:
            # Then the keys a screen names as its own first (a patient's page: book).
            first = (*ALWAYS_SHOWN, *getattr(self.screen, "FOOTER_FIRST", ()))
            keys.sort(key=lambda key: first.index(action) if (action := action_of(key)) in first else len(first))
        yield from keys

    def on_resize(self, event: events.Resize) -> None:
        if self._crowded(list(self.children)) != self._help_first:
            self.call_after_refresh(self.recompose)
