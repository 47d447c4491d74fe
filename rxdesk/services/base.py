"""What every service shares: the store, the clock, the settings, and how a change is recorded."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from rxdesk.config import Settings
from rxdesk.domain.clock import Clock
from rxdesk.domain.lifecycle import admin_actor as admin_actor  # the one `admin:` prefix, for every service
from rxdesk.domain.queries import DEFAULT_ZONE, OrgBasics
from rxdesk.store.protocols import Store, StoreView, UnitOfWork

if TYPE_CHECKING:
    from rxdesk.domain.models import Org

DEFAULT_NAME = "rxdesk"


@cache
def default_org() -> Org:
    """The organisation before anything is provisioned: built without validating (known valid),
    and only when asked, so importing a service loads no model."""
    from rxdesk.domain.models import Org

    return Org.model_construct(name=DEFAULT_NAME, timezone=DEFAULT_ZONE)


class Service:
    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings

    def now(self) -> datetime:
        return self.clock.now()

    @staticmethod
    def org(view: StoreView) -> Org:
        """The organisation, or neutral defaults (UTC) before anything is provisioned."""
        return view.org.get() or default_org()

    @staticmethod
    def org_basics(view: StoreView) -> OrgBasics:
        """The organisation's name and zone as `org` gives them, without making the model: a
        stored zone that is no IANA zone is refused as the model refuses it (every time shown
        is in it)."""
        from rxdesk.domain.errors import UnreadableRecord, ValidationFailed
        from rxdesk.domain.times import zone

        basics = view.org.basics() or OrgBasics(DEFAULT_NAME, DEFAULT_ZONE)
        try:
            zone(basics.timezone)
        except ValidationFailed as exc:
            raise UnreadableRecord("org", str(exc)) from None
        return basics


def record(
    view: UnitOfWork,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Write an audit entry in the same store write as the change it describes."""
    from rxdesk.domain.models import AuditEntry

    view.audit.append(
        AuditEntry.of_plain(at=at, actor=actor, action=action, target=target, details=details or {})
    )
