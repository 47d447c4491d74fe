"""`rxdesk secrets create|list|reveal|revoke|rotate-master-key|new-master-key`."""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context
from rxdesk.commands.options import add_json
from rxdesk.commands.output import Column
from rxdesk.domain.times import format_local

if TYPE_CHECKING:
    from rxdesk.services.secrets import SecretRow

RETIRED_NEW_KEY_ENV = "RXDESK_NEW_MASTER_KEY"


def when(ctx: Context, value: datetime | None) -> str:
    return format_local(value, ctx.timezone) if value else "-"


def create(args: argparse.Namespace, ctx: Context) -> int:
    made = ctx.desk.secrets.create_secret(args.label, ctx.agent)
    ctx.result(made, lambda: ctx.fields([("key_id", made.secret.key_id), ("secret", made.value),
                                         ("label", made.secret.label or "-")]))
    ctx.note("store the secret now in the partner's minter; it signs tokens with it as HS256, "
             f"kid {made.secret.key_id} (shown again only with `rxdesk secrets reveal`, audited)")
    return 0


def _status(ctx: Context, row: SecretRow) -> str:
    if not row.secret.active:
        return f"revoked {when(ctx, row.secret.revoked_at)}"
    return "active, idle" if row.idle else "active"


def list_secrets(args: argparse.Namespace, ctx: Context) -> int:
    columns: list[Column[SecretRow]] = [
        ("KEY_ID", lambda r: r.key_id),
        ("LABEL", lambda r: r.secret.label or "-"),
        ("CREATED", lambda r: when(ctx, r.secret.created_at)),
        ("BY", lambda r: r.secret.created_by),
        ("STATUS", lambda r: _status(ctx, r)),
        ("LAST USED", lambda r: when(ctx, r.secret.last_used_at) if r.secret.last_used_at else "never"),
    ]
    return ctx.listing(ctx.desk.secrets.list_secrets(), columns,
                       empty="no booking secrets yet (rxdesk secrets create --label TEXT)")


def reveal(args: argparse.Namespace, ctx: Context) -> int:
    shown = ctx.desk.secrets.reveal(args.key_id, ctx.agent)
    return ctx.result(shown, shown.value)


def revoke(args: argparse.Namespace, ctx: Context) -> int:
    revoked = ctx.desk.secrets.revoke(args.key_id, ctx.agent)
    return ctx.result(revoked.public(), f"revoked {revoked.key_id}: tokens with this kid are refused from now on")


def rotate_master_key(args: argparse.Namespace, ctx: Context) -> int:
    if os.environ.get(RETIRED_NEW_KEY_ENV):
        from rxdesk.domain.errors import ConfigError

        raise ConfigError(f"{RETIRED_NEW_KEY_ENV} is no longer read: with RXDESK_MASTER_KEY put the new key "
                          "first (RXDESK_MASTER_KEY=NEW,OLD); with master.key the rotation makes and stores "
                          "the new key itself; nothing was changed")
    result = ctx.desk.secrets.rotate_master_key(ctx.agent)
    ctx.result(result, f"re-encrypted {result.booking_secrets} booking secret(s) and "
                       f"{result.subscriptions} webhook secret(s) under the new master key")
    if result.key_source == "RXDESK_MASTER_KEY":
        ctx.note("every secret is now under the first key of RXDESK_MASTER_KEY; remove the old key(s) "
                 "from RXDESK_MASTER_KEY wherever rxdesk runs on this data dir")
    else:
        ctx.note(f"the new key is in {result.key_source}; the old one was removed from it")
    return 0


def new_master_key(args: argparse.Namespace, ctx: Context) -> int:
    from rxdesk.services.crypto import new_master_key

    ctx.print(new_master_key())
    return 0


def register(cli: CommandLine) -> None:
    p = cli.command("secrets", "create", create,
                    help="a new booking secret; prints its key_id and value (store it now)")
    p.add_argument("--label", metavar="TEXT", help="who or what uses it, e.g. 'Shopify storefront'")
    add_json(p)
    p = cli.command("secrets", "list", list_secrets, help="booking secrets (never their values)")
    add_json(p)
    p = cli.command("secrets", "reveal", reveal, help="print an active secret's value (audited)")
    p.add_argument("key_id", metavar="KEY_ID")
    add_json(p)
    p = cli.command("secrets", "revoke", revoke, help="revoke a secret now: its tokens are refused from the next call")
    p.add_argument("key_id", metavar="KEY_ID")
    add_json(p)
    p = cli.command(
        "secrets", "rotate-master-key", rotate_master_key,
        help="re-encrypt every stored secret under a new master key",
        description="Re-encrypt every booking secret and webhook signing secret under a new master "
        "key, in one write; no key is printed. With master.key in the data dir the rotation makes the "
        "new key, stores it in front of the old one before anything is re-encrypted, and removes the "
        "old one at the end. With RXDESK_MASTER_KEY, set it to NEW,OLD (NEW from `rxdesk secrets "
        "new-master-key`) wherever rxdesk runs, run the rotation, then set it to NEW alone.",
    )
    add_json(p)
    cli.command("secrets", "new-master-key", new_master_key, help="print a fresh master key (changes nothing)")
