"""A text field whose `enter` confirms what the agent sees."""

from __future__ import annotations

from textual.widgets import Input


class SuggestingInput(Input):
    """An `Input` with suggestions (a common reason, a doctor's name) in which `enter` takes the
    suggestion shown after the cursor, as `→` does: the grey rest of `Doctor called in sick`
    after `Doc` reads as typed, so confirming `Doc` instead would confirm what nobody saw. Without
    a suggestion shown, `enter` submits what was typed."""

    async def action_submit(self) -> None:
        if self.cursor_at_end and self.selection.is_empty:
            self.action_cursor_right()  # takes a suggestion shown; at the end, moves nowhere else
        await super().action_submit()
