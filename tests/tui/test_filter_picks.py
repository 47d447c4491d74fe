"""A name several patients share lists every one's appointments ("every Lena next week") and
offers them to pick one from, each told apart by their phone's last digits and their next
appointment; a name several doctors share offers them to pick from."""

from __future__ import annotations

from datetime import datetime, timedelta

from textual.widgets import OptionList

from rxdesk.domain.models import Patient
from rxdesk.services import Desk
from rxdesk.tui.screens.overview import OverviewScreen
from tests.helpers import make_appointment
from tests.tui.conftest import front, make_app, overview_ready, wait_until
from tests.tui.test_overview import type_into, uids_shown


async def test_a_shared_surname_offers_the_patients_to_pick_and_picking_filters(clinic: Desk, booked: dict[str, str], now: datetime) -> None:
    with clinic.store.write() as view:
        for n in range(1, 31):
            view.patients.put(Patient(id=f"pat-j{n:02}", name=f"Jan{n:02} Jansen", email=f"j{n}@mail.example",
                                      phone=f"+49 170 55501{n:02}"))
    mine = make_appointment(clinic, start=now + timedelta(days=2), patient_id="pat-j07")
    other = make_appointment(clinic, start=now + timedelta(days=3), patient_id="pat-j12")
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await overview_ready(pilot)
        await type_into(pilot, "#filter-patient", "Jansen")
        picks = app.screen.query_one("#filter-picks", OptionList)
        await wait_until(pilot, lambda: picks.display and picks.option_count == 30)
        # Every Jansen's appointments at once, the field not marked wrong.
        await wait_until(pilot, lambda: uids_shown(app) == [mine.uid, other.uid])
        assert not app.screen.query_one("#filter-patient").has_class("-invalid")
        labels = [str(picks.get_option_at_index(i).prompt) for i in range(picks.option_count)]
        assert "Jan07 Jansen · pat-j07 · j7@mail.example · ••• 0107 · next Wed 2026-11-25 09:00" in labels
        assert "Jan08 Jansen · pat-j08 · j8@mail.example · ••• 0108 · none booked" in labels
        notes = str(app.screen.query_one("#filter-notes").render())
        assert "patient: 30 matching 'Jansen'" in notes
        await pilot.press("down")
        assert app.focused is picks
        for _ in range(6):
            await pilot.press("down")
        await pilot.press("enter")
        await wait_until(pilot, lambda: uids_shown(app) == [mine.uid])
        assert not picks.display
        assert front(app, OverviewScreen).table.has_focus
        assert "patient: Jan07 Jansen" in str(app.screen.query_one("#filter-notes").render())


async def test_a_shared_doctor_name_offers_the_doctors(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(140, 40)) as pilot:
        await overview_ready(pilot)
        await type_into(pilot, "#filter-doctor", "dr ")  # every doctor is a "Dr …"
        picks = app.screen.query_one("#filter-picks", OptionList)
        await wait_until(pilot, lambda: picks.display and picks.option_count == 3)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: len(uids_shown(app)) == 1)


async def test_the_pick_list_gives_the_table_its_room_back_when_the_agent_leaves_the_filters(
        clinic: Desk, booked: dict[str, str], now: datetime) -> None:
    with clinic.store.write() as view:
        for n in range(1, 9):
            view.patients.put(Patient(id=f"pat-j{n:02}", name=f"Jan{n:02} Jansen", email=f"j{n}@mail.example"))
    mine = make_appointment(clinic, start=now + timedelta(days=2), patient_id="pat-j03")
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await overview_ready(pilot)
        await type_into(pilot, "#filter-patient", "Jansen")
        picks = app.screen.query_one("#filter-picks", OptionList)
        await wait_until(pilot, lambda: picks.display and picks.option_count == 8)
        await wait_until(pilot, lambda: uids_shown(app) == [mine.uid])
        table = front(app, OverviewScreen).table
        await pilot.press("escape")  # out of the field, to the table
        await wait_until(pilot, lambda: table.has_focus and not picks.display)
        assert table.region.height > 2  # the rows are on screen, not under the list
        await pilot.press("slash")  # back to the filters: the list is offered again
        await wait_until(pilot, lambda: picks.display)
