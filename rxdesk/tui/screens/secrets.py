"""Section 4: booking-token secrets."""

from __future__ import annotations

from rxdesk.tui.screens.placeholder import PlaceholderSection


class SecretsScreen(PlaceholderSection):
    SECTION = "secrets"
    WHAT = "The booking secrets section"
