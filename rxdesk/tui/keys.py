"""The keys that act on a screen, as help (`?`) and the command palette (`ctrl+p`) list them:
rxdesk's own, enabled, each once."""

from __future__ import annotations

from typing import Any, NamedTuple

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen


class ScreenKey(NamedTuple):
    key: str  # as the footer shows it (`^l`, `?`)
    description: str
    node: Any  # what runs the action
    action: str


def screen_keys(app: App[Any], screen: Screen[Any]) -> list[ScreenKey]:
    """The keys that act here: ours, enabled, each once. A widget's own keys from Textual (a
    table's `^pgup Page Left`, a field's `Delete character left`) are left out unless the
    widget shows them in the footer."""
    keys: list[ScreenKey] = []
    seen: set[str] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.description or binding.description in seen or not active.enabled:
            continue
        if not binding.show and textual_own(active.node, binding):
            continue
        seen.add(binding.description)
        keys.append(ScreenKey(app.get_key_display(binding), binding.description, active.node, binding.action))
    return keys


def textual_own(node: Any, binding: Binding) -> bool:
    """True when `binding` comes from one of Textual's widget classes, not from rxdesk's."""
    for cls in type(node).__mro__:
        if cls.__module__.startswith("rxdesk."):
            continue
        for item in cls.__dict__.get("BINDINGS", ()):
            if isinstance(item, Binding) and (item.action, item.description) == (binding.action, binding.description):
                return True
    return False
