"""80x24 is fully usable and wider terminals use their room: what must hold at each size."""

from __future__ import annotations

import io
from datetime import datetime

from rich.cells import cell_len
from textual.widgets import Input, OptionList, Static

from rxdesk.services import Desk
from rxdesk.tui.app import RxdeskApp
from rxdesk.tui.screens.secrets import SecretsScreen
from rxdesk.tui.widgets.header import DeskHeader
from rxdesk.tui.widgets.tables import AppointmentTable, DeskTable
from tests.tui.conftest import front, make_app, settle
from tests.tui.test_virtual_table import line_text

WORKER = "worker 09:00 · 1 reminder · 1 webhook to retry"


async def test_at_80x24_every_row_shows_its_status_and_the_header_the_worker(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.maintenance = WORKER
        await pilot.pause()
        table = app.screen.query_one(AppointmentTable)
        assert table.shown_columns == ["start", "patient", "doctor", "status", "type"]
        for index, row in enumerate(table.loaded_rows()):
            line = line_text(table, index + 1)
            assert cell_len(line) == table.scrollable_content_region.width
            assert f" {row.status.value} " in line and row.patient_name in line
            assert line.startswith(" " + (table.cell_text(index, "start") or "")[:4])  # the weekday
        header = str(app.screen.query_one(DeskHeader).render()).splitlines()[0]
        assert "worker 09:00 · 1 reminder" in header and cell_len(header) <= 80
        # The name boxes hold more than the date boxes, which still hold a date.
        width = {name: app.screen.query_one(f"#filter-{name}", Input).content_region.width
                 for name in ("doctor", "patient", "date_from", "date_to")}
        assert width["doctor"] >= 12 and width["patient"] >= 12
        assert width["date_from"] >= len("from: today") and width["doctor"] > width["date_from"]


async def test_wider_terminals_use_their_room(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AppointmentTable)
        # The start keeps its year and the type its whole name; the uid waits for more room.
        assert table.shown_columns == ["start", "patient", "doctor", "status", "type"]
        assert "Tue 2026-11-24 09:00" in line_text(table, 1) and "GP video consultation" in line_text(table, 1)
        await pilot.resize_terminal(160, 48)
        await settle(pilot)
        assert table.shown_columns == ["start", "patient", "doctor", "status", "type", "uid"]
        assert booked["weber_first"] in line_text(table, 1)


async def test_a_revoked_key_reads_revoked_at_80x24_and_the_rotation_steps_fold(clinic: Desk) -> None:
    shop = clinic.secrets.create_secret("Shopify storefront of the Riverside pharmacy, second shop", "tester")
    gone = clinic.secrets.create_secret("old minter", "tester").secret.key_id
    clinic.secrets.revoke(gone, "tester")
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        screen = front(app, SecretsScreen)
        table = screen.table
        assert {"key_id", "status", "used"} <= set(table.shown_columns)
        shown = dict(zip(table.shown_columns, map(str, table.get_row(gone)), strict=True))
        assert shown["status"].startswith("revoked") and shown["used"] == "never"
        assert table.virtual_size.width <= table.scrollable_content_region.width  # nothing off screen
        help_panel, folded = screen.query_one("#rotation-help"), screen.query_one("#rotation-folded")
        assert not help_panel.display and folded.display and folded.region.height == 1
        await pilot.press("h")  # unfolded under the table, which keeps its columns
        await settle(pilot)
        assert help_panel.display and help_panel.region.y > table.region.y
        assert "status" in table.shown_columns
        await pilot.resize_terminal(160, 48)  # beside the table from 120 columns
        await settle(pilot)
        assert help_panel.display and help_panel.region.x > table.region.x and not folded.display
        # The long label whole: Created and By (which cannot be cut) give way to it.
        assert table.shown_columns == ["key_id", "label", "status", "used"]
        assert str(table.get_row(shop.secret.key_id)[1]).endswith("second shop")
        assert str(table.get_row(gone)[2]).startswith("revoked")


async def test_every_short_list_fits_80_columns(clinic: Desk, booked: dict[str, str]) -> None:
    """Doctors, patients, types and rules, webhooks: no table wider than the screen, and the
    first column of each always there."""
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for section, first in (("2", "name"), ("3", "name"), ("5", "name"), ("6", "id")):
            await pilot.press(section)
            await settle(pilot)
            for table in app.screen.query(DeskTable):
                if not table.display or table.region.width == 0:
                    continue
                assert table.shown_columns and table.virtual_size.width <= table.scrollable_content_region.width, \
                    (section, table.id)
                assert table.id == "rules" or table.shown_columns[0] == first, (section, table.id)


async def test_the_cancel_dialog_fits_24_lines(clinic: Desk, booked: dict[str, str]) -> None:
    """The reason, all five common reasons and the hint are on screen, not scrolled away."""
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        dialog = app.screen.query_one("#cancel-dialog")
        reasons = app.screen.query_one("#common-reasons", OptionList)
        hint = dialog.children[-1]
        assert "escape keep it" in str(hint.render())
        for widget in (app.screen.query_one("#reason", Input), reasons, hint):
            region = widget.region
            assert region.height > 0 and app.screen.region.contains_region(region)
            shown, _ = app.screen.get_widget_at(region.x + 1, region.bottom - 1)
            assert shown is widget or widget in shown.ancestors, widget
        assert reasons.option_count == 5 and reasons.scrollable_content_region.height >= 5


async def test_a_resize_lays_a_short_list_out_again_and_keeps_the_cursor(clinic: Desk, booked: dict[str, str]) -> None:
    app = make_app(clinic)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one(DeskTable)
        assert table.shown_columns == ["name", "id", "zone", "mobile", "windows", "types"]
        table.select_key("dr-sato")
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        # Windows (least important, cannot be cut) goes; the offered types are cut with `…`.
        assert table.shown_columns == ["name", "id", "zone", "mobile", "types"]
        assert table.selected_key == "dr-sato"
        drawn = "".join(segment.text for segment in table.render_line(table.get_row_index("dr-sato") + 1))
        assert cell_len(drawn.rstrip()) <= table.scrollable_content_region.width
        offers = drawn.rstrip().rsplit("  ", 1)[-1].strip()  # what the screen shows, cut
        assert offers.endswith("…") and "therapy, prescription, gp-consult".startswith(offers[:-1])
        assert str(table.get_row("dr-sato")[-1]) == "therapy, prescription, gp-consult"  # the row, whole


def test_the_header_line_leaves_out_and_cuts_by_priority() -> None:
    from rich.style import Style

    from rxdesk.tui.widgets.header import Piece, one_line

    plain = Style()
    left = [Piece(" Riverside Telehealth ", plain, 4, 12), Piece("  Europe/Berlin", plain, 1),
            Piece(" · agent tester", plain, 5)]
    right = Piece("worker 09:00 · 1 reminder · 1 webhook to retry", plain, 2, 24)
    wide = one_line(left, right, 160).plain
    assert wide.startswith(" Riverside Telehealth   Europe/Berlin · agent tester") and wide.endswith("retry")
    assert cell_len(wide) == 160 - 1
    # 80 columns: the agent's name goes, the org's name is cut; the zone and the worker stay whole.
    at_80 = one_line(left, right, 80).plain
    assert "agent" not in at_80 and " Riverside " in at_80 and "Telehealth" not in at_80
    assert "Europe/Berlin" in at_80 and at_80.endswith("worker 09:00 · 1 reminder · 1 webhook to retry")
    # Narrower still: the worker's status is cut before the zone goes.
    at_70 = one_line(left, right, 70).plain
    assert cell_len(at_70) <= 70 and "Europe/Berlin" in at_70 and "worker 09:00 · 1 reminder" in at_70
    at_40 = one_line(left, right, 40).plain
    assert "Europe" not in at_40 and "worker 09:00" in at_40
    short = [Piece(" rxdesk ", plain, 4, 12)]  # shorter than its least: never padded
    assert one_line(short, right, 50).plain.startswith(" rxdesk  ")


async def test_the_doctor_page_shows_the_days_that_fit_and_whole_answers(clinic: Desk, booked: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)

        def grid(selector: str) -> tuple[Table, int]:
            static = app.screen.query_one(selector, Static)
            table = static.content
            assert isinstance(table, Table)
            return table, static.content_region.width

        def drawn(selector: str) -> str:
            table, width = grid(selector)
            console = Console(width=width, record=True, file=io.StringIO())
            console.print(table, crop=True)
            return console.export_text()

        assert "74 free slots" in drawn("#doctor-troubleshooter")  # an answer on one line
        assert "First open" in drawn("#doctor-preview").splitlines()[2]  # the last column, not cropped
        preview, _ = grid("#doctor-preview")
        assert "next 14 days" not in str(preview.title) and preview.columns[-1].header == "First open"
        narrow_days = len(preview.columns) - 2
        await pilot.resize_terminal(160, 48)
        await settle(pilot)
        preview, _ = grid("#doctor-preview")
        assert "next 14 days" in str(preview.title) and len(preview.columns) - 2 == 14 > narrow_days


def footer_keys_on_screen(app: RxdeskApp) -> dict[str, bool]:
    """Each footer key's action, and whether the key is wholly on screen."""
    from rxdesk.tui.widgets.footer import DeskFooter, action_of

    footer = app.screen.query_one(DeskFooter)
    return {action: key.region.right <= app.size.width and key.region.width > 0
            for key in footer.children if (action := action_of(key)) is not None}


async def test_help_and_quit_stay_in_every_footer_at_80_columns(clinic: Desk, booked: dict[str, str]) -> None:
    from rxdesk.tui.screens.patients import PatientDetailScreen
    from tests.tui.conftest import wait_until

    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        shown = footer_keys_on_screen(app)
        assert shown["help"] and shown["quit"]
        assert not all(shown.values())  # not every key fits: the screen's last ones gave way
        app.open_patient("pat-001")
        await wait_until(pilot, lambda: isinstance(app.screen, PatientDetailScreen))
        await settle(pilot)
        shown = footer_keys_on_screen(app)
        assert shown["help"] and shown["quit"] and shown["book"]  # then what the page is for
        app.open_away("dr-weber", "Dr Anna Weber")  # the reason field has the focus: q is typed there
        await wait_until(pilot, lambda: getattr(app.screen, "plans", 0) > 0)
        shown = footer_keys_on_screen(app)
        assert shown["help"] and shown["quit"]  # f1 and ctrl+q
        await pilot.press("escape", "escape")  # out of the reason field, then back
        await wait_until(pilot, lambda: isinstance(app.screen, PatientDetailScreen))
        await pilot.resize_terminal(160, 48)  # room for every key: the usual order again
        await settle(pilot)
        keys = list(footer_keys_on_screen(app))
        assert all(footer_keys_on_screen(app).values()) and keys.index("help") > keys.index("back")


async def test_the_private_network_box_is_on_screen_whole_in_the_webhook_dialog_at_80x24(clinic: Desk) -> None:
    from rxdesk.tui.screens.webhooks import SubscriptionModal
    from rxdesk.tui.widgets.checkbox import DeskCheckbox

    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, SubscriptionModal)
        box = app.screen.query_one("#sub-private", DeskCheckbox)
        assert box.region.bottom <= 24 and box.region.right <= 80 and box.region.height == 1
        label = str(box.label)
        assert label.startswith("Allow private addresses") and label.endswith("(audited)")
        assert box.region.width >= cell_len(label) + 4  # "[ ] " and every letter of it
        for field in ("#sub-url", "#sub-headers", "#sub-error"):
            assert app.screen.query_one(field).region.bottom <= 24, field


async def test_a_filters_reason_and_the_count_are_shown_whole(clinic: Desk, booked: dict[str, str]) -> None:
    from tests.tui.test_overview import type_into

    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#filter-statuses", "bogus")
        notes = app.screen.query_one("#filter-notes")
        reason = str(notes.render())
        assert reason.startswith("status 'bogus' is not one of") and reason.endswith("(or active)")
        assert notes.region.height >= 2 and notes.region.bottom <= 24  # wrapped, not cut
        await type_into(pilot, "#filter-statuses", "")
        await pilot.resize_terminal(160, 48)
        await type_into(pilot, "#filter-statuses", "held,confirmed,cancelled")
        await type_into(pilot, "#filter-date_from", "2026-11-23")
        await type_into(pilot, "#filter-date_to", "2026-12-31")
        await pilot.press("escape", "space", "j", "space")
        await settle(pilot)
        count = app.screen.query_one("#filter-count")
        text = str(count.render())
        assert text.endswith("matches · 2 selected") and count.region.width >= cell_len(text)


async def test_a_list_across_new_year_says_the_year_of_next_years_days(clinic: Desk, booked: dict[str, str], now: datetime) -> None:
    from datetime import UTC, datetime

    from tests.helpers import make_appointment

    later = make_appointment(clinic, start=datetime(2027, 1, 5, 9, tzinfo=UTC), patient_id="pat-001")
    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AppointmentTable)
        starts = [line_text(table, i + 1)[1:17] for i in range(table.total)]
        assert starts[0] == "Tue 11-24 09:00 "  # this year's: the weekday, no year
        index = table.index_of(later.uid)
        assert index is not None and starts[index] == "2027-01-05 10:00"  # next year's: its year


async def test_the_problem_screens_advice_flows_as_paragraphs_at_80_columns(clinic: Desk) -> None:
    """Its sentences wrap at the screen's width, not at breaks written for a wider one (which
    left lines of two or three words at 80 columns)."""
    from textual.geometry import Region

    from rxdesk.tui.screens.problem import ADVICE, ProblemScreen

    app = make_app(clinic)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(ProblemScreen("segment appt-2026-11-30.json is damaged"))
        await settle(pilot)
        hint = app.screen.query_one(".dialog-hint", Static)
        width = hint.content_region.width
        lines = [strip.text.rstrip() for strip in hint.render_lines(Region(0, 0, hint.size.width, hint.size.height))]
        paragraphs = "\n".join(lines).strip().split("\n\n")
        assert len(paragraphs) == len(ADVICE.split("\n\n"))
        for paragraph in paragraphs:
            *filled, _last = paragraph.splitlines()
            assert all(len(line) >= width * 3 // 4 for line in filled), paragraph  # no line of a few words
