"""The overview's filter fields: doctor, patient, statuses, from, to.

The bar only collects text; the appointment service parses it and says which field is wrong,
and the bar marks that field and shows the reason. Nothing typed here ever raises.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from rxdesk.services.filters import FilterText
from rxdesk.tui.text import shown
from rxdesk.tui.widgets.fields import SuggestingInput

# Each placeholder says what an empty field means (the default in effect), never a value.
FIELDS = (
    ("doctor", "doctor: any"),
    ("patient", "patient: any"),
    ("statuses", "status: active"),
    ("date_from", "from: now"),
    ("date_to", "to: any"),
)

STATUS_WORDS = ("active", "all", "held", "confirmed", "cancelled", "expired", "completed", "no_show")


class FilterBar(Vertical):
    """The fields, the count and the notes; when a doctor or patient field matches several
    people, a list of them below to pick one from (`↓` from the field, `enter` picks)."""

    BINDINGS = [Binding("down", "to_picks", "Pick a match", show=False, id="filters.to_picks")]

    class Changed(Message):
        def __init__(self, text: FilterText) -> None:
            super().__init__()
            self.text = text

    def compose(self) -> ComposeResult:
        with Horizontal(id="filter-fields"):
            for name, placeholder in FIELDS:
                suggester = None
                if name == "statuses":
                    suggester = SuggestFromList(STATUS_WORDS, case_sensitive=False)
                yield SuggestingInput(placeholder=placeholder, id=f"filter-{name}", classes="filter",
                            suggester=suggester)
        with Vertical(id="filter-status"):
            yield Static("", id="filter-count", markup=False)
            yield Static("", id="filter-notes", markup=False)
        yield OptionList(id="filter-picks")

    def on_mount(self) -> None:
        self.picking: str | None = None  # the field the pick list is for
        self._offered: tuple[str | None, tuple[tuple[str, str], ...]] | None = None
        self.query_one("#filter-picks", OptionList).display = False

    def set_doctor_names(self, names: list[str]) -> None:
        self.query_one("#filter-doctor", Input).suggester = SuggestFromList(names, case_sensitive=False)

    def text(self) -> FilterText:
        values = {name: self.query_one(f"#filter-{name}", Input).value for name, _ in FIELDS}
        return FilterText(doctor=values["doctor"], patient=values["patient"], statuses=values["statuses"],
                          date_from=values["date_from"], date_to=values["date_to"])

    def clear(self) -> None:
        """Empty every field: one change, one reload."""
        fields = [self.query_one(f"#filter-{name}", Input) for name, _ in FIELDS]
        if not any(field.value for field in fields):
            return
        with self.prevent(Input.Changed):
            for field in fields:
                field.value = ""
        self.post_message(self.Changed(self.text()))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self.text()))

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.screen.run_action("focus_table")

    def show_picks(self, candidates: dict[str, list[tuple[str, str]]]) -> None:
        """Offer the people the doctor or patient field matches, when it matches several."""
        picks = self.query_one("#filter-picks", OptionList)
        name = next((n for n in ("patient", "doctor") if n in candidates), None)
        offer = (name, tuple(candidates.get(name or "", ())))
        if offer == self._offered:
            return  # the same people (a reload): keep the agent's place in the list
        self._offered = offer
        self.picking = name
        picks.clear_options()
        if name is None:
            picks.display = False
            return
        picks.add_options([Option(Text(shown(label)), id=key) for key, label in candidates[name]])
        picks.border_title = f"{name}s matching: ↓ and enter pick one"
        picks.display = self.has_focus_within

    # The list is offered while the agent is in the filters; once they leave for the table it
    # gives the table its room back (at 80×24 it would cover every row), and comes back with them.
    def on_descendant_focus(self) -> None:
        self.call_after_refresh(self._follow_focus)

    def on_descendant_blur(self) -> None:
        self.call_after_refresh(self._follow_focus)

    def _follow_focus(self) -> None:
        picks = self.query_one("#filter-picks", OptionList)
        picks.display = self.picking is not None and picks.option_count > 0 and self.has_focus_within

    def action_to_picks(self) -> None:
        picks = self.query_one("#filter-picks", OptionList)
        if picks.display and picks.option_count and not picks.has_focus:
            picks.highlighted = 0
            self.screen.set_focus(picks)  # at once: the next key typed fast goes to the list

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.picking is None or event.option.id is None:
            return
        field = self.query_one(f"#filter-{self.picking}", Input)
        field.value = event.option.id  # an id matches exactly: the list follows it
        self.query_one("#filter-picks", OptionList).display = False
        self._offered = None
        await self.screen.run_action("focus_table")

    def show_result(self, errors: dict[str, str], resolved: dict[str, str], *,
                    on_count: set[str] | frozenset[str] = frozenset()) -> None:
        """Mark the fields in `errors` and note why, except those the count line says
        (`on_count`); note what the doctor and patient texts matched."""
        for name, _ in FIELDS:
            field = self.query_one(f"#filter-{name}", Input)
            field.set_class(name in errors, "-invalid")
            field.tooltip = errors.get(name)
        notes = [errors[name] for name, _ in FIELDS if name in errors and name not in on_count]
        notes += [f"{name}: {value}" for name, value in resolved.items()]
        text = " · ".join(notes)
        shown_notes = self.query_one("#filter-notes", Static)
        if text != str(shown_notes.content):  # the same notes again (a reload) lay nothing out
            shown_notes.update(text)
        self.set_class(any(name not in on_count for name in errors), "-has-errors")
        self.set_class(bool(on_count), "-lists-nothing")
        self.set_class(bool(notes), "-has-notes")

    def show_count(self, text: str) -> None:
        self.query_one("#filter-count", Static).update(text, layout=False)
