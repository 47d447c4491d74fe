"""A section that this installation does not offer yet says so instead of failing."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from rxdesk.tui.screens.base import DeskScreen, DetailScreen


def unavailable(what: str) -> ComposeResult:
    yield Static(f"{what} is not available in this version of rxdesk yet.", classes="unavailable")


class PlaceholderSection(DeskScreen):
    WHAT = "This section"

    def compose_body(self) -> ComposeResult:
        yield from unavailable(self.WHAT)


class PlaceholderDetail(DetailScreen):
    WHAT = "This screen"

    def compose_body(self) -> ComposeResult:
        yield from unavailable(self.WHAT)
