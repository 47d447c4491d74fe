"""Commands of this area register here."""

from __future__ import annotations

from rxdesk.commands import CommandLine


def register(cli: CommandLine) -> None:
    return None
