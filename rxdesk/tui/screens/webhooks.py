"""Section 6: webhook subscriptions and deliveries."""

from __future__ import annotations

from rxdesk.tui.screens.placeholder import PlaceholderSection


class WebhooksScreen(PlaceholderSection):
    SECTION = "webhooks"
    WHAT = "The webhooks section"
