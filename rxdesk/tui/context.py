"""How a screen, dialog or widget reaches the desk it runs in, typed.

Textual types `node.app` as `App[Any]`: what rxdesk adds (the services, the organisation's
label and zone, `note_own_write`) is unknown there. `desk_app(node)`, or the `desk_app` and
`desk` properties of the `OnDesk` mixin, name the app as the `RxdeskApp` it is, so every call
into it is checked. Going somewhere else is not a call: post a message of
`rxdesk.tui.navigation` and the app handles it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

from textual.app import App

if TYPE_CHECKING:
    from rxdesk.services import Desk
    from rxdesk.tui.app import RxdeskApp


class InApp(Protocol):
    """A Textual node: a widget, a screen, the app itself."""

    @property
    def app(self) -> App[Any]: ...


def desk_app(node: InApp) -> RxdeskApp:
    """The app `node` is mounted in (every screen of rxdesk runs in an `RxdeskApp`)."""
    return cast("RxdeskApp", node.app)


class OnDesk:
    """Mixin for the desk's screens, dialogs and widgets (next to a Textual base class)."""

    @property
    def desk_app(self: InApp) -> RxdeskApp:
        return desk_app(self)

    @property
    def desk(self: InApp) -> Desk:
        """The services: appointments, people, secrets, …"""
        return desk_app(self).desk
