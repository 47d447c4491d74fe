"""Section 4: the booking-token secrets partner shops sign patient tokens with.

Values are shown once at creation and then only on an audited reveal; revoking asks the
agent to type the key_id. Beside the table, the rotation steps.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Static

from rxdesk.domain.times import format_local
from rxdesk.services.secrets import IDLE_AFTER, NewSecret, SecretRow
from rxdesk.tui.modals.confirm import ConfirmModal, TextPromptModal
from rxdesk.tui.screens.base import DeskScreen
from rxdesk.tui.screens.webhooks import ShownOnceModal
from rxdesk.tui.widgets.tables import DeskTable
from rxdesk.tui.work import call_service

ROTATION = f"""\
Rotating a partner's key

1. n  create a new key and give it to the
      partner (it is shown once).
2.    The partner switches its token minter
      to the new key_id.
3.    Wait until the old key's "last used"
      stops moving (keys unused for
      {IDLE_AFTER.days}+ days are marked).
4. x  revoke the old key: its tokens are
      refused from the next call.

v reveals a value again (audited)."""

NOTE = ("Store it now, in the partner's configuration: it is not shown again. A reveal (v) shows "
        "it later and is written to the audit log. Tokens use it as the HS256 key, exactly as shown.")


class SecretsScreen(DeskScreen):
    SECTION = "secrets"

    BINDINGS = [
        Binding("n", "create", "New secret"),
        Binding("v", "reveal", "Reveal"),
        Binding("x", "revoke", "Revoke"),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, SecretRow] = {}
        self.loads = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="secrets-body"):
            yield DeskTable(id="secrets")
            yield Static(ROTATION, id="rotation-help")

    @property
    def table(self) -> DeskTable:
        return self.query_one("#secrets", DeskTable)

    def on_mount(self) -> None:
        for key, label in (("key_id", "key_id"), ("label", "Label"), ("created", "Created"), ("by", "By"),
                           ("status", "Status"), ("used", "Last used")):
            self.table.add_column(label, key=key)
        self.table.focus()
        self.reload()

    def reload(self) -> None:
        desk = self.app.desk
        call_service(self, lambda: (desk.secrets.list_secrets(), desk.org().timezone, desk.clock.now()),
                     done=lambda r: self._show(*r), group="secrets")

    def action_reload(self) -> None:
        self.reload()

    def _show(self, rows: list[SecretRow], tz: str, now) -> None:  # type: ignore[no-untyped-def]
        self.loads += 1
        self.rows = {r.key_id: r for r in rows}
        table = self.table
        keep = table.selected_key
        table.clear()
        for row in rows:
            s = row.secret
            used = format_local(s.last_used_at, tz) if s.last_used_at else "never"
            if row.idle and row.idle_since is not None:
                used += f"  (unused {(now - row.idle_since).days} days)"
            status = row.status if s.active else f"revoked {format_local(s.revoked_at, tz)}" if s.revoked_at else row.status
            table.add_row(s.key_id, s.label or "", format_local(s.created_at, tz), s.created_by, status, used, key=s.key_id)
        table.select_key(keep)

    def action_create(self) -> None:
        desk = self.app.desk

        def named(label: str | None) -> None:
            if label is None:
                return
            call_service(self, lambda: desk.secrets.create_secret(label or None, desk.agent), done=self._created,
                         group="secret-create")

        self.app.push_screen(TextPromptModal("New booking secret", "A label for it: who or what uses it.",
                                             placeholder="e.g. Shopify storefront"), named)

    def _created(self, made: NewSecret) -> None:
        self.app.note_own_write()
        self.reload()
        self.app.push_screen(ShownOnceModal(f"Secret {made.secret.key_id}", made.value, NOTE))

    def action_reveal(self) -> None:
        key_id = self.table.selected_key
        row = self.rows.get(key_id or "")
        if row is None:
            return
        desk = self.app.desk

        def answered(yes: bool | None) -> None:
            if yes:
                call_service(self, lambda: desk.secrets.reveal(row.key_id, desk.agent),
                             done=lambda shown: (self.app.note_own_write(), self.app.push_screen(
                                 ShownOnceModal(f"Secret {shown.secret.key_id}", shown.value,
                                                "This reveal is in the audit log with your name."))),
                             group="secret-reveal")

        self.app.push_screen(ConfirmModal("Reveal secret", f"Show the value of {row.key_id}? "
                                          "The reveal is written to the audit log.", confirm_label="Reveal"), answered)

    def action_revoke(self) -> None:
        key_id = self.table.selected_key
        row = self.rows.get(key_id or "")
        if row is None:
            return
        if not row.secret.active:
            self.app.notify(f"{row.key_id} is already revoked", severity="warning")
            return
        desk = self.app.desk

        def check(typed: str) -> str | None:
            return None if typed.strip() == row.key_id else f"that is not {row.key_id}; nothing was revoked"

        def typed(value: str | None) -> None:
            if value is None:
                return
            call_service(self, lambda: desk.secrets.revoke(row.key_id, desk.agent, confirm_key_id=value),
                         done=lambda s: (self.app.note_own_write(), self.app.notify(f"{s.key_id} revoked", title="Revoked"),
                                         self.reload()),
                         group="secret-revoke")

        self.app.push_screen(TextPromptModal(
            "Revoke secret", f"Tokens signed with {row.key_id} ({row.secret.label or 'no label'}) are refused from "
            f"the next call. Type the key_id to revoke it.", placeholder=row.key_id, check=check), typed)
