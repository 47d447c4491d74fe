"""A checkbox whose off state reads as off in any terminal: `[ ]` and `[✓]`, not a filled
`X` in both states told apart by colour alone."""

from __future__ import annotations

from typing import Any

from textual.widgets import Checkbox


class DeskCheckbox(Checkbox):
    BUTTON_LEFT = "["
    BUTTON_RIGHT = "]"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.BUTTON_INNER = "✓" if self.value else " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = "✓" if self.value else " "
        super().watch_value()
