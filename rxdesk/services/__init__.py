"""Use cases, one module per area; the only place where rules meet storage.

`Desk` wires them to one store and one clock. The app, the CLI and the worker all go through
a Desk, never through the store.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from rxdesk.config import Settings
from rxdesk.domain.clock import Clock
from rxdesk.domain.models import Org
from rxdesk.store.tinystore import TinyStore

if TYPE_CHECKING:
    from rxdesk.services.appointments import AppointmentService
    from rxdesk.services.doctors import DoctorService, TypeService
    from rxdesk.services.patients import PatientService
    from rxdesk.services.booking import BookingService
    from rxdesk.services.provisioning import ProvisioningService
    from rxdesk.services.rebooking import RebookingService
    from rxdesk.services.reminders import ReminderRuleService
    from rxdesk.services.secrets import SecretService
    from rxdesk.services.tokens import TokenService
    from rxdesk.services.webhooks import WebhookService


class Desk:
    """Every service over one store and one clock, created on first use."""

    def __init__(self, store: TinyStore, clock: Clock, settings: Settings | None = None) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        if store.clock is None:  # what the store dates by itself (the holds index) follows this clock
            store.clock = clock

    @classmethod
    def open(cls, settings: Settings, **store_options: object) -> Desk:
        from rxdesk.store import open_store

        clock = settings.clock()
        store = open_store(settings.data_dir, settings.database_url, clock=clock, **store_options)
        return cls(store, clock, settings)

    def close(self) -> None:
        """Let go of what the store holds (a server database's connections); the data dir
        store holds nothing between calls."""
        close = getattr(self.store, "close", None)
        if close is not None:
            close()

    @property
    def location(self) -> str:
        """Where the data lives, for a log line: the data dir, or the database (no password)."""
        return str(getattr(self.store, "where", None) or self.store.data_dir)

    @property
    def agent(self) -> str:
        return self.settings.agent if self.settings else "agent"

    def org(self) -> Org:
        """The organisation, or neutral defaults (UTC) before anything is provisioned."""
        from rxdesk.services.base import DEFAULT_ORG

        return self.store.read().org.get() or DEFAULT_ORG

    def generation(self) -> int:
        """A number that changes with every committed write, from any process: cheap to poll."""
        return self.store.generation()

    @property
    def live_changes(self) -> bool:
        """True when the store announces every committed write (a server database): then
        `wait_for_change` replaces polling `generation`."""
        return hasattr(self.store, "wait_for_change")

    def wait_for_change(self, known: int, timeout: float) -> int:
        """Block until a write of any process commits, or `timeout` seconds pass; returns the
        generation (unchanged on a timeout)."""
        return int(self.store.wait_for_change(known, timeout))

    def warm_up(self) -> None:
        """Load what the first change of a session will need: the models' validators and the
        tail of the event log."""
        from rxdesk.domain.models import build_validators

        build_validators()
        self.store.read().events.warm()

    def is_empty(self) -> bool:
        """True before `rxdesk demo` or `rxdesk provision` has put anything in the data dir."""
        return self.store.is_empty()

    @cached_property
    def appointments(self) -> AppointmentService:
        from rxdesk.services.appointments import AppointmentService

        return AppointmentService(self.store, self.clock, self.settings)

    @cached_property
    def patients(self) -> PatientService:
        from rxdesk.services.patients import PatientService

        return PatientService(self.store, self.clock, self.settings)

    @cached_property
    def doctors(self) -> DoctorService:
        from rxdesk.services.doctors import DoctorService

        return DoctorService(self.store, self.clock, self.settings)

    @cached_property
    def types(self) -> TypeService:
        from rxdesk.services.doctors import TypeService

        return TypeService(self.store, self.clock, self.settings)

    @cached_property
    def provisioning(self) -> ProvisioningService:
        from rxdesk.services.provisioning import ProvisioningService

        return ProvisioningService(self.store, self.clock, self.settings)

    # Areas built on the foundation; each module owns one.

    @cached_property
    def secrets(self) -> SecretService:
        from rxdesk.services.secrets import SecretService

        return SecretService(self.store, self.clock, self.settings)

    @cached_property
    def tokens(self) -> TokenService:
        from rxdesk.services.tokens import TokenService

        return TokenService(self.store, self.clock, self.settings)

    @cached_property
    def booking(self) -> BookingService:
        from rxdesk.services.booking import BookingService

        return BookingService(self.store, self.clock, self.settings)

    @cached_property
    def rebooking(self) -> RebookingService:
        from rxdesk.services.rebooking import RebookingService

        return RebookingService(self.store, self.clock, self.settings)

    @cached_property
    def reminders(self) -> ReminderRuleService:
        from rxdesk.services.reminders import ReminderRuleService

        return ReminderRuleService(self.store, self.clock, self.settings)

    @cached_property
    def webhooks(self) -> WebhookService:
        from rxdesk.services.webhooks import WebhookService

        return WebhookService(self.store, self.clock, self.settings)
