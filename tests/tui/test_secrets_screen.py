"""Section 4 through the keys: create (the value shown once, and it signs tokens), reveal
(confirmed, audited), revoke (only with the key_id typed), and the unused-key marker."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from textual.widgets import Input, Static

from rxdesk.domain.clock import FixedClock
from rxdesk.services import Desk
from rxdesk.services.secrets import secret_target
from rxdesk.services.tokens import TokenRefused
from rxdesk.tui.app import RxdeskApp
from rxdesk.tui.modals.confirm import ConfirmModal, TextPromptModal
from rxdesk.tui.modals.secret_value import SecretValueModal
from rxdesk.tui.screens.secrets import SecretsScreen
from tests.helpers import another_store, book_with, fingerprint, view_of
from tests.tui.conftest import AnyPilot, front, make_app, settle, text_of
from tests.unit.test_tokens_minting import claims_at, mint

SIZE = (150, 40)


@pytest.fixture
def keyed(clinic: Desk) -> Desk:
    """The clinic with its master key in RXDESK_MASTER_KEY (no master.key file)."""
    settings = clinic.settings.with_overrides(master_key=Fernet.generate_key().decode())
    return Desk(another_store(clinic), clinic.clock, settings)


async def open_secrets(app: RxdeskApp, pilot: AnyPilot) -> SecretsScreen:
    await settle(pilot)
    await pilot.press("4")
    await settle(pilot)
    screen = front(app, SecretsScreen)
    return screen


def row_text(screen: SecretsScreen, key_id: str) -> dict[str, str]:
    table = screen.table
    cells = table.get_row(key_id)
    return {str(col.key.value): str(cell) for col, cell in zip(table.ordered_columns, cells, strict=True)}


def everything_shown(app: RxdeskApp) -> str:
    """The text of every Static on every screen in the stack, and the table cells."""
    parts = []
    for screen in app.screen_stack:
        parts += [text_of(w) for w in screen.query(Static)]
        if isinstance(screen, SecretsScreen):
            parts += [str(c) for r in range(screen.table.row_count) for c in screen.table.get_row_at(r)]
    return "\n".join(parts)


def audit_actions(desk: Desk, key_id: str) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in view_of(desk).audit.for_target(secret_target(key_id))]


async def test_create_shows_the_value_once_and_it_signs_tokens(keyed: Desk, data_dir: Path, now: datetime) -> None:
    app = make_app(keyed)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_secrets(app, pilot)
        assert "No booking secrets yet" in text_of(screen.query_one("#secrets-summary"))
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, TextPromptModal)
        await pilot.press(*"Shopify [b]storefront", "enter")
        await settle(pilot)
        modal = front(app, SecretValueModal)
        value = text_of(modal.query_one("#booking-secret-value")).strip()
        note = text_of(modal.query_one("#secret-value-note")).lower()
        assert "store it now" in note and "every reveal is audited" in note
        await pilot.press("c")
        await settle(pilot)
        assert app.clipboard == value
        # The toast says what was copied: the value, not the key id.
        assert any(n.title == "Secret value copied" and "secret value of" in n.message for n in app.notices)
        await pilot.press("escape")
        await settle(pilot)
        assert front(app, SecretsScreen) is screen
        # Gone from the app once the dialog is closed.
        assert value not in everything_shown(app)
        assert app.clipboard != value
        (row,) = screen.rows.values()
        key_id = row.key_id
        assert row_text(screen, key_id)["label"] == "Shopify [b]storefront"
        assert row_text(screen, key_id)["status"] == "active"
        assert row_text(screen, key_id)["by"] == "admin:tester"
    # The value shown is the HMAC key a partner signs with, exactly as shown.
    token = mint(value, claims_at(now, sub="pat-001"), kid=key_id)
    assert keyed.tokens.verify(token).kid == key_id
    assert audit_actions(keyed, key_id) == [("secret.create", "admin:tester")]
    assert not (data_dir / "master.key").exists()  # the key came from the environment
    assert all(value.encode() not in p.read_bytes() for p in data_dir.rglob("*") if p.is_file())


async def test_reveal_asks_first_and_is_audited(keyed: Desk, data_dir: Path) -> None:
    made = keyed.secrets.create_secret("shop [red]", "ops")
    key_id = made.secret.key_id
    app = make_app(keyed)
    async with app.run_test(size=SIZE) as pilot:
        await open_secrets(app, pilot)
        before = fingerprint(data_dir)
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        asked = text_of(app.screen.query_one(".dialog-body"))
        assert f"{key_id} (shop [red])" in asked and "audit log" in asked
        await pilot.press("n")  # declined: nothing shown, nothing written
        await settle(pilot)
        assert isinstance(app.screen, SecretsScreen)
        assert fingerprint(data_dir) == before
        assert audit_actions(keyed, key_id) == [("secret.create", "admin:ops")]

        await pilot.press("v")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, SecretValueModal)
        assert text_of(app.screen.query_one("#booking-secret-value")).strip() == made.value
        await pilot.press("enter")
        await settle(pilot)
        assert made.value not in everything_shown(app)
    assert audit_actions(keyed, key_id) == [("secret.create", "admin:ops"), ("secret.reveal", "admin:tester")]
    assert made.value not in str(view_of(keyed).audit.for_target(secret_target(key_id))[-1].to_json())


async def test_revoke_with_a_wrong_key_id_typed_changes_nothing(keyed: Desk, data_dir: Path) -> None:
    key_id = keyed.secrets.create_secret("shop", "ops").secret.key_id
    app = make_app(keyed)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_secrets(app, pilot)
        before = fingerprint(data_dir)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, TextPromptModal)
        await pilot.press(*key_id[:-1], "enter")  # one character short
        await settle(pilot)
        assert isinstance(app.screen, TextPromptModal)  # the dialog stays and says why
        assert "nothing was revoked" in text_of(app.screen.query_one("#prompt-error"))
        await pilot.press("escape")
        await settle(pilot)
        assert front(app, SecretsScreen) is screen
        assert row_text(screen, key_id)["status"] == "active"
    assert fingerprint(data_dir) == before
    assert keyed.secrets.get(key_id).active


async def test_revoke_with_the_key_id_typed_revokes_it(keyed: Desk, now: datetime) -> None:
    made = keyed.secrets.create_secret("old shop", "ops")
    key_id = made.secret.key_id
    app = make_app(keyed)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_secrets(app, pilot)
        await pilot.press("x")
        await settle(pilot)
        app.screen.query_one("#answer", Input).value = f" {key_id} "
        await pilot.press("enter")
        await settle(pilot)
        assert front(app, SecretsScreen) is screen
        assert row_text(screen, key_id)["status"] == "revoked 2026-11-23 09:00"
        # Revoked: no second revoke dialog and no reveal.
        for key in ("x", "v"):
            await pilot.press(key)
            await settle(pilot)
            assert front(app, SecretsScreen) is screen
    assert not keyed.secrets.get(key_id).active
    assert audit_actions(keyed, key_id)[-1] == ("secret.revoke", "admin:tester")
    with pytest.raises(TokenRefused) as refused:
        keyed.tokens.verify(mint(made.value, claims_at(now, sub="pat-001"), kid=key_id))
    assert refused.value.reason == "revoked_kid"


async def test_an_active_key_unused_for_a_week_is_marked(keyed: Desk, clock: FixedClock, now: datetime) -> None:
    never = keyed.secrets.create_secret("never used", "ops").secret.key_id
    stale = keyed.secrets.create_secret("old minter", "ops")
    busy = keyed.secrets.create_secret("new minter", "ops")
    gone = keyed.secrets.create_secret("revoked", "ops").secret.key_id
    keyed.secrets.revoke(gone, "ops")
    clock.set(now + timedelta(days=2))
    book_with(keyed, mint(stale.value, claims_at(clock.now(), sub="pat-001"), kid=stale.secret.key_id))
    clock.set(now + timedelta(days=12, hours=1))
    book_with(keyed, mint(busy.value, claims_at(clock.now(), sub="pat-001"), kid=busy.secret.key_id))
    app = make_app(keyed)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_secrets(app, pilot)
        assert row_text(screen, never)["used"] == "never · unused 12 days"
        # Last used in the org zone (Europe/Berlin): 09:00 local for 08:00Z.
        assert row_text(screen, stale.secret.key_id)["used"] == "2026-11-25 09:00 · unused 10 days"
        assert "unused" not in row_text(screen, busy.secret.key_id)["used"]
        assert "unused" not in row_text(screen, gone)["used"]
        assert "2 active keys unused for 7+ days" in text_of(screen.query_one("#secrets-summary"))


async def test_a_change_from_another_process_shows_on_reload(keyed: Desk) -> None:
    app = make_app(keyed)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_secrets(app, pilot)
        assert screen.table.row_count == 0
        key_id = keyed.secrets.create_secret("from the CLI", "ops").secret.key_id
        screen.data_changed()
        await settle(pilot)
        assert row_text(screen, key_id)["label"] == "from the CLI"


async def test_revoke_of_a_key_another_agent_revoked_meanwhile_says_so(keyed: Desk) -> None:
    key_id = keyed.secrets.create_secret("shop", "ops").secret.key_id
    app = make_app(keyed)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_secrets(app, pilot)
        await pilot.press("x")
        await settle(pilot)
        keyed.secrets.revoke(key_id, "someone-else")  # while the dialog is open
        app.screen.query_one("#answer", Input).value = key_id
        await pilot.press("enter")
        await settle(pilot)
        refusals = [n for n in app.notices if n.severity == "error"]
        assert any("already revoked" in n.message and "someone-else" in n.message for n in refusals)
        assert front(app, SecretsScreen) is screen
    assert audit_actions(keyed, key_id)[-1] == ("secret.revoke", "admin:someone-else")
