"""What every service shares: the store, the clock, the settings, and how a change is recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rxdesk.config import Settings
from rxdesk.domain.clock import Clock
from rxdesk.domain.lifecycle import admin_actor as admin_actor  # the one `admin:` prefix, for every service
from rxdesk.domain.models import AuditEntry, Org
from rxdesk.store.protocols import Store, StoreView, UnitOfWork

# Constants known to be valid: built without validating, so importing a service builds no validator.
DEFAULT_ORG = Org.model_construct(name="rxdesk", timezone="UTC")


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
        return view.org.get() or DEFAULT_ORG


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
    view.audit.append(
        AuditEntry.of_plain(at=at, actor=actor, action=action, target=target, details=details or {})
    )
