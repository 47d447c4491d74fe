"""Section 3: doctors; the detail with contact data, the week, a slot preview, the
troubleshooter, the editable mobile phone number and the meeting room."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.cells import cell_len
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Static

from rxdesk.domain.errors import RxdeskError
from rxdesk.domain.models import AppointmentType, Doctor
from rxdesk.domain.phones import display_phone, region_for_zone
from rxdesk.domain.slots import SlotDiagnosis
from rxdesk.domain.times import zone
from rxdesk.resources import stylesheet
from rxdesk.services.doctors import WEEKDAYS, DoctorDetail, RoomChange, check_room_url
from rxdesk.services.rebooking import OpenSlot
from rxdesk.tui.modals.confirm import TextPromptModal
from rxdesk.tui.navigation import OpenAway, OpenDoctor
from rxdesk.tui.screens.base import DeskScreen, DetailScreen
from rxdesk.tui.text import fields_grid, literal, plain, shown
from rxdesk.tui.widgets.tables import DeskTable
from rxdesk.tui.work import call_service

PREVIEW_DAYS = 14


def _week_grid(detail: DoctorDetail) -> Table:
    """Monday to Sunday in the doctor's zone; the org's times beside when the zones differ."""
    d = detail.doctor
    other = d.timezone != detail.org_zone
    week = Table(title=f"Weekly availability ({d.timezone})", title_justify="left", box=None, padding=(0, 2))
    week.add_column("Day", style="bold")
    week.add_column(f"Doctor's time ({d.timezone})")
    if other:
        week.add_column(f"Org time ({detail.org_zone}, this week)")
    for day in WEEKDAYS:
        rows = [r for r in detail.week if r.weekday == day]
        local = ", ".join(r.local for r in rows) or "—"
        week.add_row(day, local, *([", ".join(r.org for r in rows) or "—"] if other else []),
                     style=None if rows else "dim")
    if not detail.week:
        week.add_row("", "no windows: patients see no slots")
    return week


def preview_days(data: DoctorView, width: int) -> int:
    """How many days of the preview fit in `width` cells (every one of them from 100 columns):
    a day takes four cells, the type and "first open" columns what their text needs."""
    names = [cell_len(t.name) for t in data.all_types if t.key in data.preview] or [len("offers no type")]
    room = width - (max(names) + 2) - (len("Mon 23 10:00") + 2)
    return max(1, min(PREVIEW_DAYS, room // 4))


def _preview_grid(data: DoctorView, org_zone: str, now: datetime, shown_days: int = PREVIEW_DAYS) -> Table:
    """Open slots per type and day over the preview's first `shown_days` days (days in the
    org's zone); the first open slot may be later."""
    tz = zone(org_zone)
    first = now.astimezone(tz).date()
    days = [first + timedelta(days=i) for i in range(shown_days)]
    grid = Table(title=f"Open slots, next {shown_days} days (days and times in {org_zone})",
                 title_justify="left", box=None, padding=(0, 1))
    grid.add_column("Type", style="bold", no_wrap=True)
    for day in days:
        grid.add_column(f"{day:%a}"[:2] + f"\n{day:%d}", justify="right", min_width=2)
    grid.add_column("First open", no_wrap=True)
    names = {t.key: t.name for t in data.all_types}
    for key, slots in data.preview.items():
        per_day = Counter(s.starts_at.astimezone(tz).date() for s in slots)
        cells = [str(per_day[day]) if per_day[day] else "·" for day in days]
        soonest = f"{slots[0].starts_at.astimezone(tz):%a %d %H:%M}" if slots else "none"
        grid.add_row(plain(names.get(key, key)), *cells, soonest)
    if not data.preview:
        grid.add_row("offers no type", *([""] * len(days)), "")
    return grid


class DoctorsScreen(DeskScreen):
    CSS_PATH = stylesheet("doctors")

    SECTION = "doctors"

    def __init__(self) -> None:
        super().__init__()
        self.left = False  # another screen was shown over this one, or another section

    def compose_body(self) -> ComposeResult:
        yield Static("", id="doctors-count")
        yield DeskTable(id="doctors")

    def on_mount(self) -> None:
        table = self.query_one(DeskTable)
        # (key, label, priority, narrowest): the name and the mobile number stay longest; the
        # offered types, last, are cut first.
        for key, label, priority, least in (("name", "Name", 0, 12), ("id", "Id", 2, None),
                                            ("zone", "Time zone", 3, 10), ("mobile", "Mobile (SMS)", 1, None),
                                            ("windows", "Windows", 5, None), ("types", "Offers", 4, 10)):
            table.add_column(label, key=key, priority=priority, min_width=least)
        table.focus()
        self.reload()

    def reload(self) -> None:
        desk = self.desk
        call_service(self, desk.doctors.list_doctors, done=self._show, group="doctors")

    def on_screen_suspend(self) -> None:
        self.left = True

    def on_screen_resume(self) -> None:
        # Back from a detail where the agent may have changed a number: the list is small. Not
        # when first shown: on_mount loads it, and Textual resumes a section's first screen twice.
        if self.left:
            self.left = False
            self.stale = False
            self.reload()

    def _show(self, doctors: list[Doctor]) -> None:
        table = self.query_one(DeskTable)
        keep = table.selected_key
        table.clear()
        for d in doctors:
            table.add_row(d.name, d.id, d.timezone, display_phone(d.mobile_phone) or "— (SMS skipped)",
                          str(len(d.availability)), ", ".join(d.appointment_types), key=d.id)
        table.select_key(keep)
        self.query_one("#doctors-count", Static).update(f"{len(doctors)} doctors · enter opens one")

    def on_data_table_row_selected(self, event: DeskTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(OpenDoctor(event.row_key.value))


@dataclass
class DoctorView:
    detail: DoctorDetail
    all_types: list[AppointmentType]
    diagnoses: dict[str, SlotDiagnosis]
    preview: dict[str, list[OpenSlot]]


class DoctorDetailScreen(DetailScreen):
    CSS_PATH = stylesheet("doctors")

    SECTION = "doctors"
    TITLE_TEXT = "Doctor"

    BINDINGS = [
        Binding("m", "edit_phone", "Edit mobile", id="doctor.edit_phone"),
        Binding("o", "change_room", "New room", id="doctor.change_room"),
        Binding("a", "away", "Doctor away", id="doctor.away"),
    ]

    def __init__(self, doctor_id: str) -> None:
        super().__init__()
        self.doctor_id = doctor_id
        self.view_data: DoctorView | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="doctor-body"):
            yield Static(f"Loading {self.doctor_id}…", id="doctor-contact", classes="panel", markup=False)
            with Horizontal(id="doctor-phone-row"):
                yield Label("Mobile phone number (SMS reminders)", id="doctor-phone-label")
                yield Input(placeholder="+49 151 23456789 — empty clears it", id="doctor-phone")
            yield Static("", id="doctor-phone-error", classes="field-error", markup=False)
            yield Static("", id="doctor-week", classes="panel")
            yield Static("", id="doctor-troubleshooter", classes="panel")
            yield Static("", id="doctor-preview", classes="panel")

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        desk = self.desk
        doctor_id = self.doctor_id

        def load() -> DoctorView:
            detail = desk.doctors.show(doctor_id)
            types = desk.types.list_types()
            diagnoses = {t.key: desk.rebooking.diagnose(doctor_id, t.key, days=PREVIEW_DAYS) for t in types}
            return DoctorView(detail, types, diagnoses, desk.rebooking.preview(doctor_id, days=PREVIEW_DAYS))

        call_service(self, load, done=self._show, group="doctor")

    def _show(self, data: DoctorView) -> None:
        self.view_data = data
        detail = data.detail
        d = detail.doctor
        self.query_one("#doctor-contact", Static).update(fields_grid([
            ("Name", f"{d.name} ({d.id})"),
            ("Email", d.email or "—"),
            ("Time zone", d.timezone),
            ("Mobile (SMS)", display_phone(d.mobile_phone) or "— none: SMS reminders are skipped"),
            ("Prescription phone", d.prescription_phone or "—"),
            ("Meeting room", d.room_url or "—"),
            ("Offers", ", ".join(f"{t.name} ({t.key})" for t in detail.types) or "nothing"),
            ("Upcoming", f"{detail.upcoming_count} held or confirmed appointments"),
        ]))
        phone = self.query_one("#doctor-phone", Input)
        if not phone.has_focus:
            phone.value = display_phone(d.mobile_phone)
        region = region_for_zone(d.timezone)
        phone.placeholder = ("+49 151 23456789" + (f", or national ({region})" if region else "")
                             + "; empty clears it")
        self.query_one("#doctor-week", Static).update(_week_grid(detail))
        self._draw_grids()

    def on_resize(self) -> None:
        if self.view_data is not None:
            self._draw_grids()

    def _draw_grids(self) -> None:
        """The troubleshooter and the preview for the width there is: below 100 columns the
        counts' headings take two lines (the answers keep their room) and the preview shows
        the days that fit."""
        data = self.view_data
        assert data is not None
        region = self.query_one("#doctor-body").scrollable_content_region.width
        width = (region if region > 0 else self.app.size.width - 4) - 2  # inside the panel's padding
        narrow = width < 96
        trouble = Table(title=f"Why patients see (no) slots, next {PREVIEW_DAYS} days", title_justify="left",
                        box=None, padding=(0, 1))
        trouble.add_column("Type", style="bold", no_wrap=True)
        for column in ("In windows", "In notice", "Booked", "Free"):
            trouble.add_column(column.replace(" ", "\n") if narrow else column, justify="right")
        trouble.add_column("Answer")
        for t in data.all_types:
            g = data.diagnoses[t.key]
            trouble.add_row(plain(t.name), str(g.in_windows), str(g.inside_notice), str(g.booked), str(g.free),
                            literal(g.reason),
                            style=None if g.offers_type else "dim")
        self.query_one("#doctor-troubleshooter", Static).update(trouble)

        self.query_one("#doctor-preview", Static).update(
            _preview_grid(data, data.detail.org_zone, self.desk.clock.now(), preview_days(data, width)))

    def action_away(self) -> None:
        """`a`: the doctor is away: move or cancel their appointments in a range."""
        name = self.view_data.detail.doctor.name if self.view_data else self.doctor_id
        self.post_message(OpenAway(self.doctor_id, name))

    def action_edit_phone(self) -> None:
        self.query_one("#doctor-phone", Input).focus()

    def action_change_room(self) -> None:
        """`o`: a new meeting room (a URL, or empty for a fresh one); the doctor's upcoming
        appointments move to it."""
        desk = self.desk
        doctor_id = self.doctor_id

        def ask(found: tuple[Doctor, int, str]) -> None:
            doctor, moving, base = found

            def check(text: str) -> str | None:
                if not text.strip():
                    return None
                try:
                    check_room_url(text)
                except RxdeskError as exc:
                    return str(exc)
                return None

            def answered(text: str | None) -> None:
                if text is None:
                    return
                url = text.strip() or None
                call_service(self, lambda: desk.doctors.set_room(doctor_id, url=url, new=url is None, agent=desk.agent),
                             done=self._room_changed, group="doctor-room")

            self.app.push_screen(TextPromptModal(
                "New meeting room",
                f"{doctor.name} meets in {doctor.room_url or '(no room)'}.\n"
                f"{moving} held or confirmed appointment{'' if moving == 1 else 's'} "
                f"that {'has' if moving == 1 else 'have'} "
                "not started move to the new room; started and past ones keep theirs.\n"
                f"Type the new room's URL, or leave it empty for a fresh room under {base}.",
                placeholder="https://… (empty: a fresh room)", check=check), answered)

        call_service(self, lambda: (desk.doctors.get(doctor_id), desk.doctors.room_preview(doctor_id),
                                    desk.org().jitsi_base_url), done=ask, group="doctor-room")

    def _room_changed(self, change: RoomChange) -> None:
        self.desk_app.note_own_write()
        moved = len(change.moved)
        self.app.notify(f"{change.doctor.name}: meeting room {change.doctor.room_url}; "
                        f"{moved} upcoming appointment{'' if moved == 1 else 's'} moved to it", title="Room changed")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "doctor-phone":
            return
        event.stop()
        desk = self.desk
        number = event.value

        def saved(doctor: Doctor) -> None:
            event.input.remove_class("-invalid")
            self.query_one("#doctor-phone-error", Static).update("")
            self.desk_app.note_own_write()
            self.app.notify(f"{doctor.name}: mobile phone {display_phone(doctor.mobile_phone) or 'cleared'}",
                            title="Saved")

        def refused(exc: RxdeskError) -> None:
            event.input.add_class("-invalid")
            self.query_one("#doctor-phone-error", Static).update(shown(str(exc)))

        call_service(self, lambda: desk.doctors.set_phone(self.doctor_id, number, desk.agent),
                     done=saved, failed=refused, group="doctor-phone")
