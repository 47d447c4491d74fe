"""Use cases, one module per area; the only place where rules meet storage.

`Desk` wires them to one store and one clock. The app, the CLI and the worker all go through
a Desk, never through the store.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from rxdesk.config import Settings
from rxdesk.domain.clock import Clock
from rxdesk.store.protocols import Store

if TYPE_CHECKING:
    from rxdesk.domain.models import Org
    from rxdesk.domain.queries import OrgBasics
    from rxdesk.services.activity import ActivityService
    from rxdesk.services.agent_booking import AgentBookingService
    from rxdesk.services.appointments import AppointmentService
    from rxdesk.services.attention import AttentionService
    from rxdesk.services.away import AwayService
    from rxdesk.services.booking import BookingService
    from rxdesk.services.demo import DemoService
    from rxdesk.services.doctors import DoctorService
    from rxdesk.services.naming import NamingService
    from rxdesk.services.patients import PatientService
    from rxdesk.services.provisioning import ProvisioningService
    from rxdesk.services.rebooking import RebookingService
    from rxdesk.services.reminders import ReminderRuleService
    from rxdesk.services.secrets import SecretService
    from rxdesk.services.tokens import TokenService
    from rxdesk.services.types import TypeService
    from rxdesk.services.webhooks import WebhookService


class Desk:
    """Every service over one store and one clock, created on first use."""

    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings

    @classmethod
    def open(cls, settings: Settings, **store_options: Any) -> Desk:
        """The desk for these settings; the one place that picks the store."""
        from rxdesk.store import open_store

        return cls(open_store(settings, **store_options), settings.clock(), settings)

    def close(self) -> None:
        """Let go of what the store holds (a server database's connections)."""
        self.store.close()

    @property
    def agent(self) -> str:
        return self.settings.agent

    def org(self) -> Org:
        """The organisation, or neutral defaults (UTC) before anything is provisioned."""
        from rxdesk.services.base import Service

        with self.store.read() as view:
            return Service.org(view)

    def org_basics(self) -> OrgBasics:
        """The organisation's name and zone (neutral defaults before provisioning), read
        without making its model: what the app's first frame shows of it."""
        from rxdesk.services.base import Service

        with self.store.read() as view:
            return Service.org_basics(view)

    def generation(self) -> int:
        """A number that changes with every committed write, from any process: cheap to poll."""
        return self.store.generation()

    @property
    def live_changes(self) -> bool:
        """True when the store announces every committed write (a server database): then
        waiting for a change replaces polling `generation`."""
        return self.store.announces_changes

    def wait_for_change(self, known: int, timeout: float) -> int:
        """Block until a write of any process commits, or `timeout` seconds pass; returns the
        generation (unchanged on a timeout, unless this desk wrote meanwhile: on a server
        database a write of its own store is left to the timeout, whoever made it knows)."""
        return self.store.wait_for_change(known, timeout)

    def warm_up(self) -> None:
        """Load what the first change of a session will need: the models' validators and
        whatever the store prepares."""
        from rxdesk.domain.models import build_validators

        build_validators()
        self.store.warm_up()

    def read_ahead(self) -> None:
        """Have the store read ahead, within its memory budget, the upcoming appointments the
        overview's next listings read (a doctor's filter walks several weeks of them)."""
        self.store.read_ahead(self.clock.now())

    def is_empty(self) -> bool:
        """True before `rxdesk demo` or `rxdesk provision` has put anything in the data dir."""
        return self.store.is_empty()

    @cached_property
    def appointments(self) -> AppointmentService:
        from rxdesk.services.appointments import AppointmentService

        return AppointmentService(self.store, self.clock, self.settings)

    @cached_property
    def naming(self) -> NamingService:
        """Who a command means: the doctor or patient a name, an email, a phone or an id names."""
        from rxdesk.services.naming import NamingService

        return NamingService(self.store, self.clock, self.settings)

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
        from rxdesk.services.types import TypeService

        return TypeService(self.store, self.clock, self.settings)

    @cached_property
    def demo(self) -> DemoService:
        from rxdesk.services.demo import DemoService

        return DemoService(self.store, self.clock, self.settings)

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
    def activity(self) -> ActivityService:
        """The audit trail across the desk: what agents did, and who did this."""
        from rxdesk.services.activity import ActivityService

        return ActivityService(self.store, self.clock, self.settings)

    @cached_property
    def agent_booking(self) -> AgentBookingService:
        """An agent books for a patient: the free slots, and the booking."""
        from rxdesk.services.agent_booking import AgentBookingService

        return AgentBookingService(self.store, self.clock, self.settings)

    @cached_property
    def rebooking(self) -> RebookingService:
        from rxdesk.services.rebooking import RebookingService

        return RebookingService(self.store, self.clock, self.settings)

    @cached_property
    def attention(self) -> AttentionService:
        from rxdesk.services.attention import AttentionService

        return AttentionService(self.store, self.clock, self.settings)

    @cached_property
    def away(self) -> AwayService:
        from rxdesk.services.away import AwayService

        return AwayService(self.store, self.clock, self.settings)

    @cached_property
    def reminders(self) -> ReminderRuleService:
        from rxdesk.services.reminders import ReminderRuleService

        return ReminderRuleService(self.store, self.clock, self.settings)

    @cached_property
    def webhooks(self) -> WebhookService:
        from rxdesk.services.webhooks import WebhookService

        return WebhookService(self.store, self.clock, self.settings)
