"""Rebooking a patient into a free slot."""

from __future__ import annotations

from rxdesk.tui.screens.placeholder import PlaceholderDetail


class RebookScreen(PlaceholderDetail):
    WHAT = "Rebooking"

    def __init__(self, uid: str) -> None:
        super().__init__()
        self.uid = uid
