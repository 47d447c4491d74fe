"""The rebook slot picker: narrowed by doctor, day and time of day as the agent types, every
row with its doctor and day, and the doctor's own time beside the organisation's."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import Input

from rxdesk.domain.times import zone
from rxdesk.services import Desk
from rxdesk.services.rebooking import OpenSlot, match_slots
from rxdesk.tui.screens.rebook import RebookScreen, SlotTable
from tests.tui.conftest import make_app, settle, text_of, wait_until


def local(slot: OpenSlot, tz: str = "Europe/Berlin") -> datetime:
    return slot.starts_at.astimezone(zone(tz))


async def test_typing_narrows_the_slots_by_doctor_day_and_time_of_day(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_rebook(booked["sato_held"])  # any doctor offering the type
        await wait_until(pilot, lambda: isinstance(app.screen, RebookScreen) and app.screen.loads > 0)
        screen = app.screen
        table = screen.query_one(SlotTable)
        everything = table.total
        assert everything > 20
        await pilot.press("slash")
        assert app.focused is screen.query_one("#slot-filter", Input)
        await pilot.press(*"osei afternoon")
        await wait_until(pilot, lambda: 0 < table.total < everything)
        rows = table.loaded_rows()
        assert {row.doctor_name for row in rows} == {"Dr Kwame Osei"}
        assert all(12 <= local(row).hour < 17 for row in rows)
        # Each row says whose and which day, and the doctor's own time (New York) beside.
        for index in (0, table.total - 1):
            row = table.row_at(index)
            assert row is not None
            assert table.cell_text(index, "doctor") == "Dr Kwame Osei"
            assert table.cell_text(index, "day") == f"{local(row):%a %Y-%m-%d}"
            assert table.cell_text(index, "doctor_time") == f"{local(row, 'America/New_York'):%H:%M} EST"
        await pilot.press("enter")  # leaves the field for the list
        assert table.has_focus
        await pilot.press("slash", "down")  # so does down
        assert table.has_focus
        await pilot.press("slash", *"nobody")  # the field's text is selected: typing replaces it
        note = screen.query_one("#slot-none")
        await wait_until(pilot, lambda: note.display and not table.display)
        assert "no slot matches 'nobody'" in text_of(note)
        await pilot.press("ctrl+u")
        await wait_until(pilot, lambda: table.display and table.total == everything)
        await pilot.press("down")
        assert table.has_focus
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, RebookScreen))


def test_slot_words_match_doctor_weekday_date_hour_and_part_of_day(clinic: Desk, booked: dict[str, str]) -> None:
    slots = clinic.rebooking.slots(booked["sato_held"]).slots
    tz = "Europe/Berlin"
    wed = match_slots(slots, "wed weber", tz)
    assert wed and all(local(s).weekday() == 2 and s.doctor_id == "dr-weber" for s in wed)
    nine = match_slots(slots, "wed 9:", tz)
    assert nine and all(local(s).hour == 9 for s in nine)
    day = f"{local(slots[0]):%Y-%m-%d}"
    assert all(f"{local(s):%Y-%m-%d}" == day for s in match_slots(slots, day, tz))
    assert match_slots(slots, "", tz) == slots
    assert match_slots(slots, "nobody-of-that-name", tz) == []


async def test_the_slots_are_by_time_across_doctors_and_a_filter_starts_on_its_first_row(
        clinic: Desk, booked: dict[str, str]) -> None:
    """As booking's: the earliest free slot first whoever's it is, not the current doctor's
    first; what a filter leaves starts at its first row, never where the cursor was."""
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_rebook(booked["sato_held"])  # any doctor offering the type; Dr Sato's own
        await wait_until(pilot, lambda: isinstance(app.screen, RebookScreen) and app.screen.loads > 0)
        screen = app.screen
        table = screen.query_one(SlotTable)
        starts = [row.starts_at for row in table.loaded_rows()]
        assert starts == sorted(starts) and len({row.doctor_id for row in table.loaded_rows()[:10]}) > 1
        assert "by time" in text_of(screen.query_one("#rebook-summary"))
        await pilot.press(*"jjjjj")
        assert table.cursor == 5
        await pilot.press("slash", *"osei afternoon")
        await wait_until(pilot, lambda: 1 < table.total < len(starts))
        assert table.cursor == 0
        await pilot.press("enter", "j", "j")  # to the third of Dr Osei's afternoons
        afternoon = table.current_key
        await pilot.press("slash", *"osei")  # replaces the filter: more of Dr Osei's slots
        await wait_until(pilot, lambda: table.total > 3 and table.index_of(afternoon or "") not in (None, 0))
        assert table.cursor == 0
        first = table.row_at(0)
        assert first is not None and first.starts_at == min(row.starts_at for row in table.loaded_rows())
