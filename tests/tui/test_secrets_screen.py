"""Section 4 through the keys: create (shown once), reveal (confirmed, audited), revoke
(type the key_id), and the unused marker."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import Input

from rxdesk.services import Desk
from rxdesk.tui.modals.confirm import ConfirmModal, TextPromptModal
from rxdesk.tui.screens.secrets import SecretsScreen
from rxdesk.tui.screens.webhooks import ShownOnceModal
from tests.helpers import fingerprint
from tests.tui.conftest import make_app, settle, text_of
from tests.unit.test_tokens_minting import claims_at, mint


async def test_create_reveal_and_revoke_a_secret(clinic: Desk, data_dir, now) -> None:  # type: ignore[no-untyped-def]
    app = make_app(clinic)
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, SecretsScreen)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, TextPromptModal)
        await pilot.press(*"Shopify storefront", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ShownOnceModal)
        value = text_of(app.screen.query_one("#secret-value")).strip()
        assert "store it now" in text_of(app.screen.query(".dialog-body").first()).lower()
        await pilot.press("escape")
        await settle(pilot)
        (row,) = screen.rows.values()
        key_id = row.key_id
        assert row.secret.label == "Shopify storefront"
        # The value shown is the HMAC key partners sign with.
        token = mint(value, claims_at(now, sub="pat-001"), kid=key_id)
        assert clinic.tokens.check(clinic.store.read(), token).kid == key_id

        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, ShownOnceModal)
        assert text_of(app.screen.query_one("#secret-value")).strip() == value
        await pilot.press("escape")
        await settle(pilot)

        before = fingerprint(data_dir)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, TextPromptModal)
        await pilot.press(*"bk_wrong", "enter")
        await settle(pilot)
        assert isinstance(app.screen, TextPromptModal)  # stays, nothing revoked
        assert fingerprint(data_dir) == before
        app.screen.query_one("#answer", Input).value = key_id
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
    assert clinic.secrets.get(key_id).active is False
    actions = [(e.action, e.actor) for e in clinic.store.read().audit.for_target(f"booking_secret:{key_id}")]
    assert actions == [("secret.create", "admin:tester"), ("secret.reveal", "admin:tester"),
                       ("secret.revoke", "admin:tester")]


async def test_an_active_key_unused_for_a_week_is_marked(clinic: Desk, clock, now) -> None:  # type: ignore[no-untyped-def]
    clinic.secrets.create_secret("old minter", "tester")
    clock.set(now + timedelta(days=9))
    app = make_app(clinic)
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        table = app.screen.query_one("#secrets")
        assert "unused 9 days" in str(table.get_row_at(0)[-1])
