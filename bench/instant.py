"""The instant every figure is taken at (`RXDESK_NOW`), so data sets and runs are the same each
time. Its own module: the naive baseline's process imports it and nothing of rxdesk."""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NOW_TEXT = "2026-11-23T08:00:00Z"
