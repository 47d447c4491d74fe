"""Section 5: appointment types and their reminder rules."""

from __future__ import annotations

from rxdesk.tui.screens.placeholder import PlaceholderSection


class TypesScreen(PlaceholderSection):
    SECTION = "types"
    WHAT = "The appointment types section"
