"""Section 4: the booking-token secrets partner shops sign patient tokens with.

A value is shown once at creation and afterwards only on an audited reveal; revoking asks the
agent to type the key_id. Beside the table, the rotation steps, and a mark on every active key
no token has used for a week: the likely candidate to revoke.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from rxdesk.domain.times import format_local
from rxdesk.resources import stylesheet
from rxdesk.services.secrets import IDLE_AFTER, NewSecret, SecretRow
from rxdesk.tui.modals.confirm import ConfirmModal, TextPromptModal
from rxdesk.tui.modals.secret_value import REVEALED, STORE_IT_NOW, SecretValueModal
from rxdesk.tui.screens.base import DeskScreen
from rxdesk.tui.text import plain
from rxdesk.tui.widgets.tables import DeskTable
from rxdesk.tui.work import call_service

ROTATION = f"""\
[b]Rotating a partner's key[/b]

[b]1. n[/b]  Create a new key and hand its value to the partner: it is shown once.

[b]2.[/b]  The partner switches its token minter to the new key_id. Both keys work meanwhile.

[b]3.[/b]  Wait until the old key's "last used" stops moving. An active key unused for {IDLE_AFTER.days}+ days is marked in the table.

[b]4. x[/b]  Revoke the old key: its tokens are refused from the next call.

[b]v[/b] reveals a value again; every reveal is audited."""

# Left to right by importance; (key, label, priority, narrowest before it is left out). A
# revoked key must read revoked at any width: the status gives way only down to "revoked…".
COLUMNS = (("key_id", "key_id", 0, None), ("label", "Label", 3, 16), ("status", "Status", 1, 8),
           ("used", "Last used", 2, 10), ("created", "Created", 4, None), ("by", "By", 5, None))

# Below this width the rotation steps fold into one line under the table (h unfolds them).
ROTATION_FOLDED = "Rotate: n new key · partner switches · Last used stops · x revoke · h steps"


def unused_note(row: SecretRow, now: datetime) -> str:
    """`unused 12 days` for an active key no token has used for a while, else ''."""
    if not row.idle or row.idle_since is None:
        return ""
    days = (now - row.idle_since).days
    return f"unused {days} day{'s' if days != 1 else ''}"


class SecretsScreen(DeskScreen):
    CSS_PATH = stylesheet("secrets")

    SECTION = "secrets"

    BINDINGS = [
        Binding("n", "create", "New secret", id="secrets.create"),
        Binding("v", "reveal", "Reveal", id="secrets.reveal"),
        Binding("x", "revoke", "Revoke", id="secrets.revoke"),
        Binding("h", "rotation_steps", "Rotation steps", id="secrets.rotation_steps"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, SecretRow] = {}
        self.zone = "UTC"
        self.loads = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="secrets-body"):
            with Vertical(id="secrets-main"):
                yield DeskTable(id="secrets")
                yield Static("", id="secrets-summary", markup=False)
                yield Static(ROTATION_FOLDED, id="rotation-folded", markup=False)
            yield Static(ROTATION, id="rotation-help")

    @property
    def table(self) -> DeskTable:
        return self.query_one("#secrets", DeskTable)

    def on_mount(self) -> None:
        for key, label, priority, least in COLUMNS:
            self.table.add_column(label, key=key, priority=priority, min_width=least)
        self.table.focus()
        self.reload()

    def reload(self, keep: str | None = None) -> None:
        """Fetch the secrets again; the cursor stays on `keep` or the selected key."""
        desk = self.desk
        call_service(self, lambda: (desk.secrets.list_secrets(), desk.org().timezone, desk.clock.now()),
                     done=lambda loaded: self._show(*loaded, keep=keep), group="secrets")

    def _show(self, rows: list[SecretRow], tz: str, now: datetime, *, keep: str | None = None) -> None:
        self.loads += 1
        self.rows = {r.key_id: r for r in rows}
        self.zone = tz
        table = self.table
        keep = keep or table.selected_key
        table.clear()
        for row in rows:
            s = row.secret
            if s.active:
                status = Text("active", style="bold green")
            else:
                status = Text(f"revoked {format_local(s.revoked_at, tz, weekday=False)}", style="dim")
            used = Text(format_local(s.last_used_at, tz, weekday=False) if s.last_used_at else "never")
            if note := unused_note(row, now):
                used.append(f" · {note}", style="bold yellow")
            table.add_row(s.key_id, plain(s.label or "—"), status, used,
                          format_local(s.created_at, tz, weekday=False), s.created_by, key=s.key_id)
        table.select_key(keep)
        active = sum(1 for r in rows if r.secret.active)
        idle = sum(1 for r in rows if r.idle)
        if not rows:
            summary = "No booking secrets yet: n creates one for a partner."
        else:
            summary = f"{active} active, {len(rows) - active} revoked"
            if idle:
                summary += f" · {idle} active key{'s' if idle != 1 else ''} unused for {IDLE_AFTER.days}+ days"
        self.query_one("#secrets-summary", Static).update(summary)

    def action_rotation_steps(self) -> None:
        """`h`: the rotation steps unfolded (or folded again) where they do not fit beside the table."""
        self.toggle_class("-rotation-unfolded")

    def selected(self) -> SecretRow | None:
        key = self.table.selected_key
        return self.rows.get(key) if key else None

    @staticmethod
    def described(row: SecretRow) -> str:
        """`bk_… (label)` for a dialog's message (shown as typed)."""
        return f"{row.key_id} ({row.secret.label or 'no label'})"

    # -- n: create -----------------------------------------------------------------------

    def action_create(self) -> None:
        desk = self.desk

        def labelled(label: str | None) -> None:
            if label is None:
                return
            call_service(self, lambda: desk.secrets.create_secret(label, desk.agent),
                         done=self._created, group="secret-create")

        self.app.push_screen(TextPromptModal(
            "New booking secret", "A label (optional): which partner or shop will sign with it.",
            placeholder="e.g. Shopify storefront"), labelled)

    def _created(self, made: NewSecret) -> None:
        self.desk_app.note_own_write(shown=True)
        self.reload(keep=made.secret.key_id)
        self.app.push_screen(SecretValueModal(made.secret.key_id, made.secret.label, made.value, STORE_IT_NOW))

    # -- v: reveal -----------------------------------------------------------------------

    def action_reveal(self) -> None:
        row = self.selected()
        if row is None:
            return
        if not row.secret.active:
            self.app.notify(f"{row.key_id} is revoked; its value is no longer shown", severity="warning")
            return
        desk = self.desk
        key_id = row.key_id

        def shown(revealed: NewSecret) -> None:
            self.desk_app.note_own_write()
            self.app.push_screen(SecretValueModal(key_id, revealed.secret.label, revealed.value, REVEALED))

        def answered(yes: bool | None) -> None:
            if yes:
                call_service(self, lambda: desk.secrets.reveal(key_id, desk.agent), done=shown, group="secret-reveal")

        self.app.push_screen(ConfirmModal(
            "Reveal booking secret",
            f"Show the value of {self.described(row)}? "
            "Every reveal is written to the audit log under your name.",
            confirm_label="Reveal"), answered)

    # -- x: revoke -----------------------------------------------------------------------

    def action_revoke(self) -> None:
        row = self.selected()
        if row is None:
            return
        if not row.secret.active:
            self.app.notify(f"{row.key_id} is already revoked", severity="warning")
            return
        desk = self.desk
        key_id = row.key_id

        def check(typed: str) -> str | None:
            return None if typed.strip() == key_id else f"that is not {key_id}; nothing was revoked"

        def revoked(_secret: object) -> None:
            self.desk_app.note_own_write()
            self.app.notify(f"{key_id} revoked: its tokens are refused from now on", title="Revoked")

        def typed(value: str | None) -> None:
            if value is None:
                return
            call_service(self, lambda: desk.secrets.revoke(key_id, desk.agent, confirm_key_id=value),
                         done=revoked, group="secret-revoke")

        used = "never used" if row.secret.last_used_at is None else "last used " + format_local(
            row.secret.last_used_at, self.zone)
        self.app.push_screen(TextPromptModal(
            "Revoke booking secret",
            f"Tokens signed with {self.described(row)}, {used}, are refused from the "
            f"next call, in every process. Type {key_id} to revoke it.",
            placeholder=key_id, check=check), typed)
